//! The host user an image is built for, and the build arguments that carry it.

use std::fmt;

use ds01_username::Username;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Build argument (and setup-script variable) holding the numeric user ID.
pub const ARG_USER_ID: &str = "DS01_USER_ID";
/// Build argument (and setup-script variable) holding the numeric primary group ID.
pub const ARG_GROUP_ID: &str = "DS01_GROUP_ID";
/// Build argument (and setup-script variable) holding the container account name.
pub const ARG_USERNAME: &str = "DS01_USERNAME";
/// Build argument (and setup-container variable): `1` when the image's owner may use sudo,
/// so the user setup writes their sudoers rule; anything else, or unset, writes none.
pub const ARG_SUDO: &str = "DS01_SUDO";

/// Why an identity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// UID or GID 0 would turn root into the container user.
    #[error(
        "refusing to set up a container user with {what} 0: that is root; \
         run ds01 as your own account"
    )]
    Root {
        /// `"UID"` or `"GID"`.
        what: &'static str,
    },
    /// 4294967295 is `(uid_t) -1`, which the kernel and shadow treat as "no ID".
    #[error("{what} 4294967295 is not a real ID (it means \"none\" to the kernel)")]
    Invalid {
        /// `"UID"` or `"GID"`.
        what: &'static str,
    },
    /// The login cannot be recorded in an image.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// The login does not map to a usable account name.
    #[error(transparent)]
    Username(#[from] ds01_username::UsernameError),
    /// An account for another user was given in a form other than `LOGIN:UID:GID`.
    #[error("`{0}` is not of the form LOGIN:UID:GID (for example h.baker@hertie-school.lan:1722830498:1722800513)")]
    BadSpec(String),
}

/// Why a login name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("login name {input:?} cannot be recorded in an image: {reason}")]
pub struct LoginError {
    input: String,
    reason: String,
}

/// A host login name as the system reports it (`h.baker@hertie-school.lan`), recorded in the
/// `maintainer` and `aime.mlc.username` labels of the images a user builds.
///
/// Unlike [`Username`] it is not mapped: it is the raw name, checked only to be one printable
/// word (no whitespace, control characters, backslash or quotes; at most 256 bytes).
///
/// ```
/// use ds01_dockerfile::Login;
///
/// assert_eq!(Login::parse("h.baker@hertie-school.lan").unwrap().as_str(), "h.baker@hertie-school.lan");
/// assert!(Login::parse("two words").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

impl Login {
    /// Checks a login name.
    ///
    /// ```
    /// # use ds01_dockerfile::Login;
    /// assert!(Login::parse("").is_err());
    /// assert!(Login::parse("alice").is_ok());
    /// ```
    pub fn parse(input: &str) -> Result<Login, LoginError> {
        let fail = |reason: String| LoginError {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("it is empty".into()));
        }
        if input.len() > 256 {
            return Err(fail("it is longer than 256 bytes".into()));
        }
        if let Some(bad) = input
            .chars()
            .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, '\\' | '"' | '\'' | '`'))
        {
            return Err(fail(format!("it contains {bad:?}")));
        }
        Ok(Login(input.to_owned()))
    }

    /// The login as text.
    ///
    /// ```
    /// # use ds01_dockerfile::Login;
    /// assert_eq!(Login::parse("bob").unwrap().as_str(), "bob");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Login {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Login {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Login, D::Error> {
        let text = String::deserialize(deserializer)?;
        Login::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The one identity of a user across ds01: the account ds01 acts for, the owner of their
/// containers and images, and the account baked into their images.
///
/// `login` is the raw NSS name (`h.baker@hertie-school.lan`): DS01's ownership labels
/// (`aime.mlc.USER`) carry it unchanged. `username` is the container account name derived
/// from it (`h-baker`), used for `/home/<username>` and the image's user labels. The IDs are
/// ones an image can carry: neither is root's, nor the kernel's "no ID".
///
/// ```
/// use ds01_dockerfile::Identity;
///
/// let id = Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap();
/// assert_eq!(id.username().as_str(), "h-baker");
/// assert_eq!(id.build_args(), vec![
///     ("DS01_USER_ID".to_string(), "1722830498".to_string()),
///     ("DS01_GROUP_ID".to_string(), "1722800513".to_string()),
///     ("DS01_USERNAME".to_string(), "h-baker".to_string()),
/// ]);
/// assert!(Identity::new("root", 0, 0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    login: Login,
    uid: u32,
    gid: u32,
    username: Username,
}

impl Identity {
    /// An identity from a login name and numeric IDs; the account name is derived from the
    /// login by DS01's rule.
    ///
    /// ```
    /// use ds01_dockerfile::Identity;
    /// assert!(Identity::new("alice", 1000, 1000).is_ok());
    /// assert!(Identity::new("alice", 1000, 0).is_err());
    /// assert!(Identity::new("alice", u32::MAX, 1000).is_err());
    /// ```
    pub fn new(login: &str, uid: u32, gid: u32) -> Result<Identity, IdentityError> {
        for (what, id) in [("UID", uid), ("GID", gid)] {
            match id {
                0 => return Err(IdentityError::Root { what }),
                u32::MAX => return Err(IdentityError::Invalid { what }),
                _ => {}
            }
        }
        let username = Username::from_login(login)?;
        Ok(Identity {
            login: Login::parse(login)?,
            uid,
            gid,
            username,
        })
    }

    /// Parses `LOGIN:UID:GID`. The IDs are taken from the right, so a login holding `:` is
    /// still split correctly (and then refused by the username rules, with that reason).
    ///
    /// ```
    /// use ds01_dockerfile::Identity;
    /// let id = Identity::parse_spec("h.baker@hertie-school.lan:1722830498:1722800513").unwrap();
    /// assert_eq!((id.uid(), id.gid()), (1722830498, 1722800513));
    /// ```
    pub fn parse_spec(spec: &str) -> Result<Identity, IdentityError> {
        let bad = || IdentityError::BadSpec(ds01_labels::shown(spec));
        let mut parts = spec.rsplitn(3, ':');
        let gid = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let uid = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let login = parts.next().filter(|l| !l.is_empty()).ok_or_else(bad)?;
        Self::new(login, uid, gid)
    }

    /// The raw login (`h.baker@hertie-school.lan`).
    pub fn login(&self) -> &str {
        self.login.as_str()
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

    /// The three build arguments, in the order `DS01_USER_ID`, `DS01_GROUP_ID`,
    /// `DS01_USERNAME`, for `docker build --build-arg` or the engine API's `buildargs`.
    pub fn build_args(&self) -> Vec<(String, String)> {
        vec![
            (ARG_USER_ID.to_owned(), self.uid.to_string()),
            (ARG_GROUP_ID.to_owned(), self.gid.to_string()),
            (ARG_USERNAME.to_owned(), self.username.to_string()),
        ]
    }

    /// The same values as `KEY=VALUE` strings, for the environment of a container that runs
    /// [`USER_SETUP_SCRIPT`](crate::USER_SETUP_SCRIPT).
    ///
    /// ```
    /// # use ds01_dockerfile::Identity;
    /// let id = Identity::new("bo", 1001, 100).unwrap();
    /// assert_eq!(id.env(), ["DS01_USER_ID=1001", "DS01_GROUP_ID=100", "DS01_USERNAME=bo"]);
    /// ```
    pub fn env(&self) -> Vec<String> {
        self.build_args()
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect()
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
    fn refuses_root_and_the_no_id_value() {
        assert_eq!(
            Identity::new("alice", 0, 1),
            Err(IdentityError::Root { what: "UID" })
        );
        assert_eq!(
            Identity::new("alice", 1, 0),
            Err(IdentityError::Root { what: "GID" })
        );
        assert_eq!(
            Identity::new("alice", u32::MAX, 1),
            Err(IdentityError::Invalid { what: "UID" })
        );
        assert!(Identity::new("alice", 1, u32::MAX - 1).is_ok());
    }

    #[test]
    fn parses_specs_from_the_right() {
        let id = Identity::parse_spec("h.baker@hertie-school.lan:1722830498:1722800513").unwrap();
        assert_eq!(id.login(), "h.baker@hertie-school.lan");
        assert_eq!(id.username().as_str(), "h-baker");
        for bad in ["", "alice", "alice:1", "alice:x:1", ":1:1", "alice:1:-1"] {
            assert!(
                matches!(Identity::parse_spec(bad), Err(IdentityError::BadSpec(_))),
                "{bad:?}"
            );
        }
        assert!(Identity::parse_spec("alice:1000:0").is_err());
    }

    #[test]
    fn logins_are_one_printable_word() {
        for ok in ["h.baker@hertie-school.lan", "DOMAIN+x", "ünï"] {
            Login::parse(ok).unwrap();
        }
        for bad in [
            "",
            "a b",
            "a\nb",
            "a\\b",
            "a\"b",
            "a'b",
            "a`b",
            &"x".repeat(257),
        ] {
            assert!(Login::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_matches_build_args() {
        let id = Identity::new("alice", 4000123, 4000123).unwrap();
        let from_args: Vec<String> = id
            .build_args()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(id.env(), from_args);
        assert_eq!(id.env()[0], "DS01_USER_ID=4000123");
    }
}
