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

/// Why a user identity was refused.
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

/// The host account baked into an image: numeric UID and GID and the container account name.
///
/// ```
/// use ds01_dockerfile::UserIdentity;
/// use ds01_username::Username;
///
/// let user = Username::from_login("h.baker@hertie-school.lan").unwrap();
/// let id = UserIdentity::new(1722830498, 1722800513, user).unwrap();
/// assert_eq!(id.build_args(), vec![
///     ("DS01_USER_ID".to_string(), "1722830498".to_string()),
///     ("DS01_GROUP_ID".to_string(), "1722800513".to_string()),
///     ("DS01_USERNAME".to_string(), "h-baker".to_string()),
/// ]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserIdentity {
    uid: u32,
    gid: u32,
    username: Username,
}

impl UserIdentity {
    /// Checks that neither ID is root's or the kernel's "no ID".
    ///
    /// ```
    /// use ds01_dockerfile::UserIdentity;
    /// use ds01_username::Username;
    ///
    /// let alice = Username::parse("alice").unwrap();
    /// assert!(UserIdentity::new(0, 1000, alice.clone()).is_err());
    /// assert!(UserIdentity::new(1000, 1000, alice).is_ok());
    /// ```
    pub fn new(uid: u32, gid: u32, username: Username) -> Result<UserIdentity, IdentityError> {
        for (what, id) in [("UID", uid), ("GID", gid)] {
            match id {
                0 => return Err(IdentityError::Root { what }),
                u32::MAX => return Err(IdentityError::Invalid { what }),
                _ => {}
            }
        }
        Ok(UserIdentity { uid, gid, username })
    }

    /// The numeric user ID.
    ///
    /// ```
    /// # use ds01_dockerfile::UserIdentity;
    /// # let id = UserIdentity::new(1001, 100, ds01_username::Username::parse("bo").unwrap()).unwrap();
    /// assert_eq!(id.uid(), 1001);
    /// ```
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The numeric primary group ID.
    ///
    /// ```
    /// # use ds01_dockerfile::UserIdentity;
    /// # let id = UserIdentity::new(1001, 100, ds01_username::Username::parse("bo").unwrap()).unwrap();
    /// assert_eq!(id.gid(), 100);
    /// ```
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The container account name.
    ///
    /// ```
    /// # use ds01_dockerfile::UserIdentity;
    /// # let id = UserIdentity::new(1001, 100, ds01_username::Username::parse("bo").unwrap()).unwrap();
    /// assert_eq!(id.username().as_str(), "bo");
    /// ```
    pub fn username(&self) -> &Username {
        &self.username
    }

    /// The three build arguments, in the order `DS01_USER_ID`, `DS01_GROUP_ID`,
    /// `DS01_USERNAME`, for `docker build --build-arg` or the engine API's `buildargs`.
    ///
    /// ```
    /// # use ds01_dockerfile::UserIdentity;
    /// # let id = UserIdentity::new(1001, 100, ds01_username::Username::parse("bo").unwrap()).unwrap();
    /// let args: std::collections::HashMap<_, _> = id.build_args().into_iter().collect();
    /// assert_eq!(args["DS01_GROUP_ID"], "100");
    /// ```
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
    /// # use ds01_dockerfile::UserIdentity;
    /// # let id = UserIdentity::new(1001, 100, ds01_username::Username::parse("bo").unwrap()).unwrap();
    /// assert_eq!(id.env(), ["DS01_USER_ID=1001", "DS01_GROUP_ID=100", "DS01_USERNAME=bo"]);
    /// ```
    pub fn env(&self) -> Vec<String> {
        self.build_args()
            .into_iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Username {
        Username::parse("alice").unwrap()
    }

    #[test]
    fn refuses_root_and_the_no_id_value() {
        assert_eq!(
            UserIdentity::new(0, 1, alice()),
            Err(IdentityError::Root { what: "UID" })
        );
        assert_eq!(
            UserIdentity::new(1, 0, alice()),
            Err(IdentityError::Root { what: "GID" })
        );
        assert_eq!(
            UserIdentity::new(u32::MAX, 1, alice()),
            Err(IdentityError::Invalid { what: "UID" })
        );
        assert!(UserIdentity::new(1, u32::MAX - 1, alice()).is_ok());
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
        let id = UserIdentity::new(4000123, 4000123, alice()).unwrap();
        let from_args: Vec<String> = id
            .build_args()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(id.env(), from_args);
        assert_eq!(id.env()[0], "DS01_USER_ID=4000123");
    }
}
