//! Property tests: whatever text a user offers as a package or an environment value, either it
//! is refused, or it reaches the Dockerfile as exactly one word that neither `/bin/sh` nor
//! Docker interprets.

use ds01_dockerfile::{
    render, AptPackage, Base, EnvName, EnvValue, ImageName, ImageRef, ImageSpec, PipRequirement,
};
use proptest::prelude::*;

fn spec() -> ImageSpec {
    let mut spec = ImageSpec::new(
        ImageName::parse("prop").unwrap(),
        Base::Custom {
            image: ImageRef::parse("debian:12").unwrap(),
        },
    );
    spec.user.bake = false;
    spec
}

/// The `RUN` commands of a Dockerfile, continuation lines joined as Docker joins them.
fn run_commands(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", "");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix("RUN "))
        .map(str::to_owned)
        .collect()
}

/// A word as `/bin/sh` splits it: raw text, value after quote removal, and whether any
/// character outside single quotes is one a shell could treat specially.
#[derive(Debug)]
struct Word {
    value: String,
    unquoted_special: bool,
}

fn shell_words(command: &str) -> Vec<Word> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:+,@%".contains(c);
    let mut words = Vec::new();
    let mut current: Option<Word> = None;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        if c == ' ' {
            words.extend(current.take());
            continue;
        }
        let word = current.get_or_insert_with(|| Word {
            value: String::new(),
            unquoted_special: false,
        });
        if c == '\'' {
            // Single quotes: everything up to the next quote is literal.
            for q in chars.by_ref() {
                if q == '\'' {
                    break;
                }
                word.value.push(q);
            }
        } else if c == '\\' {
            // Only the `'\''` idiom is expected; anything else counts as special.
            match chars.next() {
                Some('\'') => word.value.push('\''),
                other => {
                    word.unquoted_special = true;
                    word.value.extend(other);
                }
            }
        } else {
            word.unquoted_special |= !plain(c);
            word.value.push(c);
        }
    }
    words.extend(current);
    words
}

/// Strings that look like package specs, with shell and Dockerfile metacharacters mixed in;
/// about half are valid pip or apt specs.
fn package_like() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9][a-zA-Z0-9._-]{0,8}(\\[[a-z0-9]{1,4}\\])?([<>=!~]{1,3}[0-9][0-9a-z.*+!-]{0,6})?",
        3 => "[a-z0-9][a-z0-9+.-]{1,10}(:[a-z0-9-]{1,5})?(=[0-9][a-z0-9.+~:-]{0,6})?",
        2 => "[a-z0-9][a-z0-9._\\-\\[\\],<>=!~*+;|&$`'\"\\\\ \n#(){}?:@/%^-]{0,16}",
        1 => "\\PC{0,16}",
    ]
}

fn check_packages_in_run(
    commands: &[String],
    program: &str,
    packages: &[String],
) -> Result<(), TestCaseError> {
    let run = commands
        .iter()
        .find(|c| c.contains(program))
        .ok_or_else(|| TestCaseError::fail(format!("no RUN with {program}")))?;
    let words = shell_words(run);
    for package in packages {
        let matching: Vec<&Word> = words.iter().filter(|w| &w.value == package).collect();
        prop_assert_eq!(matching.len(), 1, "{:?} in {:?}", package, run);
        prop_assert!(
            !matching[0].unquoted_special,
            "{:?} unquoted in {:?}",
            package,
            run
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pip_specs_are_refused_or_one_inert_word(candidates in proptest::collection::vec(package_like(), 1..6)) {
        let mut spec = spec();
        for candidate in &candidates {
            if let Ok(req) = PipRequirement::parse(candidate) {
                spec.add_pip(req);
            }
        }
        let accepted: Vec<String> = spec.packages.extra.iter().map(|r| r.to_string()).collect();
        if accepted.is_empty() {
            return Ok(());
        }
        let text = render(&spec).text().to_owned();
        let commands = run_commands(&text);
        check_packages_in_run(&commands, "pip install", &accepted)?;
        // The pip step (after the Python and user setup steps) holds exactly the packages.
        let pip = commands.iter().find(|c| c.contains("pip install")).expect("a pip step");
        let words = shell_words(pip);
        prop_assert_eq!(words.len(), 3 + accepted.len(), "{:?}", pip);
    }

    #[test]
    fn apt_specs_are_refused_or_one_inert_word(candidates in proptest::collection::vec(package_like(), 1..6)) {
        let mut spec = spec();
        for candidate in &candidates {
            if let Ok(pkg) = AptPackage::parse(candidate) {
                spec.add_apt(pkg);
            }
        }
        let accepted: Vec<String> = spec.packages.apt.iter().map(|p| p.to_string()).collect();
        if accepted.is_empty() {
            return Ok(());
        }
        let commands = run_commands(render(&spec).text());
        check_packages_in_run(&commands, "apt-get install", &accepted)?;
    }

    #[test]
    fn accepted_text_never_carries_shell_separators(candidate in package_like()) {
        // Whatever the quoting, these never get into a spec at all.
        let forbidden = [';', '|', '&', '$', '`', '\n', '\r', ' ', '\\', '\'', '"', '#'];
        if PipRequirement::parse(&candidate).is_ok() || AptPackage::parse(&candidate).is_ok() {
            prop_assert!(!candidate.contains(forbidden), "{:?}", candidate);
        }
    }

    #[test]
    fn env_values_arrive_unchanged(value in "\\PC{0,40}") {
        let Ok(env_value) = EnvValue::parse(&value) else {
            prop_assert!(value.chars().any(char::is_control));
            return Ok(());
        };
        let mut spec = spec();
        spec.env.insert(EnvName::parse("V").unwrap(), env_value);
        let text = render(&spec).text().to_owned();
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ENV ")).collect();
        prop_assert_eq!(lines.len(), 1);
        prop_assert!(!lines[0].ends_with('\\'));
        prop_assert_eq!(docker_unquote(lines[0].strip_prefix("ENV V=").unwrap())?, value);
    }
}

/// Reads a Dockerfile double-quoted word the way Docker does, failing on anything that would
/// trigger variable substitution or end the string early.
fn docker_unquote(word: &str) -> Result<String, TestCaseError> {
    let inner = word
        .strip_prefix('"')
        .and_then(|w| w.strip_suffix('"'))
        .ok_or_else(|| TestCaseError::fail(format!("not one quoted word: {word}")))?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '$' | '\\')) => out.push(e),
                other => {
                    return Err(TestCaseError::fail(format!(
                        "stray escape before {other:?}"
                    )))
                }
            },
            '"' => return Err(TestCaseError::fail("unescaped quote ends the string")),
            '$' => return Err(TestCaseError::fail("unescaped $ would be substituted")),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[test]
fn the_lexer_sees_what_sh_sees() {
    // Guard for the test helper itself: a redirect is special, a quoted one is not.
    let words = shell_words("pip install transformers>=4.30 'numpy>=1' 'it'\\''s'");
    assert!(words[2].unquoted_special);
    assert_eq!(words[3].value, "numpy>=1");
    assert!(!words[3].unquoted_special);
    assert_eq!(words[4].value, "it's");
    assert!(!words[4].unquoted_special);
}
