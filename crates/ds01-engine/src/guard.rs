//! The sparse-file guard. `useradd` on shadow 4.8.1 (Ubuntu 22.04, Debian 11) writes
//! `/var/log/lastlog` at offset UID × 292: for UID 1722830498 a ~500 GB sparse file that a
//! `docker commit` materialises, filling the disk. The setup script truncates it, but a
//! commit must never depend on that alone: before committing, every changed file's
//! apparent size is checked.
//!
//! Where the engine stores the container's writes in an overlay upper directory on this
//! host ([`crate::upper`]), that directory holds exactly the changed files, and one walk of
//! it with `lstat` is the check. On
//! fuse-overlayfs, `docker diff` plus an archive stat per file cost as much as the commit
//! itself. Any other driver, or an upper directory this process cannot see, takes the
//! engine's changes list and stats each file through the archive API.

use crate::error::{Context, EngineError, Result};
use bollard::models::ChangeType;
use bollard::query_parameters::ContainerArchiveInfoOptionsBuilder;
use bollard::Docker;
use futures_util::future::try_join_all;

/// The largest apparent size a changed file may have before a commit is refused. User
/// setup and package installs stay far below it; lastlog at a high UID is far above.
pub const DEFAULT_FILE_LIMIT: u64 = 64 << 20;

/// Refuses when any file the container added or modified is larger than `limit` bytes,
/// naming the largest such file. `upper` is the container's upper directory when this
/// process can read it ([`crate::upper::upper_dir`]).
pub(crate) async fn check_changed_files(
    docker: &Docker,
    container: &str,
    upper: Option<std::path::PathBuf>,
    limit: u64,
) -> Result<()> {
    if let Some(upper) = upper {
        let walked = tokio::task::spawn_blocking(move || largest_in(&upper)).await;
        if let Ok(Ok(largest)) = walked {
            return over_limit(largest, limit);
        }
        // A walk that failed part-way proves nothing: the engine's list decides.
    }
    check_through_engine(docker, container, limit).await
}

/// The largest regular file (apparent size) under `dir`, as a path inside the container.
/// Symbolic links are not followed; whiteouts and directories have no size that a commit
/// could inflate.
fn largest_in(dir: &std::path::Path) -> std::io::Result<Option<(String, u64)>> {
    let mut largest: Option<(String, u64)> = None;
    crate::upper::walk(dir, |inside, _, meta| {
        if meta.is_file() && largest.as_ref().is_none_or(|(_, s)| meta.len() > *s) {
            largest = Some((format!("/{}", inside.display()), meta.len()));
        }
        Ok(())
    })?;
    Ok(largest)
}

fn over_limit(largest: Option<(String, u64)>, limit: u64) -> Result<()> {
    match largest {
        Some((path, size)) if size > limit => Err(EngineError::OversizedFile { path, size, limit }),
        _ => Ok(()),
    }
}

async fn check_through_engine(docker: &Docker, container: &str, limit: u64) -> Result<()> {
    let changes = docker
        .container_changes(container)
        .await
        .context(|| format!("listing the changes of {container}"))?
        .unwrap_or_default();
    let paths: Vec<String> = changes
        .into_iter()
        .filter(|c| c.kind != ChangeType::_2) // deletions have no size
        .map(|c| c.path)
        .collect();
    let sizes = try_join_all(paths.iter().map(|path| async move {
        let options = ContainerArchiveInfoOptionsBuilder::default()
            .path(path)
            .build();
        match docker
            .get_container_archive_info(container, Some(options))
            .await
        {
            Ok(stat) => Ok((path, stat.size.max(0) as u64, stat.file_mode)),
            // A path listed as changed can vanish (a deleted temp file's parent listing).
            Err(e) if crate::error::is_not_found(&e) => Ok((path, 0, 0)),
            Err(e) => Err(e),
        }
    }))
    .await
    .context(|| format!("checking file sizes in {container}"))?;
    const DIR_BIT: u32 = 1 << 31; // Go's os.ModeDir, as the archive stat reports it
    let largest = sizes
        .into_iter()
        .filter(|(_, _, mode)| mode & DIR_BIT == 0)
        .max_by_key(|(_, size, _)| *size)
        .map(|(path, size, _)| (path.clone(), size));
    over_limit(largest, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_finds_the_largest_file_by_apparent_size_and_follows_no_link() {
        let dir = std::env::temp_dir().join(format!("ds01-guard-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("var/log")).unwrap();
        std::fs::write(dir.join("etc-passwd"), b"root:x:0:0::/root:/bin/sh\n").unwrap();
        // Sparse, as useradd leaves lastlog: no blocks, a huge apparent size.
        let lastlog = std::fs::File::create(dir.join("var/log/lastlog")).unwrap();
        lastlog.set_len(500 << 20).unwrap();
        let outside = std::env::temp_dir().join(format!("ds01-guard-big-{}", std::process::id()));
        std::fs::File::create(&outside)
            .unwrap()
            .set_len(900 << 20)
            .unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();

        let largest = largest_in(&dir).unwrap();
        assert_eq!(largest, Some(("/var/log/lastlog".to_owned(), 500 << 20)));
        match over_limit(largest, DEFAULT_FILE_LIMIT) {
            Err(EngineError::OversizedFile { path, .. }) => assert_eq!(path, "/var/log/lastlog"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(over_limit(Some(("/etc/passwd".into(), 30)), DEFAULT_FILE_LIMIT).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&outside).unwrap();
    }
}
