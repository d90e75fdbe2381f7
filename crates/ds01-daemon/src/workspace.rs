//! The default workspace, `~/workspace/<name>`, made by ds01d (root) inside the user's own
//! home. Every step is taken relative to a directory already opened without following
//! links, so a link the user plants (`~/workspace -> /etc`) makes the create fail instead
//! of making or chowning anything outside their home; only a directory made here is
//! handed to the user.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use ds01_api::{shown, ApiError};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode};
use nix::unistd::{fchown, Gid, Uid};

/// The default workspace of container `name` under `home`: its path, created (owned by
/// `uid:gid`, mode 0755) when `create` and missing.
pub fn default_dir(
    home: &Path,
    name: &str,
    uid: u32,
    gid: u32,
    create: bool,
) -> Result<PathBuf, ApiError> {
    let dir = home.join("workspace").join(name);
    if !create {
        return Ok(dir);
    }
    let refuse = |why: String| {
        ApiError::forbidden(format!(
            "workspace directory {}: {why}",
            shown(&dir.display().to_string())
        ))
    };
    let how = |flags: OFlag, resolve: ResolveFlag| {
        OpenHow::new()
            .flags(flags | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .mode(Mode::empty())
            .resolve(
                resolve | ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            )
    };
    let mut parent: OwnedFd = nix::fcntl::openat2(
        nix::fcntl::AT_FDCWD,
        home,
        how(OFlag::O_RDONLY, ResolveFlag::empty()),
    )
    .map_err(|e| refuse(format!("cannot open your home directory ({e})")))?;
    let home_owner = fstat(&parent)
        .map_err(|e| refuse(format!("cannot stat your home ({e})")))?
        .st_uid;
    if home_owner != uid {
        return Err(refuse("your home directory is not yours".into()));
    }
    for part in ["workspace", name] {
        let made = match mkdirat(&parent, part, Mode::from_bits_truncate(0o755)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(refuse(format!("cannot create it ({e})"))),
        };
        let child = nix::fcntl::openat2(
            &parent,
            part,
            how(OFlag::O_RDONLY, ResolveFlag::RESOLVE_BENEATH),
        )
        .map_err(|e| match e {
            Errno::ELOOP => refuse("it is or passes through a symbolic link".into()),
            Errno::ENOTDIR => refuse("it is not a directory".into()),
            e => refuse(format!("cannot open it ({e})")),
        })?;
        let stat = fstat(&child).map_err(|e| refuse(format!("cannot stat it ({e})")))?;
        // Only what this call made (still root's) is given away; anything else must
        // already be the user's.
        if made && stat.st_uid == 0 {
            fchown(&child, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                .map_err(|e| refuse(format!("cannot give it to you ({e})")))?;
        } else if stat.st_uid != uid {
            return Err(refuse("it is not yours".into()));
        }
        parent = child;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn creates_both_levels_and_refuses_a_planted_link() {
        let home = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let dir = default_dir(home.path(), "thesis", uid, gid, true).unwrap();
        assert!(dir.is_dir());
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), uid);
        // Again: it exists, nothing changes.
        assert_eq!(
            default_dir(home.path(), "thesis", uid, gid, true).unwrap(),
            dir
        );

        let other = tempfile::tempdir().unwrap();
        std::fs::remove_dir(&dir).unwrap();
        symlink(other.path(), &dir).unwrap();
        let e = default_dir(home.path(), "thesis", uid, gid, true).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
    }

    #[test]
    fn a_dry_run_makes_nothing() {
        let home = tempfile::tempdir().unwrap();
        let dir = default_dir(home.path(), "x", 1, 1, false).unwrap();
        assert!(!dir.exists());
    }
}
