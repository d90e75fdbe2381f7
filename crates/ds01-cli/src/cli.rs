//! The command line: global flags and one variant per noun (`ds01 <noun> <verb>`).

use clap::{Args, Parser, Subcommand};

use crate::commands::username::UsernameArgs;

const AFTER_HELP: &str = "\
Examples:
  ds01 username sanitize h.baker@hertie-school.lan
  getent passwd | cut -d: -f1 | ds01 username sanitize --json
  ds01 username slice --group student h.baker@hertie-school.lan

Exit status:
  0  success
  1  the command ran but failed (for example a name that cannot be mapped)
  2  usage error: unknown command or option, missing or invalid argument

Run `ds01 <command> --help` for the details of each command.";

/// Gives each user of a shared GPU server Docker containers that run as their own account.
#[derive(Debug, Parser)]
#[command(
    name = "ds01",
    version,
    after_help = AFTER_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts, before or after the command name.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print results as JSON, one object per line (each command's help shows the fields)
    #[arg(long, global = true)]
    pub json: bool,

    /// Print no messages on stderr; the exit status still tells success from failure
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more about what is done on stderr (repeat for more detail)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Map LDAP login names to container account and systemd slice names
    Username(UsernameArgs),
}
