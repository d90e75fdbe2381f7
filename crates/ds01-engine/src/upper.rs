//! A container's overlay upper directory: where overlay2 and fuse-overlayfs keep exactly the
//! files the container wrote. ds01d runs as root next to the engine, so it can read that
//! directory instead of asking the engine to diff the whole root filesystem (which
//! fuse-overlayfs does by walking every file of the image).

use bollard::models::ContainerInspectResponse;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// The container's upper directory, when the engine names one this process can see.
pub(crate) fn upper_dir(found: &ContainerInspectResponse) -> Option<PathBuf> {
    found
        .graph_driver
        .as_ref()
        .and_then(|d| d.data.get("UpperDir"))
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
}

/// Visits every entry under `dir`, parents before their children, with its path relative to
/// `dir` and its own metadata: symbolic links are reported, never followed.
pub(crate) fn walk(
    dir: &Path,
    mut visit: impl FnMut(&Path, &Path, &Metadata) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&next)?.collect::<std::io::Result<_>>()?;
        // Sorted, so that the same writes give the same layer (and the same digest).
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let meta = path.symlink_metadata()?;
            let inside = path.strip_prefix(dir).unwrap_or(&path);
            visit(inside, &path, &meta)?;
            if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_visits_parents_first_and_does_not_follow_links() {
        let dir = std::env::temp_dir().join(format!("ds01-upper-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/skel")).unwrap();
        std::fs::write(dir.join("etc/skel/.bashrc"), b"x").unwrap();
        std::os::unix::fs::symlink("/", dir.join("root-link")).unwrap();
        let mut seen = Vec::new();
        walk(&dir, |inside, _, meta| {
            seen.push((inside.display().to_string(), meta.file_type().is_symlink()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("etc".to_owned(), false),
                ("root-link".to_owned(), true),
                ("etc/skel".to_owned(), false),
                ("etc/skel/.bashrc".to_owned(), false),
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
