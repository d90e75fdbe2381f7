//! `ds01`: parse the command line, run one command, turn the outcome into an exit status.

mod cli;
mod client;
mod commands;
mod complete;
mod context;
mod exit;
mod missing_name;
mod output;
mod prompt;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A shell asking for completion candidates (TAB) gets them and nothing else.
    complete::from_env();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => match missing_name::offer(&err).map(cli::Cli::try_parse_from) {
            Some(Ok(cli)) => cli,
            Some(Err(again)) => return exit::parse_error(&again),
            None => return exit::parse_error(&err),
        },
    };
    match commands::run(&cli) {
        Ok(status) => status.into(),
        Err(err) => err.report(),
    }
}
