//! `ds01 container create`: the request is built from the flags as given; ds01d resolves
//! the image, the policy and the GPUs.

use std::path::PathBuf;

use clap::Args;
use ds01_api::endpoints::{CreateContainer, PlanContainer};
use ds01_api::{ContainerCreate, ContainerName, GpuRequest, Size};
use ds01_dockerfile::ImageRef;

use crate::context::{absolute, Context};
use crate::exit::{CliError, ExitStatus};

pub(super) const CREATE_AFTER_HELP: &str = "\
The image is, in this order: --image IMAGE (`:latest` is added only to a reference
without a tag), the catalog image of --framework, or your own image
`ds01-<uid>/NAME:latest` when it exists. When the image already carries your
account (an image from `ds01 image create`), the container is created directly
(`baked`); otherwise a setup container adds your account and is committed to a
per-container image (`committed`).

/workspace is --workspace DIR, else the server's configured workspace, else
~/workspace/NAME (created for you when missing); --no-workspace mounts none. Your
home inside the container (/home/<you>) lives in the volume ds01-home-NAME._.<uid>,
filled from the image the first time: it outlives `container recreate` and a
`container remove` without --volumes.

Without --gpus the container gets no GPU (and sees none). A running container holds its
GPUs; a stopped one holds none, and `start` binds them again when they are still free.

With --json: {\"name\": \"<name>._.<uid>\", \"id\", \"image\", \"user_setup\": \"baked\"|\"committed\"|\"mapped\" (a cluster container), \"started\", \"gpus\": [UUID, ...]}

Examples:
  ds01 container create thesis --cpu-only --start
  ds01 container create cv --framework pytorch --gpus 1 --workspace ~/workspace
  ds01 container create thesis --dry-run     # the request, as JSON; nothing is made";

#[derive(Debug, Args)]
pub(super) struct CreateArgs {
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
    /// Host directory mounted at /workspace: one of yours (default: the server's setting, else
    /// ~/workspace/NAME)
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
    shm_size: Option<Size>,
    /// Memory limit, e.g. 32g (no swap on top)
    #[arg(long, value_name = "SIZE")]
    memory: Option<Size>,
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
    /// Mount no workspace at all
    #[arg(long, conflicts_with = "workspace")]
    no_workspace: bool,
    /// Print the exact create request (JSON) and change nothing
    #[arg(long, conflicts_with_all = ["start", "wait"])]
    dry_run: bool,
}

pub(super) async fn create(args: &CreateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let catalog = match &args.catalog {
        Some(path) => Some(crate::commands::read_user_file(path)?),
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
        no_workspace: args.no_workspace,
        process: None,
        container_type: None,
        volumes: Vec::new(),
    };
    if args.dry_run {
        let plan = ctx.client.ask(&PlanContainer(request)).await?;
        // JSON either way: the request is the answer.
        let text = serde_json::to_string_pretty(&plan)
            .map_err(|e| CliError::failure("printing the request", e))?;
        ctx.out.print(text)?;
        return Ok(ExitStatus::Success);
    }
    let mut progress = ctx.out.progress();
    let created = ctx
        .client
        .progress(&CreateContainer(request), |p| progress.report(p))
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
