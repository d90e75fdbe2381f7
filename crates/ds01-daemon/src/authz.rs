//! Authorization: the one place that answers "may the acting user use this thing they
//! named?". Every route asks here before it hands a user's reference to the engine.
//!
//! Images: a reference is resolved by the engine first (a tag, a full, bare or short ID, a
//! digest all name the same image ID), and the answer depends only on the tags that point
//! at that ID, never on how it was spelt. The ID may be used when one of its tags is the
//! caller's own (`ds01-<uid>/...`, or a container's own tag `...:<name>._.<uid>`), or lies
//! under the admin's allowed bases. Every refusal is the same sentence whether the image is
//! absent, another user's, dangling or an ambiguous short ID, so no answer tells a user what
//! else is on the engine.

use ds01_api::{ApiError, ErrorCode};
use ds01_dockerfile::owner::{OwnedImage, OwnedName};
use ds01_dockerfile::{Catalog, ImageRef};
use ds01_engine::Engine;

use crate::config::Config;
use crate::errors::from_engine;

/// Which repositories count as shared bases (besides the caller's own images).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BaseRule {
    /// `allowed_bases` unset: every repository that is not a user's (`ds01-<digits>/`).
    NotAUsers,
    /// `allowed_bases` set: these patterns (a trailing `*` matches any rest), with the
    /// repositories of the server's catalog added.
    Listed(Vec<String>),
}

impl BaseRule {
    /// The rule the configuration gives; the catalog is read now, as it may change.
    pub(crate) fn from_config(config: &Config) -> BaseRule {
        match &config.file.allowed_bases {
            None => BaseRule::NotAUsers,
            Some(patterns) => {
                let mut all = patterns.clone();
                if let Ok(catalog) = Catalog::load(&config.catalog) {
                    all.extend(
                        catalog
                            .entries()
                            .iter()
                            .map(|e| e.image.repository().to_owned()),
                    );
                }
                BaseRule::Listed(all)
            }
        }
    }

    /// Whether `repository` (not a user's) is a base under this rule.
    fn allows(&self, repository: &str) -> bool {
        match self {
            BaseRule::NotAUsers => true,
            BaseRule::Listed(patterns) => patterns.iter().any(|p| {
                let (p, r) = (familiar(p), familiar(repository));
                match p.strip_suffix('*') {
                    Some(prefix) => r.starts_with(prefix),
                    None => r == p,
                }
            }),
        }
    }

    /// For `doctor`: which rule applies, in a sentence.
    pub(crate) fn describe(&self) -> String {
        match self {
            BaseRule::NotAUsers => "allowed_bases is unset: users may build on and run any image \
                 that is not another user's (set allowed_bases to name the shared bases)"
                .into(),
            BaseRule::Listed(patterns) => format!(
                "users may build on and run their own images and {}",
                patterns.join(", ")
            ),
        }
    }
}

/// What to do when the reference names nothing on the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IfMissing {
    /// Refuse: the request would need the image here.
    Refuse,
    /// Allow a plain name under the base rule: the engine (or a build) pulls it.
    Pull,
}

/// An image reference the caller may use, as it is to be handed to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AllowedImage {
    /// The tag that made it allowed (the caller's text when that was the tag), or the
    /// caller's plain name when it is to be pulled.
    pub reference: ImageRef,
}

/// The acting user's questions to the engine, with the admin's rule.
pub(crate) struct Authz<'a> {
    engine: &'a Engine,
    bases: BaseRule,
}

impl<'a> Authz<'a> {
    /// The authorization questions, with the configuration as it is now.
    pub(crate) fn new(engine: &'a Engine, config: &Config) -> Authz<'a> {
        Authz {
            engine,
            bases: BaseRule::from_config(config),
        }
    }

    /// May `uid` use `image`? Resolved through the engine; the answer names a tag that
    /// points at the checked ID, so what is used is what was checked.
    pub(crate) async fn image(
        &self,
        uid: u32,
        image: &ImageRef,
        missing: IfMissing,
    ) -> Result<AllowedImage, ApiError> {
        let given = image.to_string();
        let found = self.engine.image_info(&given).await.map_err(from_engine)?;
        let reference = match found {
            // The caller's own text when it is that tag (`debian` for `debian:latest`), so
            // a spec renders as written and an image built before stays up to date.
            Some(info) => granting_tag(uid, image, &info.tags, &self.bases).and_then(|t| {
                if image.digest().is_none() && is_written(image, t) {
                    Some(image.clone())
                } else {
                    ImageRef::parse(t).ok()
                }
            }),
            None => (missing == IfMissing::Pull && may_pull(uid, image, &self.bases))
                .then(|| image.clone()),
        };
        reference
            .map(|reference| AllowedImage { reference })
            .ok_or_else(|| refusal(image))
    }
}

impl Authz<'_> {
    /// Whether the tag `tag` (as the engine lists it) lets `uid` use its image.
    pub(crate) fn grants(&self, uid: u32, tag: &str) -> bool {
        ImageRef::parse(tag)
            .ok()
            .and_then(|r| grant(uid, &r, &self.bases))
            .is_some()
    }
}

/// The one answer for every image a user may not use, absent or not: it names only what
/// the caller wrote.
pub(crate) fn refusal(image: &ImageRef) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no image `{image}` that you may use: name one of your images (`ds01 image list`) or a base your admin allows (`ds01 doctor`)"
        ),
    )
}

/// The tag of an image (with tags `tags`) that lets `uid` use it: the one the caller
/// wrote when it grants, else one of the caller's own, else an allowed base's.
pub(crate) fn granting_tag<'t>(
    uid: u32,
    given: &ImageRef,
    tags: &'t [String],
    bases: &BaseRule,
) -> Option<&'t str> {
    let grants = |t: &&String| {
        ImageRef::parse(t)
            .ok()
            .and_then(|r| grant(uid, &r, bases))
            .is_some()
    };
    let own = |t: &&String| {
        ImageRef::parse(t).ok().and_then(|r| grant(uid, &r, bases)) == Some(Grant::Own)
    };
    tags.iter()
        .filter(grants)
        .find(|t| is_written(given, t))
        .or_else(|| tags.iter().find(own))
        .or_else(|| tags.iter().find(grants))
        .map(String::as_str)
}

/// Whether `tag` is the tag `given` names (`debian` names `debian:latest`).
fn is_written(given: &ImageRef, tag: &str) -> bool {
    familiar(tag) == familiar(&given.tagged_or_latest().to_string())
}

#[derive(Debug, PartialEq, Eq)]
enum Grant {
    Own,
    Base,
}

/// Why the tag `tag` lets `uid` use its image, if it does.
fn grant(uid: u32, tag: &ImageRef, bases: &BaseRule) -> Option<Grant> {
    match (repository_owner(tag), container_tag_owner(tag)) {
        (Some(repo), None) if repo == uid => Some(Grant::Own),
        (Some(repo), Some(t)) if repo == uid && t == uid => Some(Grant::Own),
        (None, Some(t)) if t == uid => Some(Grant::Own),
        (None, None) if bases.allows(tag.repository()) => Some(Grant::Base),
        _ => None,
    }
}

/// Whether a reference that names nothing here may be pulled: a plain name (no digest,
/// not what the engine could read as an ID) of a repository under the base rule. A digest
/// that is not here is refused like an ID that is not here, so neither says which exists.
fn may_pull(uid: u32, image: &ImageRef, bases: &BaseRule) -> bool {
    image.digest().is_none()
        && !looks_like_id(image)
        && grant(uid, image, bases) == Some(Grant::Base)
}

/// `sha256:<hex>` or bare hex: the engine would read it as a (short) ID, so it is never a
/// name to pull (a repository spelt only in hex cannot be pulled through ds01d).
fn looks_like_id(image: &ImageRef) -> bool {
    let text = image.to_string();
    let hex = text.strip_prefix("sha256:").unwrap_or(&text);
    !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The UID of a user's repository `ds01-<uid>/...`.
fn repository_owner(image: &ImageRef) -> Option<u32> {
    OwnedImage::owner(image)
}

/// The UID of a container's own tag `...:<name>._.<uid>`.
fn container_tag_owner(image: &ImageRef) -> Option<u32> {
    OwnedName::of_tag(image).map(|o| o.uid())
}

/// A Docker Hub name as the engine lists it (`debian`, not `docker.io/library/debian`).
fn familiar(name: &str) -> &str {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 1000;

    fn r(s: &str) -> ImageRef {
        s.parse().unwrap()
    }

    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn listed(p: &[&str]) -> BaseRule {
        BaseRule::Listed(p.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn an_id_is_judged_by_its_tags_not_by_its_spelling() {
        let id = r(&format!("sha256:{}", "ab".repeat(32)));
        let rule = BaseRule::NotAUsers;
        let t = tags(&["ds01-1000/thesis:latest"]);
        assert_eq!(
            granting_tag(ME, &id, &t, &rule),
            Some("ds01-1000/thesis:latest")
        );
        for theirs in [
            tags(&["ds01-1001/thesis:latest"]),
            tags(&["ds01-1001/thesis:box._.1001"]),
            tags(&["ds01-fixture/debian12:box._.1001"]),
            tags(&["ds01-1000/thesis:box._.1001"]),
            tags(&["ds01-1001/thesis:box._.1000"]),
            tags(&[]),
        ] {
            assert_eq!(granting_tag(ME, &id, &theirs, &rule), None, "{theirs:?}");
        }
        let committed = tags(&["ds01-fixture/debian12:box._.1000"]);
        assert!(granting_tag(ME, &id, &committed, &rule).is_some());
    }

    #[test]
    fn the_written_tag_is_kept_when_it_grants_else_one_that_does() {
        let rule = BaseRule::NotAUsers;
        let t = tags(&["ds01-1001/x:latest", "debian:12", "ds01-1000/mine:latest"]);
        assert_eq!(
            granting_tag(ME, &r("debian:12"), &t, &rule),
            Some("debian:12")
        );
        assert_eq!(
            granting_tag(ME, &r("docker.io/library/debian:12"), &t, &rule),
            Some("debian:12")
        );
        assert_eq!(
            granting_tag(ME, &r("abcdef123456"), &t, &rule),
            Some("ds01-1000/mine:latest")
        );
        // Another user's tag never grants, even when it is what was written.
        assert_eq!(
            granting_tag(ME, &r("ds01-1001/x"), &t, &rule),
            Some("ds01-1000/mine:latest")
        );
    }

    #[test]
    fn listed_bases_limit_the_shared_images() {
        let rule = listed(&["ds01-fixture/debian12", "aimehub/*"]);
        let id = r("abcd");
        let ok = |t: &[&str]| granting_tag(ME, &id, &tags(t), &rule).is_some();
        assert!(ok(&["ds01-fixture/debian12:latest"]));
        assert!(!ok(&["ds01-fixture/debian11:latest"]));
        assert!(ok(&["aimehub/pytorch-2.7.1:latest"]));
        assert!(!ok(&["debian:12"]));
        assert!(ok(&["ds01-1000/mine:latest"]));
        assert!(!ok(&["ds01-1001/theirs:latest"]));
        // A listed repository does not lend its name to another user's container tag.
        assert!(!ok(&["ds01-fixture/debian12:box._.1001"]));
        let star = listed(&["*"]);
        assert!(granting_tag(ME, &id, &tags(&["ds01-1001/x:latest"]), &star).is_none());
    }

    #[test]
    fn only_plain_names_under_the_rule_may_be_pulled() {
        let rule = listed(&["aimehub/*", "debian"]);
        assert!(may_pull(ME, &r("aimehub/pytorch-2.7.1"), &rule));
        assert!(may_pull(ME, &r("docker.io/library/debian:12"), &rule));
        assert!(!may_pull(ME, &r("ubuntu:24.04"), &rule));
        assert!(!may_pull(ME, &r("ds01-1000/mine"), &rule));
        assert!(!may_pull(ME, &r("ds01-1001/theirs"), &rule));
        let any = BaseRule::NotAUsers;
        assert!(may_pull(ME, &r("ubuntu:24.04"), &any));
        for id_like in [
            "abcd".to_owned(),
            "abcdef123456".to_owned(),
            "ab".repeat(32),
            format!("sha256:{}", "ab".repeat(32)),
        ] {
            assert!(!may_pull(ME, &r(&id_like), &any), "{id_like}");
        }
        assert!(!may_pull(ME, &r("debian:x._.1001"), &any));
        let digest = format!("debian@sha256:{}", "ab".repeat(32));
        assert!(!may_pull(ME, &r(&digest), &any));
    }

    #[test]
    fn the_refusal_names_only_what_was_written() {
        let e = refusal(&r("abcd"));
        assert_eq!(e.code, ErrorCode::NotFound);
        assert!(e.message.starts_with("no image `abcd` that you may use"));
    }
}
