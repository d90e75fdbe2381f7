//! Docker image references (`registry:5000/team/app:1.2@sha256:…`), parsed once.
//!
//! The grammar is Docker's own (the `distribution/reference` package): an optional registry
//! domain, slash-separated lowercase path components, an optional tag and an optional digest.
//! A reference that parses here is one the engine accepts, so errors surface when a spec is
//! written rather than halfway through a build.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Docker refuses repository names (domain plus path) longer than this.
const MAX_NAME_LEN: usize = 255;
/// Docker refuses tags longer than this.
const MAX_TAG_LEN: usize = 128;

/// Why a string is not an image reference or a tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// The text as a whole is not a valid reference.
    #[error("{input:?} is not a valid image reference: {reason}")]
    Reference {
        /// The text that was given.
        input: String,
        /// What is wrong with it, in plain words.
        reason: String,
    },
    /// The tag part is not a valid tag.
    #[error(
        "{input:?} is not a valid image tag: {reason} (a tag is 1 to 128 of A-Z a-z 0-9 _ . -, \
         not starting with . or -)"
    )]
    Tag {
        /// The tag that was given.
        input: String,
        /// What is wrong with it, in plain words.
        reason: String,
    },
}

/// A validated image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
///
/// ```
/// use ds01_dockerfile::Tag;
///
/// let tag = Tag::parse("2.8.0-cuda12").unwrap();
/// assert_eq!(tag.as_str(), "2.8.0-cuda12");
/// assert!(Tag::parse(".hidden").is_err());
/// assert_eq!(Tag::latest().as_str(), "latest");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Parses a tag, refusing anything Docker would refuse.
    ///
    /// ```
    /// use ds01_dockerfile::Tag;
    /// assert!(Tag::parse("proj._.1722830498").is_ok());
    /// assert!(Tag::parse("has space").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Tag, ReferenceError> {
        let fail = |reason: &str| ReferenceError::Tag {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let first = input.bytes().next().ok_or_else(|| fail("it is empty"))?;
        if input.len() > MAX_TAG_LEN {
            return Err(fail("it is longer than 128 characters"));
        }
        if !is_word_byte(first) {
            return Err(fail("it must start with a letter, digit or underscore"));
        }
        if let Some(bad) = input
            .chars()
            .find(|&c| !(c.is_ascii() && (is_word_byte(c as u8) || c == '.' || c == '-')))
        {
            return Err(fail(&format!("it contains {bad:?}")));
        }
        Ok(Tag(input.to_owned()))
    }

    /// The tag `latest`, which Docker assumes when a reference has none.
    ///
    /// ```
    /// assert_eq!(ds01_dockerfile::Tag::latest().to_string(), "latest");
    /// ```
    pub fn latest() -> Tag {
        Tag("latest".to_owned())
    }

    /// The tag as text.
    ///
    /// ```
    /// assert_eq!(ds01_dockerfile::Tag::parse("v1").unwrap().as_str(), "v1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Tag {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Tag, ReferenceError> {
        Tag::parse(s)
    }
}

/// A parsed Docker image reference: `[domain[:port]/]path[:tag][@digest]`.
///
/// The text is kept exactly as written (no `docker.io/library/` is added), so
/// [`Display`](fmt::Display) gives back the input.
///
/// ```
/// use ds01_dockerfile::ImageRef;
///
/// let r: ImageRef = "registry:5000/team/app:1.2".parse().unwrap();
/// assert_eq!(r.domain(), Some("registry:5000"));
/// assert_eq!(r.repository(), "registry:5000/team/app");
/// assert_eq!(r.tag(), Some("1.2"));
/// assert_eq!(r.digest(), None);
/// assert_eq!(r.to_string(), "registry:5000/team/app:1.2");
///
/// assert!("Ubuntu:22.04".parse::<ImageRef>().is_err()); // repositories are lowercase
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Domain (if any) and path, as written.
    repository: String,
    /// Length of the domain prefix in `repository`, 0 when there is none.
    domain_len: usize,
    tag: Option<Tag>,
    /// `algorithm:hex`, validated.
    digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference following Docker's grammar.
    ///
    /// ```
    /// use ds01_dockerfile::ImageRef;
    ///
    /// let digest = format!("sha256:{}", "a".repeat(64));
    /// let r = ImageRef::parse(&format!("localhost/x@{digest}")).unwrap();
    /// assert_eq!(r.domain(), Some("localhost"));
    /// assert_eq!(r.digest(), Some(digest.as_str()));
    /// assert!(ImageRef::parse("x@sha256:abc").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<ImageRef, ReferenceError> {
        let fail = |reason: String| ReferenceError::Reference {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("it is empty".into()));
        }
        if let Some(bad) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(fail(format!(
                "it contains the whitespace or control character {bad:?}"
            )));
        }

        let (name_and_tag, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest).map_err(fail)?)),
            None => (input, None),
        };
        // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => {
                let split = last_slash + i;
                let tag = Tag::parse(&name_and_tag[split + 1..]).map_err(|e| match e {
                    ReferenceError::Tag { reason, .. } => {
                        fail(format!("its tag is invalid: {reason}"))
                    }
                    other => other,
                })?;
                (&name_and_tag[..split], Some(tag))
            }
            None => (name_and_tag, None),
        };

        if name.is_empty() {
            return Err(fail("the repository name is missing".into()));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(fail(format!(
                "the repository name is longer than {MAX_NAME_LEN} characters"
            )));
        }

        let domain_len = match name.split_once('/') {
            Some((first, _)) if looks_like_domain(first) => {
                validate_domain(first).map_err(fail)?;
                first.len()
            }
            _ => 0,
        };
        let path = if domain_len == 0 {
            name
        } else {
            &name[domain_len + 1..]
        };
        for component in path.split('/') {
            validate_path_component(component).map_err(fail)?;
        }

        Ok(ImageRef {
            repository: name.to_owned(),
            domain_len,
            tag,
            digest,
        })
    }

    /// The name without tag or digest, as written (domain included).
    ///
    /// ```
    /// let r = ds01_dockerfile::ImageRef::parse("ds01-1000/proj:latest").unwrap();
    /// assert_eq!(r.repository(), "ds01-1000/proj");
    /// ```
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The registry domain (with port), if the reference names one.
    ///
    /// ```
    /// use ds01_dockerfile::ImageRef;
    /// assert_eq!(ImageRef::parse("nvcr.io/nvidia/jax:23.10-py3").unwrap().domain(), Some("nvcr.io"));
    /// assert_eq!(ImageRef::parse("aimehub/pytorch").unwrap().domain(), None);
    /// ```
    pub fn domain(&self) -> Option<&str> {
        (self.domain_len > 0).then(|| &self.repository[..self.domain_len])
    }

    /// The path after the domain (the whole repository when there is no domain).
    ///
    /// ```
    /// let r = ds01_dockerfile::ImageRef::parse("localhost:5000/a/b").unwrap();
    /// assert_eq!(r.path(), "a/b");
    /// ```
    pub fn path(&self) -> &str {
        if self.domain_len == 0 {
            &self.repository
        } else {
            &self.repository[self.domain_len + 1..]
        }
    }

    /// The tag, if one was written.
    ///
    /// ```
    /// use ds01_dockerfile::ImageRef;
    /// assert_eq!(ImageRef::parse("ubuntu:24.04").unwrap().tag(), Some("24.04"));
    /// assert_eq!(ImageRef::parse("ubuntu").unwrap().tag(), None);
    /// ```
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_ref().map(Tag::as_str)
    }

    /// The digest (`sha256:<64 hex>`), if one was written.
    ///
    /// ```
    /// let r = ds01_dockerfile::ImageRef::parse("ubuntu").unwrap();
    /// assert_eq!(r.digest(), None);
    /// ```
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository with `tag`; any digest is dropped, since a digest pins other
    /// content than the new tag names.
    ///
    /// ```
    /// use ds01_dockerfile::{ImageRef, Tag};
    /// let r = ImageRef::parse("ds01-1000/proj:latest").unwrap();
    /// let t = r.with_tag(&Tag::parse("proj._.1000").unwrap());
    /// assert_eq!(t.to_string(), "ds01-1000/proj:proj._.1000");
    /// ```
    pub fn with_tag(&self, tag: &Tag) -> ImageRef {
        ImageRef {
            repository: self.repository.clone(),
            domain_len: self.domain_len,
            tag: Some(tag.clone()),
            digest: None,
        }
    }

    /// The reference with `:latest` appended when it has neither tag nor digest, which is
    /// what Docker assumes; otherwise unchanged.
    ///
    /// ```
    /// use ds01_dockerfile::ImageRef;
    /// assert_eq!(ImageRef::parse("ubuntu").unwrap().tagged_or_latest().to_string(), "ubuntu:latest");
    /// assert_eq!(ImageRef::parse("ubuntu:22.04").unwrap().tagged_or_latest().to_string(), "ubuntu:22.04");
    /// ```
    pub fn tagged_or_latest(&self) -> ImageRef {
        if self.tag.is_none() && self.digest.is_none() {
            self.with_tag(&Tag::latest())
        } else {
            self.clone()
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<ImageRef, ReferenceError> {
        ImageRef::parse(s)
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ImageRef, D::Error> {
        let text = String::deserialize(deserializer)?;
        ImageRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Docker's rule for telling `registry.example/x` from `user/x`: the first component is a
/// domain when it has a dot, a port, is `localhost`, or has uppercase letters (which paths
/// never have).
fn looks_like_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // IPv6 literal: [::1]:5000
        let (inside, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("the registry {domain:?} has an unclosed '['"))?;
        if inside.is_empty() || !inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!(
                "the registry {domain:?} is not a valid IPv6 address"
            ));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("the registry {domain:?} has text after ']'"))?,
            ),
        };
        (None, port)
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        let valid_label = |label: &str| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        };
        if !host.split('.').all(valid_label) {
            return Err(format!(
                "the registry host {host:?} is not a valid host name \
                 (letters, digits and '-' in dot-separated parts)"
            ));
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("the registry port {port:?} is not a number"));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by exactly one separator: `.`, `_`, `__` or one or more `-`.
pub(crate) fn validate_path_component(component: &str) -> Result<(), String> {
    let b = component.as_bytes();
    if b.is_empty() {
        return Err("it has an empty path component (a doubled or trailing '/')".into());
    }
    if b.iter().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "{component:?} has uppercase letters; repository names must be lowercase"
        ));
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(format!(
            "{component:?} must start and end with a lowercase letter or digit"
        ));
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return Err(format!(
                "{component:?} contains {sep:?}; only lowercase letters and digits joined by \
                 '.', '_', '__' or '-' are allowed"
            ));
        }
    }
    Ok(())
}

fn parse_digest(digest: &str) -> Result<String, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("the digest {digest:?} is not of the form sha256:<hex>"))?;
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            return Err(format!(
                "the digest algorithm {algorithm:?} is not supported (use sha256, sha384 or sha512)"
            ))
        }
    };
    if hex.len() != expected_len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!(
            "the {algorithm} digest must be {expected_len} lowercase hex digits"
        ));
    }
    Ok(digest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn reason(s: &str) -> String {
        ImageRef::parse(s).expect_err(s).to_string()
    }

    #[test]
    fn splits_domain_path_tag_and_digest() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        // input, domain, path, tag, digest
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
        );
        let cases: &[Case] = &[
            ("ubuntu", None, "ubuntu", None, None),
            ("ubuntu:24.04", None, "ubuntu", Some("24.04"), None),
            (
                "aimehub/pytorch-2.8.0-aime-cuda12.6.3",
                None,
                "aimehub/pytorch-2.8.0-aime-cuda12.6.3",
                None,
                None,
            ),
            (
                "registry:5000/x:y",
                Some("registry:5000"),
                "x",
                Some("y"),
                None,
            ),
            ("localhost/x", Some("localhost"), "x", None, None),
            (
                "localhost:5000/a/b/c:t",
                Some("localhost:5000"),
                "a/b/c",
                Some("t"),
                None,
            ),
            (
                "nvcr.io/nvidia/jax:23.10-py3",
                Some("nvcr.io"),
                "nvidia/jax",
                Some("23.10-py3"),
                None,
            ),
            (
                "Registry.Example/x",
                Some("Registry.Example"),
                "x",
                None,
                None,
            ),
            ("[::1]:5000/x:y", Some("[::1]:5000"), "x", Some("y"), None),
            (
                "ds01-1722830498/proj:proj._.1722830498",
                None,
                "ds01-1722830498/proj",
                Some("proj._.1722830498"),
                None,
            ),
        ];
        for &(input, domain, path, tag, digest_part) in cases {
            let r = parse(input);
            assert_eq!(r.domain(), domain, "{input}");
            assert_eq!(r.path(), path, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.digest(), digest_part, "{input}");
            assert_eq!(r.to_string(), input);
        }
        let with_digest = parse(&format!("x@{digest}"));
        assert_eq!(with_digest.digest(), Some(digest.as_str()));
        assert_eq!(with_digest.tag(), None);
        let both = parse(&format!("a/b:t@{digest}"));
        assert_eq!((both.repository(), both.tag()), ("a/b", Some("t")));
    }

    #[test]
    fn single_component_with_colon_is_name_and_tag() {
        // Docker reads `localhost:5000` alone as repository `localhost`, tag `5000`.
        let r = parse("localhost:5000");
        assert_eq!((r.repository(), r.tag()), ("localhost", Some("5000")));
    }

    #[test]
    fn refuses_what_docker_refuses() {
        let cases = [
            ("", "empty"),
            ("Ubuntu", "lowercase"),
            ("user/App", "lowercase"),
            ("a//b", "empty path component"),
            ("a/b/", "empty path component"),
            ("-a", "start and end"),
            ("a-", "start and end"),
            ("a..b", "\"..\""),
            ("a._b", "\"._\""),
            ("a___b", "\"___\""),
            ("a b", "whitespace"),
            ("a\nb", "whitespace"),
            ("x:", "tag is invalid"),
            ("x:.t", "tag is invalid"),
            ("x@sha256:abc", "64 lowercase hex"),
            ("x@md5:abc", "not supported"),
            ("x@", "not of the form"),
            ("reg:port/x", "not a number"),
            ("-reg.io/x", "not a valid host"),
            (":tag", "missing"),
        ];
        for (input, needle) in cases {
            let msg = reason(input);
            assert!(msg.contains(needle), "{input:?}: {msg}");
        }
        assert!(reason(&"a".repeat(256)).contains("longer than 255"));
        assert!(reason(&format!("x:{}", "t".repeat(129))).contains("longer than 128"));
    }

    #[test]
    fn separators_allowed_by_the_grammar() {
        for ok in ["a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3__d4-e5"] {
            parse(ok);
        }
    }

    #[test]
    fn with_tag_drops_digest_and_tagged_or_latest_keeps_pins() {
        let digest = format!("sha256:{}", "f".repeat(64));
        let pinned = parse(&format!("x@{digest}"));
        assert_eq!(pinned.tagged_or_latest(), pinned);
        let retagged = pinned.with_tag(&Tag::parse("v2").unwrap());
        assert_eq!(retagged.to_string(), "x:v2");
        assert_eq!(parse("x:v1").tagged_or_latest().to_string(), "x:v1");
        assert_eq!(
            parse("r:5000/x").tagged_or_latest().to_string(),
            "r:5000/x:latest"
        );
    }

    #[test]
    fn serde_as_string() {
        #[derive(Serialize, Deserialize)]
        struct Holder {
            image: ImageRef,
        }
        let h: Holder = toml::from_str("image = \"ubuntu:24.04\"").unwrap();
        assert_eq!(h.image.tag(), Some("24.04"));
        assert_eq!(
            toml::to_string(&h).unwrap().trim(),
            "image = \"ubuntu:24.04\""
        );
        let err = toml::from_str::<Holder>("image = \"Ubuntu\"")
            .err()
            .unwrap();
        assert!(err.to_string().contains("lowercase"), "{err}");
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}"
    }

    fn reference() -> impl Strategy<Value = String> {
        let domain = prop_oneof![
            Just(None),
            Just(Some("localhost".to_owned())),
            "[a-z][a-z0-9-]{0,6}[a-z0-9](\\.[a-z0-9]{1,5}){1,2}(:[0-9]{1,5})?".prop_map(Some),
            "[a-z]{1,8}:[0-9]{1,5}".prop_map(Some),
        ];
        let tag = proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}");
        let digest = proptest::option::of("[0-9a-f]{64}");
        let path = proptest::collection::vec(component(), 1..4);
        (domain, path, tag, digest)
            // Without a domain, a first component with a '.' would be read as one (as Docker does).
            .prop_filter(
                "first path component looks like a domain",
                |(domain, path, _, _)| {
                    domain.is_some() || path.len() == 1 || !looks_like_domain(&path[0])
                },
            )
            .prop_map(|(domain, path, tag, digest)| {
                let mut s = domain.map(|d| format!("{d}/")).unwrap_or_default();
                s.push_str(&path.join("/"));
                if let Some(t) = tag {
                    s.push(':');
                    s.push_str(&t);
                }
                if let Some(d) = digest {
                    s.push_str("@sha256:");
                    s.push_str(&d);
                }
                s
            })
    }

    proptest! {
        #[test]
        fn valid_references_round_trip(input in reference()) {
            let r = ImageRef::parse(&input).unwrap();
            prop_assert_eq!(r.to_string(), input.clone());
            prop_assert_eq!(ImageRef::parse(&r.to_string()).unwrap(), r.clone());
            prop_assert!(input.starts_with(r.repository()));
        }

        #[test]
        fn arbitrary_text_never_panics_and_display_reparses(input in "\\PC{0,40}") {
            if let Ok(r) = ImageRef::parse(&input) {
                prop_assert_eq!(r.to_string(), input);
            }
        }
    }
}
