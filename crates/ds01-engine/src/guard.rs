//! The sparse-file guard. `useradd` on shadow 4.8.1 (Ubuntu 22.04, Debian 11) writes
//! `/var/log/lastlog` at offset UID × 292: for UID 1722830498 a ~500 GB sparse file that a
//! `docker commit` materialises, filling the disk. The setup script truncates it, but a
//! commit must never depend on that alone: before committing, every changed file's
//! apparent size is checked.

use crate::error::{Context, EngineError, Result};
use bollard::models::ChangeType;
use bollard::query_parameters::ContainerArchiveInfoOptionsBuilder;
use bollard::Docker;
use futures_util::future::try_join_all;

/// The largest apparent size a changed file may have before a commit is refused. User
/// setup and package installs stay far below it; lastlog at a high UID is far above.
pub const DEFAULT_FILE_LIMIT: u64 = 64 << 20;

/// Refuses when any file the container added or modified is larger than `limit` bytes,
/// naming the largest such file.
pub(crate) async fn check_changed_files(
    docker: &Docker,
    container: &str,
    limit: u64,
) -> Result<()> {
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
        .max_by_key(|(_, size, _)| *size);
    match largest {
        Some((path, size, _)) if size > limit => Err(EngineError::OversizedFile {
            path: path.clone(),
            size,
            limit,
        }),
        _ => Ok(()),
    }
}
