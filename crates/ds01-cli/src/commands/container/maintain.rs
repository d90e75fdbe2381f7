//! `ds01 container install` and `stats`: work on running containers.

use ds01_api::endpoints::{Install, Stats};
use ds01_api::{ContainerName, InstallRequest};
use ds01_dockerfile::PipRequirement;

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
    let request = InstallRequest {
        packages: packages.to_vec(),
        commit,
    };
    let installed = ctx.client.ask(&Install::new(name.clone(), request)).await?;
    if ctx.out.json() {
        ctx.out.print_json(&installed)?;
    } else {
        if let Some(image) = &installed.committed {
            ctx.out.info(format!("committed to {image}"));
        }
        ctx.out.success(format!("installed in {name}"));
    }
    Ok(ExitStatus::Success)
}

pub(super) async fn stats(ctx: &Context) -> Result<ExitStatus, CliError> {
    let stats = ctx.client.ask(&Stats).await?;
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
