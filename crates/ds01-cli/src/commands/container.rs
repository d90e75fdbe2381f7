//! `ds01 container ...`: the user's containers, by DS01's names and labels, so containers
//! made by DS01's `mlc` scripts are listed and handled too.

use clap::{Args, Subcommand};
use ds01_api::endpoints::{BulkVerb, KeepAlive, PauseContainer, UnpauseContainer};
use ds01_api::{ContainerName, KeepAliveRequest};
use ds01_dockerfile::PipRequirement;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

mod actions;
mod code;
mod cp;
mod create;
mod format;
mod jupyter;
mod list;
mod logs;
mod maintain;
mod recreate;
mod remove;
mod session;

pub(crate) use actions::outcomes_shown;
use recreate::{recreate, RECREATE_AFTER_HELP};
use remove::{remove, RemoveArgs, REMOVE_AFTER_HELP};

use code::{code, CodeArgs, CODE_AFTER_HELP};
use create::{create, CreateArgs, CREATE_AFTER_HELP};
use jupyter::{jupyter, JupyterArgs, JUPYTER_AFTER_HELP};
use list::list;
use maintain::{install, stats};

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ContainerArgs {
    #[command(subcommand)]
    command: ContainerCommand,
}

#[derive(Debug, Subcommand)]
enum ContainerCommand {
    /// Create a container `<NAME>._.<uid>` that runs as your account
    #[command(after_help = CREATE_AFTER_HELP, disable_version_flag = true)]
    Create(Box<CreateArgs>),
    /// List your containers (or everybody's with --all-users)
    #[command(after_help = LIST_AFTER_HELP)]
    List {
        /// List the containers of every user
        #[arg(long)]
        all_users: bool,
        /// Only containers with KEY=VALUE (repeatable): name=, image= (with * wildcards),
        /// state=, gpu= (none, any, or a slot or UUID)
        #[arg(long, value_name = "KEY=VALUE")]
        filter: Vec<ds01_api::ContainerFilter>,
        /// table, json, or a template such as '{{.Name}} {{.State}}'
        #[arg(long, value_name = "FORMAT", default_value = "table")]
        format: format::ListFormat,
    },
    /// Start a container, or all your stopped ones with --all
    Start(actions::Targets),
    /// Stop a container (or all your running ones): SIGTERM, then SIGKILL after the grace period
    Stop(actions::TimedTargets),
    /// Restart a container (or all your running ones); its GPUs are bound again only if free
    Restart(actions::TimedTargets),
    /// Freeze a running container's processes (its GPUs stay held; idle timers go on)
    Pause(NameArg),
    /// Let a paused container's processes run again
    Unpause(NameArg),
    /// Show a container: image, user setup, GPUs, mounts, limits, labels, state
    Show(NameArg),
    /// Print a container's output (stdout and stderr apart)
    #[command(
        after_help = "Examples:\n  ds01 container logs thesis --tail 50\n  ds01 container logs -f thesis"
    )]
    Logs(logs::LogsArgs),
    /// Copy files between a container and here, as your account on both sides
    #[command(after_help = CP_AFTER_HELP)]
    Cp(cp::CpArgs),
    /// Remove a container and its own image or tag; its home volume is kept unless --volumes
    #[command(after_help = REMOVE_AFTER_HELP)]
    Remove(RemoveArgs),
    /// Make a container again from its (updated) image, with the options it had
    #[command(after_help = RECREATE_AFTER_HELP)]
    Recreate(NameArg),
    /// Open an interactive shell in a container as your account, starting it if needed
    Open(NameArg),
    /// Run a command in a running container as your account, streaming its output
    #[command(
        after_help = "Examples:\n  ds01 container exec thesis -- python -c 'print(42)'\n  \
        ds01 container exec -it thesis -- python\n  \
        cat data.csv | ds01 container exec -i thesis -- wc -l\n\
        The exit status is the command's own."
    )]
    Exec(ExecArgs),
    /// Install pip packages into a running container (as root), optionally committing it
    Install {
        /// The container name
        name: ContainerName,
        /// pip requirements, e.g. 'transformers>=4.30'
        #[arg(required = true, value_name = "PKG")]
        packages: Vec<PipRequirement>,
        /// Commit the container afterwards to `<image>-YYYYmmdd-HHMM`
        #[arg(long)]
        commit: bool,
    },
    /// Show CPU, memory and process counts of your running containers
    Stats,
    /// Postpone an idle stop (within the server's keep_alive_max)
    #[command(after_help = "Example:\n  ds01 container keep-alive thesis --for 8h")]
    KeepAlive {
        /// The container name
        name: ContainerName,
        /// How long from now, e.g. 30m, 8h
        #[arg(long = "for", value_name = "SPAN")]
        span: String,
    },
    /// Start JupyterLab as you in a container; print its URL and the ssh tunnel line
    #[command(after_help = JUPYTER_AFTER_HELP)]
    Jupyter(JupyterArgs),
    /// Print what VS Code on your laptop needs to work in a container as you (over ssh)
    #[command(after_help = CODE_AFTER_HELP)]
    Code(CodeArgs),
}

const LIST_AFTER_HELP: &str = "Examples:\n  ds01 container list --filter state=running --filter 'name=thesis*'\n  \
ds01 container list --format '{{.Name}} {{.State}} {{.GPUs}}'\n\
Template fields: .Name .DockerName .ID .Image .State .Status .User .UID .Framework .GPUs .Workspace .StopsAt";

const CP_AFTER_HELP: &str =
    "Examples:\n  ds01 container cp thesis:/workspace/results ./results\n  \
ds01 container cp data.csv thesis:/home/you/data.csv\n\
The container must run. Files are read and written as your account: in the container by \
`tar` running as you, here by ds01 itself. Modes are kept; the copies are yours. \
A local path with a `:` in it must start with `./` or `/`.";

#[derive(Debug, Args)]
struct NameArg {
    /// The container name (as you created it, without `._.<uid>`)
    name: ContainerName,
}

#[derive(Debug, Args)]
struct ExecArgs {
    /// Pass your stdin to the command
    #[arg(short, long)]
    interactive: bool,
    /// Give the command a terminal
    #[arg(short, long)]
    tty: bool,
    /// Set an environment variable NAME=VALUE (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// The working directory inside the container
    #[arg(short, long, value_name = "DIR")]
    workdir: Option<String>,
    /// The container name
    name: ContainerName,
    /// The command and its arguments (after `--`)
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Runs `ds01 container ...`.
pub async fn run(args: &ContainerArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match &args.command {
        ContainerCommand::Create(a) => create(a, ctx).await,
        ContainerCommand::List {
            all_users,
            filter,
            format,
        } => list(*all_users, filter, format, ctx).await,
        ContainerCommand::Start(a) => actions::act(ctx, BulkVerb::Start, a, None).await,
        ContainerCommand::Stop(a) => actions::act_timed(ctx, BulkVerb::Stop, a).await,
        ContainerCommand::Restart(a) => actions::act_timed(ctx, BulkVerb::Restart, a).await,
        ContainerCommand::Pause(a) => actions::one(ctx, &PauseContainer::new(a.name.clone())).await,
        ContainerCommand::Unpause(a) => {
            actions::one(ctx, &UnpauseContainer::new(a.name.clone())).await
        }
        ContainerCommand::Show(a) => actions::show(ctx, &a.name).await,
        ContainerCommand::Logs(a) => logs::logs(a, ctx).await,
        ContainerCommand::Cp(a) => cp::cp(a, ctx).await,
        ContainerCommand::Remove(a) => remove(a, ctx).await,
        ContainerCommand::Recreate(a) => recreate(&a.name, ctx).await,
        ContainerCommand::Open(a) => session::open(&a.name, ctx).await,
        ContainerCommand::Exec(a) => session::exec(a, ctx).await,
        ContainerCommand::Install {
            name,
            packages,
            commit,
        } => install(name, packages, *commit, ctx).await,
        ContainerCommand::Stats => stats(ctx).await,
        ContainerCommand::Jupyter(a) => jupyter(a, ctx).await,
        ContainerCommand::Code(a) => code(a, ctx).await,
        ContainerCommand::KeepAlive { name, span } => {
            let request = KeepAliveRequest { span: span.clone() };
            let acted = ctx
                .client
                .ask(&KeepAlive::new(name.clone(), request))
                .await?;
            if ctx.out.json() {
                ctx.out.print_json(&acted)?;
            } else {
                ctx.out.success(format!(
                    "{}: {}",
                    ds01_api::shown(&acted.name),
                    acted.action
                ));
            }
            Ok(ExitStatus::Success)
        }
    }
}
