//! The reaper's rules: when an idle or overlong container is warned and stopped.
//!
//! The daemon samples each running container every `check_interval` and feeds the sample to
//! the container's [`Watch`], which answers keep, warn or stop. Time is Unix seconds (UTC).
//!
//! Three choices fix DS01's cron bugs:
//! * Idleness is measured in time covered by samples, not in a count of runs, and a gap in
//!   sampling (daemon down, more than two intervals) restarts the window: nothing is stopped
//!   as idle without evidence for the whole timeout.
//! * A stop always comes at least one check interval after its warning, even if the daemon
//!   was late, instead of warning and stopping in the same run.
//! * A GPU whose utilisation cannot be read (typical for MIG) is not a signal; the container
//!   is judged by CPU and sessions, rather than looking busy forever.

use serde::{Deserialize, Serialize};

use crate::units::{Cap, Span};

/// One check of one container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, in Unix seconds.
    pub at: i64,
    /// CPU use since the last check, in percent of one CPU (200 = two busy cores).
    pub cpu_percent: f64,
    /// GPU utilisation in percent, if the container has a GPU that can be measured.
    pub gpu_percent: Option<u32>,
    /// Open interactive sessions (`docker exec` shells, IDE connections).
    pub sessions: u32,
}

impl Sample {
    /// Whether every signal is under its threshold: CPU, GPU where measured, and no session.
    /// The reaper's idle stops and the usage ledger's idle GPU time both mean this.
    pub fn is_idle(&self, idle_cpu_percent: f64, idle_gpu_percent: u32) -> bool {
        self.cpu_percent < idle_cpu_percent
            && self.gpu_percent.is_none_or(|g| g < idle_gpu_percent)
            && self.sessions == 0
    }
}

/// The thresholds and limits that apply to one container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// CPU below this (percent of one CPU) counts as idle.
    pub idle_cpu_percent: f64,
    /// GPU utilisation below this counts as idle.
    pub idle_gpu_percent: u32,
    /// Stop after this long idle.
    pub idle_timeout: Cap<Span>,
    /// Stop after this long since the first start, idle or not.
    pub max_runtime: Cap<Span>,
    /// The longest keep-alive a user may ask for, counted from the request.
    pub keep_alive_max: Cap<Span>,
    /// How often the daemon samples.
    pub check_interval: Span,
}

/// What to do with the container now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to do.
    Keep,
    /// Tell the owner it will be stopped (returned once per pending stop).
    Warn {
        /// When it will be stopped, in Unix seconds.
        stops_at: i64,
        /// Why.
        reason: Reason,
    },
    /// Stop it now.
    Stop {
        /// Why.
        reason: Reason,
    },
}

/// Why a container is stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Every signal stayed under its threshold.
    Idle {
        /// For how long (at the stop).
        idle_for: Span,
        /// The CPU threshold, percent of one CPU.
        cpu_under: f64,
        /// The GPU threshold, if a GPU reading was seen in the window; `None`: no GPU use seen.
        gpu_under: Option<u32>,
    },
    /// It reached `max_runtime`.
    MaxRuntime {
        /// How long it had run (at the stop).
        ran_for: Span,
    },
}

/// A refused keep-alive.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeepAliveError {
    /// Longer than `keep_alive_max`.
    #[error("a keep-alive of {} is longer than the {} allowed (keep_alive_max)", .asked.human(), .max.human())]
    TooLong {
        /// What was asked, from now.
        asked: Span,
        /// The most allowed.
        max: Span,
    },
    /// The end is not in the future.
    #[error("a keep-alive must end in the future")]
    InPast,
}

/// The timers of one container, kept across checks and daemon restarts (it serializes).
///
/// ```
/// use ds01_policy::{Cap, Decision, Rules, Sample, Span, Watch};
///
/// let rules = Rules {
///     idle_cpu_percent: 5.0,
///     idle_gpu_percent: 5,
///     idle_timeout: Cap::Limited(Span::from_secs(3600)),
///     max_runtime: Cap::Unlimited,
///     keep_alive_max: Cap::Limited(Span::from_secs(86_400)),
///     check_interval: Span::from_secs(300),
/// };
/// let mut w = Watch::new(0);
/// let idle = |at| Sample { at, cpu_percent: 0.5, gpu_percent: Some(0), sessions: 0 };
/// let mut decisions = (0..=12).map(|i| w.step(&idle(i * 300), &rules));
/// assert!(decisions.by_ref().take(11).all(|d| d == Decision::Keep));
/// assert!(matches!(decisions.next(), Some(Decision::Warn { stops_at: 3600, .. }))); // at 55 min
/// assert!(matches!(decisions.next(), Some(Decision::Stop { .. })));                 // at 60 min
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// First start, in Unix seconds; a restart does not reset it.
    pub started_at: i64,
    /// Start of the current unbroken idle window.
    pub idle_since: Option<i64>,
    /// Whether a GPU reading was seen in the current idle window.
    pub idle_gpu_seen: bool,
    /// The last sample's time.
    pub last_sample: Option<i64>,
    /// Idle stops are postponed to at least this time.
    pub keep_alive_until: Option<i64>,
    /// When the pending idle stop was announced.
    pub warned_idle: Option<i64>,
    /// When the max-runtime stop was announced.
    pub warned_runtime: Option<i64>,
    /// The stop (Unix seconds) the lead-time warnings were given for, and which lead times
    /// (seconds) were given: a stop that moves gets them all again.
    #[serde(default)]
    pub leads_given: Option<(i64, Vec<u64>)>,
}

impl Watch {
    /// A watch for a container first started at `started_at`.
    pub fn new(started_at: i64) -> Watch {
        Watch {
            started_at,
            idle_since: None,
            idle_gpu_seen: false,
            last_sample: None,
            keep_alive_until: None,
            warned_idle: None,
            warned_runtime: None,
            leads_given: None,
        }
    }

    /// The lead-time warning due at `now`, after [`Watch::step`] kept the container: the
    /// earliest pending stop, if one of `leads` has been reached for it and not given yet
    /// (once for all the leads reached at once, e.g. after a restart). Leads
    /// inside the final warning's window (two check intervals) are left to that warning.
    pub fn lead_due(&mut self, rules: &Rules, leads: &[Span], now: i64) -> Option<Decision> {
        let interval = rules.check_interval.secs() as i64;
        let (stop, reason) = self.first_stop(rules, now)?;
        let left = stop - now;
        if left < 2 * interval {
            return None;
        }
        let given = match &self.leads_given {
            Some((at, given)) if *at == stop => given.clone(),
            _ => Vec::new(),
        };
        let reached: Vec<u64> = leads
            .iter()
            .map(|l| l.secs())
            .filter(|l| left <= *l as i64 && !given.contains(l))
            .collect();
        if reached.is_empty() {
            return None;
        }
        let mut all = given;
        all.extend(reached);
        self.leads_given = Some((stop, all));
        Some(Decision::Warn {
            stops_at: stop,
            reason,
        })
    }

    /// The earlier of the stops pending at `now`.
    fn first_stop(&self, rules: &Rules, now: i64) -> Option<(i64, Reason)> {
        self.stops(rules, now)
            .into_iter()
            .flatten()
            .min_by_key(|(stop, _)| *stop)
    }

    /// The stops pending at `now`: max runtime's, and the idle one's.
    fn stops(&self, rules: &Rules, now: i64) -> [Option<(i64, Reason)>; 2] {
        let runtime = rules.max_runtime.value().map(|m| {
            let stop = self.started_at.saturating_add(m.secs() as i64);
            (
                stop,
                Reason::MaxRuntime {
                    ran_for: since(self.started_at, now.max(stop)),
                },
            )
        });
        let idle_stop = match (rules.idle_timeout.value(), self.idle_since) {
            (Some(t), Some(from)) => {
                let stop = from
                    .saturating_add(t.secs() as i64)
                    .max(self.keep_alive_until.unwrap_or(i64::MIN));
                let reason = Reason::Idle {
                    idle_for: since(from, now.max(stop)),
                    cpu_under: rules.idle_cpu_percent,
                    gpu_under: self.idle_gpu_seen.then_some(rules.idle_gpu_percent),
                };
                Some((stop, reason))
            }
            _ => None,
        };
        [runtime, idle_stop]
    }

    /// Postpones idle stops until `until` (not max-runtime stops).
    pub fn keep_alive(
        &mut self,
        now: i64,
        until: i64,
        max: Cap<Span>,
    ) -> Result<(), KeepAliveError> {
        if until <= now {
            return Err(KeepAliveError::InPast);
        }
        let asked = Span::from_secs((until - now) as u64);
        if let Cap::Limited(max) = max {
            if asked > max {
                return Err(KeepAliveError::TooLong { asked, max });
            }
        }
        self.keep_alive_until = Some(until);
        // The stop announced before has moved; announce the new one when it comes.
        self.warned_idle = None;
        Ok(())
    }

    /// Records a sample and decides. A returned `Warn` is remembered, so it is not repeated.
    pub fn step(&mut self, s: &Sample, rules: &Rules) -> Decision {
        let interval = rules.check_interval.secs() as i64;
        let contiguous = self
            .last_sample
            .is_some_and(|l| s.at >= l && s.at - l <= 2 * interval);
        let idle = s.is_idle(rules.idle_cpu_percent, rules.idle_gpu_percent);
        if !idle {
            self.idle_since = None;
            self.warned_idle = None;
        } else if self.idle_since.is_none() || !contiguous {
            self.idle_since = Some(s.at);
            self.idle_gpu_seen = s.gpu_percent.is_some();
            self.warned_idle = None;
        } else {
            self.idle_gpu_seen |= s.gpu_percent.is_some();
        }
        self.last_sample = Some(s.at);

        let now = s.at;
        let [runtime, idle_stop] = self.stops(rules, now);

        let mut warn: Option<(i64, Reason, bool)> = None;
        for (pending, is_idle) in [(runtime, false), (idle_stop, true)] {
            let Some((stop, reason)) = pending else {
                continue;
            };
            let warned = if is_idle {
                self.warned_idle
            } else {
                self.warned_runtime
            };
            match warned {
                Some(w) if now >= stop && now >= w + interval => return Decision::Stop { reason },
                Some(_) => {}
                // The next check would come less than an interval before the stop: warn now.
                None if stop - now < 2 * interval => {
                    let stops_at = stop.max(now + interval);
                    if warn.as_ref().is_none_or(|(at, _, _)| stops_at < *at) {
                        warn = Some((stops_at, reason, is_idle));
                    }
                }
                None => {}
            }
        }
        match warn {
            Some((stops_at, reason, is_idle)) => {
                *(if is_idle {
                    &mut self.warned_idle
                } else {
                    &mut self.warned_runtime
                }) = Some(now);
                Decision::Warn { stops_at, reason }
            }
            None => Decision::Keep,
        }
    }
}

/// The rule a coming stop is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRule {
    /// `idle_timeout` (after any keep-alive).
    Idle,
    /// `max_runtime`.
    MaxRuntime,
}

impl StopRule {
    /// The word the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            StopRule::Idle => "idle",
            StopRule::MaxRuntime => "max_runtime",
        }
    }
}

impl Watch {
    /// When the container will be stopped if nothing changes (it stays idle, or runs on),
    /// and by which rule: the earlier of the two.
    ///
    /// ```
    /// use ds01_policy::{Cap, Rules, Span, StopRule, Watch};
    ///
    /// let rules = Rules {
    ///     idle_cpu_percent: 5.0,
    ///     idle_gpu_percent: 5,
    ///     idle_timeout: Cap::Limited(Span::from_secs(3600)),
    ///     max_runtime: Cap::Limited(Span::from_secs(86_400)),
    ///     keep_alive_max: Cap::Unlimited,
    ///     check_interval: Span::from_secs(60),
    /// };
    /// let mut w = Watch::new(0);
    /// assert_eq!(w.next_stop(&rules), Some((86_400, StopRule::MaxRuntime)));
    /// w.idle_since = Some(600);
    /// assert_eq!(w.next_stop(&rules), Some((4200, StopRule::Idle)));
    /// ```
    pub fn next_stop(&self, rules: &Rules) -> Option<(i64, StopRule)> {
        // `now` only sizes the reason's durations, which are not asked for here.
        self.first_stop(rules, self.started_at)
            .map(|(at, reason)| (at, reason.rule()))
    }
}

fn since(from: i64, to: i64) -> Span {
    Span::from_secs(to.saturating_sub(from).max(0) as u64)
}

fn clock(t: i64) -> String {
    let s = t.rem_euclid(86_400);
    format!("{:02}:{:02} UTC", s / 3600, s % 3600 / 60)
}

impl Reason {
    /// The rule that stops for this reason.
    pub fn rule(&self) -> StopRule {
        match self {
            Reason::Idle { .. } => StopRule::Idle,
            Reason::MaxRuntime { .. } => StopRule::MaxRuntime,
        }
    }

    /// "it was idle for 2 h: CPU under 5 %, no GPU use, no session".
    pub fn because(&self) -> String {
        match self {
            Reason::Idle {
                idle_for,
                cpu_under,
                gpu_under,
            } => {
                let gpu = gpu_under.map_or("no GPU use".into(), |g| format!("GPU under {g} %"));
                format!(
                    "it was idle for {}: CPU under {cpu_under} %, {gpu}, no session",
                    idle_for.human()
                )
            }
            Reason::MaxRuntime { ran_for } => {
                format!(
                    "it ran for {}, the longest allowed (max_runtime)",
                    ran_for.human()
                )
            }
        }
    }
}

impl Decision {
    /// The sentence for the owner, `None` for `Keep`; `now` is when a `Stop` happens.
    ///
    /// ```
    /// use ds01_policy::{Decision, Reason, Span};
    ///
    /// let reason = Reason::Idle { idle_for: Span::from_secs(7200), cpu_under: 5.0, gpu_under: None };
    /// assert_eq!(
    ///     Decision::Stop { reason }.sentence(3 * 3600 + 12 * 60).unwrap(),
    ///     "stopped at 03:12 UTC because it was idle for 2 h: CPU under 5 %, no GPU use, no session",
    /// );
    /// ```
    pub fn sentence(&self, now: i64) -> Option<String> {
        match self {
            Decision::Keep => None,
            Decision::Warn { stops_at, reason } => {
                let why = reason
                    .because()
                    .replacen("it was", "it will have been", 1)
                    .replacen("it ran", "it will have run", 1);
                Some(format!(
                    "will be stopped at {} because {why}",
                    clock(*stops_at)
                ))
            }
            Decision::Stop { reason } => Some(format!(
                "stopped at {} because {}",
                clock(now),
                reason.because()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60;

    fn rules(idle_min: Option<u64>, runtime_min: Option<u64>) -> Rules {
        let cap =
            |m: Option<u64>| m.map_or(Cap::Unlimited, |m| Cap::Limited(Span::from_secs(m * 60)));
        Rules {
            idle_cpu_percent: 5.0,
            idle_gpu_percent: 5,
            idle_timeout: cap(idle_min),
            max_runtime: cap(runtime_min),
            keep_alive_max: cap(Some(24 * 60)),
            check_interval: Span::from_secs(5 * 60),
        }
    }

    fn sample(at_min: i64, cpu: f64, gpu: Option<u32>, sessions: u32) -> Sample {
        Sample {
            at: at_min * MIN,
            cpu_percent: cpu,
            gpu_percent: gpu,
            sessions,
        }
    }

    /// Samples every 5 min from `from` to `to` minutes, up to the first stop; returns the
    /// decisions other than Keep.
    fn run(
        w: &mut Watch,
        r: &Rules,
        from: i64,
        to: i64,
        f: impl Fn(i64) -> Sample,
    ) -> Vec<(i64, Decision)> {
        let mut out = Vec::new();
        for m in (from..=to).step_by(5) {
            match w.step(&f(m), r) {
                Decision::Keep => {}
                d @ Decision::Stop { .. } => return [out, vec![(m, d)]].concat(),
                d => out.push((m, d)),
            }
        }
        out
    }

    #[test]
    fn idle_container_is_warned_then_stopped_after_the_timeout() {
        let (mut w, r) = (Watch::new(0), rules(Some(60), None));
        let got = run(&mut w, &r, 0, 120, |m| sample(m, 1.0, None, 0));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0].0, 55,
            "warned one interval ahead, not in the stop run"
        );
        assert!(matches!(got[0].1, Decision::Warn { stops_at: 3600, .. }));
        assert_eq!(got[1].0, 60);
        let Decision::Stop { reason } = &got[1].1 else {
            panic!()
        };
        assert_eq!(
            *reason,
            Reason::Idle {
                idle_for: Span::from_secs(3600),
                cpu_under: 5.0,
                gpu_under: None
            }
        );
    }

    #[test]
    fn any_signal_resets_the_window() {
        for busy in [
            sample(30, 50.0, None, 0),
            sample(30, 0.0, Some(80), 0),
            sample(30, 0.0, None, 1),
        ] {
            let (mut w, r) = (Watch::new(0), rules(Some(60), None));
            let got = run(&mut w, &r, 0, 120, |m| {
                if m == 30 {
                    busy
                } else {
                    sample(m, 0.0, Some(1), 0)
                }
            });
            assert_eq!(got[0].0, 90, "{busy:?}: idle from 35, warn at 90");
            assert!(matches!(
                got[1],
                (
                    95,
                    Decision::Stop {
                        reason: Reason::Idle {
                            gpu_under: Some(5),
                            ..
                        }
                    }
                )
            ));
        }
    }

    #[test]
    fn a_sampling_gap_restarts_the_window() {
        let (mut w, r) = (Watch::new(0), rules(Some(60), None));
        let mut got = run(&mut w, &r, 0, 30, |m| sample(m, 0.0, None, 0));
        got.extend(run(&mut w, &r, 100, 200, |m| sample(m, 0.0, None, 0)));
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [155, 160]);
    }

    #[test]
    fn a_late_daemon_still_warns_before_stopping() {
        let (mut w, r) = (Watch::new(0), rules(None, Some(60)));
        assert_eq!(w.step(&sample(10, 90.0, None, 0), &r), Decision::Keep);
        // The daemon was down past the limit: it warns first and stops one interval later.
        let d = w.step(&sample(70, 90.0, None, 0), &r);
        assert!(
            matches!(d, Decision::Warn { stops_at, .. } if stops_at == 75 * MIN),
            "{d:?}"
        );
        assert!(matches!(
            w.step(&sample(75, 90.0, None, 0), &r),
            Decision::Stop {
                reason: Reason::MaxRuntime { .. }
            }
        ));
    }

    #[test]
    fn keep_alive_postpones_idle_but_not_max_runtime() {
        let (mut w, r) = (Watch::new(0), rules(Some(60), Some(180)));
        w.keep_alive(0, 150 * MIN, r.keep_alive_max).unwrap();
        let got = run(&mut w, &r, 0, 240, |m| sample(m, 0.0, None, 0));
        let at: Vec<i64> = got.iter().map(|g| g.0).collect();
        assert_eq!(
            at,
            [145, 150],
            "idle stop moved to the keep-alive's end: {got:?}"
        );
        let (mut w, r) = (Watch::new(0), rules(Some(60), Some(180)));
        w.keep_alive(0, 24 * 60 * MIN, r.keep_alive_max).unwrap();
        let got = run(&mut w, &r, 0, 240, |m| sample(m, 0.0, None, 0));
        assert!(
            matches!(
                got.last(),
                Some((
                    180,
                    Decision::Stop {
                        reason: Reason::MaxRuntime { .. }
                    }
                ))
            ),
            "{got:?}"
        );
    }

    #[test]
    fn keep_alive_beyond_the_maximum_is_refused() {
        let mut w = Watch::new(0);
        let e = w
            .keep_alive(0, 25 * 3600, Cap::Limited(Span::from_secs(24 * 3600)))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "a keep-alive of 1 d 1 h is longer than the 1 d allowed (keep_alive_max)"
        );
        assert_eq!(
            w.keep_alive(10, 5, Cap::Unlimited),
            Err(KeepAliveError::InPast)
        );
        assert_eq!(w.keep_alive_until, None);
        assert!(w.keep_alive(0, 1_000_000, Cap::Unlimited).is_ok());
    }

    #[test]
    fn no_limits_never_stop_and_state_survives_a_restart() {
        let (mut w, r) = (Watch::new(0), rules(None, None));
        assert!(run(&mut w, &r, 0, 600, |m| sample(m, 0.0, None, 0)).is_empty());
        let (mut w, r) = (Watch::new(0), rules(Some(60), None));
        run(&mut w, &r, 0, 55, |m| sample(m, 0.0, None, 0));
        let mut restored: Watch =
            serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(restored, w);
        assert!(matches!(
            restored.step(&sample(60, 0.0, None, 0), &r),
            Decision::Stop { .. }
        ));
    }

    #[test]
    fn sentences() {
        let warn = Decision::Warn {
            stops_at: 3 * 3600 + 12 * 60,
            reason: Reason::Idle {
                idle_for: Span::from_secs(7200),
                cpu_under: 5.0,
                gpu_under: Some(10),
            },
        };
        assert_eq!(
            warn.sentence(0).unwrap(),
            "will be stopped at 03:12 UTC because it will have been idle for 2 h: CPU under 5 %, GPU under 10 %, no session"
        );
        let stop = Decision::Stop {
            reason: Reason::MaxRuntime {
                ran_for: Span::from_secs(7 * 86_400),
            },
        };
        assert_eq!(
            stop.sentence(86_400 + 60).unwrap(),
            "stopped at 00:01 UTC because it ran for 7 d, the longest allowed (max_runtime)"
        );
        assert_eq!(Decision::Keep.sentence(0), None);
    }

    #[test]
    fn lead_times_warn_once_each_before_the_final_warning() {
        let rules = Rules {
            idle_cpu_percent: 5.0,
            idle_gpu_percent: 5,
            idle_timeout: Cap::Limited(Span::from_secs(3600)),
            max_runtime: Cap::Unlimited,
            keep_alive_max: Cap::Unlimited,
            check_interval: Span::from_secs(60),
        };
        let leads = [Span::from_secs(1800), Span::from_secs(300)];
        let mut w = Watch::new(0);
        let mut leads_at = Vec::new();
        let mut final_at = None;
        for i in 0..=60 {
            let at = i * 60;
            let s = Sample {
                at,
                cpu_percent: 0.0,
                gpu_percent: None,
                sessions: 0,
            };
            match w.step(&s, &rules) {
                Decision::Keep => {
                    if let Some(Decision::Warn { stops_at, .. }) = w.lead_due(&rules, &leads, at) {
                        assert_eq!(stops_at, 3600);
                        leads_at.push(at);
                    }
                }
                Decision::Warn { .. } => final_at = Some(at),
                Decision::Stop { .. } => {
                    assert_eq!(at, 3600);
                    break;
                }
            }
        }
        assert_eq!(leads_at, [1800, 3300], "30 and 5 minutes before");
        assert_eq!(final_at, Some(3540), "the final interval's warning");
        // Activity resets the window: the leads come again for the new stop.
        let busy = Sample {
            at: 3660,
            cpu_percent: 90.0,
            gpu_percent: None,
            sessions: 0,
        };
        let mut w = Watch::new(0);
        w.leads_given = Some((3600, vec![1800, 300]));
        w.step(&busy, &rules);
        let idle = Sample {
            cpu_percent: 0.0,
            at: 3720,
            ..busy
        };
        w.step(&idle, &rules);
        assert!(w.lead_due(&rules, &leads, 3720 + 1800).is_some());
    }
}
