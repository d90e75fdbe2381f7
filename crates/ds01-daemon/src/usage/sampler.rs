//! The sampler, called from every reaper round: for each running container in the reaper's
//! scope, the interval since its last reading is added to its open record. An interval is
//! never longer than two check intervals (`cap`), so a stalled or restarted ds01d never
//! credits time it did not watch. A container first seen within the cap of its start is
//! counted from its start; one that has stopped, up to its end (within the cap again); one
//! whose CPU counter went back (restarted between two rounds) from its new start.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use ds01_engine::{ContainerView, RunTimes, UsageReading};
use ds01_policy::Sample;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::ledger::Ledger;
use super::owner::People;
use super::record::{Holder, Interval, Record};
use super::settings::UsageConfig;
use crate::Daemon;

/// Engine calls in flight at once: enough to keep a round short with hundreds of
/// containers, few enough to leave the engine to the users.
const AT_ONCE: usize = 4;

/// What the sampler keeps of one running container between rounds (saved in `open.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Open {
    /// The record being added to (empty right after one closed).
    pub record: Record,
    /// The last reading's time, Unix milliseconds.
    pub last_ms: i64,
    /// The CPU counter then.
    pub cpu_ns: u64,
    /// Since when it has been idle without a break, if it is idle.
    #[serde(default)]
    pub idle_since_ms: Option<i64>,
    /// The memory limit then, bytes.
    #[serde(default)]
    pub memory_limit: u64,
}

/// What the sampler keeps in memory.
#[derive(Default)]
struct State {
    open: BTreeMap<String, Open>,
    /// Closed records a failed commit could not write; tried again with the next round's.
    unwritten: Vec<Record>,
}

/// The usage ledger and its sampler.
pub(crate) struct Usage {
    ledger: Option<Ledger>,
    every_ms: i64,
    state: Mutex<State>,
    /// Held for writing while a round commits and for reading while a reader reads the
    /// files and the open records, so a record is seen in one place or the other, not both.
    commit: RwLock<()>,
    util: super::util::Utilisation,
    cgroups: super::cgroup::Cgroups,
    /// See [`UsageConfig`].
    pub(crate) config: UsageConfig,
}

/// A running container's reading, and what is known of it.
struct Seen {
    /// Its ID.
    id: String,
    reading: UsageReading,
    holder: Holder,
    sessions: u32,
}

impl Usage {
    /// The ledger in `<state>/ledger`, recovered. Without it (the directory cannot be made)
    /// ds01d still serves, and says so.
    pub fn open(state_dir: &std::path::Path, config: UsageConfig) -> Usage {
        let (ledger, open) = match Ledger::open(&state_dir.join("ledger")) {
            Ok((ledger, open)) => (Some(ledger), open),
            Err(e) => {
                tracing::error!("the usage ledger cannot be opened, so nothing is counted: {e}");
                (None, BTreeMap::new())
            }
        };
        Usage {
            ledger,
            every_ms: config.record_every.as_millis() as i64,
            state: Mutex::new(State {
                open,
                unwritten: Vec::new(),
            }),
            commit: RwLock::new(()),
            util: super::util::Utilisation::new(),
            cgroups: Default::default(),
            config,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls `each` with every record of `[from_ms, to_ms)` that `keep` accepts: the
    /// ledger's, then those not written yet, then the open ones as they are now.
    pub fn read(
        &self,
        from_ms: i64,
        to_ms: i64,
        keep: impl Fn(&Record) -> bool,
        mut each: impl FnMut(Record),
    ) {
        let _consistent = self.commit.read().unwrap_or_else(|p| p.into_inner());
        let Some(ledger) = &self.ledger else { return };
        ledger.read(from_ms, to_ms, |r| {
            if keep(&r) {
                each(r)
            }
        });
        let state = self.lock();
        let live = state
            .unwritten
            .iter()
            .chain(state.open.values().map(|o| &o.record));
        for r in live.filter_map(|r| r.within(from_ms, to_ms)) {
            if keep(&r) {
                each(r);
            }
        }
    }

    /// Per held device, the holder and since when it has been idle: what the metrics show.
    pub fn idle_holders(&self) -> Vec<(Holder, Option<i64>)> {
        self.lock()
            .open
            .values()
            .filter(|o| !o.record.holder.gpus.is_empty())
            .map(|o| (o.record.holder.clone(), o.idle_since_ms))
            .collect()
    }
}

/// The CPU time `c` has used since it started, in nanoseconds: from its cgroup when the
/// sampler found it, else from the engine.
pub(crate) async fn cpu_time_ns(daemon: &Daemon, c: &ContainerView) -> ds01_engine::Result<u64> {
    match daemon.usage.cgroups.read(&c.id) {
        Some(r) => Ok(r.cpu_ns),
        None => daemon.engine.cpu_time_ns(&c.name).await,
    }
}

/// Whether the reaper's scope takes in `c` (`reap = "labelled"`: only with every label).
pub(crate) fn in_scope(config: &crate::config::FileConfig, c: &ContainerView) -> bool {
    config.reap != crate::config::ReapScope::Labelled
        || config
            .labels
            .iter()
            .all(|(k, v)| c.labels.get(k) == Some(v))
}

/// One round: read every running container in scope, account the intervals, commit.
pub(crate) async fn sample(daemon: &Arc<Daemon>, containers: &[ContainerView]) {
    let usage = &daemon.usage;
    if usage.ledger.is_none() {
        return;
    }
    let running: Vec<&ContainerView> = containers
        .iter()
        .filter(|c| c.state.is_live() && in_scope(&daemon.config.file, c))
        .collect();
    // The cgroups' files where known; the others are found from their first process, and
    // what still cannot be read is asked of the engine.
    let mut readings: HashMap<String, UsageReading> = HashMap::new();
    let mut unknown = Vec::new();
    for c in &running {
        match usage.cgroups.read(&c.id) {
            Some(r) => {
                readings.insert(c.id.clone(), r);
            }
            None => unknown.push(c.id.clone()),
        }
    }
    let mut times = each(daemon, unknown, |d, id| async move {
        d.engine.run_times(&id).await
    })
    .await;
    let mut unread = Vec::new();
    for (id, t) in &times {
        match t.pid.filter(|pid| usage.cgroups.learn(id, *pid)) {
            Some(_) => readings.extend(usage.cgroups.read(id).map(|r| (id.clone(), r))),
            None => unread.push(id.clone()),
        }
    }
    readings.extend(
        each(daemon, unread, |d, id| async move {
            d.engine.usage_reading(&id).await
        })
        .await,
    );
    let now_ms = now_ms();
    // The engine's start or end times: for containers first seen, restarted, or stopped.
    let known: HashMap<String, u64> = usage
        .lock()
        .open
        .iter()
        .map(|(id, o)| (id.clone(), o.cpu_ns))
        .collect();
    let running_ids: HashSet<&str> = running.iter().map(|c| c.id.as_str()).collect();
    usage.cgroups.keep(&running_ids);
    let listed: HashSet<&str> = containers.iter().map(|c| c.id.as_str()).collect();
    let mut asks: Vec<String> = readings
        .iter()
        .filter(|(id, r)| known.get(*id).is_none_or(|before| r.cpu_ns < *before))
        .map(|(id, _)| id.clone())
        .collect();
    asks.extend(
        known
            .keys()
            .filter(|id| !running_ids.contains(id.as_str()) && listed.contains(id.as_str()))
            .cloned(),
    );
    asks.retain(|id| !times.contains_key(id));
    times.extend(
        each(daemon, asks, |d, id| async move {
            d.engine.run_times(&id).await
        })
        .await,
    );
    let mut people = People::default();
    let seen: Vec<Seen> = running
        .iter()
        .filter_map(|c| {
            let reading = *readings.get(&c.id)?;
            Some(Seen {
                id: c.id.clone(),
                reading,
                holder: super::owner::holder(daemon, c, &mut people),
                sessions: if c.state == ds01_engine::ContainerState::Paused {
                    0
                } else {
                    daemon.sessions.count(&c.name) as u32
                },
            })
        })
        .collect();
    let gone: Vec<String> = known
        .keys()
        .filter(|id| !running_ids.contains(id.as_str()))
        .cloned()
        .collect();
    account(daemon, seen, times, gone, now_ms).await;
}

/// A cluster container's reading (cluster mode): a running Slurm job, read through Slurm.
pub(crate) struct JobReading {
    /// The reaper's key of the job, `slurm-<job ID>`.
    pub id: String,
    /// The container, `<name>._.<uid>`.
    pub container: String,
    /// Its owner.
    pub uid: u32,
    /// The GPUs its job holds.
    pub gpus: u32,
    /// The CPU time of its steps, never going back.
    pub cpu_ns: u64,
    /// The job's memory, bytes.
    pub memory_limit: u64,
    /// ds01 sessions open into it.
    pub sessions: u32,
}

/// One round in cluster mode: the running jobs' intervals accounted as containers' are.
/// A job is counted from its second reading (the first gives no interval; the ledger
/// counts only what it watched) to its last.
pub(crate) async fn sample_jobs(daemon: &Arc<Daemon>, jobs: Vec<JobReading>) {
    if daemon.usage.ledger.is_none() {
        return;
    }
    let mut people = People::default();
    let seen: Vec<Seen> = jobs
        .into_iter()
        .map(|j| {
            let (user, groups) = people.of_uid(j.uid);
            Seen {
                reading: UsageReading {
                    cpu_ns: j.cpu_ns,
                    memory_limit: j.memory_limit,
                },
                holder: Holder {
                    container: j.container,
                    id: j.id.clone(),
                    uid: j.uid,
                    group: super::owner::policy_group(&daemon.config.policy, &user, &groups),
                    user,
                    // Slurm binds the devices on the node; the ledger names them by job.
                    gpus: (0..j.gpus).map(|i| format!("{}/gpu{i}", j.id)).collect(),
                    gpu_equivalents: f64::from(j.gpus),
                },
                id: j.id,
                sessions: j.sessions,
            }
        })
        .collect();
    let gone: Vec<String> = daemon
        .usage
        .lock()
        .open
        .keys()
        .filter(|id| !seen.iter().any(|s| &s.id == *id))
        .cloned()
        .collect();
    account(daemon, seen, HashMap::new(), gone, now_ms()).await;
}

/// Adds each seen container's interval to its open record, closes the records of those
/// `gone`, and commits the closed ones to the ledger.
async fn account(
    daemon: &Arc<Daemon>,
    seen: Vec<Seen>,
    times: HashMap<String, RunTimes>,
    gone: Vec<String>,
    now_ms: i64,
) {
    let usage = &daemon.usage;
    let rules = Thresholds {
        cpu: daemon.config.lifecycle.idle_cpu_percent,
        gpu: daemon.config.lifecycle.idle_gpu_percent,
        cap_ms: 2 * daemon.config.lifecycle.check_interval.as_millis() as i64,
        every_ms: usage.every_ms,
    };
    let usage_ref = daemon.clone();
    let committed = tokio::task::spawn_blocking(move || {
        let usage = &usage_ref.usage;
        let _commit = usage.commit.write().unwrap_or_else(|p| p.into_inner());
        let mut state = usage.lock();
        let mut closed = std::mem::take(&mut state.unwritten);
        let mut added = Vec::new();
        for s in &seen {
            let util = usage.util.mean(&s.holder.gpus);
            let (interval, mut o, replaced) = step(
                state.open.remove(&s.id),
                s,
                times.get(&s.id),
                util,
                now_ms,
                &rules,
            );
            closed.extend(replaced.filter(|r| !r.is_empty()));
            if let Some(i) = interval {
                closed.extend(Record::accrue(&mut o.record, i, rules.every_ms));
                added.push((o.record.holder.clone(), i));
            }
            state.open.insert(s.id.clone(), o);
        }
        for id in gone {
            let Some(mut o) = state.open.remove(&id) else {
                continue;
            };
            // Its last run up to its end, when the engine still knows it.
            if let Some(end) = times.get(&id).and_then(|t| t.finished_ms) {
                let end = end.min(o.last_ms + rules.cap_ms).min(now_ms);
                if end > o.last_ms {
                    let i = Interval {
                        start_ms: o.last_ms,
                        end_ms: end,
                        cpu_seconds: 0.0,
                        memory_limit: o.memory_limit as f64,
                        idle: o.idle_since_ms.is_some(),
                        gpu_util: None,
                    };
                    closed.extend(Record::accrue(&mut o.record, i, rules.every_ms));
                    added.push((o.record.holder.clone(), i));
                }
            }
            if !o.record.is_empty() {
                closed.push(o.record);
            }
        }
        let Some(ledger) = &usage.ledger else {
            return added;
        };
        if let Err((e, unwritten)) = ledger.commit(&state.open, closed) {
            tracing::error!(
                "cannot write the usage ledger ({} record(s) kept to try again): {e}",
                unwritten.len()
            );
            crate::metrics::ledger_error();
            state.unwritten = unwritten;
        }
        added
    })
    .await
    .unwrap_or_default();
    for (holder, interval) in &committed {
        crate::metrics::accounted(holder, interval);
    }
}

/// `call` for each ID, [`AT_ONCE`] at a time; the IDs it answered for.
async fn each<T, F, Fut>(daemon: &Arc<Daemon>, ids: Vec<String>, call: F) -> HashMap<String, T>
where
    F: Fn(Arc<Daemon>, String) -> Fut,
    Fut: std::future::Future<Output = ds01_engine::Result<T>>,
{
    futures_util::stream::iter(ids)
        .map(|id| {
            let answer = call(daemon.clone(), id.clone());
            async move { (id, answer.await) }
        })
        .buffer_unordered(AT_ONCE)
        .filter_map(|(id, answer)| std::future::ready(answer.ok().map(|a| (id, a))))
        .collect()
        .await
}

/// The idle thresholds and the ledger's spans, for one round.
struct Thresholds {
    cpu: f64,
    gpu: u32,
    cap_ms: i64,
    every_ms: i64,
}

/// The interval to account for one running container, its state after this round, and the
/// record it closed when its owner's login or group changed.
fn step(
    before: Option<Open>,
    s: &Seen,
    times: Option<&RunTimes>,
    util: Option<f64>,
    now_ms: i64,
    rules: &Thresholds,
) -> (Option<Interval>, Open, Option<Record>) {
    let started = times.and_then(|t| t.started_ms);
    let earliest = now_ms - rules.cap_ms;
    // From when, and the CPU counter then.
    let from = match &before {
        // Restarted since: the counter began again at its start.
        Some(o) if s.reading.cpu_ns < o.cpu_ns => started.map(|t| t.max(o.last_ms)).map(|t| (t, 0)),
        Some(o) => Some((o.last_ms, o.cpu_ns)),
        None => started.filter(|t| *t >= earliest).map(|t| (t, 0)),
    };
    let fresh = || Open {
        record: Record::empty(s.holder.clone(), now_ms),
        last_ms: now_ms,
        cpu_ns: s.reading.cpu_ns,
        idle_since_ms: None,
        memory_limit: s.reading.memory_limit,
    };
    let (mut open, replaced) = match before {
        Some(o) if o.record.holder == s.holder => (o, None),
        // Its owner's login or group changed: a record of its own from here.
        Some(o) => (
            Open {
                idle_since_ms: o.idle_since_ms,
                ..fresh()
            },
            Some(o.record),
        ),
        None => (fresh(), None),
    };
    let interval = from.and_then(|(at, cpu_then)| {
        // Never more than the cap: what was not watched is not counted.
        let start = at.max(earliest);
        if start >= now_ms {
            return None;
        }
        let watched = (now_ms - at).max(1) as f64;
        let cpu_seconds = s.reading.cpu_ns.saturating_sub(cpu_then) as f64 / 1e9
            * ((now_ms - start) as f64 / watched);
        let secs = (now_ms - start) as f64 / 1000.0;
        let sample = Sample {
            at: now_ms / 1000,
            cpu_percent: cpu_seconds / secs * 100.0,
            gpu_percent: util.map(|u| u.round() as u32),
            sessions: s.sessions,
        };
        Some(Interval {
            start_ms: start,
            end_ms: now_ms,
            cpu_seconds,
            memory_limit: s.reading.memory_limit as f64,
            idle: sample.is_idle(rules.cpu, rules.gpu),
            gpu_util: util,
        })
    });
    if let Some(i) = &interval {
        open.idle_since_ms = if i.idle {
            Some(open.idle_since_ms.unwrap_or(i.start_ms))
        } else {
            None
        };
    }
    open.last_ms = now_ms;
    open.cpu_ns = s.reading.cpu_ns;
    open.memory_limit = s.reading.memory_limit;
    (interval, open, replaced)
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(container: &ContainerView, cpu_ns: u64, sessions: u32) -> Seen {
        Seen {
            id: container.id.clone(),
            reading: UsageReading {
                cpu_ns,
                memory_limit: 1 << 30,
            },
            holder: Holder {
                container: container.name.to_string(),
                id: container.id.clone(),
                uid: 1000,
                user: "ann".into(),
                group: "default".into(),
                gpus: vec!["GPU-a".into()],
                gpu_equivalents: 1.0,
            },
            sessions,
        }
    }

    fn running() -> ContainerView {
        ContainerView {
            name: ds01_dockerfile::owner::OwnedName::new("a", 1000),
            id: "c1".into(),
            image: String::new(),
            image_id: String::new(),
            state: ds01_engine::ContainerState::Running,
            status: String::new(),
            started_at: None,
            labels: Default::default(),
            mounts: Vec::new(),
        }
    }

    const RULES: Thresholds = Thresholds {
        cpu: 5.0,
        gpu: 5,
        cap_ms: 20_000,
        every_ms: 3_600_000,
    };

    #[test]
    fn a_container_first_seen_is_counted_from_its_start_only_within_the_cap() {
        let c = running();
        let times = RunTimes {
            started_ms: Some(95_000),
            finished_ms: None,
            pid: None,
        };
        let (i, o, _) = step(
            None,
            &seen(&c, 2_000_000_000, 0),
            Some(&times),
            None,
            100_000,
            &RULES,
        );
        let i = i.unwrap();
        assert_eq!((i.start_ms, i.end_ms), (95_000, 100_000));
        assert!(!i.idle, "2 s of CPU in 5 s is busy");
        assert_eq!((o.last_ms, o.cpu_ns), (100_000, 2_000_000_000));
        // Started long before: only the reading is kept.
        let long_ago = RunTimes {
            started_ms: Some(10_000),
            finished_ms: None,
            pid: None,
        };
        let (i, _, _) = step(
            None,
            &seen(&c, 1, 0),
            Some(&long_ago),
            None,
            100_000,
            &RULES,
        );
        assert!(i.is_none());
    }

    #[test]
    fn a_gap_longer_than_the_cap_is_not_counted() {
        let c = running();
        let before = Open {
            record: Record::empty(seen(&c, 0, 0).holder, 0),
            last_ms: 0,
            cpu_ns: 0,
            idle_since_ms: None,
            memory_limit: 0,
        };
        let (i, o, _) = step(Some(before), &seen(&c, 0, 0), None, None, 100_000, &RULES);
        let i = i.unwrap();
        assert_eq!((i.start_ms, i.end_ms), (80_000, 100_000));
        assert!(i.idle);
        assert_eq!(o.idle_since_ms, Some(80_000));
        // An open session is not idle, and ends the idle stretch.
        let (i, o, _) = step(Some(o), &seen(&c, 0, 1), None, None, 110_000, &RULES);
        assert!(!i.unwrap().idle);
        assert_eq!(o.idle_since_ms, None);
    }

    #[test]
    fn a_counter_that_went_back_counts_from_the_new_start() {
        let c = running();
        let before = Open {
            record: Record::empty(seen(&c, 0, 0).holder, 0),
            last_ms: 100_000,
            cpu_ns: 9_000_000_000,
            idle_since_ms: None,
            memory_limit: 0,
        };
        let times = RunTimes {
            started_ms: Some(104_000),
            finished_ms: Some(103_000),
            pid: None,
        };
        let (i, _, _) = step(
            Some(before),
            &seen(&c, 1_000_000, 0),
            Some(&times),
            None,
            110_000,
            &RULES,
        );
        let i = i.unwrap();
        assert_eq!((i.start_ms, i.end_ms), (104_000, 110_000));
        assert!((i.cpu_seconds - 0.001).abs() < 1e-9);
    }
}
