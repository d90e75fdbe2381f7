//! `ds01 container ...`: the user's containers, by DS01's names and labels, so containers
//! made by DS01's `mlc` scripts are listed and handled too.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ds01_api::{
    ByteSize, ContainerCreate, ContainerInfo, ContainerName, ContainerStats, CreatedContainer,
    GpuRequest, Removed,
};
use ds01_dockerfile::{ImageRef, PipRequirement};
use hyper::Method;
use serde_json::json;

use crate::context::{absolute, Context};
use crate::exit::{CliError, ExitStatus};

mod session;

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ContainerArgs {
    #[command(subcommand)]
    command: ContainerCommand,
}

const CREATE_AFTER_HELP: &str = "\
The image is, in this order: --image IMAGE (`:latest` is added only to a reference
without a tag), the catalog image of --framework, or your own image
`ds01-<uid>/NAME:latest` when it exists. When the image already carries your
account (an image from `ds01 image create`), the container is created directly
(`baked`); otherwise a setup container adds your account and is committed to a
per-container image (`committed`).

Without --gpus the container gets no GPU (and sees none). A running container holds its
GPUs; a stopped one holds none, and `start` binds them again when they are still free.

With --json: {\"name\": \"<name>._.<uid>\", \"id\", \"image\", \"user_setup\": \"baked\"|\"committed\", \"started\", \"gpus\": [UUID, ...]}

Examples:
  ds01 container create thesis --cpu-only --start
  ds01 container create cv --framework pytorch --gpus 1 --workspace ~/workspace";

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
}

#[derive(Debug, Args)]
struct NameArg {
    /// The container name (as you created it, without `._.<uid>`)
    name: ContainerName,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The container name: letters, digits, `_` and `-`
    name: ContainerName,
    /// The image to run
    #[arg(long, value_name = "IMAGE", conflicts_with = "framework")]
    image: Option<ImageRef>,
    /// An AIME catalog framework (e.g. pytorch)
    #[arg(long, value_name = "FW")]
    framework: Option<String>,
    /// The framework version (default: the newest)
    #[arg(
        long = "version",
        id = "framework_version",
        value_name = "V",
        requires = "framework"
    )]
    version: Option<String>,
    /// The GPU architecture (default: the configured one)
    #[arg(long, value_name = "ARCH")]
    arch: Option<String>,
    /// The AIME catalog file (default: the configured one)
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Host directory mounted at /workspace: one of yours (default: the server's setting)
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Host directory mounted at /data: one of yours, or under a shared root
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Host directory mounted at /models: one of yours, or under a shared root
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// GPUs: a count (`1`), a MIG slice (`mig:3g.40gb`), or `device=UUID[,...]` where the
    /// policy lets you pick; ds01d chooses free, least-used devices within your limit
    #[arg(long, value_name = "SPEC", conflicts_with = "cpu_only")]
    gpus: Option<GpuRequest>,
    /// When no GPU is free, wait in line for one (Ctrl-C leaves the line)
    #[arg(long, requires = "gpus")]
    wait: bool,
    /// No GPU at all
    #[arg(long)]
    cpu_only: bool,
    /// Size of /dev/shm, e.g. 16g
    #[arg(long, value_name = "SIZE")]
    shm_size: Option<ByteSize>,
    /// Memory limit, e.g. 32g (no swap on top)
    #[arg(long, value_name = "SIZE")]
    memory: Option<ByteSize>,
    /// CPU limit in CPUs, e.g. 4 or 0.5
    #[arg(long, value_name = "N")]
    cpus: Option<f64>,
    /// Maximum number of processes
    #[arg(long, value_name = "N")]
    pids_limit: Option<i64>,
    /// An extra label KEY=VALUE (repeatable)
    #[arg(long = "label", value_name = "K=V")]
    labels: Vec<String>,
    /// Start the container once created
    #[arg(long)]
    start: bool,
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

async fn create(args: &CreateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let catalog = match &args.catalog {
        Some(path) => Some(super::read_user_file(path)?),
        None => None,
    };
    let request = ContainerCreate {
        name: args.name.clone(),
        image: args.image.clone(),
        framework: args.framework.clone(),
        framework_version: args.version.clone(),
        arch: args.arch.clone(),
        catalog,
        workspace: args.workspace.as_deref().map(absolute),
        data: args.data.as_deref().map(absolute),
        models: args.models.as_deref().map(absolute),
        gpus: if args.cpu_only {
            None
        } else {
            args.gpus.clone()
        },
        wait: args.wait,
        shm_size: args.shm_size,
        memory: args.memory,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        labels: args.labels.clone(),
        start: args.start,
    };
    let mut progress = ctx.out.progress();
    let created: Result<CreatedContainer, CliError> = ctx
        .client
        .stream("/v1/containers", &request, |p| progress.report(p))
        .await;
    progress.finish();
    let created = created?;
    if ctx.out.json() {
        ctx.out.print_json(&created)?;
    } else {
        ctx.out.success(format!(
            "created {} from {} ({})",
            created.name,
            created.image,
            created.user_setup.as_str()
        ));
        if !args.start {
            ctx.out
                .info(format!("open it with `ds01 container open {}`", args.name));
        }
        ctx.out.print(&created.name)?;
    }
    Ok(ExitStatus::Success)
}

async fn list(all_users: bool, ctx: &Context) -> Result<ExitStatus, CliError> {
    let containers: Vec<ContainerInfo> = ctx
        .client
        .get(&format!("/v1/containers?all_users={all_users}"))
        .await?;
    let all_users = all_users || containers.iter().any(|c| c.uid != containers[0].uid);
    if ctx.out.json() {
        for c in &containers {
            ctx.out.print_json(c)?;
        }
        return Ok(ExitStatus::Success);
    }
    if containers.is_empty() {
        ctx.out
            .info("no containers; create one with `ds01 container create NAME`");
        return Ok(ExitStatus::Success);
    }
    let header = if all_users {
        format!(
            "{:<24} {:<10} {:<12} {:<24} {:<40} {}",
            "NAME", "STATE", "GPUS", "STOPS AT", "IMAGE", "USER"
        )
    } else {
        format!(
            "{:<24} {:<10} {:<12} {:<24} {}",
            "NAME", "STATE", "GPUS", "STOPS AT", "IMAGE"
        )
    };
    ctx.out.print(ctx.out.bold(&header))?;
    for c in containers {
        let shown = |s: &str| ds01_api::shown(s);
        let stops = c.stops_at.as_deref().unwrap_or("-");
        let line = if all_users {
            format!(
                "{:<24} {:<10} {:<12} {:<24} {:<40} {}",
                shown(&c.name),
                shown(&c.state),
                shown(&c.gpus),
                stops,
                shown(&c.image),
                shown(&c.user)
            )
        } else {
            format!(
                "{:<24} {:<10} {:<12} {:<24} {}",
                shown(&c.name),
                shown(&c.state),
                shown(&c.gpus),
                stops,
                shown(&c.image)
            )
        };
        ctx.out.print(line)?;
    }
    Ok(ExitStatus::Success)
}

async fn install(
    name: &ContainerName,
    packages: &[PipRequirement],
    commit: bool,
    ctx: &Context,
) -> Result<ExitStatus, CliError> {
    ctx.out.info(format!(
        "installing {} in {name}...",
        packages
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    ));
    let answer: serde_json::Value = ctx
        .client
        .call(
            Method::POST,
            &format!("/v1/containers/{name}/install"),
            Some(&json!({"packages": packages, "commit": commit})),
        )
        .await?;
    if ctx.out.json() {
        ctx.out.print_json(&answer)?;
    } else {
        if let Some(image) = answer["committed"].as_str() {
            ctx.out.info(format!("committed to {image}"));
        }
        ctx.out.success(format!("installed in {name}"));
    }
    Ok(ExitStatus::Success)
}

async fn stats(ctx: &Context) -> Result<ExitStatus, CliError> {
    let stats: Vec<ContainerStats> = ctx.client.get("/v1/stats").await?;
    if ctx.out.json() {
        for s in &stats {
            ctx.out.print_json(s)?;
        }
        return Ok(ExitStatus::Success);
    }
    if stats.is_empty() {
        ctx.out.info("no running containers");
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(ctx.out.bold(&format!(
        "{:<24} {:>8} {:>21} {:>6}",
        "NAME", "CPU %", "MEMORY / LIMIT", "PIDS"
    )))?;
    for s in stats {
        let mib = |b: u64| format!("{:.0}MiB", b as f64 / 1048576.0);
        ctx.out.print(format!(
            "{:<24} {:>8.1} {:>21} {:>6}",
            s.name,
            s.cpu_percent,
            format!("{} / {}", mib(s.memory_bytes), mib(s.memory_limit_bytes)),
            s.pids
        ))?;
    }
    Ok(ExitStatus::Success)
}
