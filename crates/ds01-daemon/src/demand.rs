//! High-demand mode in the reaper's round: whether it is on (from the GPUs the running
//! containers hold), and the `high_demand_on`/`high_demand_off` events and gauge when it
//! turns. Not saved: a restarted ds01d finds the mode again in its first round.

use std::sync::atomic::{AtomicBool, Ordering};

use ds01_engine::ContainerView;
use ds01_policy::demand::HighDemand;

use crate::Daemon;

/// Whether the mode was on in the last round.
#[derive(Default)]
pub struct Demand {
    on: AtomicBool,
}

/// The container the mode's events name: it concerns the server, not one container.
const SERVER: &str = "-";

impl Demand {
    /// Whether the mode is on now.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// The mode for this round, if on, saying so in the event log when it turns.
    pub fn round(&self, daemon: &Daemon, containers: &[ContainerView]) -> Option<HighDemand> {
        let mode = daemon.config.lifecycle.high_demand;
        if mode.share >= 1.0 {
            // Never on: not worth counting.
            return None;
        }
        let held = crate::gpus::holdings(daemon.gpus.devices(), containers, "");
        let (allocated, total) = daemon.gpus.allocated(&held);
        let on = mode.is_on(allocated, total);
        if self.on.swap(on, Ordering::SeqCst) != on {
            crate::metrics::high_demand(on);
            let (kind, detail) = if on {
                (
                    "high_demand_on",
                    format!(
                        "high-demand mode on: {allocated:.2} of {total:.2} GPUs allocated (over {:.0} %), idle timeouts × {}",
                        mode.share * 100.0,
                        mode.factor
                    ),
                )
            } else {
                (
                    "high_demand_off",
                    format!(
                        "high-demand mode off: {allocated:.2} of {total:.2} GPUs allocated (at most {:.0} %), idle timeouts as set",
                        mode.share * 100.0
                    ),
                )
            };
            tracing::info!("{detail}");
            daemon.events.record(0, "root", SERVER, kind, detail);
        }
        on.then_some(mode)
    }
}
