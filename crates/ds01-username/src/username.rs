//! [`Username`]: a container account name that is known to be usable.

use std::fmt;
use std::str::FromStr;

use crate::error::UsernameError;
use crate::rules::{self, ACCOUNT};

/// A container account name: what DS01 calls `<sanitized>` in `useradd`, image build args and
/// the `ds01.user.sanitized` label.
///
/// A `Username` is never empty, is at most [`Username::MAX_LEN`] bytes, uses only
/// `[A-Za-z0-9_-]`, does not start or end with `-`, is not all digits, and maps to itself.
/// It is byte for byte what DS01's reference sanitizer gives for the same login.
///
/// ```
/// use ds01_username::Username;
///
/// let user = Username::from_login("h.baker@hertie-school.lan")?;
/// assert_eq!(user.as_str(), "h-baker");
/// assert_eq!(format!("/home/{user}"), "/home/h-baker");
/// # Ok::<(), ds01_username::UsernameError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    /// The longest account name, in bytes (all account names are ASCII).
    ///
    /// ```
    /// use ds01_username::Username;
    ///
    /// let user = Username::from_login(&"x".repeat(100))?;
    /// assert_eq!(user.as_str().len(), Username::MAX_LEN);
    /// # Ok::<(), ds01_username::UsernameError>(())
    /// ```
    pub const MAX_LEN: usize = rules::MAX_LEN;

    /// Maps a login name as NSS/LDAP hands it over (`h.baker@hertie-school.lan`) to its
    /// container account name.
    ///
    /// The rules are DS01's (revision 1e7512d): drop everything from the first `@`, turn `.`
    /// and every character outside `[A-Za-z0-9_:-]` into `-`, collapse runs of `-`, trim `-`
    /// at both ends, and shorten names over 32 characters to their first 27 (without a
    /// trailing `-`), a `-` and the first four hex digits of the MD5 of the whole login.
    ///
    /// # Errors
    ///
    /// Where the reference gives a name no account can have: an empty one
    /// ([`UsernameError::Empty`]), one holding `:` ([`UsernameError::Colon`]) or an
    /// all-digit one ([`UsernameError::AllDigits`]). [`sanitize_compat`](crate::sanitize_compat)
    /// returns those names anyway.
    ///
    /// ```
    /// use ds01_username::{Username, UsernameError};
    ///
    /// assert_eq!(
    ///     Username::from_login("a.very.long.username.with.many.dots@domain.edu")?.as_str(),
    ///     "a-very-long-username-with-m-9f4c",
    /// );
    /// assert!(matches!(Username::from_login("al:ice"), Err(UsernameError::Colon { .. })));
    /// assert!(matches!(Username::from_login("1234@x"), Err(UsernameError::AllDigits { .. })));
    /// # Ok::<(), UsernameError>(())
    /// ```
    pub fn from_login(login: &str) -> Result<Self, UsernameError> {
        Self::usable(login, ACCOUNT.map(login))
    }

    /// Checks a string that should already be an account name, such as one read back from a
    /// container label or a config file.
    ///
    /// Unlike [`Username::from_login`] this changes nothing: the string must be exactly what
    /// the mapping produces, so `h-baker` is accepted and `h.baker` is not.
    ///
    /// # Errors
    ///
    /// [`UsernameError::NotSanitized`] if mapping the string would change it, otherwise the
    /// same errors as [`Username::from_login`].
    ///
    /// ```
    /// use ds01_username::{Username, UsernameError};
    ///
    /// assert_eq!(Username::parse("h-baker")?.as_str(), "h-baker");
    /// assert!(matches!(
    ///     Username::parse("h.baker"),
    ///     Err(UsernameError::NotSanitized { mapped, .. }) if mapped == "h-baker"
    /// ));
    /// assert!(matches!(Username::parse("42"), Err(UsernameError::AllDigits { .. })));
    /// # Ok::<(), UsernameError>(())
    /// ```
    pub fn parse(name: &str) -> Result<Self, UsernameError> {
        let mapped = ACCOUNT.map(name);
        if mapped != name {
            return Err(UsernameError::NotSanitized {
                input: name.to_owned(),
                mapped,
            });
        }
        Self::usable(name, mapped)
    }

    /// The account name as a string slice.
    ///
    /// ```
    /// use ds01_username::Username;
    ///
    /// assert_eq!(Username::from_login("alice")?.as_str(), "alice");
    /// # Ok::<(), ds01_username::UsernameError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The account name as an owned `String`, without copying.
    ///
    /// ```
    /// use ds01_username::Username;
    ///
    /// let name: String = Username::from_login("john.doe")?.into_string();
    /// assert_eq!(name, "john-doe");
    /// # Ok::<(), ds01_username::UsernameError>(())
    /// ```
    pub fn into_string(self) -> String {
        self.0
    }

    /// Accepts `mapped` (the reference output for `input`) only if an account can have it.
    fn usable(input: &str, mapped: String) -> Result<Self, UsernameError> {
        if mapped.is_empty() {
            Err(UsernameError::Empty {
                input: input.to_owned(),
            })
        } else if mapped.contains(':') {
            Err(UsernameError::Colon {
                input: input.to_owned(),
                mapped,
            })
        } else if mapped.bytes().all(|b| b.is_ascii_digit()) {
            Err(UsernameError::AllDigits {
                input: input.to_owned(),
                mapped,
            })
        } else {
            Ok(Self(mapped))
        }
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Same as [`Username::parse`]: the string must already be an account name.
///
/// ```
/// use ds01_username::Username;
///
/// let user: Username = "h-baker".parse()?;
/// assert_eq!(user, "h-baker");
/// assert!("h.baker@hertie-school.lan".parse::<Username>().is_err());
/// # Ok::<(), ds01_username::UsernameError>(())
/// ```
impl FromStr for Username {
    type Err = UsernameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<Username> for String {
    fn from(user: Username) -> Self {
        user.0
    }
}

impl PartialEq<str> for Username {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Username {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Serializes as the plain string.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use ds01_username::Username;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let user = Username::from_login("h.baker@hertie-school.lan")?;
/// assert_eq!(serde_json::to_string(&user)?, r#""h-baker""#);
/// # Ok(()) }
/// # main().unwrap();
/// # }
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for Username {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserializes from a string and validates it like [`Username::parse`], so a config file
/// cannot smuggle in a raw login name or an unusable one.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use ds01_username::Username;
///
/// let user: Username = serde_json::from_str(r#""h-baker""#).unwrap();
/// assert_eq!(user, "h-baker");
/// assert!(serde_json::from_str::<Username>(r#""h.baker""#).is_err());
/// # }
/// ```
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Username {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = Username;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DS01 container account name such as `h-baker`")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Username, E> {
                Username::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Visitor)
    }
}
