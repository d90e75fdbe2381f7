//! Reading an image's `/etc/passwd` and `/etc/group` without running it, and checking that
//! the account ds01 needs is really there. Labels alone are not trusted: DS01's
//! `image-create` wrote "user set up" labels even when the build skipped the user (B1).

use crate::error::{Context, Result};
use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use bollard::Docker;
use ds01_dockerfile::Identity;
use futures_util::TryStreamExt;
use std::io::Read;

/// One line of `/etc/passwd` that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(passwd: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    passwd.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            return None;
        }
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

fn group_entries(group: &str) -> impl Iterator<Item = (&str, u32)> {
    group.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3).then_some(())?;
        Some((f[0], f[2].parse().ok()?))
    })
}

/// Checks that `passwd`/`group` hold the account as ds01 sets it up: the name, UID, GID and
/// home of `who`, and a group with that GID. DS01's current scripts spell the name their own
/// way (`h_baker`, dots to underscores); at the right UID and GID that account is `who` too.
/// Returns what is wrong otherwise.
///
/// ```
/// use ds01_engine::{accounts::check_account, Identity};
/// let who = Identity::new("h.baker@hertie-school.lan", 4000, 4000).unwrap();
/// let passwd = "root:x:0:0:root:/root:/bin/bash\nh-baker:x:4000:4000::/home/h-baker:/bin/bash\n";
/// assert!(check_account(passwd, "h-baker:x:4000:\n", &who).is_ok());
/// assert!(check_account(passwd, "", &who).is_err());
/// let ds01 = "h_baker:x:4000:4000::/home/h_baker:/bin/bash\n";
/// assert!(check_account(ds01, "h_baker:x:4000:\n", &who).is_ok());
/// ```
pub fn check_account(passwd: &str, group: &str, who: &Identity) -> Result<(), String> {
    let ours = who.username().as_str();
    let theirs = ds01_username::slice_user_compat(who.login());
    let by_uid = passwd_entries(passwd).find(|e| e.uid == who.uid());
    let name = match &by_uid {
        Some(e) if e.name == theirs => theirs.as_str(),
        _ => ours,
    };
    let home = format!("/home/{name}");
    match by_uid {
        None => return Err(format!("no account has UID {}", who.uid())),
        Some(e) if e.name != name => {
            return Err(format!(
                "UID {} belongs to `{}`, not `{name}`",
                who.uid(),
                crate::error::shown(e.name)
            ))
        }
        Some(e) if e.gid != who.gid() => {
            return Err(format!(
                "`{name}` has primary GID {}, not {}",
                e.gid,
                who.gid()
            ))
        }
        Some(e) if e.home != home => {
            return Err(format!(
                "`{name}` has home {}, not {home}",
                crate::error::shown(e.home)
            ))
        }
        Some(_) => {}
    }
    if passwd_entries(passwd).any(|e| e.name == name && e.uid != who.uid()) {
        return Err(format!("a second account named `{name}` exists"));
    }
    if !group_entries(group).any(|(_, gid)| gid == who.gid()) {
        return Err(format!("no group has GID {}", who.gid()));
    }
    Ok(())
}

/// Reads one small file out of a container (running or not) through the archive API.
pub(crate) async fn read_file(docker: &Docker, container: &str, path: &str) -> Result<String> {
    let options = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let chunks: Vec<_> = docker
        .download_from_container(container, Some(options))
        .try_collect()
        .await
        .context(|| format!("reading {path} from {container}"))?;
    let tarball: Vec<u8> = chunks.concat();
    let mut archive = tar::Archive::new(tarball.as_slice());
    let mut bytes = Vec::new();
    if let Some(Ok(mut entry)) = archive.entries().ok().and_then(|mut e| e.next()) {
        let _ = entry.read_to_end(&mut bytes);
    }
    // Lossy: a stray non-UTF-8 byte in some other account's GECOS must not hide ours.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Reads `/etc/passwd` and `/etc/group` from `container` and checks the account.
/// The outer `Result` is the engine failing; the inner one is the verdict.
pub(crate) async fn verify_container(
    docker: &Docker,
    container: &str,
    who: &Identity,
) -> Result<Result<(), String>> {
    let (passwd, group) = tokio::try_join!(
        read_file(docker, container, "/etc/passwd"),
        read_file(docker, container, "/etc/group"),
    )?;
    Ok(check_account(&passwd, &group, who))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who() -> Identity {
        Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap()
    }

    const GROUP: &str = "root:x:0:\nh-baker:x:1722800513:\n";

    #[test]
    fn accepts_the_account_as_set_up() {
        let passwd = "h-baker:x:1722830498:1722800513::/home/h-baker:/bin/bash\n";
        assert_eq!(check_account(passwd, GROUP, &who()), Ok(()));
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("", "no account has UID"),
            (
                "alice:x:1722830498:1722800513::/home/alice:/bin/sh\n",
                "belongs to `alice`",
            ),
            (
                "h-baker:x:1722830498:100::/home/h-baker:/bin/sh\n",
                "primary GID 100",
            ),
            ("h-baker:x:1722830498:1722800513::/:/bin/sh\n", "has home /"),
        ];
        for (passwd, expected) in cases {
            let err = check_account(passwd, GROUP, &who()).unwrap_err();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
        let passwd = "h-baker:x:1722830498:1722800513::/home/h-baker:/bin/bash\n";
        assert!(check_account(passwd, "root:x:0:\n", &who())
            .unwrap_err()
            .contains("no group has GID"));
    }
}
