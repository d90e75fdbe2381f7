//! What the usage operations (`crate::ops::usage`, `crate::ops::admin::usage` and
//! `report`) read of the ledger: off the async workers, as a month of files takes a while.

use std::collections::BTreeMap;
use std::sync::Arc;

use ds01_api::{
    AdminUsageQuery, ApiError, ErrorCode, ReportQuery, UsageReport, UsageSummary, UsageTable,
};

use ds01_policy::fair;

use super::report::{self, Month, Sum, Tables};
use super::sampler::now_ms;
use crate::Daemon;

/// How far back the report looks for accounts' last use.
const LAST_USE_MONTHS: u32 = 13;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Failed, format!("reading the usage ledger: {e}")))
}

/// `uid`'s own usage from `since_ms` until now.
pub(crate) async fn own(
    daemon: Arc<Daemon>,
    user: String,
    uid: u32,
    since_ms: i64,
) -> Result<UsageSummary, ApiError> {
    blocking(move || {
        let until = now_ms();
        let mut records = Vec::new();
        daemon.usage.read(
            since_ms,
            until,
            |r| r.holder.uid == uid,
            |r| records.push(r),
        );
        report::summary(&user, uid, since_ms, until, records)
    })
    .await
}

/// `uid`'s own usage from `since_ms` to `until_ms` as Slurm's accounting has it (cluster
/// mode with `[cluster] accounting = "slurm"`): each job's span, cut to the asked one, made
/// a record of the same shape as the ledger's. Slurm keeps no idle time or GPU utilisation.
pub(crate) fn own_from_slurm(
    daemon: &Daemon,
    user: &str,
    uid: u32,
    since_ms: i64,
    until_ms: i64,
    jobs: Vec<crate::cluster::accounting::JobUse>,
) -> UsageSummary {
    let mut people = super::People::default();
    let (_, groups) = people.of_uid(uid);
    let group = super::owner::policy_group(&daemon.config.policy, user, &groups);
    let records = jobs.into_iter().map(|j| {
        let secs = (j.end_ms - j.start_ms) as f64 / 1000.0;
        super::record::Record {
            v: super::record::FORMAT,
            start_ms: j.start_ms,
            end_ms: j.end_ms,
            gpu_seconds: j.gpu_seconds(),
            idle_gpu_seconds: 0.0,
            cpu_seconds: j.cpu_seconds,
            memory_byte_seconds: j.memory_bytes * secs,
            gpu_util_percent_seconds: 0.0,
            gpu_util_measured_seconds: 0.0,
            holder: super::Holder {
                container: j.name,
                id: j.id.to_string(),
                uid,
                user: user.to_owned(),
                group: group.clone(),
                gpus: (0..j.gpus).map(|i| format!("{}/gpu{i}", j.id)).collect(),
                gpu_equivalents: f64::from(j.gpus),
            },
        }
    });
    report::summary(user, uid, since_ms, until_ms, records)
}

/// `uid`'s decayed GPU-seconds now, which orders the `--wait` line: the ledger's records
/// and the open ones (what the user holds now, up to the reaper's last round). The reading
/// blocks this worker only, as the caller is about to wait anyway.
pub(crate) fn decayed_gpu_seconds(daemon: &Daemon, uid: u32) -> f64 {
    let half_life = daemon.config.fair_share_half_life.as_secs_f64();
    let now = now_ms();
    let from = now - (half_life * 1000.0) as i64 * i64::from(fair::HORIZON_HALF_LIVES);
    tokio::task::block_in_place(|| {
        let mut spans = Vec::new();
        daemon.usage.read(
            from,
            now,
            |r| r.holder.uid == uid,
            |r| {
                spans.push(fair::Used {
                    start_ms: r.start_ms,
                    end_ms: r.end_ms,
                    gpu_seconds: r.gpu_seconds,
                })
            },
        );
        fair::decayed(spans, now, half_life)
    })
}

fn month_of(text: Option<&str>, default: Month) -> Result<Month, ApiError> {
    match text {
        None => Ok(default),
        Some(t) => Month::parse(t).ok_or_else(|| {
            ApiError::invalid(format!(
                "`{}` is not a month: give YYYY-MM, e.g. 2026-11",
                ds01_api::shown(t)
            ))
        }),
    }
}

/// The month's records summed.
fn tables(daemon: &Daemon, month: Month, until_ms: i64) -> Tables {
    let mut t = Tables::default();
    daemon
        .usage
        .read(month.start_ms(), until_ms, |_| true, |r| t.add(&r));
    t
}

/// The month's table of `q.by`.
pub(crate) async fn table(daemon: Arc<Daemon>, q: AdminUsageQuery) -> Result<UsageTable, ApiError> {
    let month = month_of(q.month.as_deref(), Month::of(now_ms()))?;
    blocking(move || {
        let until = month.end_ms().min(now_ms());
        let t = tables(&daemon, month, until);
        UsageTable {
            month: month.to_string(),
            by: q.by,
            from: month.start_ms() / 1000,
            until: until / 1000,
            rows: t.rows(q.by),
        }
    })
    .await
}

/// The monthly report of `q.month` (last month by default), without its webhook.
pub(crate) async fn monthly(daemon: Arc<Daemon>, q: &ReportQuery) -> Result<UsageReport, ApiError> {
    let month = month_of(q.month.as_deref(), Month::of(now_ms()).previous())?;
    // Owners of containers count as accounts even before their first use.
    let owners: Vec<u32> = daemon
        .engine
        .list_containers(ds01_engine::Scope::AllUsers)
        .await
        .map_err(crate::errors::from_engine)?
        .into_iter()
        .filter(|c| super::sampler::in_scope(&daemon.config.file, c))
        .map(|c| c.uid())
        .collect();
    let unused_days = q.unused_days;
    let reader = daemon.clone();
    blocking(move || {
        let daemon = reader;
        let until = month.end_ms().min(now_ms());
        let this = tables(&daemon, month, until);
        let before = tables(&daemon, month.previous(), month.start_ms());
        let mut first = month;
        for _ in 0..LAST_USE_MONTHS {
            first = first.previous();
        }
        let mut last_used: BTreeMap<u32, Sum> = BTreeMap::new();
        let mut candidates: BTreeMap<u32, String> = BTreeMap::new();
        daemon.usage.read(
            first.start_ms(),
            until,
            |_| true,
            |r| {
                candidates.insert(r.holder.uid, r.holder.user.clone());
                last_used.entry(r.holder.uid).or_default().add(&r);
            },
        );
        for uid in owners {
            candidates.entry(uid).or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map_or_else(|| format!("#{uid}"), |u| u.name)
            });
        }
        let last: BTreeMap<u32, i64> = last_used
            .iter()
            .filter_map(|(uid, s)| s.last_ms().map(|t| (*uid, t)))
            .collect();
        let unused = report::unused(&candidates, &last, unused_days, until);
        report::report(month, until, &this, &before, unused_days, unused)
    })
    .await
}
