//! Quoting for the two languages a Dockerfile embeds: `/bin/sh` (in `RUN`) and Docker's own
//! word syntax (in `LABEL` and `ENV`).

use std::borrow::Cow;

/// Quotes `word` as one `/bin/sh` word.
///
/// Words made only of characters that no shell treats specially are left as they are, for
/// readability; anything else is wrapped in single quotes, inside which `sh` interprets
/// nothing (a `'` itself becomes `'\''`).
pub(crate) fn sh_word(word: &str) -> Cow<'_, str> {
    let plain = !word.is_empty()
        && word.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b'+' | b',' | b'@' | b'%'
                )
        });
    if plain {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// Quotes `value` as a Dockerfile double-quoted string, for `LABEL` and `ENV`.
///
/// Inside double quotes Docker treats `\`, `"` and `$` specially (escape, end of string,
/// variable substitution); each is escaped so the value arrives unchanged.
pub(crate) fn dockerfile_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::process::Command;

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(sh_word("numpy"), "numpy");
        assert_eq!(sh_word("g++"), "g++");
        assert_eq!(sh_word("libc6:amd64"), "libc6:amd64");
        assert_eq!(sh_word("transformers>=4.30"), "'transformers>=4.30'");
        assert_eq!(sh_word("a==1"), "'a==1'");
        assert_eq!(sh_word("it's"), r"'it'\''s'");
        assert_eq!(sh_word(""), "''");
    }

    #[test]
    fn dockerfile_strings_escape_exactly_three_characters() {
        assert_eq!(dockerfile_string(r#"a"b\c$d'e"#), r#""a\"b\\c\$d'e""#);
        assert_eq!(dockerfile_string(""), r#""""#);
    }

    /// What `/bin/sh` makes of `printf %s <quoted>`: the quoted text must come back unchanged.
    fn through_sh(quoted: &str) -> String {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("printf %s {quoted}"))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn real_shell_reads_hostile_words_back_unchanged() {
        for word in [
            "x; rm -rf /",
            "$(id)",
            "`id`",
            "a'b\"c",
            "pkg>=1|cat",
            "*",
            "~root",
            "#comment",
            "a\\",
            "'",
            "pkg[extra]",
        ] {
            assert_eq!(through_sh(&sh_word(word)), word);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_single_line_round_trips_through_sh(word in "[^\\x00\\n]{1,30}") {
            prop_assert_eq!(through_sh(&sh_word(&word)), word);
        }
    }
}
