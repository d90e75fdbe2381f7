//! What the usage ledger reads of a running container: its CPU counter and memory limit (one
//! stats sample; `ds01d` reads the cgroup's files instead where it can), and when it started
//! or finished and its first process (one inspect, taken when a container is first seen or has
//! stopped).

use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::TryStreamExt;

use crate::client::Engine;
use crate::error::{Context, Result};

/// One reading of a container's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageReading {
    /// CPU time used since the container started, in nanoseconds (the cgroup's counter).
    pub cpu_ns: u64,
    /// The memory limit the engine reports: the container's own, else the host's memory.
    pub memory_limit: u64,
}

/// When a container last started and finished, in Unix milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTimes {
    /// Its last start.
    pub started_ms: Option<i64>,
    /// Its last end, once it has ended.
    pub finished_ms: Option<i64>,
    /// Its first process, while it runs (where its cgroup can be found).
    pub pid: Option<u32>,
}

impl Engine {
    /// The container's counters now, from one stats sample that does not wait for a second
    /// CPU reading: the ledger takes differences over its own interval.
    pub async fn usage_reading(&self, id: &str) -> Result<UsageReading> {
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let sample = self
            .docker()
            .stats(id, Some(options))
            .try_next()
            .await
            .context(|| format!("reading stats of {id}"))?;
        let cpu_ns = sample
            .as_ref()
            .and_then(|s| s.cpu_stats.as_ref())
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0);
        let memory_limit = sample
            .and_then(|s| s.memory_stats)
            .and_then(|m| m.limit)
            .unwrap_or(0);
        Ok(UsageReading {
            cpu_ns,
            memory_limit,
        })
    }

    /// When the container last started and finished.
    pub async fn run_times(&self, id: &str) -> Result<RunTimes> {
        let found = self
            .docker()
            .inspect_container(id, None)
            .await
            .context(|| format!("inspecting {id}"))?;
        let state = found.state.unwrap_or_default();
        Ok(RunTimes {
            started_ms: state.started_at.as_deref().and_then(unix_ms),
            finished_ms: state.finished_at.as_deref().and_then(unix_ms),
            pid: state
                .pid
                .and_then(|p| u32::try_from(p).ok())
                .filter(|p| *p > 0),
        })
    }
}

/// An RFC 3339 time in Unix milliseconds; the engine's zero time (`0001-01-01…`) is none.
fn unix_ms(text: &str) -> Option<i64> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
    (ms > 0).then_some(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_times_read_to_the_millisecond_and_zero_is_none() {
        assert_eq!(
            unix_ms("2026-12-05T10:00:00.123456789Z"),
            Some(1_796_464_800_123)
        );
        assert_eq!(unix_ms("0001-01-01T00:00:00Z"), None);
        assert_eq!(unix_ms("not a time"), None);
    }
}
