//! The reaper's round in cluster mode (`[cluster]`): the containers are Slurm jobs on the
//! nodes, so the round reads them through Slurm, as ds01d itself (the jobs of every user,
//! each job's submitter checked against the UID its name claims). A running job's sample
//! is the CPU time of its steps (`sstat`) and the ds01 sessions open into it; no GPU
//! utilisation (the login node has no view of the nodes' GPUs). An idle or overlong job is
//! warned, then cancelled as its owner, as a single-server container is stopped (without
//! an on-stop hook: nothing of ds01d's runs inside a node's container). A job that ended
//! is recorded for `ds01 why`, and its owner is told where an ending was not their doing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ds01_api::{ApiError, OwnedContainer};
use ds01_engine::Identity;
use ds01_policy::{Cap, Decision, Rules, Sample, Span};

use crate::cluster::job::Job;
use crate::cluster::{bundle, slurm, ClusterConfig};
use crate::Daemon;

/// One round over the cluster's ds01 jobs.
pub(super) async fn round(
    daemon: &Arc<Daemon>,
    cluster: &ClusterConfig,
    every: Duration,
) -> Result<(), ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Only containers that exist: a job whose bundle was removed is nobody's container.
    let mut by_owner: BTreeMap<u32, Vec<(Job, u64)>> = BTreeMap::new();
    for (job, memory) in slurm::all_jobs(cluster).await? {
        if let Some(c) = OwnedContainer::parse(&job.name) {
            if bundle::dir(cluster, &c).is_dir() {
                by_owner.entry(c.uid()).or_default().push((job, memory));
            }
        }
    }
    let running: Vec<String> = by_owner
        .values()
        .flatten()
        .filter(|(j, _)| j.state == "RUNNING")
        .map(|(j, _)| watch_id(j))
        .collect();
    daemon
        .watches
        .keep_only(&running.iter().map(String::as_str).collect::<Vec<_>>());
    let mut readings = Vec::new();
    for (uid, jobs) in &by_owner {
        let Some(who) = owner(*uid) else { continue };
        let plain: Vec<Job> = jobs.iter().map(|(j, _)| j.clone()).collect();
        for job in
            crate::ops::cluster::observe::record_endings_of(daemon, *uid, who.login(), &plain)
        {
            if !told_already(job) {
                tell(daemon, &who, &job.name, &format!("ended: {}", job.ending()));
            }
        }
        for (job, memory) in jobs.iter().filter(|(j, _)| j.state == "RUNNING") {
            let Some(cpu_ns) = cpu_ns(daemon, cluster, job).await else {
                continue;
            };
            let sessions = daemon.sessions.count(&job.name) as u32;
            reap(daemon, cluster, &who, job, cpu_ns, sessions, now, every).await;
            readings.push(crate::usage::JobReading {
                id: watch_id(job),
                container: job.name.clone(),
                uid: *uid,
                gpus: job.gpus,
                cpu_ns,
                memory_limit: *memory,
                sessions,
            });
        }
    }
    daemon.watches.save();
    crate::usage::sample_jobs(daemon, readings).await;
    Ok(())
}

/// The CPU time of `job`'s steps, never below its last reading; `None` while Slurm has
/// none (no step measured yet, or the cluster gathers no job accounting).
async fn cpu_ns(daemon: &Daemon, cluster: &ClusterConfig, job: &Job) -> Option<u64> {
    let seconds = match slurm::cpu_seconds(cluster, job.id).await {
        Ok(Some(seconds)) => seconds,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!("reaper: {}", e.message);
            return None;
        }
    };
    let mut highest = daemon
        .watches
        .job_cpu
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let reading = highest.entry(watch_id(job)).or_default();
    *reading = (*reading).max((seconds * 1e9) as u64);
    Some(*reading)
}

/// Feeds one running job's sample to its watch and warns or cancels it as its owner's
/// policy says.
#[allow(clippy::too_many_arguments)]
async fn reap(
    daemon: &Arc<Daemon>,
    cluster: &ClusterConfig,
    who: &Identity,
    job: &Job,
    cpu_ns: u64,
    sessions: u32,
    now: i64,
    every: Duration,
) {
    let effective = super::policy_of(daemon, who.uid(), who.login());
    let rules = Rules {
        idle_cpu_percent: daemon.config.lifecycle.idle_cpu_percent,
        idle_gpu_percent: daemon.config.lifecycle.idle_gpu_percent,
        idle_timeout: effective.idle_timeout.value,
        max_runtime: effective.max_runtime.value,
        keep_alive_max: effective.keep_alive_max.value,
        check_interval: Span::from_secs(every.as_secs().max(1)),
    };
    if rules.idle_timeout == Cap::Unlimited && rules.max_runtime == Cap::Unlimited {
        return;
    }
    let id = watch_id(job);
    daemon.watches.seen(&id, now);
    let Some(cpu_percent) = daemon.watches.cpu_percent(&id, cpu_ns) else {
        return;
    };
    let sample = Sample {
        at: now,
        cpu_percent,
        gpu_percent: None,
        sessions,
    };
    let decision = super::decide(daemon, &id, &sample, &rules, now);
    match &decision {
        Decision::Keep => {}
        Decision::Warn { reason, stops_at } => {
            crate::metrics::reaper_warned(crate::metrics::reason_of(reason));
            let sentence = format!(
                "{} (in about {})",
                decision.sentence(now).unwrap_or_default(),
                Span::from_secs(stops_at.saturating_sub(now).max(0) as u64).human()
            );
            daemon
                .events
                .record(who.uid(), who.login(), &job.name, "warn", sentence.clone());
            tell(daemon, who, &job.name, &sentence);
        }
        Decision::Stop { reason } => {
            crate::metrics::reaper_stopped(crate::metrics::reason_of(reason));
            let sentence = format!(
                "{} (scancel of Slurm job {})",
                decision.sentence(now).unwrap_or_default(),
                job.id
            );
            match slurm::cancel(cluster, who, job.id).await {
                Ok(()) => {
                    daemon.events.record(
                        who.uid(),
                        who.login(),
                        &job.name,
                        "stop",
                        sentence.clone(),
                    );
                    tell(daemon, who, &job.name, &sentence);
                    daemon.watches.lock().remove(&id);
                }
                Err(e) => tracing::warn!("reaper: {}", e.message),
            }
        }
    }
}

/// The reaper's key of a job: its ID (a container made again has a job of its own).
fn watch_id(job: &Job) -> String {
    format!("slurm-{}", job.id)
}

/// Endings not worth a note: a main process that exited, and a cancel, which is the
/// owner's stop or the reaper's (told already) or an admin's (Slurm does not say whose).
fn told_already(job: &Job) -> bool {
    matches!(job.state.as_str(), "CANCELLED" | "COMPLETED")
}

/// The account of `uid`, as its Slurm commands run.
fn owner(uid: u32) -> Option<Identity> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
    Identity::new(&user.name, uid, user.gid.as_raw()).ok()
}

/// Tells `who` about their container `key` wherever they may be: their sessions into it,
/// their terminals, the admin's webhook.
fn tell(daemon: &Arc<Daemon>, who: &Identity, key: &str, sentence: &str) {
    let name = OwnedContainer::parse(key)
        .map(|c| c.name().to_string())
        .unwrap_or_else(|| key.to_owned());
    let line = format!("ds01: {name} {sentence}");
    daemon.sessions.notify(key, &line);
    crate::notify::to_user(daemon, who.uid(), line);
}
