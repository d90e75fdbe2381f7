//! `ds01 container install` and `stats`: work on running containers.

use ds01_api::{ContainerName, ContainerStats};
use ds01_dockerfile::PipRequirement;
use hyper::Method;
use serde_json::json;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

pub(super) async fn install(
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

pub(super) async fn stats(ctx: &Context) -> Result<ExitStatus, CliError> {
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
