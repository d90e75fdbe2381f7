//! Environment variables baked into an image with `ENV`.

use crate::validated_text::validated_text;

/// Longest value accepted, so a spec cannot carry a whole file in an `ENV` line.
const MAX_VALUE_LEN: usize = 4096;

/// Why an environment variable name or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// The name is not `[A-Za-z_][A-Za-z0-9_]*`.
    #[error(
        "environment variable name {0:?} is not allowed: use letters, digits and '_', \
         not starting with a digit (e.g. HF_HOME)"
    )]
    Name(String),
    /// The value holds a control character (newline, tab, escape…) or is too long.
    #[error("environment variable value {value:?} is not allowed: {reason}")]
    Value {
        /// The value that was given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A valid environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
///
/// ```
/// use ds01_dockerfile::EnvName;
/// assert!(EnvName::parse("HF_HOME").is_ok());
/// assert!(EnvName::parse("1X").is_err());
/// assert!(EnvName::parse("A-B").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvName(String);

impl EnvName {
    /// Validates a name.
    ///
    /// ```
    /// # use ds01_dockerfile::EnvName;
    /// assert_eq!(EnvName::parse("_X1").unwrap().as_str(), "_X1");
    /// ```
    pub fn parse(input: &str) -> Result<EnvName, EnvError> {
        let b = input.as_bytes();
        let first_ok = b
            .first()
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_');
        if first_ok && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_') {
            Ok(EnvName(input.to_owned()))
        } else {
            Err(EnvError::Name(input.to_owned()))
        }
    }

    /// The name as text.
    ///
    /// ```
    /// # use ds01_dockerfile::EnvName;
    /// assert_eq!(EnvName::parse("A").unwrap().as_str(), "A");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An environment variable value: any text without control characters, at most 4096 bytes.
///
/// It is rendered literally: quotes, backslashes and `$` are escaped, so `$HOME` in a value
/// stays the five characters `$HOME` rather than being expanded by Docker.
///
/// ```
/// use ds01_dockerfile::EnvValue;
/// assert!(EnvValue::parse("say \"hi\" to $USER").is_ok());
/// assert!(EnvValue::parse("two\nlines").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvValue(String);

impl EnvValue {
    /// Validates a value.
    ///
    /// ```
    /// # use ds01_dockerfile::EnvValue;
    /// assert_eq!(EnvValue::parse("").unwrap().as_str(), "");
    /// ```
    pub fn parse(input: &str) -> Result<EnvValue, EnvError> {
        let fail = |reason: String| EnvError::Value {
            value: input.to_owned(),
            reason,
        };
        if input.len() > MAX_VALUE_LEN {
            return Err(fail(format!("it is longer than {MAX_VALUE_LEN} bytes")));
        }
        if let Some(bad) = input.chars().find(|c| c.is_control()) {
            return Err(fail(format!(
                "it contains the control character {bad:?}; values must be a single line"
            )));
        }
        Ok(EnvValue(input.to_owned()))
    }

    /// The value as text.
    ///
    /// ```
    /// # use ds01_dockerfile::EnvValue;
    /// assert_eq!(EnvValue::parse("1").unwrap().as_str(), "1");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

validated_text!(EnvName, EnvError);
validated_text!(EnvValue, EnvError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["A", "_", "HF_HOME", "a1_b2"] {
            EnvName::parse(ok).unwrap();
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "Ä", "A\n"] {
            let msg = EnvName::parse(bad).unwrap_err().to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
        }
    }

    #[test]
    fn values_are_single_lines() {
        for ok in [
            "",
            "it's \"quoted\"",
            "$HOME/x",
            "back\\slash",
            "ünïcödé ✓",
            "a b  c",
        ] {
            EnvValue::parse(ok).unwrap();
        }
        for bad in [
            "a\nb",
            "a\rb",
            "tab\there",
            "esc\u{1b}[0m",
            "nul\u{0}",
            "del\u{7f}",
        ] {
            let msg = EnvValue::parse(bad).unwrap_err().to_string();
            assert!(msg.contains("control character"), "{msg}");
        }
        assert!(EnvValue::parse(&"x".repeat(4097)).is_err());
        assert!(EnvValue::parse(&"x".repeat(4096)).is_ok());
    }
}
