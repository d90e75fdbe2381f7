//! `ds01`: parse the command line, run one command, turn the outcome into an exit status.

mod cli;
mod client;
mod commands;
mod context;
mod exit;
mod output;
mod prompt;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::parse_error(&err),
    };
    match commands::run(&cli) {
        Ok(status) => status.into(),
        Err(err) => err.report(),
    }
}
