//! Container names as users type them, and the Docker names DS01 derives from them.

use std::fmt;
use std::str::FromStr;

/// A container name as the user chose it (`thesis`), valid both as a Docker container name
/// and, in `<name>._.<uid>`, as an image tag (the commit flow tags images with it).
///
/// ```
/// use ds01_api::ContainerName;
/// let name: ContainerName = "thesis-cv".parse().unwrap();
/// assert_eq!(name.docker_name(1722830498), "thesis-cv._.1722830498");
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

    /// Recovers the display name from a DS01 Docker name (`thesis._.1000` → `thesis`).
    pub fn from_docker_name(docker_name: &str) -> Option<Self> {
        let (name, _) = ds01_dockerfile::owner::split_owned_name(docker_name)?;
        Self::new(name).ok()
    }

    /// The name as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Docker container name DS01 uses: `<name>._.<uid>`.
    pub fn docker_name(&self, uid: u32) -> String {
        ds01_dockerfile::owner::owned_name(&self.0, uid)
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
        assert_eq!(name.docker_name(u32::MAX).len(), 128);
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
        let n = ContainerName::from_docker_name("/pt250._.1000").unwrap();
        assert_eq!(n.as_str(), "pt250");
        assert!(ContainerName::from_docker_name("pt250").is_none());
        assert!(ContainerName::from_docker_name("x._.abc").is_none());
    }
}
