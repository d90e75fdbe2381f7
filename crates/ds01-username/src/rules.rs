//! The one mapping behind both account names and slice user parts.
//!
//! DS01's reference implementations apply five steps in turn (strip the domain, replace `.`,
//! replace every other disallowed code point, collapse and trim separators, shorten with a
//! hash). Done in that order they allocate a string per step; here they run as a single pass
//! over bytes, which gives the same result because every character that survives is ASCII:
//! the bytes of a multi-byte UTF-8 character are all >= 0x80, so each becomes a separator and
//! the run collapses to one, exactly as the single code point does in the reference.

use md5::{Digest, Md5};

/// The longest result, in bytes. After the mapping only ASCII is left, so bytes and the
/// characters Python counts are the same thing.
pub(crate) const MAX_LEN: usize = 32;

/// How much of an over-long name is kept before the hash suffix.
const KEEP_LEN: usize = 27;

/// What differs between the container-account rules and the slice rules.
pub(crate) struct Rules {
    /// Replaces every character that is not kept; runs of it collapse and it is trimmed.
    sep: u8,
    /// Whether `_` is kept as itself (account names) or is a separator (slice names).
    keep_underscore: bool,
}

/// DS01 container account names (revision 1e7512d): `-` separates, `_` and `:` are kept.
pub(crate) const ACCOUNT: Rules = Rules {
    sep: b'-',
    keep_underscore: true,
};

/// User parts of DS01 slice names (later revision): `_` separates, because systemd reads
/// every `-` in a slice name as a level of nesting.
pub(crate) const SLICE: Rules = Rules {
    sep: b'_',
    keep_underscore: false,
};

impl Rules {
    fn keeps(&self, b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b':' || (self.keep_underscore && b == b'_')
    }

    /// Maps `login` as the reference does, writing the result into `out` (cleared first).
    pub(crate) fn map_into(&self, login: &str, out: &mut String) {
        out.clear();
        let local = match login.find('@') {
            Some(at) => &login[..at],
            None => login,
        };
        out.reserve(local.len().min(MAX_LEN + 1));

        // A separator is written only once a kept byte follows it, and never first: this is
        // "replace, collapse runs, trim both ends" without building the intermediate strings.
        let mut pending_sep = false;
        for &b in local.as_bytes() {
            if self.keeps(b) {
                if pending_sep && !out.is_empty() {
                    out.push(char::from(self.sep));
                }
                pending_sep = false;
                out.push(char::from(b));
            } else {
                pending_sep = true;
            }
        }

        if out.len() > MAX_LEN {
            out.truncate(KEEP_LEN);
            // Separators never come in pairs here, so at most one can end the kept part.
            if out.as_bytes().last() == Some(&self.sep) {
                out.pop();
            }
            out.push(char::from(self.sep));
            // The hash is over the whole original input, domain included, as in the reference.
            let digest = Md5::digest(login.as_bytes());
            for &byte in &digest[..2] {
                out.push(hex_digit(byte >> 4));
                out.push(hex_digit(byte & 0x0f));
            }
        }
    }

    /// Maps `login` into a new string.
    pub(crate) fn map(&self, login: &str) -> String {
        let mut out = String::new();
        self.map_into(login, &mut out);
        out
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_rules_follow_the_documented_example() {
        assert_eq!(
            ACCOUNT.map("a.very.long.username.with.many.dots@domain.edu"),
            "a-very-long-username-with-m-9f4c"
        );
    }

    #[test]
    fn slice_rules_replace_dashes_and_collapse_underscores() {
        assert_eq!(SLICE.map("a-b__c.d@x"), "a_b_c_d");
        assert_eq!(ACCOUNT.map("a-b__c.d@x"), "a-b__c-d");
    }

    #[test]
    fn a_trailing_separator_is_dropped_before_the_hash() {
        // 26 letters, then a dot at index 26: the kept 27 bytes end in `-`.
        let login = format!("{}.{}", "a".repeat(26), "b".repeat(10));
        let mapped = ACCOUNT.map(&login);
        assert!(mapped.starts_with(&format!("{}-", "a".repeat(26))));
        assert_eq!(mapped.len(), 26 + 1 + 4);
    }

    #[test]
    fn exactly_32_bytes_is_kept_whole() {
        let login = "b".repeat(32);
        assert_eq!(ACCOUNT.map(&login), login);
        assert_eq!(ACCOUNT.map(&"b".repeat(33)).len(), MAX_LEN);
    }

    #[test]
    fn map_into_reuses_and_clears_the_buffer() {
        let mut out = String::from("left over");
        ACCOUNT.map_into("h.baker@hertie-school.lan", &mut out);
        assert_eq!(out, "h-baker");
    }
}
