//! One module per noun; each turns its arguments into an [`ExitStatus`] or a [`CliError`].

pub mod username;

use crate::cli::{Cli, Command};
use crate::exit::{CliError, ExitStatus};

/// Runs the command the user asked for.
pub fn run(cli: &Cli) -> Result<ExitStatus, CliError> {
    match &cli.command {
        Command::Username(args) => username::run(args, &cli.global),
    }
}
