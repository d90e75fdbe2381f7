//! High-demand mode: while more than a set share of the GPUs is allocated, idle timeouts
//! shrink by a set factor, so idle holders give way sooner when others need the devices.

use crate::{Cap, Span};

/// The admin's high-demand settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HighDemand {
    /// On above this share of the GPUs allocated (full-GPU equivalents), in (0, 1].
    pub share: f64,
    /// Idle timeouts are multiplied by this while on, in (0, 1].
    pub factor: f64,
}

impl HighDemand {
    /// Whether `allocated` of `total` full-GPU equivalents is high demand. No GPUs, no
    /// demand.
    pub fn is_on(&self, allocated: f64, total: f64) -> bool {
        total > 0.0 && allocated / total > self.share
    }

    /// The idle timeout while on: shrunk by the factor, never under a second.
    pub fn idle_timeout(&self, timeout: Cap<Span>) -> Cap<Span> {
        match timeout {
            Cap::Unlimited => Cap::Unlimited,
            Cap::Limited(s) => {
                let shrunk = (s.secs() as f64 * self.factor).round() as u64;
                Cap::Limited(Span::from_secs(shrunk.max(1)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODE: HighDemand = HighDemand {
        share: 0.8,
        factor: 0.5,
    };

    #[test]
    fn on_only_above_the_share() {
        assert!(!MODE.is_on(4.0, 5.0), "exactly 80 % is not above it");
        assert!(MODE.is_on(4.5, 5.0));
        assert!(MODE.is_on(1.0, 1.0));
        assert!(!MODE.is_on(0.0, 0.0), "no GPUs");
    }

    #[test]
    fn idle_timeouts_shrink_by_the_factor() {
        let hour = Cap::Limited(Span::from_secs(3600));
        assert_eq!(MODE.idle_timeout(hour), Cap::Limited(Span::from_secs(1800)));
        assert_eq!(MODE.idle_timeout(Cap::Unlimited), Cap::Unlimited);
        let tiny = HighDemand {
            share: 0.5,
            factor: 0.01,
        };
        assert_eq!(
            tiny.idle_timeout(Cap::Limited(Span::from_secs(10))),
            Cap::Limited(Span::from_secs(1))
        );
    }
}
