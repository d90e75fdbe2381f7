//! What the usage ledger answers: a user's own usage, the admin's tables by user, group or
//! container, and the monthly report. Quantities are in base units (seconds, byte-seconds);
//! GPU seconds are full-GPU equivalents (a MIG slice counts its fraction of a GPU).

use serde::{Deserialize, Serialize};

/// Sums of usage over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// GPU time held, in full-GPU-equivalent seconds.
    pub gpu_seconds: f64,
    /// The part of `gpu_seconds` held while the holder was idle (CPU under the reaper's
    /// threshold, no open session, and GPU utilisation under its threshold where NVML reads it).
    pub idle_gpu_seconds: f64,
    /// CPU time used (the engine's cgroup CPU counter), in seconds.
    pub cpu_seconds: f64,
    /// The memory limit held, integrated over time, in byte-seconds.
    pub memory_byte_seconds: f64,
    /// The mean GPU utilisation where NVML could read it, in percent; `None` where it never
    /// could (no NVML, MIG slices).
    #[serde(default)]
    pub gpu_util_percent: Option<f64>,
}

/// One container's usage over a span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerUsage {
    /// Its Docker name, `<name>._.<uid>`.
    pub container: String,
    /// Its owner's login.
    pub user: String,
    /// Its owner's UID.
    pub uid: u32,
    /// Its owner's policy group (`default` when no group table applies).
    pub group: String,
    /// The devices it held (UUIDs).
    pub gpus: Vec<String>,
    /// What it used.
    #[serde(flatten)]
    pub totals: UsageTotals,
    /// The first and last moment of use counted in the span, Unix seconds.
    pub first: i64,
    /// See `first`.
    pub last: i64,
}

/// The query of `GET /v1/usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// From when: a span back from now (`30d`), Unix seconds or RFC 3339; default 30 days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// `GET /v1/usage`: the acting user's own usage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageSummary {
    /// The user's login.
    pub user: String,
    /// Their UID.
    pub uid: u32,
    /// The span, Unix seconds.
    pub since: i64,
    /// See `since`.
    pub until: i64,
    /// Everything together.
    #[serde(flatten)]
    pub totals: UsageTotals,
    /// Per container, most GPU time first.
    pub containers: Vec<ContainerUsage>,
}

/// How the admin's usage table groups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageBy {
    /// One row per user.
    #[default]
    User,
    /// One row per policy group.
    Group,
    /// One row per container.
    Container,
}

impl UsageBy {
    /// The word used in queries and column heads.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageBy::User => "user",
            UsageBy::Group => "group",
            UsageBy::Container => "container",
        }
    }
}

/// The query of `GET /v1/admin/usage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminUsageQuery {
    /// How rows are grouped.
    #[serde(default)]
    pub by: UsageBy,
    /// The month, `YYYY-MM` (UTC); default the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
}

/// One row of an admin table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// The user's login, the group, or the container's Docker name.
    pub key: String,
    /// The user (rows by user or container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The group (rows by user, group or container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// How many containers the row adds up.
    pub containers: u32,
    /// What they used.
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// `GET /v1/admin/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageTable {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// How rows are grouped.
    pub by: UsageBy,
    /// The month's span, Unix seconds (`until` is now for the current month).
    pub from: i64,
    /// See `from`.
    pub until: i64,
    /// Most GPU time first.
    pub rows: Vec<UsageRow>,
}

/// The query of `POST /v1/admin/report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportQuery {
    /// The month, `YYYY-MM` (UTC); default the previous one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// Accounts with no use for this many days are listed (default 30).
    #[serde(default = "default_unused_days")]
    pub unused_days: u32,
    /// Post the report to the configured webhook (default true).
    #[serde(default = "yes")]
    pub webhook: bool,
}

impl Default for ReportQuery {
    fn default() -> Self {
        ReportQuery {
            month: None,
            unused_days: default_unused_days(),
            webhook: true,
        }
    }
}

fn default_unused_days() -> u32 {
    30
}

fn yes() -> bool {
    true
}

/// A user's GPU time this month against the month before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthChange {
    /// The user.
    pub user: String,
    /// This month's GPU seconds.
    pub gpu_seconds: f64,
    /// The month before's.
    pub previous_gpu_seconds: f64,
}

/// An account that used nothing for the report's `unused_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedAccount {
    /// The login.
    pub user: String,
    /// The UID.
    pub uid: u32,
    /// When it last used anything the ledger records (Unix seconds); `None`: never in the
    /// ledger (it only owns containers).
    pub last_used: Option<i64>,
}

/// What became of posting the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookOutcome {
    /// Where it was posted.
    pub url: String,
    /// The answer's HTTP status.
    #[serde(default)]
    pub status: Option<u16>,
    /// Why it could not be posted.
    #[serde(default)]
    pub error: Option<String>,
}

/// `POST /v1/admin/report`: one month's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReport {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// Its span, Unix seconds.
    pub from: i64,
    /// See `from`.
    pub until: i64,
    /// Everybody together.
    pub totals: UsageTotals,
    /// Per user, most GPU time first.
    pub by_user: Vec<UsageRow>,
    /// Per policy group, most GPU time first.
    pub by_group: Vec<UsageRow>,
    /// The containers that held the most GPU time (at most ten).
    pub top_holders: Vec<UsageRow>,
    /// The month before.
    pub previous_month: String,
    /// The month before's totals.
    pub previous_totals: UsageTotals,
    /// Every user of either month.
    pub change: Vec<MonthChange>,
    /// The threshold of `unused`.
    pub unused_days: u32,
    /// Accounts with no use for `unused_days` by the report's end.
    pub unused: Vec<UnusedAccount>,
    /// Set when a webhook is configured and posting was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookOutcome>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_one_flat_object_with_the_totals() {
        let s = UsageSummary {
            user: "ann".into(),
            uid: 1000,
            since: 0,
            until: 60,
            totals: UsageTotals {
                gpu_seconds: 60.0,
                cpu_seconds: 1.5,
                ..Default::default()
            },
            containers: Vec::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["gpu_seconds"], 60.0);
        assert_eq!(v["cpu_seconds"], 1.5);
        assert!(v["containers"].is_array());
        assert_eq!(serde_json::from_value::<UsageSummary>(v).unwrap(), s);
    }

    #[test]
    fn report_queries_default_to_thirty_days_and_posting() {
        let q: ReportQuery = serde_urlencoded::from_str("month=2026-11").unwrap();
        assert_eq!((q.unused_days, q.webhook), (30, true));
    }
}
