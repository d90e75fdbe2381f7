//! Shell completion that knows the user's container and image names, asked of ds01d while
//! the user presses TAB (clap_complete's dynamic engine): the shell calls `ds01` with
//! `COMPLETE=<shell>` and the words typed so far, and `ds01` prints the candidates.
//!
//! Which arguments name what is decided here, once, by walking the command tree: every
//! positional NAME of `container <verb>` is a container (of `container create`: an image,
//! since a container is usually named after its image), every NAME of `image <verb>` an
//! image (but not of `create` and `import`, which name new ones), and `why`'s a container.
//! New commands with a NAME get completion without further code.

use clap::{Command, CommandFactory};
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use clap_complete::CompleteEnv;
use ds01_api::endpoints::{ListContainers, ListImages};
use ds01_api::Endpoint;

use crate::cli::{Cli, GlobalArgs};
use crate::context::Context;

/// The environment variable the shell scripts set to ask for candidates.
const VAR: &str = "COMPLETE";

/// Answers a completion request and exits, when the shell made one (`COMPLETE` is set);
/// otherwise returns at once.
pub fn from_env() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// The command line with its name candidates attached.
pub fn command() -> Command {
    let cmd = Cli::command();
    let cmd = mut_verbs(cmd, "container", |verb| match verb {
        "create" => Some(images),
        _ => Some(containers),
    });
    let cmd = mut_verbs(cmd, "image", |verb| match verb {
        "create" | "import" => None,
        _ => Some(images),
    });
    cmd.mut_subcommand("why", |why| with_names(why, containers))
}

type Candidates = fn() -> Vec<CompletionCandidate>;

fn mut_verbs(cmd: Command, noun: &str, pick: impl Fn(&str) -> Option<Candidates>) -> Command {
    cmd.mut_subcommand(noun, |noun| {
        let verbs: Vec<String> = noun
            .get_subcommands()
            .map(|v| v.get_name().to_owned())
            .collect();
        verbs.iter().fold(noun, |noun, verb| match pick(verb) {
            Some(candidates) => noun.mut_subcommand(verb, |v| with_names(v, candidates)),
            None => noun,
        })
    })
}

fn with_names(cmd: Command, candidates: Candidates) -> Command {
    if cmd
        .get_arguments()
        .any(|a| a.get_id() == "name" && a.is_positional())
    {
        cmd.mut_arg("name", |a| a.add(ArgValueCandidates::new(candidates)))
    } else {
        cmd
    }
}

/// The user's containers, with their state as the description.
fn containers() -> Vec<CompletionCandidate> {
    ask(&ListContainers::default(), None)
        .unwrap_or_default()
        .into_iter()
        .map(|c| CompletionCandidate::new(c.name).help(Some(c.state.into())))
        .collect()
}

/// The user's images (built or only specified).
fn images() -> Vec<CompletionCandidate> {
    ask(&ListImages, None)
        .unwrap_or_default()
        .into_iter()
        .map(|i| CompletionCandidate::new(i.name).help(Some(i.image.into())))
        .collect()
}

/// One GET to ds01d, for `as_user` if given; `None` when it cannot answer (completion then
/// offers nothing rather than printing errors into the user's command line).
pub(crate) fn ask<E: Endpoint>(endpoint: &E, as_user: Option<String>) -> Option<E::Answer> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let global = GlobalArgs {
            json: true,
            quiet: true,
            verbose: 0,
            as_user,
        };
        let ctx = Context::new(&global).await.ok()?;
        ctx.client.ask(endpoint).await.ok()
    })
}

/// The script that registers dynamic completion with `shell` (what `COMPLETE=<shell> ds01`
/// prints), or `None` for a shell the dynamic engine does not serve.
pub fn registration(shell: clap_complete::Shell) -> Option<Vec<u8>> {
    let adapter: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Zsh => &Zsh,
        clap_complete::Shell::Fish => &Fish,
        clap_complete::Shell::Elvish => &Elvish,
        clap_complete::Shell::PowerShell => &Powershell,
        _ => return None,
    };
    // The program the shell calls back, as this one was called (like `COMPLETE=bash ds01`):
    // `ds01` from PATH stays `ds01`, so the script survives reinstalls.
    let completer = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .map(|p| {
            if p.components().count() > 1 {
                crate::context::absolute(&p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| "ds01".into());
    let mut script = Vec::new();
    adapter
        .write_registration(
            VAR,
            "ds01",
            "ds01",
            &completer.to_string_lossy(),
            &mut script,
        )
        .ok()?;
    if shell == clap_complete::Shell::Zsh {
        // Installed as `_ds01` in zsh's fpath (as packages do), the script is the body of a
        // function zsh autoloads at the first TAB: it must complete then too, not only bind
        // the completer for the next TAB. Sourced, it only binds, as before.
        script.extend_from_slice(
            b"if [[ ${funcstack[1]} == _ds01 ]]; then _clap_dynamic_completer_ds01 \"$@\"; fi\n",
        );
    }
    Some(script)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_get_candidates_where_they_name_something_that_exists() {
        let cmd = super::command();
        let has = |noun: &str, verb: &str| {
            cmd.find_subcommand(noun)
                .and_then(|n| n.find_subcommand(verb))
                .and_then(|v| v.get_arguments().find(|a| a.get_id() == "name"))
                .is_some_and(|a| {
                    a.get::<clap_complete::engine::ArgValueCandidates>()
                        .is_some()
                })
        };
        assert!(has("container", "open"));
        assert!(has("container", "remove"));
        assert!(has("container", "jupyter"));
        assert!(has("image", "update"));
        assert!(!has("image", "create"));
    }
}
