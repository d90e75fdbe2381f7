//! `ds01 container list`: one table row per container, or one JSON object per line.

use ds01_api::endpoints::ListContainers;
use ds01_api::ContainerFilter;

use super::format::{render, ListFormat};
use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

pub(super) async fn list(
    all_users: bool,
    filters: &[ContainerFilter],
    format: &ListFormat,
    ctx: &Context,
) -> Result<ExitStatus, CliError> {
    let list = ListContainers {
        all_users,
        filters: filters.iter().map(|f| f.to_string()).collect(),
    };
    let containers = ctx.client.ask(&list).await?;
    let all_users = all_users || containers.iter().any(|c| c.uid != containers[0].uid);
    if let ListFormat::Template(pieces) = format {
        for c in &containers {
            ctx.out.print(render(pieces, c))?;
        }
        return Ok(ExitStatus::Success);
    }
    if ctx.out.json() || *format == ListFormat::Json {
        for c in &containers {
            ctx.out.print_json(c)?;
        }
        return Ok(ExitStatus::Success);
    }
    if containers.is_empty() && !filters.is_empty() {
        ctx.out.info("no containers match");
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
