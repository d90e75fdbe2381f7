//! Per-step timings of a flow, reported as progress (`ds01 -vv` shows them) and logged at
//! debug level (`DS01D_LOG=ds01_engine=debug` for ds01d): what the commit flow spends where,
//! without a profiler.

use crate::progress::ProgressSink;
use ds01_api::Progress;
use std::time::Instant;

/// Logs the time since the previous step at each [`Steps::done`].
pub(crate) struct Steps {
    flow: &'static str,
    start: Instant,
    last: Instant,
}

impl Steps {
    pub(crate) fn new(flow: &'static str) -> Steps {
        let now = Instant::now();
        Steps {
            flow,
            start: now,
            last: now,
        }
    }

    pub(crate) fn done(&mut self, step: &str, progress: &mut dyn ProgressSink) {
        let now = Instant::now();
        let text = format!(
            "{}: {step} took {:.1} ms ({:.1} ms in all)",
            self.flow,
            (now - self.last).as_secs_f64() * 1e3,
            (now - self.start).as_secs_f64() * 1e3
        );
        tracing::debug!("{text}");
        progress.report(Progress::Timing(text));
        self.last = now;
    }
}
