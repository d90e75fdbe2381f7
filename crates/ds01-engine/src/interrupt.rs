//! Cooperative interruption. Dropping a request that is on its way to the engine does not
//! stop the engine from carrying it out: a container it creates after the rollback has
//! looked would be left behind. So an interrupt is honoured only between engine calls, and
//! during the long waits that create nothing (the setup script running, a pull).

use crate::error::{EngineError, Result};
use futures_util::FutureExt;
use std::future::Future;
use std::pin::Pin;

/// The caller's interrupt signal (e.g. Ctrl-C), checked at safe points.
pub(crate) struct Interrupt<'a, F: Future<Output = ()>> {
    signal: Pin<&'a mut F>,
    fired: bool,
}

impl<'a, F: Future<Output = ()>> Interrupt<'a, F> {
    pub(crate) fn new(signal: Pin<&'a mut F>) -> Self {
        Interrupt {
            signal,
            fired: false,
        }
    }

    /// Fails with [`EngineError::Interrupted`] if the signal has fired; never waits.
    pub(crate) fn check(&mut self) -> Result<()> {
        if !self.fired && self.signal.as_mut().now_or_never().is_some() {
            self.fired = true;
        }
        if self.fired {
            Err(EngineError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Runs `work`, giving up on it when the signal fires first. Only for work whose
    /// abandonment leaves nothing behind (waiting, pulling).
    pub(crate) async fn race<T>(&mut self, work: impl Future<Output = Result<T>>) -> Result<T> {
        self.check()?;
        tokio::select! {
            result = work => result,
            () = self.signal.as_mut() => {
                self.fired = true;
                Err(EngineError::Interrupted)
            }
        }
    }
}
