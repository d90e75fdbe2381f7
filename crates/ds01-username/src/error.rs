//! Why a name could not be mapped, in words a user or an administrator can act on.

use std::fmt;

/// Why a login name has no usable container account name, or why a string is not one.
///
/// Every variant keeps the input it is about, so a batch tool can report which line failed.
///
/// ```
/// use ds01_username::{Username, UsernameError};
///
/// let err = Username::from_login("@x").unwrap_err();
/// assert!(matches!(err, UsernameError::Empty { .. }));
/// assert_eq!(
///     err.to_string(),
///     "`@x` maps to an empty account name; the part before the first `@` must contain \
///      an ASCII letter, digit or `_`",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// Nothing is left after the mapping (`@x`, `...`, `日本語`).
    Empty {
        /// The login name or string that was given.
        input: String,
    },
    /// The mapped name holds `:`, the field separator of `/etc/passwd`, so `useradd`
    /// refuses it. The reference implementations let it through.
    Colon {
        /// The login name or string that was given.
        input: String,
        /// What the reference mapping makes of it.
        mapped: String,
    },
    /// The mapped name is all ASCII digits, which `chown`, `id` and friends read as a UID.
    AllDigits {
        /// The login name or string that was given.
        input: String,
        /// What the reference mapping makes of it.
        mapped: String,
    },
    /// Only from [`Username::parse`](crate::Username::parse): the string is not what the
    /// mapping produces (for example a raw login name such as `h.baker`).
    NotSanitized {
        /// The string that was given.
        input: String,
        /// What the reference mapping makes of it (possibly unusable or empty).
        mapped: String,
    },
}

impl UsernameError {
    /// The login name or string the error is about.
    ///
    /// ```
    /// use ds01_username::Username;
    ///
    /// let err = Username::from_login("al:ice").unwrap_err();
    /// assert_eq!(err.input(), "al:ice");
    /// ```
    pub fn input(&self) -> &str {
        match self {
            Self::Empty { input }
            | Self::Colon { input, .. }
            | Self::AllDigits { input, .. }
            | Self::NotSanitized { input, .. } => input,
        }
    }
}

impl fmt::Display for UsernameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { input } if input.is_empty() => {
                f.write_str("the name is empty; give a login name such as `h.baker@example.org`")
            }
            Self::Empty { input } => write!(
                f,
                "{} maps to an empty account name; the part before the first `@` must contain \
                 an ASCII letter, digit or `_`",
                Quoted(input)
            ),
            Self::Colon { input, mapped } => {
                maps_to(f, input, mapped)?;
                f.write_str(
                    "holds a `:`, the field separator of /etc/passwd, so no account can have \
                     that name; such a login needs its account name chosen by hand",
                )
            }
            Self::AllDigits { input, mapped } => {
                maps_to(f, input, mapped)?;
                f.write_str(
                    "is all digits, which chown, id and other tools read as a numeric user ID; \
                     such a login needs its account name chosen by hand",
                )
            }
            Self::NotSanitized { input, mapped } if mapped.is_empty() => write!(
                f,
                "{} is not an account name: it holds none of the characters account names are \
                 made of (ASCII letters, digits, `_` and single inner `-`)",
                Quoted(input)
            ),
            Self::NotSanitized { input, mapped } => write!(
                f,
                "{} is not an account name as DS01 writes it (that would be {}); pass login \
                 names through `Username::from_login` or `ds01 username sanitize` first",
                Quoted(input),
                Quoted(mapped)
            ),
        }
    }
}

/// "`x` maps to `y`, which " or, when the mapping changed nothing, "`x` ".
fn maps_to(f: &mut fmt::Formatter<'_>, input: &str, mapped: &str) -> fmt::Result {
    if input == mapped {
        write!(f, "{} ", Quoted(input))
    } else {
        write!(f, "{} maps to {}, which ", Quoted(input), Quoted(mapped))
    }
}

/// Why a systemd slice name could not be built.
///
/// ```
/// use ds01_username::{slice_name, SliceError};
///
/// let err = slice_name("Students", "h.baker").unwrap_err();
/// assert!(matches!(err, SliceError::InvalidGroup { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SliceError {
    /// The group is empty or holds a character outside `[a-z0-9_]`.
    #[error(
        "{} is not a slice group: use only lowercase ASCII letters, digits and `_` \
         (for example `student`)",
        Quoted(.group)
    )]
    InvalidGroup {
        /// The group that was given.
        group: String,
    },
    /// The group would push the slice name past systemd's limit on unit names.
    #[error(
        "the slice group `{group}` is {} characters long; at most {max} fit in a systemd \
         unit name next to the user part",
        .group.len()
    )]
    GroupTooLong {
        /// The group that was given.
        group: String,
        /// The longest group accepted.
        max: usize,
    },
    /// The slice rules leave nothing of the login name.
    #[error(
        "{} leaves an empty user part for a slice name; the part before the first `@` must \
         contain an ASCII letter, digit or `:`",
        Quoted(.login)
    )]
    EmptyUser {
        /// The login name that was given.
        login: String,
    },
}

/// Shows a name between backticks with control and other invisible characters escaped, so a
/// hostile login name cannot rewrite the terminal it is reported on.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`")?;
        for c in self.0.chars() {
            // Quotes are harmless between backticks; escaping them would only add noise.
            if c == '"' || c == '\'' {
                write!(f, "{c}")?;
            } else {
                write!(f, "{}", c.escape_debug())?;
            }
        }
        f.write_str("`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes_control_characters_but_not_quotes() {
        assert_eq!(
            Quoted("o'neil\u{1b}[2J\n").to_string(),
            "`o'neil\\u{1b}[2J\\n`"
        );
        assert_eq!(Quoted("ñ.é").to_string(), "`ñ.é`");
        // A right-to-left override would make the rest of the message read backwards.
        assert_eq!(Quoted("a\u{202e}b").to_string(), "`a\\u{202e}b`");
    }
}
