//! `ds01 container ...`: the user's containers, by DS01's names and labels, so containers
//! made by DS01's `mlc` scripts are listed and handled too.

use clap::{Args, Subcommand};
use ds01_api::{ContainerName, Removed};
use ds01_dockerfile::PipRequirement;
use hyper::Method;
use serde_json::json;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

mod code;
mod create;
mod jupyter;
mod list;
mod maintain;
mod session;

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
    List {
        /// List the containers of every user
        #[arg(long)]
        all_users: bool,
    },
    /// Start a container
    Start(NameArg),
    /// Stop a container: SIGTERM, then SIGKILL after the grace period
    Stop {
        /// The container name
        name: ContainerName,
        /// Seconds the processes get to end before they are killed
        #[arg(
            short = 't',
            long = "time",
            value_name = "SECONDS",
            default_value_t = 10
        )]
        time: u32,
    },
    /// Remove a container and its per-container image
    Remove {
        /// The container name
        name: ContainerName,
        /// Stop it first when it runs
        #[arg(long, short)]
        force: bool,
    },
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
        ContainerCommand::List { all_users } => list(*all_users, ctx).await,
        ContainerCommand::Start(a) => action(ctx, &a.name, "start").await,
        ContainerCommand::Stop { name, time } => {
            action(ctx, name, &format!("stop?timeout={time}")).await
        }
        ContainerCommand::Remove { name, force } => {
            let removed: Removed = ctx
                .client
                .call(
                    Method::DELETE,
                    &format!("/v1/containers/{name}?force={force}"),
                    None::<&()>,
                )
                .await?;
            if ctx.out.json() {
                ctx.out.print_json(&json!({"name": removed.name, "action": "removed", "removed_images": removed.removed_images}))?;
            } else {
                ctx.out.success(format!("removed {}", removed.name));
            }
            Ok(ExitStatus::Success)
        }
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
            let answer: serde_json::Value = ctx
                .client
                .call(
                    Method::POST,
                    &format!("/v1/containers/{name}/keep-alive"),
                    Some(&json!({"for": span})),
                )
                .await?;
            if ctx.out.json() {
                ctx.out.print_json(&answer)?;
            } else {
                ctx.out.success(format!(
                    "{}: {}",
                    answer["name"].as_str().unwrap_or_default(),
                    answer["action"].as_str().unwrap_or_default()
                ));
            }
            Ok(ExitStatus::Success)
        }
    }
}

async fn action(ctx: &Context, name: &ContainerName, verb: &str) -> Result<ExitStatus, CliError> {
    let answer: serde_json::Value = ctx
        .client
        .call(
            Method::POST,
            &format!("/v1/containers/{name}/{verb}"),
            Some(&json!({})),
        )
        .await?;
    if ctx.out.json() {
        ctx.out.print_json(&answer)?;
    } else {
        ctx.out.success(format!(
            "{} {}",
            answer["action"].as_str().unwrap_or_default(),
            answer["name"].as_str().unwrap_or(name.as_str())
        ));
    }
    Ok(ExitStatus::Success)
}
