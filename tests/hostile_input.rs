//! Hostile input against every parser and renderer that takes outside text (issue 6).
//!
//! Only the stable toolchain is available, so instead of coverage-guided fuzzing these are
//! proptest runs with large case counts and generators biased towards each grammar (valid
//! values with a few hostile edits, shell metacharacters, control and bidi characters, very
//! long strings). The properties:
//!
//! - no parser panics, whatever the input;
//! - every refusal is an error value whose message says something;
//! - an accepted value comes back unchanged from its own text;
//! - a rendered Dockerfile keeps its line structure, and every shell or Dockerfile
//!   metacharacter of a user's value is quoted (checked by tokenising the text the way
//!   Docker and `/bin/sh` do);
//! - an extra container label never replaces a label ds01 sets.
//!
//! Each property has a default case count, sized so that the whole file takes about a minute
//! in a debug build on two cores. `PROPTEST_CASES` replaces every default, for a short smoke
//! run (`PROPTEST_CASES=100`) or a long soak (`PROPTEST_CASES=1000000`).

use std::collections::HashMap;
use std::fmt::{Debug, Display};
use std::sync::OnceLock;

use ds01_dockerfile::{
    build_context, labels as image_labels, render, AimeBase, AptPackage, Base, Catalog,
    CatalogEntry, CatalogError, EnvName, EnvValue, ImageName, ImageRef, ImageSpec, Login,
    PipRequirement, Tag, UseCase, ARG_GROUP_ID, ARG_USERNAME, ARG_USER_ID,
};
use ds01_engine::accounts::check_account;
use ds01_engine::labels::{self as container_labels, parse_extra_label};
use ds01_engine::{
    ContainerName, ContainerOptions, ContainerSpec, GpuRequest, Identity, OwnedContainer,
    Provenance, Size, UserSetup,
};
use ds01_username::{slice_name, SliceGroup, Username};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, TestCaseError};

/// The per-property default case count, unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        // Failures are kept in `tests/hostile_input.proptest-regressions` and replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // ChaCha, the default generator, dominates the run time of a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/// What `/bin/sh` (or Docker's word lexer) reads as something other than a literal character
/// in at least one position: operators, quotes, expansions, globs, comments, separators.
const SHELL_META: [char; 24] = [
    ';', '|', '&', '$', '`', '<', '>', '(', ')', '\'', '"', '\\', ' ', '\t', '\n', '*', '?', '[',
    ']', '#', '~', '{', '}', '!',
];

/// Characters that are invisible, reorder text, end lines or are otherwise unexpected.
const STRANGE: [char; 14] = [
    '\u{0}', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{2028}', '\u{202e}', '\u{feff}',
    '\u{e000}', 'é', 'İ', '日', '🦀',
];

fn hostile_char() -> BoxedStrategy<char> {
    prop_oneof![
        6 => prop::sample::select("abcxyz0179:/@._-=+,%".chars().collect::<Vec<_>>()),
        1 => prop::sample::select(vec!['A', 'Q', 'Z']),
        4 => prop::sample::select(SHELL_META.to_vec()),
        2 => prop::sample::select(STRANGE.to_vec()),
        1 => any::<char>(),
    ]
    .boxed()
}

/// Up to `max` characters, heavy on metacharacters.
fn hostile(max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(hostile_char(), 0..=max)
        .prop_map(String::from_iter)
        .boxed()
}

/// A short hostile piece repeated up to a few thousand characters.
fn long() -> BoxedStrategy<String> {
    (hostile(6), 1usize..800)
        .prop_map(|(piece, n)| piece.repeat(n))
        .boxed()
}

/// A string with at least one control character in it.
fn with_control() -> BoxedStrategy<String> {
    let control = prop::sample::select(vec![
        '\u{0}', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}',
    ]);
    (hostile(10), control, hostile(10))
        .prop_map(|(a, c, b)| format!("{a}{c}{b}"))
        .boxed()
}

/// Valid-looking text (from the `grammar` regex) with up to three hostile edits: an insert,
/// a replacement or a deletion at a random place.
fn mutated(grammar: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
    let edit = (any::<Index>(), 0u8..3, hostile(3));
    (grammar, prop::collection::vec(edit, 0..4))
        .prop_map(|(text, edits)| {
            let mut chars: Vec<char> = text.chars().collect();
            for (at, kind, piece) in edits {
                let i = at.index(chars.len() + 1);
                match kind {
                    0 => {
                        chars.splice(i..i, piece.chars());
                    }
                    1 if i < chars.len() => {
                        chars.splice(i..=i, piece.chars());
                    }
                    _ if i < chars.len() => {
                        chars.remove(i);
                    }
                    _ => {}
                }
            }
            chars.into_iter().collect()
        })
        .boxed()
}

/// Input for a parser whose grammar `grammar` (a regex) describes: arbitrary strings,
/// metacharacter soup, grammar-shaped strings with hostile edits, and very long strings.
fn text(grammar: &'static str) -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<String>(),
        3 => hostile(40),
        2 => grammar.prop_map(|s: String| s),
        5 => mutated(grammar),
        1 => long(),
    ]
    .boxed()
}

const LOGIN: &str = r"[a-zA-Z0-9._-]{0,24}(@[a-z0-9.-]{0,16})?";
const TAG: &str = r"[A-Za-z0-9_.-]{0,24}";
const IMAGE_REF: &str = r"((localhost|[a-z0-9-]{1,8}\.[a-z]{2,3}|\[::1\])(:[0-9]{1,5})?/)?([a-z0-9]{1,6}(\.|_|__|-+)?){1,3}[a-z0-9](/[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?){0,2}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,12})?(@sha256:[0-9a-f]{64})?";
const IMAGE_NAME: &str = r"[a-z0-9]{1,8}([._-]{1,2}[a-z0-9]{1,8}){0,3}";
const PIP: &str = r"[A-Za-z0-9][A-Za-z0-9._-]{0,10}[A-Za-z0-9](\[[a-z0-9]{1,4}(,[a-z0-9]{1,4}){0,2}\])?((===|~=|==|!=|<=|>=|<|>)[0-9a-z][0-9a-z.*+!_-]{0,6}(,(<|>|==|!=)[0-9][0-9.*]{0,3})?)?";
const APT: &str = r"[a-z0-9][a-z0-9+.-]{1,10}(:[a-z0-9-]{1,6})?(=[0-9][A-Za-z0-9.+~:-]{0,8})?";
const ENV_NAME: &str = r"[A-Za-z_][A-Za-z0-9_]{0,10}";
const ENV_VALUE: &str = r"[^\x00-\x1f\x7f]{0,40}";
const CATALOG_WORD: &str = r"[A-Za-z0-9._+-]{1,12}";
const CONTAINER_NAME: &str = r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}";
const GPUS: &str = r"all|[0-9]{1,11}|device=[A-Za-z0-9:/_-]{0,10}(,[A-Za-z0-9:/_-]{0,10}){0,3}";
const BYTES: &str = r" ?[0-9]{0,21}[bkmgBKMG]{0,3} ?";
const SLICE_GROUP: &str = r"[a-z0-9_]{0,12}";

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Parses `input`; a refusal must carry a message, an accepted value must display as exactly
/// `input` and parse back to itself. Returns the accepted value.
fn exact<T, E>(
    input: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, TestCaseError>
where
    T: Display + PartialEq + Debug,
    E: Display,
{
    match parse(input) {
        Ok(value) => {
            let shown = value.to_string();
            prop_assert_eq!(&shown, input, "an accepted value must keep its text");
            let again = parse(&shown).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&again, &value);
            Ok(Some(value))
        }
        Err(err) => {
            refusal_has_message(&err)?;
            Ok(None)
        }
    }
}

fn refusal_has_message(err: &impl Display) -> Result<(), TestCaseError> {
    let message = err.to_string();
    prop_assert!(!message.trim().is_empty(), "a refusal without a message");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Dockerfile checker: reads a rendered Dockerfile the way Docker and /bin/sh would
// ---------------------------------------------------------------------------------------------

/// One instruction after Docker joined its continuation lines.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    body: String,
}

const INSTRUCTIONS: [&str; 9] = [
    "FROM", "LABEL", "WORKDIR", "RUN", "ARG", "COPY", "ENV", "CMD", "USER",
];

/// Docker's rule: a line ending in the escape character (and optional blanks) continues.
fn strip_continuation(line: &str) -> Option<&str> {
    line.trim_end_matches([' ', '\t']).strip_suffix('\\')
}

/// Splits the text into instructions. Every line must be blank, a comment, a known
/// instruction or the continuation of one: a value that smuggled in a line break shows up
/// here as a stray line (or as an extra instruction, which the counts catch).
fn instructions(text: &str) -> Result<Vec<Instruction>, String> {
    if !text.ends_with('\n') || text.contains('\r') {
        return Err("the text must be `\\n`-terminated lines without `\\r`".into());
    }
    let mut out = Vec::new();
    let mut open: Option<Instruction> = None;
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let (mut instruction, rest) = match open.take() {
            Some(instruction) => {
                if line.trim().is_empty() || line.trim_start().starts_with('#') {
                    return Err(format!(
                        "line {number}: blank or comment inside a continuation"
                    ));
                }
                (instruction, line)
            }
            None if line.is_empty() || line.starts_with('#') => continue,
            None => {
                let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
                if !INSTRUCTIONS.contains(&keyword) {
                    return Err(format!(
                        "line {number}: {line:?} is neither an instruction, a comment nor a continuation"
                    ));
                }
                let instruction = Instruction {
                    keyword: keyword.to_owned(),
                    body: String::new(),
                };
                (instruction, rest)
            }
        };
        match strip_continuation(rest) {
            Some(part) => {
                instruction.body.push_str(part);
                open = Some(instruction);
            }
            None => {
                instruction.body.push_str(rest);
                out.push(instruction);
            }
        }
    }
    if open.is_some() {
        return Err("the last instruction ends in a continuation".into());
    }
    Ok(out)
}

/// A character of a shell word after quote removal, and whether quoting protected it.
type ShChar = (char, bool);

/// Splits a `RUN` line into words as POSIX `sh` does for quoting: single quotes protect
/// everything, double quotes everything but `$` and `` ` `` (and `\` before `$`, `` ` ``,
/// `"`, `\`), a backslash the next character. Operators are left inside words; the caller
/// flags any unprotected metacharacter.
fn sh_words(line: &str) -> Result<Vec<Vec<ShChar>>, String> {
    let mut words = Vec::new();
    let mut word: Vec<ShChar> = Vec::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push((c, true)),
                        None => return Err(format!("unterminated single quote in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('$' | '`' | '"' | '\\')) => word.push((c, true)),
                            Some('\n') => {}
                            Some(c) => word.extend([('\\', true), (c, true)]),
                            None => return Err(format!("unterminated double quote in {line:?}")),
                        },
                        Some(c @ ('$' | '`')) => word.push((c, false)),
                        Some(c) => word.push((c, true)),
                        None => return Err(format!("unterminated double quote in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push((c, true)),
                    None => return Err(format!("trailing backslash in {line:?}")),
                }
            }
            c => {
                in_word = true;
                word.push((c, false));
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn plain(word: &[ShChar]) -> String {
    word.iter().map(|(c, _)| c).collect()
}

/// A character of a Docker word after quote and escape removal; `true` marks a `$` that
/// Docker would expand.
type DockerChar = (char, bool);

/// Splits a `LABEL`/`ENV` body into words as Docker's lexer does: blanks separate words
/// outside quotes, `'…'` is literal, inside `"…"` a backslash escapes only `"`, `$` and `\`,
/// outside quotes it escapes anything, and an unescaped `$` outside single quotes expands.
fn docker_words(body: &str) -> Result<Vec<Vec<DockerChar>>, String> {
    let mut words = Vec::new();
    let mut word: Vec<DockerChar> = Vec::new();
    let mut in_word = false;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push((c, false)),
                        None => return Err(format!("unterminated single quote in {body:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&c @ ('"' | '$' | '\\')) => {
                                chars.next();
                                word.push((c, false));
                            }
                            _ => word.push(('\\', false)),
                        },
                        Some('$') => word.push(('$', true)),
                        Some(c) => word.push((c, false)),
                        None => return Err(format!("unterminated double quote in {body:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push((c, false));
                }
            }
            '$' => {
                in_word = true;
                word.push(('$', true));
            }
            c => {
                in_word = true;
                word.push((c, false));
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn literal(s: &str) -> Vec<DockerChar> {
    s.chars().map(|c| (c, false)).collect()
}

/// `${NAME}`, the one expansion the renderer writes on purpose (user labels from build args).
fn build_arg(name: &str) -> Vec<DockerChar> {
    let mut v = vec![('$', true)];
    v.extend(literal(&format!("{{{name}}}")));
    v
}

/// `KEY=VALUE` pairs of every instruction named `keyword`, decoded.
fn key_values(
    instructions: &[Instruction],
    keyword: &str,
) -> Result<Vec<(String, Vec<DockerChar>)>, String> {
    let mut pairs = Vec::new();
    for instruction in instructions.iter().filter(|i| i.keyword == keyword) {
        for word in docker_words(&instruction.body)? {
            let eq = word
                .iter()
                .position(|&(c, _)| c == '=')
                .ok_or_else(|| format!("{keyword} word without `=` in {:?}", instruction.body))?;
            let key: String = word[..eq].iter().map(|(c, _)| c).collect();
            if word[..eq].iter().any(|&(_, expands)| expands) {
                return Err(format!("{keyword} key {key:?} expands a variable"));
            }
            pairs.push((key, word[eq + 1..].to_vec()));
        }
    }
    Ok(pairs)
}

/// The values the spec puts into `RUN` lines, each of which must arrive as one protected word.
fn run_values(spec: &ImageSpec) -> Vec<String> {
    let mut values: Vec<String> = spec
        .packages
        .apt
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    let p = &spec.packages;
    for group in [
        &p.jupyter,
        &p.data_science,
        &p.use_case,
        &p.requirements,
        &p.extra,
    ] {
        values.extend(group.iter().map(|r| r.as_str().to_owned()));
    }
    if spec.configure_jupyter {
        values.push(spec.name.to_string());
        values.push(format!("{} ({})", spec.name, spec.base.framework_label()));
    }
    values
}

/// The labels the spec's Dockerfile must carry, decoded, in order.
fn expected_labels(spec: &ImageSpec) -> Vec<(String, Vec<DockerChar>)> {
    let name = spec.name.as_str();
    let owner = spec.owner.as_ref().map(Login::as_str);
    let mut pairs: Vec<(&str, Vec<DockerChar>)> = Vec::new();
    if let Some(owner) = owner {
        pairs.push((image_labels::MAINTAINER, literal(owner)));
    }
    pairs.push((
        image_labels::BASE_IMAGE,
        literal(&spec.base.image().to_string()),
    ));
    pairs.push((image_labels::PROJECT, literal(name)));
    if let Some(owner) = owner {
        pairs.push((image_labels::USERNAME_RAW, literal(owner)));
    }
    pairs.push((image_labels::MANAGED, literal("true")));
    pairs.push((image_labels::IMAGE, literal(name)));
    pairs.push((
        image_labels::FRAMEWORK,
        literal(&spec.base.framework_label()),
    ));
    if spec.user.bake {
        pairs.push((image_labels::HAS_USER_SETUP, literal("true")));
        pairs.push((image_labels::USER_ID, build_arg(ARG_USER_ID)));
        pairs.push((image_labels::GROUP_ID, build_arg(ARG_GROUP_ID)));
        pairs.push((image_labels::USERNAME, build_arg(ARG_USERNAME)));
        pairs.push((image_labels::MAINTAINER_ID, build_arg(ARG_USER_ID)));
        pairs.push((image_labels::USER_ID_LEGACY, build_arg(ARG_USER_ID)));
    }
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Words of the renderer's own shell code that contain unquoted operators or globs.
const TEMPLATE_OPERATORS: [&str; 3] = ["&&", ">", "/var/lib/apt/lists/*"];

/// Everything a rendered Dockerfile must satisfy, whatever validated values the spec holds.
fn check_dockerfile(spec: &ImageSpec) -> Result<(), TestCaseError> {
    let dockerfile = render(spec);
    check_text(spec, dockerfile.text())?;
    // The build context carries this very Dockerfile.
    let context = build_context(spec);
    prop_assert_eq!(context.dockerfile_sha256(), dockerfile.sha256());
    Ok(())
}

/// [`check_dockerfile`] on given text, so that the checker itself can be tested.
fn check_text(spec: &ImageSpec, text: &str) -> Result<(), TestCaseError> {
    let fail = |what: String| TestCaseError::fail(format!("{what}\n--- Dockerfile ---\n{text}"));

    // The first line is the header comment, never a parser directive (`# key=value`).
    let first = text.lines().next().unwrap_or_default();
    if first != format!("# DS01 Custom Image: {}", spec.name) {
        return Err(fail(format!("unexpected first line {first:?}")));
    }

    let instructions = instructions(text).map_err(fail)?;
    let count = |keyword: &str| instructions.iter().filter(|i| i.keyword == keyword).count();
    let p = &spec.packages;
    let pip_runs = [
        &p.jupyter,
        &p.data_science,
        &p.use_case,
        &p.requirements,
        &p.extra,
    ]
    .iter()
    .filter(|g| !g.is_empty())
    .count();
    let bake = usize::from(spec.user.bake);
    // With pip packages or Jupyter: the Python step (COPY + RUN), the venv step (RUN, two
    // ENV) and, with a baked user, USER before the pip steps and USER root after them.
    let venv = usize::from(spec.needs_venv());
    let runs = usize::from(!p.apt.is_empty())
        + pip_runs
        + 2 * usize::from(spec.configure_jupyter)
        + bake
        + 2 * venv;
    for (keyword, expected) in [
        ("FROM", 1),
        ("WORKDIR", 1),
        ("LABEL", 1 + bake),
        ("RUN", runs),
        // The account's three IDs, and whether its owner's policy allows sudo.
        ("ARG", 4 * bake),
        ("COPY", bake + venv),
        ("ENV", spec.env.len() + 2 * venv),
        ("USER", 2 * venv * bake),
        ("CMD", 1),
    ] {
        if count(keyword) != expected {
            return Err(fail(format!(
                "{} {keyword} instructions, expected {expected}",
                count(keyword)
            )));
        }
    }

    // FROM is expanded by Docker but never quoted: the reference must be plain characters.
    let from = &instructions[0];
    let image = spec.base.image().to_string();
    let plain_ref = |c: char| c.is_ascii_alphanumeric() || "._-:/@[]".contains(c);
    if from.keyword != "FROM" || from.body != image || !image.chars().all(plain_ref) {
        return Err(fail(format!("FROM is {:?}, expected {image:?}", from.body)));
    }

    // Every metacharacter outside quotes in a RUN line is the renderer's own.
    let mut words = Vec::new();
    for run in instructions.iter().filter(|i| i.keyword == "RUN") {
        words.extend(sh_words(&run.body).map_err(fail)?);
    }
    for word in &words {
        let exposed = word.iter().any(|&(c, q)| !q && SHELL_META.contains(&c));
        if exposed && !TEMPLATE_OPERATORS.contains(&plain(word).as_str()) {
            return Err(fail(format!(
                "unquoted metacharacter in the shell word {:?}",
                plain(word)
            )));
        }
    }
    // And every user value arrives as exactly one word, its metacharacters protected.
    for value in run_values(spec) {
        let protected = words
            .iter()
            .any(|w| plain(w) == value && w.iter().all(|&(c, q)| q || !SHELL_META.contains(&c)));
        if !protected {
            return Err(fail(format!(
                "{value:?} does not reach the shell as one quoted word"
            )));
        }
    }

    // LABEL and ENV values decode to exactly the spec's values, with no expansion but ours.
    let labels = key_values(&instructions, "LABEL").map_err(fail)?;
    if labels != expected_labels(spec) {
        return Err(fail(format!(
            "labels decode to {labels:?}, expected {:?}",
            expected_labels(spec)
        )));
    }
    let env = key_values(&instructions, "ENV").map_err(fail)?;
    let mut expected_env: Vec<(String, Vec<DockerChar>)> = Vec::new();
    if spec.needs_venv() {
        expected_env.push(("VIRTUAL_ENV".into(), literal("/opt/ds01/venv")));
        let mut path = literal("/opt/ds01/venv/bin:");
        path.extend(build_arg("PATH"));
        expected_env.push(("PATH".into(), path));
    }
    expected_env.extend(
        spec.env
            .iter()
            .map(|(k, v)| (k.to_string(), literal(v.as_str()))),
    );
    if env != expected_env {
        return Err(fail(format!(
            "ENV decodes to {env:?}, expected {expected_env:?}"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Specs assembled from accepted values
// ---------------------------------------------------------------------------------------------

fn accepted<T, E>(candidates: &[String], parse: impl Fn(&str) -> Result<T, E>) -> Vec<T> {
    candidates.iter().filter_map(|c| parse(c).ok()).collect()
}

fn candidates(grammar: &'static str, max: usize) -> BoxedStrategy<Vec<String>> {
    let one = prop_oneof![
        3 => mutated(grammar),
        1 => grammar.prop_map(|s: String| s),
        1 => hostile(24),
    ];
    prop::collection::vec(one, 0..=max).boxed()
}

/// Raw text for every field of a spec; [`build_spec`] keeps what the parsers accept.
#[derive(Debug, Clone)]
struct RawSpec {
    name: Vec<String>,
    image: Vec<String>,
    aime: Option<[Vec<String>; 3]>,
    owner: Vec<String>,
    use_case: Option<Index>,
    flags: (bool, bool),
    apt: Vec<String>,
    pip: [Vec<String>; 4],
    env: (Vec<String>, Vec<String>),
}

fn raw_spec() -> impl Strategy<Value = RawSpec> {
    let env_values = prop::collection::vec(
        prop_oneof![hostile(30), ENV_VALUE.prop_map(|s: String| s), long()],
        0..6,
    );
    (
        (
            candidates(IMAGE_NAME, 3),
            candidates(IMAGE_REF, 2),
            prop::option::of([
                candidates(CATALOG_WORD, 2),
                candidates(CATALOG_WORD, 2),
                candidates(CATALOG_WORD, 2),
            ]),
            prop::collection::vec(prop_oneof![mutated(LOGIN), hostile(20)], 0..3),
            prop::option::of(any::<Index>()),
            any::<(bool, bool)>(),
        ),
        (
            candidates(APT, 6),
            [
                candidates(PIP, 3),
                candidates(PIP, 3),
                candidates(PIP, 3),
                candidates(PIP, 6),
            ],
            (candidates(ENV_NAME, 6), env_values),
        ),
    )
        .prop_map(
            |((name, image, aime, owner, use_case, flags), (apt, pip, env))| RawSpec {
                name,
                image,
                aime,
                owner,
                use_case,
                flags,
                apt,
                pip,
                env,
            },
        )
}

fn build_spec(raw: &RawSpec) -> ImageSpec {
    let first = |list: &[String], parse: &dyn Fn(&str) -> bool, default: &str| {
        list.iter()
            .find(|s| parse(s))
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    let name = ImageName::parse(&first(&raw.name, &|s| ImageName::parse(s).is_ok(), "x")).unwrap();
    let image = ImageRef::parse(&first(
        &raw.image,
        &|s: &str| ImageRef::parse(s).is_ok(),
        "debian:12",
    ))
    .unwrap();
    let base = match &raw.aime {
        None => Base::Custom { image },
        Some([framework, version, arch]) => {
            let word = |list: &[String], default: &str| {
                first(
                    list,
                    &|s: &str| AimeBase::new(s, "1", "A", image.clone()).is_ok(),
                    default,
                )
            };
            let aime = AimeBase::new(
                &word(framework, "Pytorch"),
                &word(version, "2.8.0"),
                &word(arch, "CUDA_ADA"),
                image,
            )
            .unwrap();
            Base::Aime(aime)
        }
    };
    let mut spec = ImageSpec::new(name, base);
    spec.owner = accepted(&raw.owner, Login::parse).into_iter().next();
    spec.use_case = raw
        .use_case
        .map(|i| UseCase::ALL[i.index(UseCase::ALL.len())]);
    (spec.configure_jupyter, spec.user.bake) = raw.flags;
    for package in accepted(&raw.apt, AptPackage::parse) {
        spec.add_apt(package);
    }
    let [jupyter, data_science, use_case, extra] = &raw.pip;
    spec.packages.jupyter = accepted(jupyter, PipRequirement::parse);
    spec.packages.data_science = accepted(data_science, PipRequirement::parse);
    spec.packages.use_case = accepted(use_case, PipRequirement::parse);
    for requirement in accepted(extra, PipRequirement::parse) {
        spec.add_pip(requirement);
    }
    let (names, values) = &raw.env;
    for (name, value) in names.iter().zip(values) {
        if let (Ok(name), Ok(value)) = (EnvName::parse(name), EnvValue::parse(value)) {
            spec.env.insert(name, value);
        }
    }
    spec
}

// ---------------------------------------------------------------------------------------------
// Spec files and catalog rows
// ---------------------------------------------------------------------------------------------

/// `s` as a TOML basic string, so that the value (not the TOML syntax) is what gets tested.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A spec file with the right structure and valid values, except that one slot (or none)
/// keeps its raw, usually hostile, text: so that files are accepted often enough to be
/// rendered, and every kind of value gets refused through TOML too.
fn spec_file_with_hostile_values() -> BoxedStrategy<String> {
    (raw_spec(), any::<bool>(), 0usize..8)
        .prop_map(|(raw, aime, dirty)| {
            let keep = |slot: usize, list: &[String], ok: &dyn Fn(&str) -> bool| -> Vec<String> {
                list.iter()
                    .filter(|s| slot == dirty || ok(s))
                    .cloned()
                    .collect()
            };
            let pick = |slot: usize, list: &[String], ok: &dyn Fn(&str) -> bool, default: &str| {
                let kept = keep(slot, list, ok);
                kept.first().cloned().unwrap_or_else(|| default.to_owned())
            };
            let catalog_word =
                |s: &str| AimeBase::new(s, "1", "A", ImageRef::parse("a").unwrap()).is_ok();

            let name = pick(0, &raw.name, &|s| ImageName::parse(s).is_ok(), "x");
            let mut text = format!("name = {}\n", toml_string(&name));
            if let Some(owner) = keep(1, &raw.owner, &|s| Login::parse(s).is_ok()).first() {
                text += &format!("owner = {}\n", toml_string(owner));
            }
            text += &format!("configure_jupyter = {}\n[base]\n", raw.flags.0);
            match (&raw.aime, aime) {
                (Some([framework, version, arch]), true) => {
                    text += &format!(
                        "kind = \"aime\"\nframework = {}\nversion = {}\narchitecture = {}\n",
                        toml_string(&pick(2, framework, &catalog_word, "Pytorch")),
                        toml_string(&pick(2, version, &catalog_word, "2.8.0")),
                        toml_string(&pick(2, arch, &catalog_word, "CUDA_ADA")),
                    );
                }
                _ => text += "kind = \"custom\"\n",
            }
            let image = pick(3, &raw.image, &|s| ImageRef::parse(s).is_ok(), "debian:12");
            text += &format!("image = {}\n", toml_string(&image));
            let apt = keep(4, &raw.apt, &|s| AptPackage::parse(s).is_ok());
            text += &format!("[packages]\napt = {}\n", toml_list(&apt));
            let groups = ["jupyter", "data_science", "use_case", "extra"];
            for (group, items) in groups.iter().zip(&raw.pip) {
                let items = keep(5, items, &|s| PipRequirement::parse(s).is_ok());
                text += &format!("{group} = {}\n", toml_list(&items));
            }
            text += "[env]\n";
            let mut names = Vec::new();
            for (name, value) in raw.env.0.iter().zip(&raw.env.1) {
                let valid = EnvName::parse(name).is_ok() && EnvValue::parse(value).is_ok();
                // TOML refuses a key given twice; that is not what this property is about.
                if (dirty == 6 || valid) && !names.contains(name) {
                    text += &format!("{} = {}\n", toml_string(name), toml_string(value));
                    names.push(name.clone());
                }
            }
            text += &format!("[user]\nbake = {}\n", raw.flags.1);
            text
        })
        .boxed()
}

/// Loose lines of TOML: real keys and sections, hostile values, raw garbage.
fn tomlish() -> BoxedStrategy<String> {
    let key = prop::sample::select(vec![
        "name",
        "owner",
        "use_case",
        "configure_jupyter",
        "kind",
        "image",
        "framework",
        "version",
        "architecture",
        "apt",
        "jupyter",
        "extra",
        "bake",
        "HF_HOME",
        "\"A-B\"",
        "base.kind",
    ]);
    let value = prop_oneof![
        3 => hostile(24).prop_map(|s| toml_string(&s)),
        2 => mutated(PIP).prop_map(|s| toml_string(&s)),
        1 => prop::collection::vec(mutated(APT), 0..3).prop_map(|v| toml_list(&v)),
        1 => hostile(12),
        1 => prop::sample::select(vec!["true", "1", "\"custom\"", "\"aime\"", "{}", "[[]]", "\"\"\"\n\"\"\""])
            .prop_map(str::to_owned),
    ];
    let line = prop_oneof![
        4 => (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => prop::sample::select(vec!["[base]", "[packages]", "[env]", "[user]", "[[base]]", ""])
            .prop_map(str::to_owned),
        1 => hostile(20),
    ];
    (any::<bool>(), prop::collection::vec(line, 0..16))
        .prop_map(|(skeleton, lines)| {
            let head = if skeleton {
                "name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"debian:12\"\n"
            } else {
                ""
            };
            format!("{head}{}", lines.join("\n"))
        })
        .boxed()
}

/// A valid spec file with every kind of value in it.
fn rich_spec_file() -> String {
    let image = ImageRef::parse("aimehub/pytorch-2.7.1-aime-cuda11.8.0").unwrap();
    let base = Base::Aime(AimeBase::new("Pytorch", "2.7.1-aime", "CUDA_AMPERE", image).unwrap());
    let mut spec = ImageSpec::with_ds01_defaults(
        ImageName::parse("thesis-cv").unwrap(),
        base,
        Some(UseCase::ComputerVision),
    );
    spec.owner = Some(Login::parse("h.baker@hertie-school.lan").unwrap());
    spec.add_pip(PipRequirement::parse("ray[tune,serve]~=2.9,<3").unwrap());
    spec.add_apt(AptPackage::parse("libc6:amd64=2.36-9+deb12u4").unwrap());
    spec.env.insert(
        EnvName::parse("GREETING").unwrap(),
        EnvValue::parse("say \"hi\" to $USER \\ `now`").unwrap(),
    );
    spec.to_toml_string().unwrap()
}

fn mutated_spec_file() -> BoxedStrategy<String> {
    let rich = rich_spec_file();
    let lines: Vec<String> = rich.lines().map(str::to_owned).collect();
    let line_edit = (any::<Index>(), any::<Index>(), 0u8..3);
    (mutated(Just(rich)), prop::collection::vec(line_edit, 0..3))
        .prop_map(move |(text, edits)| {
            let mut out: Vec<String> = text.lines().map(str::to_owned).collect();
            for (at, from, kind) in edits {
                let i = at.index(out.len() + 1);
                match kind {
                    0 => out.insert(i, lines[from.index(lines.len())].clone()),
                    1 if i < out.len() => {
                        out.remove(i);
                    }
                    _ if i < out.len() => {
                        let j = from.index(out.len());
                        out.swap(i, j);
                    }
                    _ => {}
                }
            }
            out.join("\n")
        })
        .boxed()
}

const PINNED_CATALOG: &str =
    include_str!("../crates/ds01-dockerfile/tests/fixtures/aime-ml_images.repo");

/// The pinned catalog, parsed once: a debug build takes longer to parse it than to run a
/// lookup.
fn pinned_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::parse(PINNED_CATALOG).unwrap())
}

/// A framework, version or architecture of the pinned catalog, in another case now and
/// then, or one with hostile edits.
fn catalog_word(field: fn(&CatalogEntry) -> &String) -> BoxedStrategy<String> {
    let words: Vec<String> = pinned_catalog()
        .entries()
        .iter()
        .map(field)
        .cloned()
        .collect();
    let known = prop::sample::select(words);
    prop_oneof![
        4 => known.clone(),
        1 => known.clone().prop_map(|w| w.to_ascii_lowercase()),
        2 => mutated(known),
        1 => text(CATALOG_WORD),
    ]
    .boxed()
}

fn catalog_line() -> BoxedStrategy<String> {
    let rows: Vec<String> = PINNED_CATALOG.lines().map(str::to_owned).collect();
    let assembled = (
        mutated(CATALOG_WORD),
        mutated(CATALOG_WORD),
        prop::collection::vec(mutated(CATALOG_WORD), 0..3),
        mutated(IMAGE_REF),
    )
        .prop_map(|(framework, version, archs, image)| {
            format!("{framework}, {version}, [{}], {image}", archs.join(";"))
        });
    prop_oneof![
        3 => prop::sample::select(rows.clone()),
        5 => mutated(prop::sample::select(rows)),
        3 => assembled,
        1 => hostile(40),
        1 => prop::sample::select(vec!["", "   ", "# comment", "\t# indented comment"])
            .prop_map(str::to_owned),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Properties: string parsers
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(25_000))]

    #[test]
    fn usernames(login in text(LOGIN)) {
        match Username::from_login(&login) {
            Ok(user) => {
                prop_assert_eq!(Username::parse(user.as_str()), Ok(user.clone()));
                prop_assert!(user.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
            }
            Err(err) => refusal_has_message(&err)?,
        }
        exact(&login, Username::parse)?;
    }

    #[test]
    fn slice_names(group in text(SLICE_GROUP), login in text(LOGIN)) {
        exact(&group, SliceGroup::parse)?;
        match slice_name(&group, &login) {
            Ok(slice) => {
                prop_assert!(slice.as_str().len() <= 255, "{slice} is over systemd's limit");
                prop_assert_eq!(slice.group(), group.as_str());
                prop_assert!(!slice.user().is_empty());
            }
            Err(err) => refusal_has_message(&err)?,
        }
    }

    #[test]
    fn image_references(input in text(IMAGE_REF)) {
        if let Some(image) = exact(&input, ImageRef::parse)? {
            // It reaches `FROM` unquoted, so it must hold no metacharacter Docker would act on.
            prop_assert!(
                input.chars().all(|c| c.is_ascii_alphanumeric() || "._-:/@[]".contains(c)),
                "{input:?} was accepted"
            );
            let tagged = image.tagged_or_latest().to_string();
            prop_assert_eq!(ImageRef::parse(&tagged).map(|r| r.repository().to_owned()), Ok(image.repository().to_owned()));
        }
    }

    #[test]
    fn tags(input in text(TAG)) {
        exact(&input, Tag::parse)?;
    }

    #[test]
    fn image_names(input in text(IMAGE_NAME), uid in any::<u32>()) {
        if let Some(name) = exact(&input, ImageName::parse)? {
            prop_assert_eq!(name.image_ref(uid).to_string(), format!("ds01-{uid}/{name}:latest"));
        }
    }

    #[test]
    fn pip_requirements(input in text(PIP)) {
        if let Some(req) = exact(&input, PipRequirement::parse)? {
            prop_assert!(input.starts_with(req.name()));
            prop_assert!(!req.normalized_name().is_empty());
        }
    }

    #[test]
    fn apt_packages(input in text(APT)) {
        if let Some(package) = exact(&input, AptPackage::parse)? {
            prop_assert!(input.starts_with(package.name()));
        }
    }

    #[test]
    fn env_names_and_values(name in text(ENV_NAME), value in text(ENV_VALUE)) {
        exact(&name, EnvName::parse)?;
        exact(&value, EnvValue::parse)?;
    }

    #[test]
    fn logins_and_use_cases(login in text(LOGIN), use_case in text("ml|cv|nlp|rl|audio|ts|llm|custom")) {
        exact(&login, Login::parse)?;
        exact(&use_case, |s: &str| s.parse::<UseCase>())?;
    }

    #[test]
    fn container_names(input in text(CONTAINER_NAME), uid in any::<u32>()) {
        if let Some(name) = exact(&input, |s: &str| s.parse::<ContainerName>())? {
            let docker_name = name.owned_by(uid);
            prop_assert_eq!(OwnedContainer::parse(&docker_name), Some(docker_name.clone()));
            prop_assert_eq!(OwnedContainer::parse(&format!("/{docker_name}")), Some(docker_name.clone()));
            // The commit flow tags images with it.
            prop_assert!(Tag::parse(&docker_name).is_ok(), "{docker_name:?} is not a tag");
        }
        // Names read back from the engine are outside text too.
        let _ = OwnedContainer::parse(&input);
    }

    #[test]
    fn gpu_requests(input in text(GPUS)) {
        match input.parse::<GpuRequest>() {
            Ok(request) => {
                prop_assert_ne!(&request, &GpuRequest::CpuOnly);
                prop_assert_eq!(request.to_string().parse::<GpuRequest>(), Ok(request.clone()));
                prop_assert!(ds01_engine::device_request(&request).is_some());
            }
            Err(err) => refusal_has_message(&err)?,
        }
    }

    #[test]
    fn byte_sizes(input in text(BYTES)) {
        match input.parse::<Size>() {
            Ok(size) => prop_assert!(size.bytes() > 0),
            Err(err) => refusal_has_message(&err)?,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: `--as`, extra labels and the container create request
// ---------------------------------------------------------------------------------------------

fn id_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<u32>().prop_map(|n| n.to_string()),
        2 => prop::sample::select(vec![
            "0", "00", "1", "4294967295", "4294967294", "4294967296", "-1", "+5", " 5", "0x10",
            "٣", "", "1e3", "007",
        ])
        .prop_map(str::to_owned),
        1 => hostile(4),
    ]
    .boxed()
}

fn as_spec() -> BoxedStrategy<String> {
    prop_oneof![
        4 => (text(LOGIN), id_text(), id_text()).prop_map(|(l, u, g)| format!("{l}:{u}:{g}")),
        1 => text(r"[a-z.@]{0,10}(:[0-9]{0,4}){0,4}"),
    ]
    .boxed()
}

/// Keys ds01 writes on every container.
fn own_container_keys() -> Vec<&'static str> {
    use container_labels::*;
    vec![
        MLC,
        NAME,
        USER,
        ARCH,
        MLC_VERSION,
        WORK_MOUNT,
        DATA_MOUNT,
        MODELS_MOUNT,
        FRAMEWORK,
        ds01_labels::gpu::MLC_GPUS,
        DS01_MANAGED,
        CUSTOM_IMAGE,
        MANAGED,
        DS01_USER,
        DS01_USER_SANITIZED,
        CREATED_AT,
        USER_SETUP,
    ]
}

fn extra_label() -> BoxedStrategy<String> {
    let own_key = prop::sample::select(own_container_keys()).prop_map(str::to_owned);
    let key = prop_oneof![
        3 => mutated(own_key),
        2 => mutated(r"(aime\.mlc|ds01|com\.example)(\.[A-Za-z_]{1,8}){0,2}(/[a-z]{1,4})?"),
        1 => hostile(12),
    ];
    prop_oneof![
        6 => (key, hostile(24)).prop_map(|(k, v)| format!("{k}={v}")),
        1 => text(r"[a-z.]{0,12}=?[a-z]{0,6}"),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(cases(25_000))]

    #[test]
    fn as_specs(spec in as_spec()) {
        match Identity::parse_spec(&spec) {
            Ok(id) => {
                prop_assert_ne!(id.uid(), 0);
                prop_assert!(!id.login().is_empty());
                prop_assert_eq!(Username::parse(id.username().as_str()), Ok(id.username().clone()));
                let again = Identity::parse_spec(&format!("{}:{}:{}", id.login(), id.uid(), id.gid()));
                prop_assert_eq!(again.ok(), Some(id.clone()));
                // Image builds turn it into build arguments: never root's IDs nor "no ID".
                prop_assert!(![0, u32::MAX].contains(&id.gid()) && id.uid() != u32::MAX);
                let args: HashMap<String, String> = id.build_args().into_iter().collect();
                prop_assert_eq!(&args["DS01_USER_ID"], &id.uid().to_string());
                prop_assert_eq!(&args["DS01_GROUP_ID"], &id.gid().to_string());
            }
            Err(err) => refusal_has_message(&err)?,
        }
    }
}

/// The labels of the create request for `who`'s container `thesis`.
fn create_labels(
    who: &Identity,
    provenance: &Provenance,
    options: &ContainerOptions,
) -> HashMap<String, String> {
    let name = ContainerName::new("thesis").unwrap();
    let spec = ContainerSpec {
        who,
        name: &name,
        image: "ds01-1722830498/thesis:latest",
        provenance,
        options,
        user_setup: UserSetup::Baked,
        resource_labels: &[],
        created_at: "2026-11-27T12:00:00Z",
    };
    spec.labels()
}

proptest! {
    #![proptest_config(cases(8_000))]

    #[test]
    fn extra_labels_never_replace_ds01s_own(
        pairs in prop::collection::vec(extra_label(), 0..8),
        login in mutated(LOGIN),
        catalog in any::<bool>(),
    ) {
        let mut extras = Vec::new();
        for pair in &pairs {
            match parse_extra_label(pair) {
                Ok((key, value)) => {
                    prop_assert!(!value.chars().any(char::is_control));
                    prop_assert!(!own_container_keys().contains(&key.as_str()), "{key} accepted");
                    extras.push((key, value));
                }
                Err(err) => refusal_has_message(&err)?,
            }
        }
        let who = Identity::new(&login, 1_722_830_498, 1_722_800_513)
            .unwrap_or_else(|_| Identity::new("h.baker@hertie-school.lan", 1_722_830_498, 1_722_800_513).unwrap());
        let provenance = if catalog {
            Provenance::Catalog { framework: "Pytorch".into(), version: "2.5.1".into() }
        } else {
            Provenance::Custom("ds01-1722830498/thesis:latest".into())
        };
        let with_extras = ContainerOptions { labels: extras.clone(), ..ContainerOptions::default() };
        let own = create_labels(&who, &provenance, &ContainerOptions::default());
        let labels = create_labels(&who, &provenance, &with_extras);
        for key in own_container_keys() {
            prop_assert!(own.contains_key(key), "ds01 no longer sets {key}");
        }
        for (key, value) in &own {
            prop_assert_eq!(labels.get(key), Some(value), "{} was replaced", key);
        }
        for (key, value) in &labels {
            if !own.contains_key(key) {
                let first = extras.iter().find(|(k, _)| k == key).map(|(_, v)| v);
                prop_assert_eq!(first, Some(value));
            }
        }
    }
}

/// Lines of an image's `/etc/passwd` or `/etc/group`: the account ds01 looks for, near
/// misses of it, other accounts, garbage. Images are built by users, so these are outside
/// text as much as a command line is.
fn account_file(lines: &'static [&'static str]) -> BoxedStrategy<String> {
    let line = prop_oneof![
        4 => prop::sample::select(lines).prop_map(str::to_owned),
        4 => mutated(prop::sample::select(lines).prop_map(str::to_owned)),
        1 => hostile(30),
        1 => any::<String>(),
    ];
    prop::collection::vec(line, 0..6)
        .prop_map(|lines| lines.join("\n"))
        .boxed()
}

const PASSWD_LINES: &[&str] = &[
    "h-baker:x:1722830498:1722800513::/home/h-baker:/bin/bash",
    "root:x:0:0:root:/root:/bin/bash",
    "ubuntu:x:1000:1000:Ubuntu:/home/ubuntu:/bin/bash",
    "h-baker:x:1000:1000::/home/h-baker:/bin/sh",
];
const GROUP_LINES: &[&str] = &["root:x:0:", "h-baker:x:1722800513:", "users:x:100:h-baker"];

proptest! {
    #![proptest_config(cases(10_000))]

    #[test]
    fn image_account_files(passwd in account_file(PASSWD_LINES), group in account_file(GROUP_LINES)) {
        let who = Identity::new("h.baker@hertie-school.lan", 1_722_830_498, 1_722_800_513).unwrap();
        match check_account(&passwd, &group, &who) {
            Ok(()) => {
                // Accepted only if the first well-formed entry with the UID (the one NSS
                // returns; lines whose IDs are not numbers are skipped) is the account
                // exactly as ds01 sets it up.
                let fields = |line: &str| line.split(':').map(str::to_owned).collect::<Vec<_>>();
                let account = passwd.lines().map(fields).find(|f| {
                    f.len() >= 7
                        && f[3].parse::<u32>().is_ok()
                        && f[2].parse::<u32>() == Ok(who.uid())
                });
                let f = account.ok_or_else(|| TestCaseError::fail("no entry has the UID"))?;
                prop_assert_eq!(f[0].as_str(), who.username().as_str());
                prop_assert_eq!(f[3].parse::<u32>(), Ok(who.gid()));
                prop_assert_eq!(f[5].clone(), format!("/home/{}", who.username()));
                let has_group = group.lines().map(fields).any(|g| {
                    g.len() >= 3 && g[2].parse::<u32>() == Ok(who.gid())
                });
                prop_assert!(has_group);
            }
            Err(reason) => prop_assert!(!reason.trim().is_empty()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: rendering, spec files, catalog rows
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(2_500))]

    #[test]
    fn rendered_dockerfiles_quote_every_user_value(raw in raw_spec()) {
        let spec = build_spec(&raw);
        check_dockerfile(&spec)?;
        let text = spec.to_toml_string().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = ImageSpec::from_toml_str(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(again, spec);
    }
}

/// A parsed spec file renders safely and survives a save and load.
fn check_spec_file(text: &str) -> Result<(), TestCaseError> {
    match ImageSpec::from_toml_str(text) {
        Ok(spec) => {
            check_dockerfile(&spec)?;
            let saved = spec
                .to_toml_string()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let again = ImageSpec::from_toml_str(&saved)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{saved}")))?;
            prop_assert_eq!(again, spec);
        }
        Err(err) => refusal_has_message(&err)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(4_000))]

    #[test]
    fn spec_files_with_hostile_values(text in spec_file_with_hostile_values()) {
        check_spec_file(&text)?;
    }

    #[test]
    fn mutated_spec_files(text in mutated_spec_file()) {
        check_spec_file(&text)?;
    }

    #[test]
    fn arbitrary_toml(text in prop_oneof![tomlish(), any::<String>(), hostile(200)]) {
        check_spec_file(&text)?;
    }

    #[test]
    fn catalog_rows(lines in prop::collection::vec(catalog_line(), 0..8)) {
        let text = lines.join("\n");
        match Catalog::parse(&text) {
            Ok(catalog) => {
                for entry in catalog.entries() {
                    let row = entry.to_string();
                    let again = Catalog::parse(&row).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(again.entries(), std::slice::from_ref(entry));
                }
                // A row that parses can become a base image: render it.
                if let Some(entry) = catalog.entries().first() {
                    let base = AimeBase::from_catalog(entry, &entry.architectures[0])
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Aime(base));
                    check_dockerfile(&spec)?;
                }
            }
            Err(CatalogError::Syntax { line, text: row, reason }) => {
                let all: Vec<&str> = text.lines().collect();
                prop_assert!((1..=all.len()).contains(&line), "line {} of {}", line, all.len());
                prop_assert_eq!(row.as_str(), all[line - 1]);
                prop_assert!(!reason.trim().is_empty());
                let message = Catalog::parse(&text).unwrap_err().to_string();
                prop_assert!(message.contains(&format!("line {line}")), "{}", message);
                // It names the first bad line: that one fails alone, the ones before it pass.
                prop_assert!(Catalog::parse(all[line - 1]).is_err());
                prop_assert!(Catalog::parse(&all[..line - 1].join("\n")).is_ok());
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        }
    }
}

proptest! {
    #![proptest_config(cases(20_000))]

    #[test]
    fn catalog_lookups(
        framework in catalog_word(|e| &e.framework),
        version in prop::option::of(catalog_word(|e| &e.version)),
        arch in catalog_word(|e| &e.architectures[0]),
    ) {
        let catalog = pinned_catalog();
        match catalog.resolve(&framework, version.as_deref(), &arch) {
            Ok(entry) => {
                prop_assert!(entry.framework.eq_ignore_ascii_case(&framework));
                prop_assert!(entry.supports(&arch));
                if let Some(version) = &version {
                    prop_assert_eq!(&entry.version, version);
                }
            }
            Err(err) => refusal_has_message(&err)?,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals must not replay control characters to the terminal
// ---------------------------------------------------------------------------------------------

/// Every refusal message each parser gives for `input`, named by parser.
fn refusal_messages(input: &str) -> Vec<(&'static str, String)> {
    fn message<T>(
        what: &'static str,
        r: Result<T, impl Display>,
    ) -> Option<(&'static str, String)> {
        r.err().map(|e| (what, e.to_string()))
    }
    let catalog = pinned_catalog();
    let who = Identity::new("alice", 1000, 1000).unwrap();
    [
        message("Username::from_login", Username::from_login(input)),
        message("Username::parse", Username::parse(input)),
        message("slice_name", slice_name(input, "alice")),
        message("ImageRef", ImageRef::parse(input)),
        message("Tag", Tag::parse(input)),
        message("ImageName", ImageName::parse(input)),
        message("PipRequirement", PipRequirement::parse(input)),
        message("AptPackage", AptPackage::parse(input)),
        message("EnvName", EnvName::parse(input)),
        message("EnvValue", EnvValue::parse(input)),
        message("Login", Login::parse(input)),
        message("UseCase", input.parse::<UseCase>()),
        message("Catalog::parse", Catalog::parse(input)),
        message("Catalog::resolve", catalog.resolve(input, None, "CUDA_ADA")),
        message("ContainerName", ContainerName::new(input)),
        message("GpuRequest", input.parse::<GpuRequest>()),
        message("Size", input.parse::<Size>()),
        message("parse_extra_label", parse_extra_label(input)),
        message("Identity::parse_spec", Identity::parse_spec(input)),
        message(
            "Identity::parse_spec (login)",
            Identity::parse_spec(&format!("{input}:1000:1000")),
        ),
        message(
            "check_account (account name in /etc/passwd)",
            check_account(
                &format!("{input}:x:1000:1000::/home/x:/bin/sh"),
                "x:x:1000:",
                &who,
            ),
        ),
        message(
            "check_account (home in /etc/passwd)",
            check_account(
                &format!("alice:x:1000:1000::{input}:/bin/sh"),
                "x:x:1000:",
                &who,
            ),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

proptest! {
    #![proptest_config(cases(5_000))]

    /// A hostile name echoed raw could move the cursor, clear the screen or hide text on the
    /// terminal that shows the error; ds01-username escapes such characters, so must the rest.
    #[test]
    fn refusals_escape_control_characters(input in with_control()) {
        for (parser, message) in refusal_messages(&input) {
            prop_assert!(
                !message.chars().any(char::is_control),
                "{} shows a raw control character: {:?}", parser, message
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions: exact inputs the properties found
// ---------------------------------------------------------------------------------------------

/// The one identity refuses what an image account cannot be (GID 0, the ID 4294967295),
/// so every accepted `LOGIN:UID:GID` gives build arguments.
#[test]
fn every_accepted_as_spec_gives_a_build_identity() {
    assert!(Identity::parse_spec("alice:1000:1000").is_ok());
    for refused in [
        "alice:1000:0",
        "alice:4294967295:1000",
        "alice:1000:4294967295",
    ] {
        assert!(Identity::parse_spec(refused).is_err(), "{refused}");
    }
}

/// The checker must catch what it is there to catch: each tampered Dockerfile is one a
/// broken quoting function could produce.
#[test]
fn the_dockerfile_checker_catches_leaks() {
    let mut spec = ImageSpec::from_toml_str(&rich_spec_file()).unwrap();
    spec.packages
        .extra
        .push(PipRequirement::parse("pkg[x]>=1,<2").unwrap());
    spec.owner = Some(Login::parse("m@x;$(id)").unwrap());
    let text = render(&spec).text().to_owned();
    check_text(&spec, &text).unwrap();

    for (from, to) in [
        // A pip requirement without its quotes: `<` and `[` reach the shell.
        ("'pkg[x]>=1,<2'", "pkg[x]>=1,<2"),
        // A requirement split into two words.
        ("'pkg[x]>=1,<2'", "'pkg[x]>=1' '<2'"),
        // A value that brings its own line break and instruction.
        ("        'pkg[x]>=1,<2'", "        'pkg[x]>=1,<2'\nRUN id"),
        ("\nCMD", "\n# x\nRUN id\nCMD"),
        ("# Author: m@x;$(id)", "# Author: m@x\nRUN id"),
        // A quote left open swallows the rest of the command.
        ("'pkg[x]>=1,<2'", "'pkg[x]>=1,<2"),
        // A label or ENV value whose `$` Docker would expand, or whose quote ends early.
        ("m@x;\\$(id)", "m@x;$(id)"),
        ("say \\\"hi\\\"", "say \"hi\""),
        // A comment line inside a continuation, and a FROM that is not the base.
        ("    && rm -rf", "# x\n    && rm -rf"),
        ("FROM aimehub/", "FROM $X aimehub/"),
    ] {
        assert!(text.contains(from), "{from:?} is not in\n{text}");
        let tampered = text.replacen(from, to, 1);
        assert!(
            check_text(&spec, &tampered).is_err(),
            "the checker accepted {to:?} for {from:?}"
        );
    }
}
