//! The reaper, inside ds01d (no cron): every check interval it samples each running (or
//! paused: no CPU, no sessions, so idle) container (CPU over the whole interval, GPU utilisation where NVML can read it, open
//! ds01 sessions), feeds the sample to the container's watch, warns the owner at least one
//! interval before a stop and at the admin's lead times (event, `container list`, open
//! sessions, the alerts file and webhook of `crate::notify`), and stops an idle or
//! overlong container: its on-stop hook first, as the user, then SIGTERM, a grace period,
//! and SIGKILL. The watches are saved in the state directory after every round, so a
//! restarted ds01d loses no timer.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ds01_labels::{container, gpu};
use std::time::Duration;

use ds01_engine::{ContainerView, Identity};
use ds01_policy::{Cap, Decision, Rules, Sample, Span, StopRule, Watch};

use crate::Daemon;

mod cluster;

/// How long an on-stop hook may run.
const HOOK_LIMIT: Duration = Duration::from_secs(60);

/// The reaper's memory: one watch per container ID, and the last CPU reading (so the
/// first reading after a restart still measures an interval).
#[derive(Default)]
pub struct Watches {
    path: PathBuf,
    watches: Mutex<HashMap<String, Watch>>,
    cpu: Mutex<HashMap<String, (u64, i64)>>,
    /// Disk warnings given (kept in memory: after a restart a warning may come again).
    pub(crate) disk: crate::disk::DiskWatch,
    /// High-demand mode.
    demand: crate::demand::Demand,
    /// Each watched container's coming stop as of the last round, for `status` and `top`.
    next: Mutex<HashMap<String, (i64, StopRule)>>,
    /// Cluster mode: each job's highest CPU reading, in nanoseconds (its steps' sum drops
    /// when an exec step ends; the readings must not).
    job_cpu: Mutex<HashMap<String, u64>>,
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Saved {
    watches: HashMap<String, Watch>,
    cpu: HashMap<String, (u64, i64)>,
}

impl Watches {
    /// The watches saved in `dir`, if any.
    pub fn load(dir: &std::path::Path) -> Watches {
        let path = dir.join("watches.json");
        let saved: Saved = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Watches {
            path,
            watches: Mutex::new(saved.watches),
            cpu: Mutex::new(saved.cpu),
            disk: Default::default(),
            demand: Default::default(),
            next: Default::default(),
            job_cpu: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watch>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self) {
        let saved = Saved {
            watches: self.lock().clone(),
            cpu: self.cpu.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        let bytes = serde_json::to_vec(&saved).unwrap_or_default();
        let tmp = self.path.with_extension("json.tmp");
        if let Err(e) = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &self.path))
        {
            tracing::error!(
                "cannot save the reaper's timers to {}: {e}",
                self.path.display()
            );
        }
    }

    /// Starts `id`'s timers if this is the first time it is seen running. Saved at once:
    /// the calls of the rest of the round may take long, and a restart meanwhile must not
    /// lose when the container was first seen.
    fn seen(&self, id: &str, now: i64) {
        let first = {
            let mut watches = self.lock();
            let first = !watches.contains_key(id);
            watches
                .entry(id.to_owned())
                .or_insert_with(|| Watch::new(now));
            first
        };
        if first {
            self.save();
        }
    }

    /// Forgets every watch but those of `ids` (the containers running now).
    fn keep_only(&self, ids: &[&str]) {
        self.lock().retain(|id, _| ids.contains(&id.as_str()));
        self.cpu
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| ids.contains(&id.as_str()));
        self.next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| ids.contains(&id.as_str()));
        self.job_cpu
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| ids.contains(&id.as_str()));
    }

    /// The CPU use of `id` (percent of one CPU) since its previous reading, given its CPU
    /// time now; `None` at its first reading.
    fn cpu_percent(&self, id: &str, cpu_ns: u64) -> Option<f64> {
        let mut cpu = self.cpu.lock().unwrap_or_else(|p| p.into_inner());
        let now_ns = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
        match cpu.insert(id.to_owned(), (cpu_ns, now_ns)) {
            Some((before, at)) if now_ns > at => {
                Some(cpu_ns.saturating_sub(before) as f64 / (now_ns - at) as f64 * 100.0)
            }
            _ => None,
        }
    }

    /// When container `id` will be stopped if nothing changes, as of the last round.
    pub fn next_stop(&self, id: &str) -> Option<(i64, StopRule)> {
        self.next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    /// When the reaper first saw container `id` running (Unix seconds), if it watches it.
    pub fn running_since(&self, id: &str) -> Option<i64> {
        self.lock().get(id).map(|w| w.started_at)
    }

    /// Whether the reaper counts container `id` idle now (`None`: it does not watch it).
    pub fn idle(&self, id: &str) -> Option<bool> {
        self.lock().get(id).map(|w| w.idle_since.is_some())
    }

    /// Whether high-demand mode is on.
    pub fn high_demand(&self) -> bool {
        self.demand.is_on()
    }

    /// When container `id` will be stopped and why, once the owner was warned.
    pub fn stops_at(&self, id: &str) -> Option<String> {
        let watches = self.lock();
        let w = watches.get(id)?;
        let (at, why) = match (w.warned_idle, w.warned_runtime) {
            (Some(i), Some(r)) if r < i => (r, "max runtime"),
            (Some(i), _) => (i, "idle"),
            (None, Some(r)) => (r, "max runtime"),
            (None, None) => return None,
        };
        Some(format!("{} ({why})", clock(at)))
    }

    /// Postpones `id`'s idle stop until `until` (within `max`).
    pub fn keep_alive(
        &self,
        id: &str,
        now: i64,
        until: i64,
        max: Cap<Span>,
    ) -> Result<(), ds01_policy::KeepAliveError> {
        let mut watches = self.lock();
        let watch = watches
            .entry(id.to_owned())
            .or_insert_with(|| Watch::new(now));
        watch.keep_alive(now, until, max)?;
        drop(watches);
        self.save();
        Ok(())
    }
}

/// `HH:MM UTC`.
pub fn clock(t: i64) -> String {
    let s = t.rem_euclid(86_400);
    format!("{:02}:{:02} UTC", s / 3600, s % 3600 / 60)
}

/// The check interval the configuration asks for.
pub fn interval(daemon: &Daemon) -> Duration {
    daemon.config.lifecycle.check_interval
}

/// Runs rounds until the daemon ends.
pub async fn run(daemon: Arc<Daemon>) {
    let every = interval(&daemon);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        // In cluster mode the containers are Slurm jobs: the engine here runs none of them.
        let outcome = match &daemon.config.cluster {
            Some(cluster) => cluster::round(&daemon, cluster, every).await,
            None => round(&daemon, every).await,
        };
        crate::metrics::reaper_round(started.elapsed(), outcome.is_ok());
        if let Err(e) = outcome {
            tracing::warn!("reaper round failed: {}", e.message);
        }
    }
}

async fn round(daemon: &Arc<Daemon>, every: Duration) -> Result<(), ds01_api::ApiError> {
    let containers = daemon
        .engine
        .list_containers(ds01_engine::Scope::AllUsers)
        .await
        .map_err(crate::errors::from_engine)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    crate::usage::sample(daemon, &containers).await;
    let running: Vec<&ContainerView> = containers.iter().filter(|c| c.state.is_live()).collect();
    // A container that stopped (or went away) starts afresh when it runs again.
    daemon
        .watches
        .keep_only(&running.iter().map(|c| c.id.as_str()).collect::<Vec<_>>());
    let high_demand = daemon.watches.demand.round(daemon, &containers);
    let stopped = crate::disk::round(daemon, &running).await;
    let config = &daemon.config.file;
    for c in running {
        if stopped.contains(&c.id)
            || c.labels.get(container::PROTECTED).map(String::as_str) == Some("true")
        {
            continue;
        }
        if !crate::usage::in_scope(config, c) {
            continue;
        }
        let Some(login) = container::owner_login(|k| c.labels.get(k)) else {
            continue;
        };
        let effective = policy_of(daemon, c.uid(), login);
        let lifecycle = &daemon.config.lifecycle;
        // A tool's own timeouts, where the admin set them, replace the owner's policy's.
        let by_type = c
            .labels
            .get(container::CONTAINER_TYPE)
            .and_then(|t| ds01_api::ContainerType::from_label(t))
            .and_then(|t| config.container_types.get(&t).copied())
            .unwrap_or_default();
        let policy_idle = by_type.idle_timeout.unwrap_or(effective.idle_timeout.value);
        let idle_timeout = match high_demand {
            Some(mode) => mode.idle_timeout(policy_idle),
            None => policy_idle,
        };
        let rules = Rules {
            idle_cpu_percent: lifecycle.idle_cpu_percent,
            idle_gpu_percent: lifecycle.idle_gpu_percent,
            idle_timeout,
            max_runtime: by_type.max_runtime.unwrap_or(effective.max_runtime.value),
            keep_alive_max: effective.keep_alive_max.value,
            check_interval: Span::from_secs(every.as_secs().max(1)),
        };
        if rules.idle_timeout == Cap::Unlimited && rules.max_runtime == Cap::Unlimited {
            continue;
        }
        daemon.watches.seen(&c.id, now);
        let Ok(cpu_ns) = crate::usage::cpu_time_ns(daemon, c).await else {
            continue;
        };
        // The first reading of a container: no interval yet, so no evidence at all.
        let Some(cpu_percent) = daemon.watches.cpu_percent(&c.id, cpu_ns) else {
            continue;
        };
        let sample = Sample {
            at: now,
            cpu_percent,
            gpu_percent: None,
            // A session into a paused container is frozen with it: it keeps nothing alive.
            sessions: if c.state == ds01_engine::ContainerState::Paused {
                0
            } else {
                daemon.sessions.count(&c.name) as u32
            },
        };
        let decision = decide(daemon, &c.id, &sample, &rules, now);
        match &decision {
            Decision::Keep => {}
            Decision::Warn { reason, stops_at } => {
                crate::metrics::reaper_warned(crate::metrics::reason_of(reason));
                let sentence = format!(
                    "{} (in about {}){}",
                    decision.sentence(now).unwrap_or_default(),
                    Span::from_secs(stops_at.saturating_sub(now).max(0) as u64).human(),
                    shortened(high_demand, reason, &effective)
                );
                warn_owner(daemon, c, login, "warn", sentence);
            }
            Decision::Stop { reason } => {
                crate::metrics::reaper_stopped(crate::metrics::reason_of(reason));
                let sentence = decision.sentence(now).unwrap_or_default()
                    + &shortened(high_demand, reason, &effective);
                stop(daemon, c, login, &sentence).await;
                daemon.watches.lock().remove(&c.id);
            }
        }
    }
    daemon.watches.save();
    Ok(())
}

/// Feeds `sample` to watch `id` and notes its coming stop: the reaper's decision, the
/// final warning or else one of the admin's lead times.
fn decide(daemon: &Daemon, id: &str, sample: &Sample, rules: &Rules, now: i64) -> Decision {
    let mut watches = daemon.watches.lock();
    let watch = watches
        .entry(id.to_owned())
        .or_insert_with(|| Watch::new(now));
    let decided = match watch.step(sample, rules) {
        Decision::Keep => watch
            .lead_due(rules, &daemon.config.lifecycle.warn_before, now)
            .unwrap_or(Decision::Keep),
        decided => decided,
    };
    let next = watch.next_stop(rules);
    let mut coming = daemon
        .watches
        .next
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    match next {
        Some(n) => coming.insert(id.to_owned(), n),
        None => coming.remove(id),
    };
    decided
}

/// What an idle warning or stop adds in high-demand mode: that the timeout was shortened.
fn shortened(
    mode: Option<ds01_policy::demand::HighDemand>,
    reason: &ds01_policy::Reason,
    effective: &ds01_policy::Effective,
) -> String {
    match (mode, reason) {
        (Some(mode), ds01_policy::Reason::Idle { .. }) => format!(
            " (high-demand mode: the idle timeout of {} is × {} while over {:.0} % of the GPUs are allocated)",
            effective.idle_timeout.value,
            mode.factor,
            mode.share * 100.0
        ),
        _ => String::new(),
    }
}

/// Tells a container's owner what is coming, wherever they may be: their open sessions into
/// it, their login terminals, its alerts file and the admin's webhook (`crate::notify`),
/// and an event of `kind` that `ds01 events` and `why` show. Every warning of the reaper
/// (idle, max runtime, disk) goes this one way.
pub(crate) fn warn_owner(
    daemon: &Arc<Daemon>,
    c: &ContainerView,
    login: &str,
    kind: &str,
    sentence: String,
) {
    let line = format!("ds01: {} {sentence}", c.name);
    daemon.sessions.notify(&c.name, &line);
    crate::notify::deliver(daemon, c, login, line);
    daemon
        .events
        .record(c.uid(), login, &c.name, kind, sentence);
}

/// The policy of the owner of a container: `login` with the groups of account `uid`.
pub(crate) fn policy_of(daemon: &Daemon, uid: u32, login: &str) -> ds01_policy::Effective {
    let groups = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| crate::caller::group_names(&u))
        .unwrap_or_default();
    daemon.config.policy.effective(login, &groups)
}

/// The owner of `c` (login `login`), as commands inside it run: their primary group from
/// NSS, else from the container's labels.
pub(crate) fn owner_identity(c: &ContainerView, login: &str) -> Option<Identity> {
    let gid = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(c.uid()))
        .ok()
        .flatten()
        .map(|u| u.gid.as_raw())
        .or_else(|| {
            c.labels
                .get(container::GROUP_ID)
                .and_then(|g| g.parse().ok())
        })
        .unwrap_or(c.uid());
    Identity::new(login, c.uid(), gid).ok()
}

/// The on-stop hook as the user, then the stop.
pub(crate) async fn stop(daemon: &Arc<Daemon>, c: &ContainerView, login: &str, sentence: &str) {
    let Some(owned) = c.owned() else {
        return;
    };
    let name = owned.name().clone();
    let Some(who) = owner_identity(c, login) else {
        return;
    };
    // A paused container is idle by nature and counts as running (it holds its GPUs), so
    // its timers go on and it is stopped like any other: unpaused first, so that its hook
    // can run and its processes get the SIGTERM. (Fails harmlessly when not paused.)
    if daemon.engine.unpause_container(&owned).await.is_ok() {
        daemon.events.record(
            c.uid(),
            login,
            &c.name,
            "unpause",
            "unpaused for its stop".into(),
        );
    }
    let hook = c
        .labels
        .get(container::ON_STOP)
        .cloned()
        .unwrap_or_else(|| "/workspace/.ds01/on-stop".to_owned());
    let script = format!(
        "if [ -x {0} ]; then exec {0}; else exit 127; fi",
        shell_quote(&hook)
    );
    let ran = daemon
        .engine
        .exec_within(&who, &name, &["sh".into(), "-c".into(), script], HOOK_LIMIT)
        .await;
    match ran {
        Ok(Some(127)) | Err(_) => {}
        Ok(Some(status)) => daemon.events.record(
            c.uid(),
            login,
            &c.name,
            "on_stop",
            format!("ran the on-stop hook {hook} (exit status {status})"),
        ),
        Ok(None) => daemon.events.record(
            c.uid(),
            login,
            &c.name,
            "on_stop",
            format!(
                "the on-stop hook {hook} was still running after {} s",
                HOOK_LIMIT.as_secs()
            ),
        ),
    }
    let grace = daemon.config.lifecycle.stop_grace_secs;
    match daemon.engine.stop_container_within(&owned, grace).await {
        Ok(()) => {
            daemon
                .events
                .record(c.uid(), login, &c.name, "stop", sentence.to_owned());
            if c.labels.get(gpu::UUIDS).is_some_and(|u| !u.is_empty()) {
                daemon.events.record(
                    c.uid(),
                    login,
                    &c.name,
                    "gpu_released",
                    format!("released GPU(s) {}", c.labels[gpu::UUIDS]),
                );
            }
            daemon.gpus.released();
        }
        Err(e) => tracing::warn!("reaper: stopping {}: {e}", c.name),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
