//! A command run on a terminal without its NAME offers the user's containers (or images)
//! as a pick-list, then runs as if the name had been typed. Without a terminal on stdin
//! and stderr nothing is asked: clap's usual error stands (exit status 2).

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use ds01_api::endpoints::{ListContainers, ListImages};

use crate::complete::ask;
use crate::prompt;

/// The command line with the picked name in it, or `None` when `err` is not a missing
/// NAME of a command that names a container or image, or nothing was picked.
pub fn offer(err: &clap::Error) -> Option<Vec<OsString>> {
    if err.kind() != ErrorKind::MissingRequiredArgument || !prompt::interactive() {
        return None;
    }
    match err.get(ContextKind::InvalidArg) {
        // `<NAME>`, or `<NAME|--all>` where `--all` may stand for it.
        Some(ContextValue::Strings(missing))
            if missing.len() == 1 && matches!(missing[0].as_str(), "<NAME>" | "<NAME|--all>") => {}
        _ => return None,
    }
    let args: Vec<OsString> = std::env::args_os().collect();
    let (words, as_user) = scan(&args[1..]);
    let what = match (
        words.first().map(String::as_str),
        words.get(1).map(String::as_str),
    ) {
        (Some("container"), Some(verb)) if verb != "create" => What::Container,
        (Some("why"), _) => What::Container,
        (Some("image"), Some(verb)) if !matches!(verb, "create" | "import") => What::Image,
        _ => return None,
    };
    let mut choices: Vec<(String, String)> = match what {
        What::Container => ask(&ListContainers::default(), as_user)?
            .into_iter()
            .map(|c| (c.name, c.state))
            .collect(),
        What::Image => ask(&ListImages, as_user)?
            .into_iter()
            .map(|i| (i.name, i.image))
            .collect(),
    };
    choices.sort();
    let question = match what {
        What::Container => "Which container?",
        What::Image => "Which image?",
    };
    let index = prompt::pick(question, &choices).ok()??;
    let name = OsString::from(&choices[index].0);
    let mut args = args;
    // Before `--` (exec's command), else at the end.
    match args.iter().position(|a| a == "--") {
        Some(at) => args.insert(at, name),
        None => args.push(name),
    }
    Some(args)
}

enum What {
    Container,
    Image,
}

/// The words before any `--` that are not flags (the noun and verb come first), and
/// `--as`'s value.
fn scan(args: &[OsString]) -> (Vec<String>, Option<String>) {
    let mut words = Vec::new();
    let mut as_user = None;
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        } else if arg == "--as" {
            as_user = args.next();
        } else if let Some(value) = arg.strip_prefix("--as=") {
            as_user = Some(value.to_owned());
        } else if !arg.starts_with('-') {
            words.push(arg);
        }
    }
    (words, as_user)
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn finds_noun_verb_and_the_acting_user() {
        let args: Vec<std::ffi::OsString> =
            ["--as", "bob", "-q", "container", "exec", "-i", "--", "ls"]
                .iter()
                .map(Into::into)
                .collect();
        let (words, as_user) = scan(&args);
        assert_eq!(words, ["container", "exec"]);
        assert_eq!(as_user.as_deref(), Some("bob"));
    }
}
