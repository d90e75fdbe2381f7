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
use nix::unistd::{fchown, Gid, Uid};

use crate::caller::Acting;
use crate::mounts;
use crate::Daemon;

/// The files a container gets: its workspace and its home volume.
impl Daemon {
    /// The default workspace: the configured `workspace` (`~` is the user's home) when it
    /// exists and passes the checks, as before; without one, `~/workspace/<name>`, created
    /// for the user when `make` (a dry run only names it).
    pub(crate) fn default_workspace(
        &self,
        acting: &Acting,
        name: &ContainerName,
        make: bool,
    ) -> Result<Option<PathBuf>, ApiError> {
        let uid = acting.who.uid();
        let Some(home) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| u.dir)
        else {
            // An account NSS does not know (an admin's `--as LOGIN:UID:GID`) has no home.
            return Ok(None);
        };
        let roots = &self.config.file.mount_roots;
        if let Some(template) = self.config.file.workspace.as_ref() {
            let dir = match template.strip_prefix("~") {
                Ok(rest) => home.join(rest),
                Err(_) => template.clone(),
            };
            return Ok(mounts::check("workspace", &dir, uid, roots).ok());
        }
        if uid == 0 {
            return Ok(None);
        }
        let dir = crate::workspace::default_dir(&home, name.as_str(), uid, acting.who.gid(), make)?;
        if !make {
            return Ok(Some(dir));
        }
        mounts::check("workspace", &dir, uid, roots).map(Some)
    }

    /// The named volume for the user's home in container `name`, labelled with its owner
    /// and the configuration's `[labels]`.
    pub(crate) fn home_volume(&self, acting: &Acting, name: &ContainerName) -> HomeVolume {
        let who = &acting.who;
        let mut labels = self.resource_labels();
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
            name: HomeVolume::name_for(&name.docker_name(who.uid())),
            // Where the user setup puts the account's home (`/home/<username>`).
            target: format!("/home/{}", who.username()),
            labels,
        }
    }
}

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
