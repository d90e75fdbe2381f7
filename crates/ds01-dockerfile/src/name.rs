//! The user-chosen name of a ds01 image, the `NAME` in `ds01-<uid>/<NAME>:latest`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::reference::{validate_path_component, ImageRef};

/// Why a string is not a valid ds01 image name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a valid image name: {reason}. Use lowercase letters and digits, \
     joined by single '.', '_' or '-' (for example thesis-cv), at most {max} characters",
    max = ImageName::MAX_LEN
)]
pub struct NameError {
    input: String,
    reason: String,
}

/// A validated ds01 image name.
///
/// It is a single Docker path component (`[a-z0-9]` runs joined by `.`, `_`, `__` or `-`),
/// so `ds01-<uid>/<name>` is always a valid repository, and it is at most
/// [`ImageName::MAX_LEN`] characters so that the container tag `<name>._.<uid>` still fits
/// Docker's 128-character limit for any 32-bit UID.
///
/// ```
/// use ds01_dockerfile::ImageName;
///
/// let name = ImageName::parse("thesis-cv").unwrap();
/// assert_eq!(name.image_ref(1722830498).to_string(), "ds01-1722830498/thesis-cv:latest");
/// assert!(ImageName::parse("Thesis CV").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName(String);

impl ImageName {
    /// Longest accepted name: 128 (tag limit) − 3 (`._.`) − 10 (digits of the largest UID).
    pub const MAX_LEN: usize = 115;

    /// Validates a name. Nothing is normalised: `My Project` is refused, not rewritten.
    ///
    /// ```
    /// use ds01_dockerfile::ImageName;
    /// assert!(ImageName::parse("nlp.v2_final").is_ok());
    /// assert!(ImageName::parse("").is_err());
    /// assert!(ImageName::parse("-x").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<ImageName, NameError> {
        let fail = |reason: String| NameError {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("it is empty".into()));
        }
        if input.len() > Self::MAX_LEN {
            return Err(fail(format!("it has {} characters", input.len())));
        }
        if input.contains('/') {
            return Err(fail("it contains '/'".into()));
        }
        if let Some(bad) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail(format!("it contains {bad:?}")));
        }
        validate_path_component(input).map_err(fail)?;
        Ok(ImageName(input.to_owned()))
    }

    /// The name as text.
    ///
    /// ```
    /// assert_eq!(ds01_dockerfile::ImageName::parse("x1").unwrap().as_str(), "x1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The image reference ds01 builds this name as for the user `uid`:
    /// `ds01-<uid>/<name>:latest`.
    ///
    /// ```
    /// use ds01_dockerfile::ImageName;
    /// let r = ImageName::parse("proj").unwrap().image_ref(1000);
    /// assert_eq!((r.repository(), r.tag()), ("ds01-1000/proj", Some("latest")));
    /// ```
    pub fn image_ref(&self, uid: u32) -> ImageRef {
        crate::owner::OwnedImage::new(uid, self.clone()).reference()
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ImageName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<ImageName, NameError> {
        ImageName::parse(s)
    }
}

impl Serialize for ImageName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ImageName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ImageName, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageName::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tag;

    #[test]
    fn accepts_docker_path_components_only() {
        for ok in ["a", "0", "thesis-cv", "nlp.v2", "a__b", "a--b", "x_1.y-2"] {
            ImageName::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for (bad, needle) in [
            ("", "empty"),
            ("My-Project", "lowercase"),
            ("my project", "' '"),
            ("a/b", "'/'"),
            ("a..b", "\"..\""),
            ("-a", "start and end"),
            ("a.", "start and end"),
            ("é", "start and end"),
        ] {
            let msg = ImageName::parse(bad).unwrap_err().to_string();
            assert!(msg.contains(needle), "{bad:?}: {msg}");
            assert!(msg.contains("for example thesis-cv"), "{msg}");
        }
    }

    #[test]
    fn longest_name_still_fits_a_container_tag_for_the_largest_uid() {
        let longest = "a".repeat(ImageName::MAX_LEN);
        let name = ImageName::parse(&longest).unwrap();
        Tag::parse(&format!("{}._.{}", name, u32::MAX)).unwrap();
        name.image_ref(u32::MAX);
        assert!(ImageName::parse(&format!("{longest}a")).is_err());
    }
}
