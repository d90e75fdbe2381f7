//! The files a container gets: the home volume, and the default workspace,
//! `~/workspace/<name>`, made by ds01d (root) inside the user's own home. Every step is taken relative to a directory already opened without following
//! links, so a link the user plants (`~/workspace -> /etc`) makes the create fail instead
//! of making or chowning anything outside their home; only a directory made here is
//! handed to the user.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use ds01_api::{shown, ApiError, ContainerName};
use ds01_engine::HomeVolume;
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode};
use nix::unistd::{fchown, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::caller::Acting;
use crate::config::Config;
use crate::mounts;

/// The default workspace: the configured `workspace` (`~` is the user's home) when it
/// exists and passes the checks, as before; without one, `~/workspace/<name>`, created
/// for the user when `make` (a dry run only names it).
pub(crate) fn default_workspace(
    config: &Config,
    acting: &Acting,
    name: &ContainerName,
    make: bool,
) -> Result<(Option<PathBuf>, Option<Made>), ApiError> {
    let uid = acting.who.uid();
    let Some(home) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.dir)
    else {
        // An account NSS does not know (an admin's `--as LOGIN:UID:GID`) has no home.
        return Ok((None, None));
    };
    let roots = &config.file.mount_roots;
    if let Some(template) = config.file.workspace.as_ref() {
        let dir = match template.strip_prefix("~") {
            Ok(rest) => home.join(rest),
            Err(_) => template.clone(),
        };
        return Ok((mounts::check("workspace", &dir, uid, roots).ok(), None));
    }
    if uid == 0 {
        return Ok((None, None));
    }
    let (dir, made) =
        crate::workspace::default_dir(&home, name.as_str(), uid, acting.who.gid(), make)?;
    if !make {
        return Ok((Some(dir), None));
    }
    match mounts::check("workspace", &dir, uid, roots) {
        Ok(dir) => Ok((Some(dir), made)),
        Err(e) => {
            if let Some(made) = made {
                made.undo();
            }
            Err(e)
        }
    }
}

/// The named volume for the user's home in container `name`, labelled with its owner
/// and the configuration's `[labels]`.
pub(crate) fn home_volume(config: &Config, acting: &Acting, name: &ContainerName) -> HomeVolume {
    let who = &acting.who;
    let mut labels = config.resource_labels();
    labels.extend([
        (
            ds01_engine::labels::DS01_USER.to_owned(),
            who.login().to_owned(),
        ),
        (
            ds01_engine::labels::OWNER_UID.to_owned(),
            who.uid().to_string(),
        ),
        (
            ds01_engine::labels::ROLE.to_owned(),
            ds01_engine::labels::ROLE_HOME.to_owned(),
        ),
    ]);
    HomeVolume {
        name: HomeVolume::name_for(&name.owned_by(who.uid())),
        // Where the user setup puts the account's home (`/home/<username>`).
        target: format!("/home/{}", who.username()),
        labels,
    }
}

/// What [`default_dir`] made, so that a create failing after it can take it back: a
/// refused or failed create leaves no workspace behind, and touches none it did not make.
#[derive(Debug)]
#[must_use = "a failed create must undo what it made"]
pub struct Made {
    home: PathBuf,
    name: String,
    /// `~/workspace` itself was made too.
    parent: bool,
}

impl Made {
    /// Removes the directories this call made, walking down from the home again without
    /// following links. Only empty directories go (`rmdir`): anything the user put there in
    /// the meantime stays, with the directory holding it.
    pub fn undo(self) {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_NO_SYMLINKS | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let Ok(home) = nix::fcntl::openat2(nix::fcntl::AT_FDCWD, &self.home, how) else {
            return;
        };
        let Ok(parent) = nix::fcntl::openat2(&home, "workspace", how) else {
            return;
        };
        if let Err(e) = unlinkat(&parent, self.name.as_str(), UnlinkatFlags::RemoveDir) {
            tracing::warn!(
                "could not take back {}/workspace/{}: {e}",
                self.home.display(),
                self.name
            );
            return;
        }
        if self.parent {
            let _ = unlinkat(&home, "workspace", UnlinkatFlags::RemoveDir);
        }
    }
}

/// The default workspace of container `name` under `home`: its path, created (owned by
/// `uid:gid`, mode 0755) when `create` and missing, with what this call made.
pub fn default_dir(
    home: &Path,
    name: &str,
    uid: u32,
    gid: u32,
    create: bool,
) -> Result<(PathBuf, Option<Made>), ApiError> {
    let dir = home.join("workspace").join(name);
    if !create {
        return Ok((dir, None));
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
    let mut made_levels = [false; 2];
    for (level, part) in ["workspace", name].into_iter().enumerate() {
        let made = match mkdirat(&parent, part, Mode::from_bits_truncate(0o755)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(e) => return Err(refuse(format!("cannot create it ({e})"))),
        };
        made_levels[level] = made;
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
    let made = made_levels[1].then(|| Made {
        home: home.to_owned(),
        name: name.to_owned(),
        parent: made_levels[0],
    });
    Ok((dir, made))
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
        let (dir, made) = default_dir(home.path(), "thesis", uid, gid, true).unwrap();
        assert!(dir.is_dir() && made.is_some());
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), uid);
        // Again: it exists, nothing changes, and nothing is claimed as made.
        let (again, made_again) = default_dir(home.path(), "thesis", uid, gid, true).unwrap();
        assert_eq!(again, dir);
        assert!(made_again.is_none());

        let other = tempfile::tempdir().unwrap();
        std::fs::remove_dir(&dir).unwrap();
        symlink(other.path(), &dir).unwrap();
        let e = default_dir(home.path(), "thesis", uid, gid, true).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
    }

    #[test]
    fn a_dry_run_makes_nothing() {
        let home = tempfile::tempdir().unwrap();
        let (dir, made) = default_dir(home.path(), "x", 1, 1, false).unwrap();
        assert!(!dir.exists() && made.is_none());
    }

    #[test]
    fn undo_takes_back_only_what_was_made() {
        let home = tempfile::tempdir().unwrap();
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        // Both levels made: both go.
        let (_, made) = default_dir(home.path(), "a", uid, gid, true).unwrap();
        made.unwrap().undo();
        assert!(!home.path().join("workspace").exists());
        // `~/workspace` was there with a file: only the new leaf goes.
        std::fs::create_dir(home.path().join("workspace")).unwrap();
        std::fs::write(home.path().join("workspace/keep"), "x").unwrap();
        let (dir, made) = default_dir(home.path(), "b", uid, gid, true).unwrap();
        made.unwrap().undo();
        assert!(!dir.exists());
        assert!(home.path().join("workspace/keep").is_file());
        // A leaf the user filled in the meantime stays, with its files.
        let (dir, made) = default_dir(home.path(), "c", uid, gid, true).unwrap();
        std::fs::write(dir.join("notes"), "x").unwrap();
        made.unwrap().undo();
        assert!(dir.join("notes").is_file());
    }
}
