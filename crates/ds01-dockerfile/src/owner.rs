//! Whose a name is: DS01's two ownership forms, parsed and formatted here alone.
//!
//! - [`OwnedName`], `<name>._.<uid>`: a container's Docker name, and the container's own
//!   image tag (MLC commits a container to `IMAGE:<name>._.<uid>`);
//! - [`OwnedImage`], `ds01-<uid>/<name>`: the repository of a user's images.
//!
//! ```
//! use ds01_dockerfile::owner::{OwnedImage, OwnedName};
//! use ds01_dockerfile::ImageName;
//!
//! let name = OwnedName::new("thesis", 1722830498);
//! assert_eq!(name.as_str(), "thesis._.1722830498");
//! let back = OwnedName::parse("/thesis._.1000").unwrap();
//! assert_eq!((back.name(), back.uid()), ("thesis", 1000));
//!
//! let image = OwnedImage::new(1000, ImageName::parse("thesis").unwrap());
//! assert_eq!(image.reference().to_string(), "ds01-1000/thesis:latest");
//! assert_eq!(OwnedImage::owner(&"ds01-1000/thesis".parse().unwrap()), Some(1000));
//! assert_eq!(OwnedImage::owner(&"ds01-fixture/debian12".parse().unwrap()), None);
//! ```

use std::fmt;

use crate::name::ImageName;
use crate::reference::{ImageRef, Tag};

/// Between a container's name and its owner's UID.
const SEPARATOR: &str = "._.";
/// Before the UID in a user's repository.
const REPOSITORY_PREFIX: &str = "ds01-";

/// `<name>._.<uid>`: a container's Docker name, or a container's own image tag.
///
/// The name is kept as written: DS01's scripts made names that ds01's own rules would
/// refuse, and their containers are still their owners'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OwnedName {
    text: String,
    /// Where the name ends in `text`.
    name_len: usize,
    uid: u32,
}

impl OwnedName {
    /// `<name>._.<uid>`.
    pub fn new(name: &str, uid: u32) -> OwnedName {
        OwnedName {
            text: format!("{name}{SEPARATOR}{uid}"),
            name_len: name.len(),
            uid,
        }
    }

    /// Reads `<name>._.<uid>` (a leading `/`, as the engine lists container names, is
    /// dropped); `None` when the text is not of that form.
    pub fn parse(text: &str) -> Option<OwnedName> {
        let (name, uid) = text.trim_start_matches('/').rsplit_once(SEPARATOR)?;
        Some(OwnedName::new(name, digits(uid)?))
    }

    /// A container's own tag on an image (`IMAGE:<name>._.<uid>`), when the reference's
    /// tag is one.
    pub fn of_tag(reference: &ImageRef) -> Option<OwnedName> {
        OwnedName::parse(reference.tag()?)
    }

    /// The engine's name filter (a regular expression) for the names of `uid`'s containers,
    /// or of everybody's; it may match more than the form: check with [`OwnedName::parse`].
    pub fn filter(uid: Option<u32>) -> String {
        let escaped = SEPARATOR.replace('.', r"\.");
        match uid {
            Some(uid) => format!("{escaped}{uid}$"),
            None => format!("{escaped}[0-9]+$"),
        }
    }

    /// The name before the separator (`thesis`).
    pub fn name(&self) -> &str {
        &self.text[..self.name_len]
    }

    /// The owner's UID.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The whole form (`thesis._.1000`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The form as an image tag: the container's own tag on the image it runs from. `None`
    /// for a name a tag cannot hold (DS01's scripts made a few such names).
    pub fn tag(&self) -> Option<Tag> {
        Tag::parse(&self.text).ok()
    }
}

impl fmt::Display for OwnedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The form is what the engine is called with, so it reads as one.
impl std::ops::Deref for OwnedName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for OwnedName {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl From<OwnedName> for String {
    fn from(owned: OwnedName) -> String {
        owned.text
    }
}

/// A user's image, `ds01-<uid>/<name>:latest`: the repository is the ownership.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedImage {
    uid: u32,
    name: ImageName,
}

impl OwnedImage {
    /// `uid`'s image `name`.
    pub fn new(uid: u32, name: ImageName) -> OwnedImage {
        OwnedImage { uid, name }
    }

    /// The user's image a reference names, when its repository is a user's
    /// (`ds01-<uid>/<name>`, one path component after the prefix).
    pub fn parse(reference: &ImageRef) -> Option<OwnedImage> {
        let (first, rest) = reference.path().split_once('/')?;
        let uid = digits(first.strip_prefix(REPOSITORY_PREFIX)?)?;
        Some(OwnedImage {
            uid,
            name: ImageName::parse(rest).ok()?,
        })
    }

    /// The owner of a reference's repository, when it is a user's: `ds01-<uid>/...` (only
    /// the first path component counts, and only digits make a UID: `ds01-fixture/...` is
    /// nobody's). Unlike [`OwnedImage::parse`], the rest of the path may be anything, so
    /// that an image pushed by hand under a user's repository is still theirs.
    pub fn owner(reference: &ImageRef) -> Option<u32> {
        let (first, rest) = reference.path().split_once('/')?;
        if rest.is_empty() {
            return None;
        }
        digits(first.strip_prefix(REPOSITORY_PREFIX)?)
    }

    /// The prefix of every repository of `uid`'s images, `ds01-<uid>/`.
    fn repository_prefix(uid: u32) -> String {
        format!("{REPOSITORY_PREFIX}{uid}/")
    }

    /// The engine's reference filter for the repositories of `uid`'s images, or of every
    /// user's (`ds01-*/*`), which also matches lookalikes: check with [`OwnedImage::owner`].
    pub fn filter(uid: Option<u32>) -> String {
        match uid {
            Some(uid) => format!("{}*", Self::repository_prefix(uid)),
            None => format!("{REPOSITORY_PREFIX}*/*"),
        }
    }

    /// The owner's UID.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The image's name in its owner's repository.
    pub fn name(&self) -> &ImageName {
        &self.name
    }

    /// `ds01-<uid>/<name>:latest`, the tag builds write.
    pub fn reference(&self) -> ImageRef {
        ImageRef::parse(&format!(
            "{}{}:latest",
            Self::repository_prefix(self.uid),
            self.name
        ))
        .expect("a validated image name always forms a valid reference")
    }
}

/// A UID written as plain digits (no sign, no spaces).
fn digits(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(text: &str) -> Option<u32> {
        // Some lookalikes are not references at all.
        OwnedImage::owner(&text.parse().ok()?)
    }

    #[test]
    fn names_round_trip_and_refuse_lookalikes() {
        let odd = OwnedName::parse(OwnedName::new("a._.b", 7).as_str()).unwrap();
        assert_eq!((odd.name(), odd.uid()), ("a._.b", 7));
        for bad in ["thesis", "x._.abc", "x._.+1", "x._.", "x._.99999999999"] {
            assert_eq!(OwnedName::parse(bad), None, "{bad}");
        }
        assert_eq!(
            OwnedName::new("latest", 0).tag().unwrap().as_str(),
            "latest._.0"
        );
        assert_eq!(OwnedName::filter(Some(7)), r"\._\.7$");
        assert_eq!(OwnedName::filter(None), r"\._\.[0-9]+$");
    }

    #[test]
    fn repositories_name_their_owner_only_by_digits() {
        assert_eq!(owner("ds01-42/x/y"), Some(42));
        assert_eq!(owner("ds01-42/x"), Some(42));
        assert_eq!(owner("ds01-/x"), None);
        assert_eq!(owner("ds01-4a/x"), None);
        assert_eq!(owner("x/ds01-42/y"), None);
        assert_eq!(owner("ds01-fixture/debian12"), None);
        let image = OwnedImage::parse(&"ds01-42/proj:v2".parse().unwrap()).unwrap();
        assert_eq!((image.uid(), image.name().as_str()), (42, "proj"));
        assert_eq!(image.reference().to_string(), "ds01-42/proj:latest");
        assert_eq!(OwnedImage::parse(&"ds01-42/x/y".parse().unwrap()), None);
    }
}
