//! Progress of long flows, as typed events the CLI renders (bars on a terminal, plain
//! lines in logs, nothing with `--json`).

pub use ds01_api::Progress;

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
