//! Progress of long flows, as typed events the CLI renders (bars on a terminal, plain
//! lines in logs, nothing with `--json`).

/// One thing a flow reports while it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// A new stage began, e.g. "running user setup in ds01-fixture/debian11".
    Stage(String),
    /// A line of build output (`Step 3/12 : RUN ...`, or what the step printed).
    BuildOutput(String),
    /// The baked path was not taken, and why; the flow falls back to a commit.
    Fallback(String),
}

/// Where a flow sends its progress. Closures and `()` (discard) implement it.
pub trait ProgressSink: Send {
    /// Receives one event.
    fn report(&mut self, event: Progress);
}

impl<F: FnMut(Progress) + Send> ProgressSink for F {
    fn report(&mut self, event: Progress) {
        self(event)
    }
}

impl ProgressSink for () {
    fn report(&mut self, _: Progress) {}
}
