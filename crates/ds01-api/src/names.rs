//! Container names as users type them, and the Docker names DS01 derives from them.

use std::fmt;
use std::str::FromStr;

use ds01_dockerfile::owner::OwnedName;
use ds01_dockerfile::Tag;

/// A container name as the user chose it (`thesis`), valid both as a Docker container name
/// and, in `<name>._.<uid>`, as an image tag (the commit flow tags images with it).
///
/// ```
/// use ds01_api::ContainerName;
/// let name: ContainerName = "thesis-cv".parse().unwrap();
/// assert_eq!(name.owned_by(1722830498).as_str(), "thesis-cv._.1722830498");
/// assert!("bad name".parse::<ContainerName>().is_err());
/// assert!("-x".parse::<ContainerName>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerName(String);

/// The longest name: `<name>._.<uid>` must fit Docker's 128-character tag limit with any
/// 32-bit UID (10 digits) and the 3-character separator.
pub const MAX_CONTAINER_NAME_LEN: usize = 128 - 3 - 10;

/// Why a container name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid container name `{name}`: {reason}")]
pub struct ContainerNameError {
    name: String,
    reason: &'static str,
}

impl ContainerName {
    /// Validates a user-chosen name.
    pub fn new(name: &str) -> Result<Self, ContainerNameError> {
        let fail = |reason| {
            Err(ContainerNameError {
                name: crate::shown(name),
                reason,
            })
        };
        let Some(first) = name.chars().next() else {
            return fail("it is empty");
        };
        if !first.is_ascii_alphanumeric() {
            return fail("it must start with a letter or digit");
        }
        if name.len() > MAX_CONTAINER_NAME_LEN {
            return fail("it is longer than 115 characters");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return fail("use only letters, digits, `_` and `-`");
        }
        Ok(ContainerName(name.to_owned()))
    }

    /// The name as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The container of this name that `uid` owns: its Docker name is `<name>._.<uid>`.
    pub fn owned_by(&self, uid: u32) -> OwnedContainer {
        OwnedContainer {
            form: OwnedName::new(&self.0, uid),
            name: self.clone(),
        }
    }
}

/// A user's container: its name as the user chose it and its owner, whose Docker name is
/// `<name>._.<uid>` (the form is [`OwnedName`]'s). Only a name ds01's rules accept makes
/// one: DS01's scripts' odder names are still their owners' ([`OwnedName`]), but ds01
/// never names a new container so.
///
/// ```
/// use ds01_api::OwnedContainer;
/// let owned = OwnedContainer::parse("/thesis._.1000").unwrap();
/// assert_eq!((owned.name().as_str(), owned.uid()), ("thesis", 1000));
/// assert_eq!(owned.to_string(), "thesis._.1000");
/// assert!(OwnedContainer::parse("thesis").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnedContainer {
    form: OwnedName,
    name: ContainerName,
}

impl OwnedContainer {
    /// Reads a Docker name `<name>._.<uid>` whose name ds01's rules accept.
    pub fn parse(docker_name: &str) -> Option<OwnedContainer> {
        let form = OwnedName::parse(docker_name)?;
        let name = ContainerName::new(form.name()).ok()?;
        Some(OwnedContainer { form, name })
    }

    /// The name the user chose (`thesis`).
    pub fn name(&self) -> &ContainerName {
        &self.name
    }

    /// The owner's UID.
    pub fn uid(&self) -> u32 {
        self.form.uid()
    }

    /// The Docker name (`thesis._.1000`).
    pub fn as_str(&self) -> &str {
        self.form.as_str()
    }

    /// The container's own tag on the image it runs from (`IMAGE:thesis._.1000`).
    pub fn tag(&self) -> Tag {
        self.form
            .tag()
            .expect("a valid container name always forms a valid tag")
    }
}

impl fmt::Display for OwnedContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for OwnedContainer {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// The Docker name is what the engine is called with, so it reads as one.
impl std::ops::Deref for OwnedContainer {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<OwnedContainer> for String {
    fn from(owned: OwnedContainer) -> String {
        owned.form.into()
    }
}

impl PartialEq<str> for OwnedContainer {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

crate::serde_as_text!(ContainerName);

impl FromStr for ContainerName {
    type Err = ContainerNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for ContainerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_name_still_makes_a_valid_tag() {
        let name = ContainerName::new(&"a".repeat(MAX_CONTAINER_NAME_LEN)).unwrap();
        assert_eq!(name.owned_by(u32::MAX).as_str().len(), 128);
        assert_eq!(name.owned_by(u32::MAX).tag().as_str().len(), 128);
        assert!(ContainerName::new(&"a".repeat(MAX_CONTAINER_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn refuses_what_docker_or_a_tag_refuses() {
        for bad in ["", "_x", "a#b", "a.b", "a/b", "a b", "é"] {
            assert!(ContainerName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trips_docker_names() {
        let n = OwnedContainer::parse("/pt250._.1000").unwrap();
        assert_eq!((n.name().as_str(), n.uid()), ("pt250", 1000));
        assert_eq!(n, n.name().owned_by(1000));
        assert!(OwnedContainer::parse("pt250").is_none());
        assert!(OwnedContainer::parse("x._.abc").is_none());
        assert!(OwnedContainer::parse("a.b._.1").is_none());
    }
}
