//! Whose a name is: DS01's two ownership forms, parsed and formatted here alone.
//!
//! - `<name>._.<uid>`: a container's Docker name, and the container's own image tag (MLC
//!   commits a container to `IMAGE:<name>._.<uid>`);
//! - `ds01-<uid>/<name>`: the repository of a user's images.
//!
//! ```
//! use ds01_dockerfile::owner;
//! assert_eq!(owner::owned_name("thesis", 1722830498), "thesis._.1722830498");
//! assert_eq!(owner::split_owned_name("/thesis._.1000"), Some(("thesis", 1000)));
//! assert_eq!(owner::user_repository(1000), "ds01-1000/");
//! assert_eq!(owner::repository_owner("ds01-1000/thesis"), Some(1000));
//! assert_eq!(owner::repository_owner("ds01-fixture/debian12"), None);
//! ```

/// Between a container's name and its owner's UID.
const SEPARATOR: &str = "._.";
/// Before the UID in a user's repository.
const REPOSITORY_PREFIX: &str = "ds01-";

/// `<name>._.<uid>`.
pub fn owned_name(name: &str, uid: u32) -> String {
    format!("{name}{SEPARATOR}{uid}")
}

/// The name and the owner's UID of `<name>._.<uid>` (a leading `/`, as the engine lists
/// container names, is dropped). The name is as written: DS01's scripts made names ds01's
/// own rules would refuse.
pub fn split_owned_name(text: &str) -> Option<(&str, u32)> {
    let (name, uid) = text.trim_start_matches('/').rsplit_once(SEPARATOR)?;
    Some((name, digits(uid)?))
}

/// Whether `tag` is a container's own tag, of anyone.
pub fn is_owned_name(tag: &str) -> bool {
    split_owned_name(tag).is_some()
}

/// The repository prefix of `uid`'s images, `ds01-<uid>/`.
pub fn user_repository(uid: u32) -> String {
    format!("{REPOSITORY_PREFIX}{uid}/")
}

/// The owner of a user's repository, `ds01-<uid>/...` (only the first path component
/// counts, and only digits make a UID: `ds01-fixture/...` is nobody's).
pub fn repository_owner(path: &str) -> Option<u32> {
    let (first, rest) = path.split_once('/')?;
    if rest.is_empty() {
        return None;
    }
    digits(first.strip_prefix(REPOSITORY_PREFIX)?)
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

    #[test]
    fn forms_round_trip_and_refuse_lookalikes() {
        assert_eq!(
            split_owned_name(&owned_name("a._.b", 7)),
            Some(("a._.b", 7))
        );
        assert_eq!(split_owned_name("thesis"), None);
        assert_eq!(split_owned_name("x._.abc"), None);
        assert_eq!(split_owned_name("x._.+1"), None);
        assert_eq!(split_owned_name("x._."), None);
        assert!(is_owned_name("latest._.0"));
        assert!(!is_owned_name("latest"));
        assert_eq!(repository_owner("ds01-42/x/y"), Some(42));
        assert_eq!(repository_owner("ds01-42"), None);
        assert_eq!(repository_owner("ds01-42/"), None);
        assert_eq!(repository_owner("ds01-/x"), None);
        assert_eq!(repository_owner("ds01-4a/x"), None);
        assert_eq!(repository_owner("x/ds01-42/y"), None);
    }
}
