//! Host directories a user may mount. A path is walked from `/` one component at a time
//! with `openat2(RESOLVE_NO_SYMLINKS)`, so no symlink anywhere on it is followed (a
//! `~/workspace -> /root` link is refused, not mounted), and the directory reached must be
//! the caller's own or lie under a root the admin lists.

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use ds01_api::{shown, ApiError};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, Mode};

/// System directories that are never mounted, whoever owns them.
const SYSTEM: [&str; 13] = [
    "/", "/etc", "/root", "/boot", "/proc", "/sys", "/dev", "/run", "/var", "/usr", "/bin",
    "/sbin", "/lib",
];

/// Checks `path` (absolute) for `uid` and returns the directory to mount.
pub fn check(what: &str, path: &Path, uid: u32, roots: &[PathBuf]) -> Result<PathBuf, ApiError> {
    open(what, path, uid, roots).map(|(clean, _)| clean)
}

/// [`check`], also returning the directory checked, opened (`O_PATH`): binding that, not
/// the path, binds exactly what was checked, whatever the path names a moment later.
pub fn open(
    what: &str,
    path: &Path,
    uid: u32,
    roots: &[PathBuf],
) -> Result<(PathBuf, OwnedFd), ApiError> {
    let refuse = |why: &str| {
        ApiError::forbidden(format!(
            "{what} directory {}: {why}",
            shown(&path.display().to_string())
        ))
    };
    if !path.is_absolute() {
        return Err(refuse("give an absolute path"));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(refuse("`.` and `..` are not allowed in mount paths"));
    }
    let clean: PathBuf = path.components().collect();
    if SYSTEM.iter().any(|s| Path::new(s) == clean) {
        return Err(refuse("system directories are never mounted"));
    }
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .mode(Mode::empty())
        .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let fd = nix::fcntl::openat2(nix::fcntl::AT_FDCWD, &clean, how).map_err(|e| match e {
        nix::errno::Errno::ELOOP => refuse("it is or passes through a symbolic link"),
        nix::errno::Errno::ENOENT => refuse("it does not exist; create it first"),
        nix::errno::Errno::ENOTDIR => refuse("it is not a directory"),
        e => refuse(&format!("cannot open it ({e})")),
    })?;
    let stat = fstat(&fd).map_err(|e| refuse(&format!("cannot stat it ({e})")))?;
    let under_root = roots.iter().any(|r| clean.starts_with(r));
    if stat.st_uid != uid && !under_root {
        return Err(refuse(
            "it is not yours; mount a directory you own, or one under a shared root your admin lists",
        ));
    }
    if stat.st_uid == uid && uid != 0 && !under_root && !owned_all_the_way(&clean, uid) {
        return Err(refuse("it lies inside a directory another user controls"));
    }
    Ok((clean, fd))
}

/// Whether every directory above `path` belongs to root or `uid`: a directory in another
/// user's tree could be swapped by that user.
fn owned_all_the_way(path: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    path.ancestors()
        .skip(1)
        .all(|dir| std::fs::symlink_metadata(dir).is_ok_and(|m| m.uid() == 0 || m.uid() == uid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn refuses_system_directories_links_and_relative_paths() {
        for p in ["/", "/etc", "/root", "/etc/", "relative/dir", "/tmp/../etc"] {
            assert!(check("workspace", Path::new(p), 0, &[]).is_err(), "{p}");
        }
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("ws");
        symlink("/root", &link).unwrap();
        let e = check("workspace", &link, 0, &[]).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
    }

    #[test]
    fn accepts_an_owned_directory_and_refuses_another_owner() {
        let dir = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        assert_eq!(
            check("workspace", dir.path(), uid, &[]).unwrap(),
            dir.path()
        );
        let e = check("workspace", dir.path(), uid + 1, &[]).unwrap_err();
        assert!(e.message.contains("not yours"), "{}", e.message);
        assert!(check("data", dir.path(), uid + 1, &[dir.path().to_owned()]).is_ok());
    }
}
