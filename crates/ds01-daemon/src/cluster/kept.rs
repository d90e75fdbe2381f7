//! What ds01d keeps of a cluster container to submit its job again (`start`, `restart`,
//! `recreate`): the image, the GPU count and the resources it was created with. Kept in
//! ds01d's own state directory (`<state>/cluster/<name>._.<uid>.json`, root's, `0700`
//! above it), never in the bundle: the bundle is the user's to write, and what a job may
//! hold must not be theirs to say. The policy's caps are checked again at each submit.

use std::path::{Path, PathBuf};

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Size};
use serde::{Deserialize, Serialize};

/// The version this ds01d writes.
const VERSION: u32 = 1;

/// One container's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    /// The format's version.
    pub version: u32,
    /// The image the bundle was made from (the job's comment).
    pub image: String,
    /// GPUs each job asks for.
    pub gpus: u32,
    /// The memory asked at create (the policy's ceiling applies at each submit).
    #[serde(default)]
    pub memory: Option<Size>,
    /// The CPUs asked at create (idem).
    #[serde(default)]
    pub cpus: Option<f64>,
}

impl Kept {
    /// The record of a container created now.
    pub fn new(image: String, gpus: u32, memory: Option<Size>, cpus: Option<f64>) -> Kept {
        Kept {
            version: VERSION,
            image,
            gpus,
            memory,
            cpus,
        }
    }
}

/// Where the record of `container` is.
pub fn path(state_dir: &Path, container: &OwnedContainer) -> PathBuf {
    state_dir
        .join("cluster")
        .join(format!("{}.json", container.as_str()))
}

/// Writes the record (atomically: a half-written record would be no record).
pub fn save(state_dir: &Path, container: &OwnedContainer, kept: &Kept) -> Result<(), ApiError> {
    let path = path(state_dir, container);
    let failed = |e: std::io::Error| {
        ApiError::new(
            ErrorCode::Failed,
            format!("ds01d cannot write {}: {e}", path.display()),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(kept).unwrap_or_default();
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(failed)
}

/// Reads the record; a container without one (made before ds01d kept them) or with one
/// that does not read is refused by name, with what to do.
pub fn load(state_dir: &Path, container: &OwnedContainer) -> Result<Kept, ApiError> {
    let path = path(state_dir, container);
    let refused = |why: String| {
        ApiError::invalid(format!(
            "ds01d {why} of container {}; remove it and create it again",
            container.name()
        ))
        .subject(container.name().as_str())
    };
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(refused("keeps no record of the GPUs and resources".into()))
        }
        Err(e) => return Err(refused(format!("cannot read its record ({e})"))),
    };
    let kept: Kept = serde_json::from_slice(&text)
        .map_err(|e| refused(format!("cannot read its record ({e})")))?;
    if kept.version > VERSION {
        return Err(refused(format!(
            "keeps a record of version {}, newer than this ds01d reads ({VERSION}),",
            kept.version
        )));
    }
    Ok(kept)
}

/// Forgets the record (the container is removed); a missing one is fine.
pub fn remove(state_dir: &Path, container: &OwnedContainer) {
    let path = path(state_dir, container);
    if let Err(e) = std::fs::remove_file(&path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove {}: {e}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> OwnedContainer {
        "a1".parse::<ds01_api::ContainerName>()
            .unwrap()
            .owned_by(3000000001)
    }

    #[test]
    fn a_record_reads_back_and_goes() {
        let dir = tempfile::tempdir().unwrap();
        let c = container();
        let kept = Kept::new("img:latest".into(), 2, Some("8g".parse().unwrap()), None);
        save(dir.path(), &c, &kept).unwrap();
        assert_eq!(
            path(dir.path(), &c),
            dir.path().join("cluster/a1._.3000000001.json")
        );
        assert_eq!(load(dir.path(), &c).unwrap(), kept);
        remove(dir.path(), &c);
        let e = load(dir.path(), &c).unwrap_err();
        assert!(e.message.contains("keeps no record"), "{}", e.message);
        remove(dir.path(), &c);
    }

    #[test]
    fn a_newer_or_broken_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = container();
        std::fs::create_dir_all(dir.path().join("cluster")).unwrap();
        std::fs::write(
            path(dir.path(), &c),
            r#"{"version":2,"image":"i","gpus":1}"#,
        )
        .unwrap();
        assert!(load(dir.path(), &c)
            .unwrap_err()
            .message
            .contains("version 2"));
        std::fs::write(path(dir.path(), &c), "{").unwrap();
        assert!(load(dir.path(), &c)
            .unwrap_err()
            .message
            .contains("cannot read"));
    }
}
