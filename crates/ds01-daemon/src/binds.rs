//! A container's `/workspace`, `/data` and `/models`, bound as checked.
//!
//! The engine resolves a bind's source path when the container *starts*, as root, so a
//! path checked at create could name anything by then (`~/workspace/NAME` swapped for a
//! link to another user's home). The engine therefore binds a mount point of ds01d's own,
//! `<state>/mounts/<docker-name>/<workspace|data|models>` (root's, inside directories only
//! root may enter), and before every start ds01d checks the user's directory again as it
//! is *now* (`mounts::open`: no link followed, the caller's own or under a shared root),
//! and binds the directory it opened, by its file descriptor, onto the mount point. The
//! engine then binds whatever is mounted there: exactly the checked directory.
//!
//! The host-side bind lasts only for the engine's start: the container keeps its own bind
//! of the directory (the engine's binds are private), and nothing stays mounted on the
//! host for a stop, a crash or a reboot to leave behind. A container someone starts behind
//! ds01d's back (the admin's `docker start`) gets the empty, root-owned mount points.
//!
//! Containers made by DS01's scripts or an older ds01 bind the user's path directly; their
//! path is checked again as at create before each start, and the start refused if it is
//! no longer one the user may mount.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use ds01_api::{ApiError, OwnedContainer};
use ds01_engine::{labels, Engine};
use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use crate::errors::from_engine;
use crate::mounts;

/// The three directories a user may choose: kind, target in the container, and the label
/// that keeps the host directory chosen.
pub const KINDS: [(&str, &str, &str); 3] = [
    ("workspace", "/workspace", labels::WORK_MOUNT),
    ("data", "/data", labels::DATA_MOUNT),
    ("models", "/models", labels::MODELS_MOUNT),
];

/// The mount points of every container, in the state directory.
pub fn root(state_dir: &Path) -> PathBuf {
    state_dir.join("mounts")
}

/// The mount points of container `docker_name`.
pub fn points(state_dir: &Path, docker_name: &str) -> PathBuf {
    root(state_dir).join(docker_name)
}

/// Makes the mount points under `dir`: the parents `0700` (only root walks to them on the
/// host; the engine binds as root), each point an empty `0755` directory of root's, which
/// is what a container started without ds01d's bind gets.
pub fn prepare(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    crate::private_dir(dir)?;
    for (kind, _, _) in KINDS {
        let point = dir.join(kind);
        match std::fs::create_dir(&point) {
            // Its mode set only now that it is new: an existing point may have a user's
            // directory bound on it (another start under way), whose mode is theirs.
            Ok(()) => std::fs::set_permissions(&point, std::fs::Permissions::from_mode(0o755))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !std::fs::symlink_metadata(&point)?.is_dir() {
                    return Err(std::io::Error::other(format!(
                        "{} is not a directory",
                        point.display()
                    )));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Detaches whatever is mounted on `point` (binds may stack after a crash mid-start).
fn detach_all(point: &Path) {
    // Each call takes the topmost mount; EINVAL once none is left.
    for _ in 0..64 {
        if umount2(point, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

/// Detaches everything mounted under `dir`'s points and removes them and `dir`. Never
/// recursive: an entry that is still mounted or not empty stays, and is logged.
pub fn forget(dir: &Path) {
    if !dir.exists() {
        return;
    }
    for (kind, _, _) in KINDS {
        let point = dir.join(kind);
        detach_all(&point);
        if let Err(e) = std::fs::remove_dir(&point) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!("cannot remove mount point {}: {e}", point.display());
            }
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::warn!("cannot remove {}: {e}", dir.display());
    }
}

/// Detaches binds a previous ds01d left on any container's points (it died mid-start).
pub fn detach_stale(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(root(state_dir)) else {
        return;
    };
    for entry in entries.flatten() {
        for (kind, _, _) in KINDS {
            detach_all(&entry.path().join(kind));
        }
    }
}

/// The binds made for one start; dropping it detaches them (also when the request is
/// cancelled mid-way).
#[derive(Default)]
#[must_use = "the binds are detached when this is dropped"]
pub struct Bound {
    points: Vec<PathBuf>,
}

impl Drop for Bound {
    fn drop(&mut self) {
        for point in &self.points {
            if let Err(e) = umount2(point, MntFlags::MNT_DETACH) {
                tracing::warn!("cannot detach {}: {e}", point.display());
            }
        }
    }
}

/// Binds the directory `fd` onto `point`, by the descriptor: the kernel resolves
/// `/proc/self/fd/N` to the very directory opened, not to a path.
fn bind_fd(fd: &OwnedFd, point: &Path) -> Result<(), Errno> {
    let source = format!("/proc/self/fd/{}", fd.as_raw_fd());
    mount(
        Some(source.as_str()),
        point,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
}

/// Checks and binds `container`'s chosen directories for a start, until the answer is
/// dropped; nothing when it runs already and `even_running` is not set (a start is then a
/// no-op). A directory that no longer passes the checks refuses the start, and nothing is
/// bound. `roots` are the admin's shared mount roots.
pub(crate) async fn bind_for_start(
    engine: &Engine,
    state_dir: &Path,
    roots: &[PathBuf],
    container: &OwnedContainer,
    even_running: bool,
) -> Result<Bound, ApiError> {
    let found = engine
        .owned_container(container)
        .await
        .map_err(from_engine)?;
    if found.state.is_live() && !even_running {
        return Ok(Bound::default());
    }
    let uid = container.uid();
    let docker_name = container;
    let labels = &found.labels;
    let ours = points(state_dir, docker_name);
    let refuse = |e: ApiError| {
        ApiError::forbidden(format!("{docker_name} cannot start: {}", e.message))
            .subject(container.name().as_str())
    };
    let mut opened = Vec::new();
    for m in &found.mounts {
        if !m.bind {
            continue;
        }
        let Some((kind, _, label)) = KINDS.iter().find(|(_, t, _)| *t == m.destination) else {
            continue;
        };
        let source = PathBuf::from(&m.source);
        if !source.starts_with(root(state_dir)) {
            // DS01's scripts or an older ds01: the engine binds the user's path itself.
            mounts::check(kind, &source, uid, roots).map_err(refuse)?;
            continue;
        }
        let point = ours.join(kind);
        let chosen = labels
            .get(*label)
            .filter(|v| v.starts_with('/'))
            .ok_or_else(|| {
                refuse(ApiError::invalid(format!(
                    "its labels name no {kind} directory; remove it and create it again"
                )))
            })?;
        if source != point {
            return Err(refuse(ApiError::invalid(format!(
                "its {kind} is not bound from its own mount point; remove it and create it again"
            ))));
        }
        let (_, fd) = mounts::open(kind, Path::new(chosen), uid, roots).map_err(refuse)?;
        opened.push((point, fd));
    }
    if opened.is_empty() {
        return Ok(Bound::default());
    }
    prepare(&ours).map_err(|e| {
        ApiError::new(
            ds01_api::ErrorCode::Failed,
            format!("cannot prepare the mount points of {docker_name}: {e}"),
        )
    })?;
    let mut bound = Bound::default();
    // Binds stack: a second start of the same container under way at once binds on
    // top, and each start detaches one (the topmost), so whichever the engine meets
    // is a directory checked just now.
    for (point, fd) in opened {
        bind_fd(&fd, &point).map_err(|e| {
            ApiError::new(
                ds01_api::ErrorCode::Failed,
                format!("cannot bind the directory of {docker_name} for its start: {e}"),
            )
        })?;
        bound.points.push(point);
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn points_are_empty_root_directories_inside_private_ones_and_go_with_forget() {
        let state = tempfile::tempdir().unwrap();
        let dir = points(state.path(), "thesis._.1722830498");
        prepare(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&root(state.path())), 0o700);
        assert_eq!(mode(&dir), 0o700);
        for (kind, _, _) in KINDS {
            assert_eq!(mode(&dir.join(kind)), 0o755, "{kind}");
            assert_eq!(std::fs::read_dir(dir.join(kind)).unwrap().count(), 0);
        }
        // Again: nothing changes, nothing fails.
        prepare(&dir).unwrap();
        // A point with something in it is never emptied by force.
        std::fs::write(dir.join("data/kept"), "x").unwrap();
        forget(&dir);
        assert!(dir.join("data/kept").exists());
        std::fs::remove_file(dir.join("data/kept")).unwrap();
        forget(&dir);
        assert!(!dir.exists());
    }
}
