//! `ds01`: parse the command line, run one command, turn the outcome into an exit status.

mod cli;
mod client;
mod commands;
mod complete;
mod context;
mod exit;
mod output;
#[allow(dead_code)] // its callers (remove, pick-lists) land next
mod prompt;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A shell asking for completion candidates (TAB) gets them and nothing else.
    complete::from_env();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::parse_error(&err),
    };
    match commands::run(&cli) {
        Ok(status) => status.into(),
        Err(err) => err.report(),
    }
}
