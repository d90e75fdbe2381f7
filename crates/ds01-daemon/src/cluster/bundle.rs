//! A container's OCI bundle under `[cluster] bundles`: `<bundles>/<name>._.<uid>/` with the
//! image's file system as `rootfs/` and runc's `config.json`, all of it owned by the user
//! and the directory `0700`, so that only that user (and root) can read it. The node's
//! `oci.conf` runs it under rootless runc as the user, container root mapped to the user's
//! UID: the container needs no account of the user in the image.

use std::path::{Path, PathBuf};

use ds01_api::{ApiError, ErrorCode, OwnedContainer};
use ds01_engine::{Engine, Identity};

use super::ClusterConfig;
use crate::errors::from_engine;

/// The bundle directory of `container`.
pub fn dir(cluster: &ClusterConfig, container: &OwnedContainer) -> PathBuf {
    cluster.bundles.join(container.as_str())
}

/// The user's containers: their bundle directories' names (`<name>._.<uid>`).
pub fn of_user(cluster: &ClusterConfig, uid: u32) -> Vec<OwnedContainer> {
    let mut found = all(cluster);
    found.retain(|c| c.uid() == uid);
    found
}

/// Every user's containers, by name.
pub fn all(cluster: &ClusterConfig) -> Vec<OwnedContainer> {
    let Ok(entries) = std::fs::read_dir(&cluster.bundles) else {
        return Vec::new();
    };
    let mut found: Vec<OwnedContainer> = entries
        .flatten()
        .filter_map(|e| OwnedContainer::parse(e.file_name().to_str()?))
        .collect();
    found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    found
}

/// Makes the bundle of `image` for `who`. An existing directory is a container of that
/// name already. A failure leaves no directory behind.
pub async fn make(
    engine: &Engine,
    cluster: &ClusterConfig,
    who: &Identity,
    container: &OwnedContainer,
    image: &str,
    labels: &[(String, String)],
) -> Result<PathBuf, ApiError> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = dir(cluster, container);
    let failed = |what: &str, e: String| {
        ApiError::new(
            ErrorCode::Failed,
            format!("cannot {what} {}: {e}", dir.display()),
        )
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(ApiError::new(
                ErrorCode::ContainerExists,
                format!("you have a container {} already", container.name()),
            )
            .subject(container.name().as_str()))
        }
        Err(e) => return Err(failed("make", e.to_string())),
    }
    let made = async {
        let owner = (who.uid(), who.gid());
        engine
            .export_rootfs(image, labels, &dir.join("rootfs"), owner)
            .await
            .map_err(from_engine)?;
        write_spec(&dir, owner)
            .await
            .map_err(|e| failed("write the runc spec in", e))?;
        std::os::unix::fs::lchown(&dir, Some(owner.0), Some(owner.1))
            .map_err(|e| failed("hand over", e.to_string()))?;
        Ok(dir.clone())
    }
    .await;
    if made.is_err() {
        remove(&dir);
    }
    made
}

/// runc's rootless spec, as the node's runtime wants it: a writable root, no terminal (srun gives pipes), no
/// UID maps (the node's `oci.conf` maps container root to the job's user), no `/sys` (a
/// rootless runc cannot mount it).
async fn write_spec(dir: &Path, (uid, gid): (u32, u32)) -> Result<(), String> {
    let out = tokio::process::Command::new("runc")
        .args(["spec", "--rootless", "--bundle"])
        .arg(dir)
        .output()
        .await
        .map_err(|e| format!("runc spec: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "runc spec: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut spec: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    rootless_for_slurm(&mut spec);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap_or_default())
        .map_err(|e| e.to_string())?;
    // The user's, like the rest: the node's wrapper may rewrite it as the user.
    std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|e| e.to_string())
}

/// The edits of [`write_spec`], on runc's JSON.
pub fn rootless_for_slurm(spec: &mut serde_json::Value) {
    spec["process"]["terminal"] = false.into();
    // Writable, as a Docker container's layer is: runc's spec makes the root read-only.
    spec["root"]["readonly"] = false.into();
    spec["process"]["args"] = serde_json::json!(["sleep", "infinity"]);
    if let Some(linux) = spec["linux"].as_object_mut() {
        linux.remove("uidMappings");
        linux.remove("gidMappings");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.retain(|m| {
            let d = m["destination"].as_str().unwrap_or("");
            d != "/sys" && d != "/sys/fs/cgroup"
        });
    }
}

/// Removes a bundle directory (not following links the user may have put in it).
pub fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove the bundle {}: {e}", dir.display());
        }
    }
}
