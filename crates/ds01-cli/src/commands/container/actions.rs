//! `ds01 container start|stop|restart [NAME | --all]`, `pause`, `unpause` and `show`.

use clap::{ArgGroup, Args};
use ds01_api::endpoints::{
    BulkAction, BulkVerb, RestartContainer, ShowContainer, StartContainer, StopContainer,
    TimeoutQuery,
};
use ds01_api::{Acted, ContainerName, Endpoint};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

/// One container by name, or all of the caller's.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["name", "all"])))]
pub(super) struct Targets {
    /// The container name (as you created it, without `._.<uid>`)
    name: Option<ContainerName>,
    /// All of your containers that this applies to
    #[arg(long)]
    all: bool,
}

/// [`Targets`] with a grace period.
#[derive(Debug, Args)]
pub(super) struct TimedTargets {
    #[command(flatten)]
    targets: Targets,
    /// Seconds the processes get to end before they are killed
    #[arg(
        short = 't',
        long = "time",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    time: u32,
}

/// `start`, `stop` or `restart`, of one container or `--all`.
pub(super) async fn act(
    ctx: &Context,
    verb: BulkVerb,
    targets: &Targets,
    time: Option<u32>,
) -> Result<ExitStatus, CliError> {
    match &targets.name {
        Some(name) if !targets.all => {
            let name = name.clone();
            match verb {
                BulkVerb::Start => one(ctx, &StartContainer::new(name)).await,
                BulkVerb::Stop => one(ctx, &StopContainer::new(name, time)).await,
                BulkVerb::Restart => one(ctx, &RestartContainer::new(name, time)).await,
            }
        }
        _ => {
            let query = TimeoutQuery { timeout: time };
            all(ctx, &BulkAction { verb, query }).await
        }
    }
}

/// `start|stop|restart --time N`.
pub(super) async fn act_timed(
    ctx: &Context,
    verb: BulkVerb,
    args: &TimedTargets,
) -> Result<ExitStatus, CliError> {
    act(ctx, verb, &args.targets, Some(args.time)).await
}

/// One action on one container (`pause`, `unpause`, ...).
pub(super) async fn one<E: Endpoint<Answer = Acted>>(
    ctx: &Context,
    endpoint: &E,
) -> Result<ExitStatus, CliError> {
    let acted = ctx.client.ask(endpoint).await?;
    if ctx.out.json() {
        ctx.out.print_json(&acted)?;
    } else {
        ctx.out
            .success(format!("{} {}", acted.action, ds01_api::shown(&acted.name)));
    }
    Ok(ExitStatus::Success)
}

async fn all(ctx: &Context, endpoint: &BulkAction) -> Result<ExitStatus, CliError> {
    let outcomes = ctx.client.ask(endpoint).await?;
    outcomes_shown(ctx, &outcomes)
}

/// Each container's outcome of an action on several, one line each (a JSON object each
/// with `--json`); a failure of any makes the command fail.
pub(crate) fn outcomes_shown(
    ctx: &Context,
    outcomes: &[ds01_api::BulkOutcome],
) -> Result<ExitStatus, CliError> {
    let mut status = ExitStatus::Success;
    if outcomes.is_empty() && !ctx.out.json() {
        ctx.out.info("none of your containers needed it");
    }
    for o in outcomes {
        if ctx.out.json() {
            ctx.out.print_json(o)?;
        } else if let Some(e) = &o.error {
            ctx.out.warn(format!(
                "{}: {}",
                ds01_api::shown(&o.name),
                ds01_api::shown(&e.message)
            ));
        } else {
            ctx.out
                .success(format!("{} {}", o.action, ds01_api::shown(&o.name)));
        }
        if o.error.is_some() {
            status = ExitStatus::Failure;
        }
    }
    Ok(status)
}

/// `ds01 container show NAME`.
pub(super) async fn show(ctx: &Context, name: &ContainerName) -> Result<ExitStatus, CliError> {
    let d = ctx.client.ask(&ShowContainer::new(name.clone())).await?;
    if ctx.out.json() {
        ctx.out.print_json(&d)?;
        return Ok(ExitStatus::Success);
    }
    let shown = |s: &str| ds01_api::shown(s);
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            shown(s)
        }
    };
    let mib = |b: u64| format!("{:.0} MiB", b as f64 / 1048576.0);
    let rows = [
        (
            "name",
            format!("{} ({})", shown(&d.name), shown(&d.docker_name)),
        ),
        ("state", shown(&d.state)),
        ("image", shown(&d.image)),
        ("user setup", or_dash(&d.user_setup)),
        ("started", or_dash(d.started_at.as_deref().unwrap_or(""))),
        ("stops at", or_dash(d.stops_at.as_deref().unwrap_or(""))),
        (
            "gpus",
            if d.gpus.is_empty() {
                "none".into()
            } else {
                shown(&d.gpus.join(", "))
            },
        ),
        ("memory", d.limits.memory_bytes.map_or("-".into(), mib)),
        ("cpus", d.limits.cpus.map_or("-".into(), |c| format!("{c}"))),
        ("shm", d.limits.shm_bytes.map_or("-".into(), mib)),
        ("pids", d.limits.pids.map_or("-".into(), |p| p.to_string())),
    ];
    for (key, value) in rows {
        ctx.out
            .print(format!("{:<12} {value}", format!("{key}:")))?;
    }
    ctx.out.print("mounts:")?;
    for m in &d.mounts {
        ctx.out.print(format!(
            "  {} -> {} ({})",
            shown(&m.source),
            shown(&m.destination),
            if m.writable { "rw" } else { "ro" }
        ))?;
    }
    ctx.out.print("labels:")?;
    for (k, v) in &d.labels {
        ctx.out.print(format!("  {}={}", shown(k), shown(v)))?;
    }
    Ok(ExitStatus::Success)
}
