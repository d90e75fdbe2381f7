//! `ds01 container ...`: the user's containers, by DS01's names and labels, so containers
//! made by DS01's `mlc` scripts are listed and handled too.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ds01_dockerfile::{ImageName, ImageRef, PipRequirement};
use ds01_engine::{
    labels::parse_extra_label, ByteSize, ContainerName, ContainerOptions, CreateRequest,
    GpuRequest, Provenance, Scope,
};
use serde_json::json;

use crate::config::{expand_home, Config};
use crate::context::{ctrl_c, Context};
use crate::exit::{CliError, ExitStatus};

mod open;

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

Without --gpus the container gets no GPU.

With --json: {\"name\": \"<name>._.<uid>\", \"id\", \"image\", \"user_setup\": \"baked\"|\"committed\", \"started\"}

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
    /// Stop a container (its processes get 10 s to end)
    Stop(NameArg),
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
    /// Run a command in a running container as your account
    #[command(
        after_help = "Example:\n  ds01 container exec thesis -- python -c 'print(42)'\n\
        The exit status is 0 when the command succeeded, 1 otherwise.\n\
        With --json: {\"status\", \"stdout\", \"stderr\"}"
    )]
    Exec {
        /// The container name
        name: ContainerName,
        /// The command and its arguments (after `--`)
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
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
    /// Host directory mounted at /workspace (default: the configured one)
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Host directory mounted at /data
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Host directory mounted at /models
    #[arg(long, value_name = "DIR")]
    models: Option<PathBuf>,
    /// GPUs: `all`, a count, or `device=ID[,ID...]`
    #[arg(long, value_name = "SPEC", conflicts_with = "cpu_only")]
    gpus: Option<GpuRequest>,
    /// No GPU at all
    #[arg(long)]
    cpu_only: bool,
    /// Size of /dev/shm, e.g. 16g
    #[arg(long, value_name = "SIZE")]
    shm_size: Option<ByteSize>,
    /// Locked-memory limit, e.g. 8m (default: the configured one, else unlimited as MLC)
    #[arg(long, value_name = "SIZE")]
    memlock: Option<ByteSize>,
    /// Memory limit, e.g. 32g (no swap on top)
    #[arg(long, value_name = "SIZE")]
    memory: Option<ByteSize>,
    /// CPU limit in CPUs, e.g. 4 or 0.5
    #[arg(long, value_name = "N")]
    cpus: Option<f64>,
    /// Maximum number of processes
    #[arg(long, value_name = "N")]
    pids_limit: Option<i64>,
    /// The cgroup parent (systemd slice); `{group}` and `{user}` are filled in
    #[arg(long, value_name = "SLICE")]
    cgroup_parent: Option<String>,
    /// An extra label KEY=VALUE (repeatable)
    #[arg(long = "label", value_name = "K=V")]
    labels: Vec<String>,
    /// Start the container once created
    #[arg(long)]
    start: bool,
}

/// Runs `ds01 container ...`.
pub async fn run(args: &ContainerArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match &args.command {
        ContainerCommand::Create(a) => create(a, ctx).await,
        ContainerCommand::List { all_users } => list(*all_users, ctx).await,
        ContainerCommand::Start(a) => {
            ctx.engine.start_container(&ctx.who, &a.name).await?;
            done(ctx, &a.name, "started", json!({}))
        }
        ContainerCommand::Stop(a) => {
            ctx.engine.stop_container(&ctx.who, &a.name).await?;
            done(ctx, &a.name, "stopped", json!({}))
        }
        ContainerCommand::Remove { name, force } => {
            let images = ctx.engine.remove_container(&ctx.who, name, *force).await?;
            done(ctx, name, "removed", json!({"removed_images": images}))
        }
        ContainerCommand::Open(a) => open::open(&a.name, ctx).await,
        ContainerCommand::Exec { name, command } => exec(name, command, ctx).await,
        ContainerCommand::Install {
            name,
            packages,
            commit,
        } => install(name, packages, *commit, ctx).await,
        ContainerCommand::Stats => stats(ctx).await,
    }
}

fn done(
    ctx: &Context,
    name: &ContainerName,
    what: &str,
    extra: serde_json::Value,
) -> Result<ExitStatus, CliError> {
    let docker_name = name.docker_name(ctx.who.uid());
    if ctx.out.json() {
        let mut value = json!({"name": docker_name, "action": what});
        if let (Some(v), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            v.extend(extra);
        }
        ctx.out.print_json(&value)?;
    } else {
        ctx.out.success(format!("{what} {docker_name}"));
    }
    Ok(ExitStatus::Success)
}

async fn create(args: &CreateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let (image, provenance, pull, arch) = choose_image(args, ctx).await?;
    let options = container_options(args, ctx, arch)?;
    let request = CreateRequest {
        name: args.name.clone(),
        image,
        provenance,
        pull_if_missing: pull,
        options,
        resource_labels: ctx.resource_labels.clone(),
    };
    let mut progress = ctx.out.progress();
    let created = ctx
        .engine
        .create_container(&ctx.who, &request, &mut progress, ctrl_c())
        .await;
    progress.finish();
    let created = created?;
    if args.start {
        ctx.engine.start_container(&ctx.who, &args.name).await?;
    }
    if ctx.out.json() {
        let mut value = serde_json::to_value(&created)
            .map_err(|e| CliError::failure("could not write JSON", e))?;
        if let Some(v) = value.as_object_mut() {
            v.insert("started".into(), args.start.into());
        }
        ctx.out.print_json(&value)?;
    } else {
        ctx.out.success(format!(
            "created {} from {} (user {}: {})",
            created.name,
            created.image,
            ctx.who.username(),
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

/// Picks the image: `--image`, the catalog, or the user's own image of the same name.
async fn choose_image(
    args: &CreateArgs,
    ctx: &Context,
) -> Result<(ImageRef, Provenance, bool, Option<String>), CliError> {
    if let Some(image) = &args.image {
        let tagged = if image.tag().is_none() && image.digest().is_none() {
            image.tagged_or_latest()
        } else {
            image.clone()
        };
        return Ok((
            tagged,
            Provenance::Custom(image.to_string()),
            false,
            args.arch.clone(),
        ));
    }
    if let Some(framework) = &args.framework {
        let (entry, arch) = super::catalog::lookup(
            ctx,
            args.catalog.as_ref(),
            framework,
            args.version.as_deref(),
            args.arch.as_deref(),
        )?;
        return Ok((
            entry.image,
            Provenance::Catalog {
                framework: entry.framework,
                version: entry.version,
            },
            true,
            Some(arch),
        ));
    }
    let own = ImageName::parse(args.name.as_str())
        .ok()
        .map(|n| n.image_ref(ctx.who.uid()));
    let Some(own) = own else {
        return Err(CliError::usage(format!(
            "no image given; pass --image IMAGE or --framework FW (`{}` cannot name an image of yours)",
            args.name
        )));
    };
    match ctx.engine.docker().inspect_image(&own.to_string()).await {
        Ok(_) => Ok((
            own.clone(),
            Provenance::Custom(own.to_string()),
            false,
            args.arch.clone(),
        )),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(CliError::msg(format!(
            "no image given and image {own} not found; build it with `ds01 image create {}` or pass --image IMAGE",
            args.name
        ))),
        Err(e) => Err(CliError::failure(format!("inspecting image {own}"), e)),
    }
}

/// Flags first, then the configuration.
fn container_options(
    args: &CreateArgs,
    ctx: &Context,
    arch: Option<String>,
) -> Result<ContainerOptions, CliError> {
    let home = ctx.user_home();
    let expand = |p: &PathBuf| absolute(expand_home(p, home.as_deref()));
    let workspace = match (&args.workspace, &ctx.config.workspace) {
        (Some(dir), _) => Some(expand(dir)),
        (None, Some(dir)) => {
            let dir = expand(dir);
            // A configured default that this user lacks is skipped, not fatal.
            if dir.is_dir() {
                Some(dir)
            } else {
                ctx.out.warn(format!(
                    "the configured workspace {} does not exist; no /workspace mount",
                    dir.display()
                ));
                None
            }
        }
        (None, None) => None,
    };
    let shm_size = match (&args.shm_size, &ctx.config.shm_size) {
        (Some(size), _) => Some(*size),
        (None, Some(text)) => Some(
            text.parse::<ByteSize>()
                .map_err(|e| CliError::msg(format!("shm_size in the configuration: {e}")))?,
        ),
        (None, None) => None,
    };
    let memlock = match (&args.memlock, &ctx.config.memlock) {
        (Some(size), _) => Some(*size),
        (None, Some(text)) => Some(
            text.parse::<ByteSize>()
                .map_err(|e| CliError::msg(format!("memlock in the configuration: {e}")))?,
        ),
        (None, None) => None,
    };
    let template = args
        .cgroup_parent
        .clone()
        .or_else(|| ctx.config.cgroup_parent.clone());
    let cgroup_parent = match template {
        None => None,
        Some(t) if !t.contains("{group}") => {
            Some(Config::cgroup_parent_for(&t, "", ctx.who.login())?)
        }
        Some(t) => {
            let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(ctx.who.gid()))
                .ok()
                .flatten()
                .map(|g| g.name);
            match group {
                Some(group) => Some(Config::cgroup_parent_for(&t, &group, ctx.who.login())?),
                None => {
                    ctx.out.warn(format!(
                        "GID {} has no group name here, so `{t}` cannot be filled in; no cgroup parent",
                        ctx.who.gid()
                    ));
                    None
                }
            }
        }
    };
    let mut labels = Vec::new();
    for (k, v) in &ctx.config.labels {
        labels.push(parse_extra_label(&format!("{k}={v}"))?);
    }
    for pair in &args.labels {
        let (k, v) = parse_extra_label(pair).map_err(|e| CliError::usage(e.to_string()))?;
        labels.retain(|(old, _)| *old != k);
        labels.push((k, v));
    }
    Ok(ContainerOptions {
        workspace,
        data: args.data.as_ref().map(expand),
        models: args.models.as_ref().map(expand),
        gpus: if args.cpu_only {
            None
        } else {
            args.gpus.clone()
        },
        shm_size,
        cgroup_parent,
        labels,
        privileged: ctx.config.privileged,
        arch,
        memlock,
        memory: args.memory,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
    })
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&path))
        .unwrap_or(path)
}

async fn list(all_users: bool, ctx: &Context) -> Result<ExitStatus, CliError> {
    let scope = if all_users {
        Scope::AllUsers
    } else {
        Scope::User(&ctx.who)
    };
    let containers = ctx.engine.list_containers(scope).await?;
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
            "{:<24} {:<10} {:<12} {:<40} {}",
            "NAME", "STATE", "GPUS", "IMAGE", "USER"
        )
    } else {
        format!("{:<24} {:<10} {:<12} {}", "NAME", "STATE", "GPUS", "IMAGE")
    };
    ctx.out.print(ctx.out.bold(&header))?;
    for c in containers {
        let line = if all_users {
            format!(
                "{:<24} {:<10} {:<12} {:<40} {}",
                c.name, c.state, c.gpus, c.image, c.user
            )
        } else {
            format!("{:<24} {:<10} {:<12} {}", c.name, c.state, c.gpus, c.image)
        };
        ctx.out.print(line)?;
    }
    Ok(ExitStatus::Success)
}

async fn exec(
    name: &ContainerName,
    command: &[String],
    ctx: &Context,
) -> Result<ExitStatus, CliError> {
    let output = ctx.engine.exec(&ctx.who, name, command, false).await?;
    if ctx.out.json() {
        ctx.out.print_json(&output)?;
    } else {
        use std::io::Write;
        std::io::stdout()
            .write_all(output.stdout.as_bytes())
            .map_err(CliError::write)?;
        eprint!("{}", output.stderr);
    }
    if output.status == 0 {
        Ok(ExitStatus::Success)
    } else {
        ctx.out
            .detail(format!("the command ended with status {}", output.status));
        Ok(ExitStatus::Failure)
    }
}

async fn install(
    name: &ContainerName,
    packages: &[PipRequirement],
    commit: bool,
    ctx: &Context,
) -> Result<ExitStatus, CliError> {
    ctx.out.info(format!(
        "installing {} in {}...",
        packages
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        name.docker_name(ctx.who.uid())
    ));
    let committed = ctx
        .engine
        .install_packages(&ctx.who, name, packages, commit)
        .await?;
    let extra = json!({
        "packages": packages.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "committed": committed,
    });
    if let Some(image) = &committed {
        ctx.out.info(format!("committed to {image}"));
    }
    done(ctx, name, "installed", extra)
}

async fn stats(ctx: &Context) -> Result<ExitStatus, CliError> {
    let stats = ctx.engine.stats(&ctx.who).await?;
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
