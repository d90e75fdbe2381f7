//! Who a container belongs to: the login as NSS hands it over, the numeric IDs, and the
//! account name derived from the login.

use ds01_username::Username;
use std::fmt;

/// The account that ds01 acts for.
///
/// `login` is the raw NSS name (`h.baker@hertie-school.lan`): DS01's ownership labels
/// (`aime.mlc.USER`) carry it unchanged. `username` is the container account name derived
/// from it (`h-baker`), used for `/home/<username>` and the image's user labels.
///
/// ```
/// use ds01_engine::Identity;
/// let id = Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap();
/// assert_eq!(id.username().as_str(), "h-baker");
/// assert_eq!(id.uid(), 1722830498);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    login: String,
    uid: u32,
    gid: u32,
    username: Username,
}

/// Why an identity could not be established.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The login does not map to a usable account name.
    #[error(transparent)]
    Username(#[from] ds01_username::UsernameError),
    /// An account for another user was given in a form other than `LOGIN:UID:GID`.
    #[error("`{0}` is not of the form LOGIN:UID:GID (for example h.baker@hertie-school.lan:1722830498:1722800513)")]
    BadSpec(String),
    /// The IDs cannot be those of an image account (GID 0, or the reserved 4294967295).
    #[error(transparent)]
    Ids(#[from] ds01_dockerfile::IdentityError),
    /// UID 0 is never a container user: root inside is not what ds01 hands out.
    #[error("ds01 creates containers for user accounts, not for root (UID 0)")]
    Root,
}

impl Identity {
    /// An identity from a login name and numeric IDs.
    pub fn new(login: &str, uid: u32, gid: u32) -> Result<Self, IdentityError> {
        if uid == 0 {
            return Err(IdentityError::Root);
        }
        let username = Username::from_login(login)?;
        // The account must be one an image can carry: checked here, once, so that every
        // later use (build args, setup) can rely on it.
        ds01_dockerfile::UserIdentity::new(uid, gid, username.clone())?;
        Ok(Identity {
            login: login.to_owned(),
            uid,
            gid,
            username,
        })
    }

    /// Parses `LOGIN:UID:GID`. The IDs are taken from the right, so a login holding `:` is
    /// still split correctly (and then refused by the username rules, with that reason).
    pub fn parse_spec(spec: &str) -> Result<Self, IdentityError> {
        let bad = || IdentityError::BadSpec(ds01_api::shown(spec));
        let mut parts = spec.rsplitn(3, ':');
        let gid = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let uid = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let login = parts.next().filter(|l| !l.is_empty()).ok_or_else(bad)?;
        Self::new(login, uid, gid)
    }

    /// The raw login (`h.baker@hertie-school.lan`).
    pub fn login(&self) -> &str {
        &self.login
    }
    /// The numeric user ID.
    pub fn uid(&self) -> u32 {
        self.uid
    }
    /// The numeric primary group ID.
    pub fn gid(&self) -> u32 {
        self.gid
    }
    /// The container account name (`h-baker`).
    pub fn username(&self) -> &Username {
        &self.username
    }
    /// The same account as `ds01-dockerfile` describes it for image builds.
    pub fn user_identity(&self) -> ds01_dockerfile::UserIdentity {
        ds01_dockerfile::UserIdentity::new(self.uid, self.gid, self.username.clone())
            .expect("Identity::new refuses what UserIdentity refuses")
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}:{})", self.login, self.uid, self.gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_spec() {
        let id = Identity::parse_spec("h.baker@hertie-school.lan:1722830498:1722800513").unwrap();
        assert_eq!(id.login(), "h.baker@hertie-school.lan");
        assert_eq!((id.uid(), id.gid()), (1722830498, 1722800513));
        assert_eq!(id.username().as_str(), "h-baker");
    }

    #[test]
    fn refuses_malformed_specs() {
        for bad in [
            "",
            "alice",
            "alice:1",
            "alice:x:1",
            ":1:1",
            "alice:1:-1",
            "alice:99999999999:1",
        ] {
            assert!(
                matches!(Identity::parse_spec(bad), Err(IdentityError::BadSpec(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Identity::parse_spec("@x:5:5"),
            Err(IdentityError::Username(_))
        ));
        assert!(matches!(
            Identity::parse_spec("root:0:0"),
            Err(IdentityError::Root)
        ));
        for bad_ids in [
            "alice:1000:0",
            "alice:4294967295:1000",
            "alice:1000:4294967295",
        ] {
            assert!(
                matches!(Identity::parse_spec(bad_ids), Err(IdentityError::Ids(_))),
                "{bad_ids}"
            );
        }
        let err = Identity::parse_spec("\u{1b}[2J").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
