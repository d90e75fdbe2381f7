//! `ds01 container remove`: says what goes (the container, its own image or tag, its home
//! volume with --volumes) and, on a terminal, asks first. Without a terminal nobody is
//! asked and the removal goes ahead, as it always did for scripts; `--yes` skips the
//! question on a terminal too.

use clap::Args;
use ds01_api::endpoints::{RemoveContainer, RemoveStopped};
use ds01_api::{ContainerName, RemoveQuery, Removed};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};
use crate::prompt;

#[derive(Debug, Args)]
pub(super) struct RemoveArgs {
    /// The container name
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    name: Option<ContainerName>,
    /// Remove all your stopped containers (running ones are left alone)
    #[arg(long)]
    all: bool,
    /// Stop it first when it runs
    #[arg(long, short, conflicts_with = "all")]
    force: bool,
    /// Remove the home volume too (kept otherwise, for a container of the same name)
    #[arg(long)]
    volumes: bool,
    /// Do not ask, even on a terminal
    #[arg(long, short)]
    yes: bool,
}

pub(super) const REMOVE_AFTER_HELP: &str = "\
On a terminal you are shown what goes and asked first; --yes does not ask. Without a
terminal (scripts, pipes) nothing is asked and the removal goes ahead.

The home volume (ds01-home-NAME._.<uid>, your files in ~ inside the container) is kept
unless --volumes: a container created again under the same name gets it back. The
workspace directory on the host is never removed.

Examples:
  ds01 container remove thesis
  ds01 container remove thesis --force --volumes --yes
  ds01 container remove --all";

pub(super) async fn remove(args: &RemoveArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    if !args.yes && !ctx.out.json() && prompt::interactive() {
        let planned = removals(ctx, args, true).await?;
        if planned.is_empty() {
            ctx.out.info("no stopped containers to remove");
            return Ok(ExitStatus::Success);
        }
        for plan in &planned {
            describe(ctx, plan, "will remove", "will keep");
        }
        let question = match planned.len() {
            1 => "Remove it?".to_owned(),
            n => format!("Remove these {n} containers?"),
        };
        if prompt::confirm(&question)? != Some(true) {
            ctx.out.info("nothing removed");
            return Ok(ExitStatus::Failure);
        }
    }
    let removed = removals(ctx, args, false).await?;
    if ctx.out.json() {
        for r in &removed {
            ctx.out.print_json(&serde_json::json!({
                "name": r.name,
                "action": "removed",
                "removed_images": r.removed_images,
                "removed_volumes": r.removed_volumes,
                "kept_volumes": r.kept_volumes,
            }))?;
        }
        return Ok(ExitStatus::Success);
    }
    if removed.is_empty() {
        ctx.out.info("no stopped containers to remove");
    }
    for r in &removed {
        ctx.out.success(format!("removed {}", r.name));
        describe(ctx, r, "removed", "kept");
    }
    Ok(ExitStatus::Success)
}

fn describe(ctx: &Context, r: &Removed, gone: &str, kept: &str) {
    if gone == "will remove" {
        ctx.out.info(format!("{gone} container {}", r.name));
    }
    for image in &r.removed_images {
        ctx.out.info(format!("{gone} its own image {image}"));
    }
    for volume in &r.removed_volumes {
        ctx.out.info(format!("{gone} its home volume {volume}"));
    }
    for volume in &r.kept_volumes {
        ctx.out.info(format!(
            "{kept} its home volume {volume} (--volumes removes it)"
        ));
    }
}

/// The one container named, or every stopped one; with `dry_run`, what would go.
async fn removals(
    ctx: &Context,
    args: &RemoveArgs,
    dry_run: bool,
) -> Result<Vec<Removed>, CliError> {
    match &args.name {
        Some(name) => {
            let query = RemoveQuery {
                force: args.force,
                volumes: args.volumes,
                dry_run,
            };
            let name = name.clone();
            Ok(vec![
                ctx.client.ask(&RemoveContainer { name, query }).await?,
            ])
        }
        None => {
            let volumes = args.volumes;
            ctx.client.ask(&RemoveStopped { volumes, dry_run }).await
        }
    }
}
