//! One resource-use sample of a user's running containers.

use crate::client::Engine;
use crate::error::{Context, Result};
use crate::lifecycle::Scope;
use crate::view::ContainerState;
use bollard::query_parameters::StatsOptionsBuilder;
use ds01_api::ContainerName;
use ds01_dockerfile::Identity;
use futures_util::future::try_join_all;
use futures_util::TryStreamExt;

pub use ds01_api::ContainerStats;

impl Engine {
    /// One stats sample for each of the user's running containers.
    pub async fn stats(&self, who: &Identity) -> Result<Vec<ContainerStats>> {
        let running: Vec<_> = self
            .list_containers(Scope::User(who))
            .await?
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .collect();
        // One sample takes the engine about a second (it waits for a second CPU reading):
        // all containers at once, not one after the other.
        let samples = try_join_all(running.into_iter().map(|c| async move {
            let options = StatsOptionsBuilder::default()
                .stream(false)
                .one_shot(false)
                .build();
            let sample = self
                .docker()
                .stats(&c.id, Some(options))
                .try_next()
                .await
                .context(|| format!("reading stats of {}", c.name))?;
            let name = c.name.name().to_owned();
            Ok::<_, crate::error::EngineError>(sample.map(|s| sample_of(name, s)))
        }))
        .await?;
        Ok(samples.into_iter().flatten().collect())
    }

    /// The CPU time the container has used since it started, in nanoseconds, from one
    /// quick sample: the caller takes the rate over its own interval, which measures the
    /// whole interval rather than the engine's last second.
    pub async fn cpu_time_ns(&self, docker_name: &str) -> Result<u64> {
        Ok(self.usage_reading(docker_name).await?.cpu_ns)
    }

    /// Runs `command` as `who` in their running container and gives up after `limit`
    /// (an on-stop hook must not hold a stop forever). `Ok(None)` when it timed out.
    pub async fn exec_within(
        &self,
        who: &Identity,
        name: &ContainerName,
        command: &[String],
        limit: std::time::Duration,
    ) -> Result<Option<i64>> {
        match tokio::time::timeout(limit, self.exec(who, name, command, false)).await {
            Ok(out) => out.map(|o| Some(o.status)),
            Err(_) => Ok(None),
        }
    }
}

fn sample_of(name: String, s: bollard::models::ContainerStatsResponse) -> ContainerStats {
    let cpu_now = s.cpu_stats.as_ref();
    let cpu_before = s.precpu_stats.as_ref();
    let total = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |c: Option<&bollard::models::ContainerCpuStats>| {
        c.and_then(|c| c.system_cpu_usage).unwrap_or(0)
    };
    let cpus = cpu_now.and_then(|c| c.online_cpus).unwrap_or(1) as f64;
    let cpu_delta = total(cpu_now).saturating_sub(total(cpu_before)) as f64;
    let sys_delta = system(cpu_now).saturating_sub(system(cpu_before)) as f64;
    let cpu_percent = if sys_delta > 0.0 {
        cpu_delta / sys_delta * cpus * 100.0
    } else {
        0.0
    };
    let memory = s.memory_stats.as_ref();
    ContainerStats {
        name,
        cpu_percent,
        memory_bytes: memory.and_then(|m| m.usage).unwrap_or(0),
        memory_limit_bytes: memory.and_then(|m| m.limit).unwrap_or(0),
        pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
    }
}
