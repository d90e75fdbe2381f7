//! Package specs as they may appear in an image: pip requirements and Debian packages.
//!
//! Both are parsed against a strict subset of their real syntax. Everything accepted is
//! something pip or apt understands; everything a shell would interpret beyond a plain word is
//! either refused (`;`, `|`, `$`, spaces, newlines) or, for the few characters valid specs need
//! (`<`, `>`, `[`, `*`), quoted when rendered.

use crate::validated_text::validated_text;

/// Why a package spec was refused. The message names the value and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// Not a pip requirement ds01 accepts.
    #[error(
        "pip requirement {input:?} is not allowed: {reason}. Write a package name with \
         optional [extras] and version, e.g. transformers>=4.30 or ray[tune]==2.9.0"
    )]
    Pip {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a Debian package name ds01 accepts.
    #[error(
        "apt package {input:?} is not allowed: {reason}. Write a Debian package name with an \
         optional :arch and =version, e.g. git-lfs or libssl-dev=3.0.2-0ubuntu1"
    )]
    Apt {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Longest spec accepted; real ones are far shorter, and this bounds what reaches a Dockerfile.
const MAX_SPEC_LEN: usize = 200;

/// A pip requirement: `name[extra,…]` followed by comma-separated version clauses
/// (`==`, `!=`, `<=`, `>=`, `<`, `>`, `~=`, `===`).
///
/// Environment markers (`; python_version < "3.8"`), URLs (`pkg @ https://…`), options
/// (`--index-url`) and whitespace are refused.
///
/// ```
/// use ds01_dockerfile::PipRequirement;
///
/// let req = PipRequirement::parse("transformers>=4.30").unwrap();
/// assert_eq!(req.name(), "transformers");
/// assert_eq!(req.as_str(), "transformers>=4.30");
///
/// let err = PipRequirement::parse("x; rm -rf /").unwrap_err();
/// assert!(err.to_string().contains("\"x; rm -rf /\""));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PipRequirement {
    text: String,
    name_len: usize,
}

impl PipRequirement {
    /// Parses and validates a requirement.
    ///
    /// ```
    /// use ds01_dockerfile::PipRequirement;
    /// assert!(PipRequirement::parse("torch==2.3.1+cu118").is_ok());
    /// assert!(PipRequirement::parse("numpy>=1.24,<2").is_ok());
    /// assert!(PipRequirement::parse("ray[tune,serve]~=2.9").is_ok());
    /// assert!(PipRequirement::parse("pandas>=2\n").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<PipRequirement, PackageError> {
        let fail = |reason: String| PackageError::Pip {
            input: input.to_owned(),
            reason,
        };
        // The forms people actually try come first, so the message names the real problem.
        if input.starts_with('-') {
            return Err(fail("pip options are not package names".into()));
        }
        if input.contains(';') {
            return Err(fail(
                "';' (environment markers or a second command) is not supported".into(),
            ));
        }
        check_plain(input).map_err(&fail)?;
        if input.contains('@') || input.contains("://") {
            return Err(fail("URL and direct references are not supported".into()));
        }

        let name_len = input
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .unwrap_or(input.len());
        validate_pip_name(&input[..name_len], "package name").map_err(&fail)?;

        let mut rest = &input[name_len..];
        if let Some(after) = rest.strip_prefix('[') {
            let (extras, tail) = after
                .split_once(']')
                .ok_or_else(|| fail("the [extras] list is not closed with ']'".into()))?;
            for extra in extras.split(',') {
                validate_pip_name(extra, "extra").map_err(&fail)?;
            }
            rest = tail;
        }
        if !rest.is_empty() {
            for clause in rest.split(',') {
                validate_version_clause(clause).map_err(&fail)?;
            }
        }
        Ok(PipRequirement {
            text: input.to_owned(),
            name_len,
        })
    }

    /// The requirement as written.
    ///
    /// ```
    /// # use ds01_dockerfile::PipRequirement;
    /// assert_eq!(PipRequirement::parse("a==1").unwrap().as_str(), "a==1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The package name as written, without extras or version.
    ///
    /// ```
    /// # use ds01_dockerfile::PipRequirement;
    /// assert_eq!(PipRequirement::parse("Scikit_Learn[all]>=1").unwrap().name(), "Scikit_Learn");
    /// ```
    pub fn name(&self) -> &str {
        &self.text[..self.name_len]
    }

    /// The name normalised as pip compares names (PEP 503): lowercase, runs of `.`, `_`, `-`
    /// become one `-`. `Scikit_Learn` and `scikit-learn` are the same package.
    ///
    /// ```
    /// # use ds01_dockerfile::PipRequirement;
    /// assert_eq!(PipRequirement::parse("Scikit__Learn").unwrap().normalized_name(), "scikit-learn");
    /// ```
    pub fn normalized_name(&self) -> String {
        normalize_pip_name(self.name())
    }
}

/// PEP 503 name normalisation, shared with name lookups on a spec.
pub(crate) fn normalize_pip_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '.' | '_' | '-') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_sep = false;
        }
    }
    out
}

/// A Debian package to install with apt: `name[:arch][=version]`.
///
/// The name follows Debian policy (`[a-z0-9][a-z0-9+.-]+`).
///
/// ```
/// use ds01_dockerfile::AptPackage;
///
/// assert_eq!(AptPackage::parse("git-lfs").unwrap().name(), "git-lfs");
/// assert_eq!(AptPackage::parse("g++").unwrap().as_str(), "g++");
/// assert!(AptPackage::parse("vim;reboot").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AptPackage {
    text: String,
    name_len: usize,
}

impl AptPackage {
    /// Parses and validates a package spec.
    ///
    /// ```
    /// use ds01_dockerfile::AptPackage;
    /// assert!(AptPackage::parse("libc6:amd64=2.36-9").is_ok());
    /// assert!(AptPackage::parse("Git").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<AptPackage, PackageError> {
        let fail = |reason: String| PackageError::Apt {
            input: input.to_owned(),
            reason,
        };
        check_plain(input).map_err(&fail)?;
        let (name_arch, version) = match input.split_once('=') {
            Some((left, version)) => (left, Some(version)),
            None => (input, None),
        };
        let (name, arch) = match name_arch.split_once(':') {
            Some((name, arch)) => (name, Some(arch)),
            None => (name_arch, None),
        };

        let b = name.as_bytes();
        if b.len() < 2 {
            return Err(fail("a package name has at least two characters".into()));
        }
        if !(b[0].is_ascii_lowercase() || b[0].is_ascii_digit()) {
            return Err(fail(
                "a package name starts with a lowercase letter or digit".into(),
            ));
        }
        if let Some(bad) = name.chars().find(|&c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-'))
        }) {
            return Err(fail(format!(
                "{bad:?} cannot appear in a package name (lowercase letters, digits, '+', '.', '-')"
            )));
        }
        if let Some(arch) = arch {
            if arch.is_empty()
                || !arch
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            {
                return Err(fail(format!("{arch:?} is not an architecture name")));
            }
        }
        if let Some(version) = version {
            let first_ok = version.bytes().next().is_some_and(|c| c.is_ascii_digit());
            let all_ok = version.bytes().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b':' | b'-')
            });
            if !first_ok || !all_ok {
                return Err(fail(format!(
                    "{version:?} is not a Debian version (starts with a digit; letters, digits, . + ~ : -)"
                )));
            }
        }
        Ok(AptPackage {
            text: input.to_owned(),
            name_len: name.len(),
        })
    }

    /// The package as written.
    ///
    /// ```
    /// # use ds01_dockerfile::AptPackage;
    /// assert_eq!(AptPackage::parse("tmux").unwrap().as_str(), "tmux");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The package name without architecture or version.
    ///
    /// ```
    /// # use ds01_dockerfile::AptPackage;
    /// assert_eq!(AptPackage::parse("libc6:amd64=2.36-9").unwrap().name(), "libc6");
    /// ```
    pub fn name(&self) -> &str {
        &self.text[..self.name_len]
    }
}

/// Shared first checks: not empty, not too long, no whitespace or control characters, ASCII.
fn check_plain(input: &str) -> Result<(), String> {
    if input.is_empty() {
        return Err("it is empty".into());
    }
    if input.len() > MAX_SPEC_LEN {
        return Err(format!("it is longer than {MAX_SPEC_LEN} characters"));
    }
    if let Some(bad) = input
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(format!(
            "it contains {bad:?} (whitespace, control and non-ASCII characters are not allowed)"
        ));
    }
    Ok(())
}

/// `[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?`, the PEP 508 name rule.
fn validate_pip_name(name: &str, what: &str) -> Result<(), String> {
    let b = name.as_bytes();
    let ends_ok = b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric);
    let all_ok = b
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if ends_ok && all_ok {
        Ok(())
    } else if name.is_empty() {
        Err(format!("the {what} is missing"))
    } else {
        Err(format!(
            "{name:?} is not a valid {what} (letters, digits, '.', '_', '-', starting and \
             ending with a letter or digit)"
        ))
    }
}

/// One `<op><version>` clause; versions use PEP 440 characters plus `*` wildcards.
fn validate_version_clause(clause: &str) -> Result<(), String> {
    const OPERATORS: [&str; 8] = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"];
    let op = OPERATORS
        .iter()
        .find(|op| clause.starts_with(*op))
        .ok_or_else(|| {
            format!("{clause:?} is not a version clause (it must start with ==, !=, <=, >=, <, >, ~= or ===)")
        })?;
    let version = &clause[op.len()..];
    let first_ok = version
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let all_ok = version
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'*' | b'+' | b'!' | b'_' | b'-'));
    if first_ok && all_ok {
        Ok(())
    } else {
        Err(format!("{version:?} after {op} is not a version"))
    }
}

validated_text!(PipRequirement, PackageError);
validated_text!(AptPackage, PackageError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_accepts_real_world_requirements() {
        for ok in [
            "numpy",
            "transformers>=4.30",
            "torch==2.3.1+cu118",
            "numpy>=1.24,<2",
            "ray[tune,serve]~=2.9",
            "opencv-python-headless",
            "jax[cuda12]==0.4.23",
            "pkg===1.0-foo",
            "pkg==1.*",
            "pkg!=1.0",
            "zope.interface",
            "ruamel.yaml>0.17",
            "pkg==1!2.0",
            "a",
        ] {
            PipRequirement::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn pip_refuses_shell_and_unsupported_syntax_naming_the_value() {
        for (bad, needle) in [
            ("x; rm -rf /", "';'"),
            ("x;reboot", "';'"),
            ("pkg\nRUN evil", "whitespace"),
            ("pkg|cat", "not a version clause"),
            ("pkg&&id", "not a version clause"),
            ("pkg$(id)", "not a version clause"),
            ("pkg`id`", "not a version clause"),
            ("pkg>=1.0$x", "not a version"),
            ("pkg>=", "not a version"),
            ("pkg @ https://x/y.whl", "whitespace"),
            ("pkg@https://x/y.whl", "URL"),
            ("git+https://github.com/a/b", "URL"),
            ("--index-url", "options"),
            ("-e.", "options"),
            ("", "empty"),
            ("pkg[", "not closed"),
            ("pkg[]", "extra is missing"),
            ("pkg[a b]", "whitespace"),
            ("pkg[a;b]", "';'"),
            ("_pkg", "not a valid package name"),
            ("pkg-", "not a valid package name"),
            ("pkg'", "not a version clause"),
            ("pkg\u{0}", "control"),
            ("päckage", "non-ASCII"),
        ] {
            let msg = PipRequirement::parse(bad).unwrap_err().to_string();
            assert!(msg.contains(needle), "{bad:?}: {msg}");
            assert!(msg.contains(&format!("{bad:?}")), "names the value: {msg}");
        }
        assert!(PipRequirement::parse(&"a".repeat(201)).is_err());
    }

    #[test]
    fn pip_names_normalise_like_pep_503() {
        let req = PipRequirement::parse("Foo.Bar__baz-Qux[x]>=1").unwrap();
        assert_eq!(req.name(), "Foo.Bar__baz-Qux");
        assert_eq!(req.normalized_name(), "foo-bar-baz-qux");
    }

    #[test]
    fn apt_accepts_debian_names() {
        for (ok, name) in [
            ("git", "git"),
            ("git-lfs", "git-lfs"),
            ("g++", "g++"),
            ("libstdc++6", "libstdc++6"),
            ("python3.11", "python3.11"),
            ("libc6:amd64", "libc6"),
            ("libc6=2.36-9+deb12u4", "libc6"),
            ("libc6:i386=1:2.36~rc1", "libc6"),
            ("0ad", "0ad"),
        ] {
            let pkg = AptPackage::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(pkg.name(), name);
        }
    }

    #[test]
    fn apt_refuses_anything_else_naming_the_value() {
        for (bad, needle) in [
            ("Git", "starts with a lowercase"),
            ("vim;reboot", "';'"),
            ("a", "at least two"),
            ("-y", "starts with a lowercase"),
            ("vim\n", "whitespace"),
            ("tmux htop", "whitespace"),
            ("vim$(id)", "'$'"),
            ("vim:", "architecture"),
            ("vim=", "not a Debian version"),
            ("vim=abc", "not a Debian version"),
            ("vim/bookworm", "'/'"),
            ("vim*", "'*'"),
        ] {
            let msg = AptPackage::parse(bad).unwrap_err().to_string();
            assert!(msg.contains(needle), "{bad:?}: {msg}");
            assert!(msg.contains(&format!("{bad:?}")), "names the value: {msg}");
        }
    }

    #[test]
    fn serde_validates() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Holder {
            pip: Vec<PipRequirement>,
            apt: Vec<AptPackage>,
        }
        let h: Holder = toml::from_str("pip = ['a>=1']\napt = ['git']").unwrap();
        assert_eq!(h.pip[0].as_str(), "a>=1");
        let err = toml::from_str::<Holder>("pip = ['a;b']\napt = []")
            .err()
            .unwrap();
        assert!(err.to_string().contains("\"a;b\""), "{err}");
    }
}
