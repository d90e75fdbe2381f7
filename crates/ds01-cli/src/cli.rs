//! The command line: global flags and one variant per noun (`ds01 <noun> <verb>`).

use clap::{Args, Parser, Subcommand};

use crate::commands::admin::AdminArgs;
use crate::commands::container::ContainerArgs;
use crate::commands::events::EventsArgs;
use crate::commands::image::ImageArgs;
use crate::commands::usage::UsageArgs;
use crate::commands::username::UsernameArgs;

const AFTER_HELP: &str = "\
Examples:
  ds01 image create thesis --base ubuntu:24.04 --pip 'transformers>=4.30'
  ds01 container create thesis --cpu-only --start
  ds01 container open thesis
  ds01 username sanitize h.baker@hertie-school.lan

ds01 is a client of the ds01d service, which runs your containers as your own account
and applies the server's policy. It finds the service at $DS01_SOCKET, else `socket` in
/etc/ds01/config.toml, else /run/ds01/ds01.sock.

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
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Print no messages on stderr; the exit status still tells success from failure
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    pub quiet: bool,

    /// Print more about what is done on stderr (repeat for more detail)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,

    /// Act for another user: LOGIN, or LOGIN:UID:GID for an account this host does not
    /// know (root and the admin group only; ds01d checks)
    #[arg(
        long = "as",
        value_name = "LOGIN",
        global = true,
        help_heading = "Global options"
    )]
    pub as_user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build and manage your images (`ds01-<uid>/<name>:latest`)
    Image(ImageArgs),
    /// Create, run and remove your containers (`<name>._.<uid>`)
    Container(ContainerArgs),
    /// Map LDAP login names to container account and systemd slice names
    Username(UsernameArgs),
    /// Check that the ds01 service, the Docker engine behind it and its storage are usable
    Doctor,
    /// Print the DOCKER_HOST line for your own docker CLI, docker-compose and Docker SDKs
    ///
    /// The line points them at ds01d's Docker-API socket, where they see only your
    /// containers and every create follows the server's policy. Use it as
    /// `eval "$(ds01 docker-env)"`, or put its output in your ~/.bashrc.
    DockerEnv,
    /// Show the server's GPUs (free or taken), the line of --wait requests, and your
    /// containers with the time left before the reaper stops them
    Status,
    /// Show your limits on this server, where each comes from, and what you use now
    Limits,
    /// Show the GPU, CPU and memory time your containers used (GPU-hours, idle ones too)
    Usage(UsageArgs),
    /// Show what ds01d did to your containers (created, stopped and why, warnings, GPUs)
    Events(EventsArgs),
    /// Tell the story of one container: why it stopped, when it was warned
    Why {
        /// The container name
        name: ds01_api::ContainerName,
    },
    /// Admin tools: GPU holdings, usage and reports, importing DS01's limits
    Admin(AdminArgs),
    /// Print a shell completion script; it completes your container and image names too
    #[command(
        after_help = "Load it from your shell's startup file, so it matches the installed ds01:\n  \
        bash: source <(ds01 completions bash)        in ~/.bashrc\n  \
        zsh:  source <(ds01 completions zsh)         in ~/.zshrc\n  \
        fish: ds01 completions fish | source         in ~/.config/fish/config.fish\n\
        Names come from ds01d as you press TAB: your own containers and images only."
    )]
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `ds01 man | man -l -`)
    Man {
        /// Write a page for every command into DIR instead (`ds01.1`,
        /// `ds01-container-create.1`, ...), as packages install them
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
