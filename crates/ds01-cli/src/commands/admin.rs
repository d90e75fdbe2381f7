//! `ds01 limits` (anyone's own) and `ds01 admin ...` (the admin's tools).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use ds01_api::endpoints::{AdminGc, AdminGpus, DryRunQuery, Limits};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};
use crate::output::Output;

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Convert DS01's resource-limits.yaml into ds01d's [policy] tables (printed on stdout)
    #[command(after_help = "\
Example:
  ds01 admin import-limits /opt/ds01-infra/config/runtime/resource-limits.yaml >> /etc/ds01/config.toml

Groups become [policy.groups.ds01-<name>] (the Unix groups DS01's membership sync keeps);
what cannot be carried over is listed as comments at the top and on stderr.")]
    ImportLimits {
        /// The YAML file
        file: PathBuf,
    },
    /// Show every GPU and MIG slice and who holds it
    Gpus,
    /// Show each GPU's holder, how long it has held it, whether it idles, and the
    /// reaper's next stops
    Top {
        /// Redraw every --interval seconds until Ctrl-C
        #[arg(long)]
        watch: bool,
        /// Seconds between redraws with --watch
        #[arg(long, default_value_t = 2, value_name = "SECS")]
        interval: u64,
    },
    /// Remove containers and images of accounts that no longer exist, and unused images
    /// older than their owner's image_max_age
    Gc {
        /// Only list what would be removed
        #[arg(long)]
        dry_run: bool,
    },
    #[command(flatten)]
    Ledger(super::usage::LedgerCommand),
}

/// Runs `ds01 admin ...`; `import-limits` needs no service.
pub fn needs_service(args: &AdminArgs) -> bool {
    !matches!(args.command, AdminCommand::ImportLimits { .. })
}

/// `ds01 admin import-limits`, which reads a file and prints; no service involved.
pub fn import_limits(args: &AdminArgs, out: &Output) -> Result<ExitStatus, CliError> {
    let AdminCommand::ImportLimits { file } = &args.command else {
        return Err(CliError::usage("not an offline admin command"));
    };
    let yaml = super::read_user_file(file)?;
    let imported = ds01_policy::import_ds01_limits(&yaml)
        .map_err(|e| CliError::msg(format!("{}: {e}", file.display())))?;
    for note in &imported.notes {
        out.warn(note);
    }
    out.print(imported.toml.trim_end())?;
    Ok(ExitStatus::Success)
}

/// Runs `ds01 admin gpus`.
pub async fn run(args: &AdminArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match &args.command {
        AdminCommand::ImportLimits { .. } => import_limits(args, &ctx.out),
        AdminCommand::Ledger(command) => super::usage::admin(command, ctx).await,
        AdminCommand::Gc { dry_run } => {
            let dry_run = *dry_run;
            let report = ctx.client.ask(&AdminGc(DryRunQuery { dry_run })).await?;
            if ctx.out.json() {
                ctx.out.print_json(&report)?;
                return Ok(ExitStatus::Success);
            }
            if report.collected.is_empty() {
                ctx.out.info("nothing to collect");
            }
            let verb = if dry_run { "would remove" } else { "removed" };
            for i in report.collected {
                ctx.out.print(format!(
                    "{verb} {} {}: {}",
                    i.kind,
                    ds01_api::shown(&i.name),
                    ds01_api::shown(&i.why)
                ))?;
            }
            Ok(ExitStatus::Success)
        }
        AdminCommand::Top { watch, interval } => super::status::top(ctx, *watch, *interval).await,
        AdminCommand::Gpus => {
            let table = ctx.client.ask(&AdminGpus).await?;
            if ctx.out.json() {
                ctx.out.print_json(&table)?;
                return Ok(ExitStatus::Success);
            }
            if table.devices.is_empty() {
                ctx.out.info("ds01d knows of no GPUs on this server");
                return Ok(ExitStatus::Success);
            }
            ctx.out.print(ctx.out.bold(&format!(
                "{:<6} {:<24} {:<10} {:<28} {}",
                "SLOT", "NAME", "PROFILE", "CONTAINER", "USER"
            )))?;
            for r in table.devices {
                ctx.out.print(format!(
                    "{:<6} {:<24} {:<10} {:<28} {}",
                    r.slot,
                    ds01_api::shown(&r.name),
                    r.profile.as_deref().unwrap_or("-"),
                    r.container.as_deref().unwrap_or("free"),
                    r.user.as_deref().map(ds01_api::shown).unwrap_or_default()
                ))?;
            }
            if table.queue.is_empty() {
                ctx.out.print("\nNo requests are waiting for GPUs.")?;
                return Ok(ExitStatus::Success);
            }
            ctx.out.print("")?;
            ctx.out.print(ctx.out.bold(&format!(
                "{:<4} {:<20} {:<28} {:>14} {}",
                "LINE", "USER", "CONTAINER", "DECAYED GPU-H", "WAITING SINCE"
            )))?;
            for q in table.queue {
                ctx.out.print(format!(
                    "{:<4} {:<20} {:<28} {:>14.2} {}",
                    q.position,
                    ds01_api::shown(&q.user),
                    ds01_api::shown(&q.container),
                    q.decayed_gpu_seconds / 3600.0,
                    super::usage::clock(q.waiting_since)
                ))?;
            }
            Ok(ExitStatus::Success)
        }
    }
}

/// `ds01 limits`: the caller's effective policy, where each value comes from, and usage.
pub async fn limits(ctx: &Context) -> Result<ExitStatus, CliError> {
    let report = ctx.client.ask(&Limits).await?;
    if ctx.out.json() {
        ctx.out.print_json(&report)?;
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(format!(
        "{} uses {} container(s), {} GPU(s) and {} of image storage now",
        ds01_api::shown(&report.login),
        report.containers,
        report.gpus,
        super::image::human_size(report.image_storage as i64)
    ))?;
    ctx.out.print(
        ctx.out
            .bold(&format!("{:<18} {:<12} {}", "LIMIT", "VALUE", "FROM")),
    )?;
    let mut rows = Vec::new();
    collect(&report.effective, "", &mut rows);
    for (key, value, from) in rows {
        ctx.out.print(format!("{key:<18} {value:<12} {from}"))?;
    }
    Ok(ExitStatus::Success)
}

/// Flattens the `{key: {value, source}}` tree into rows.
fn collect(value: &serde_json::Value, prefix: &str, rows: &mut Vec<(String, String, String)>) {
    let Some(map) = value.as_object() else { return };
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (v.get("value"), v.get("source")) {
            (Some(value), Some(source)) => rows.push((key, plain(value), source_text(source))),
            _ => collect(v, &key, rows),
        }
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn source_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k} {}", plain(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
