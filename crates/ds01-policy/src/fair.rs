//! The fair queue: `--wait` requests ordered by their users' decayed GPU use, so one who
//! held four GPUs all week does not queue level with one who held none.
//!
//! Use decays exponentially: a GPU-second used one half-life ago weighs half as much as one
//! used now. Ties (equal use, e.g. two users with none) go by arrival.

use std::cmp::Ordering;

/// A span of GPU use: from `start_ms` to `end_ms` (Unix milliseconds), `gpu_seconds` of
/// full-GPU equivalents spread evenly over it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Used {
    /// Start, Unix milliseconds.
    pub start_ms: i64,
    /// End, Unix milliseconds.
    pub end_ms: i64,
    /// Full-GPU-equivalent seconds in the span.
    pub gpu_seconds: f64,
}

/// How far back use is worth reading, in half-lives: older use weighs under 0.1 %.
pub const HORIZON_HALF_LIVES: u32 = 10;

/// The weight of GPU-seconds used `age_secs` ago.
pub fn decay(age_secs: f64, half_life_secs: f64) -> f64 {
    if half_life_secs <= 0.0 {
        return if age_secs <= 0.0 { 1.0 } else { 0.0 };
    }
    0.5f64.powf(age_secs.max(0.0) / half_life_secs)
}

/// The decayed GPU-seconds of `spans` as seen at `now_ms`. A span weighs as at its middle,
/// which for spans much shorter than a half-life (the ledger's are an hour at most) is
/// what integrating over it would give.
pub fn decayed(spans: impl IntoIterator<Item = Used>, now_ms: i64, half_life_secs: f64) -> f64 {
    spans
        .into_iter()
        .map(|u| {
            let middle = (u.start_ms + u.end_ms) as f64 / 2.0;
            u.gpu_seconds * decay((now_ms as f64 - middle) / 1000.0, half_life_secs)
        })
        // Not `sum()`: an empty float sum is -0.0, which would show as such.
        .fold(0.0, |a, b| a + b)
}

/// One request in line.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiter {
    /// Arrival order: a smaller ticket came first.
    pub ticket: u64,
    /// The requesting user.
    pub uid: u32,
    /// The user's decayed GPU-seconds when the request joined.
    pub usage: f64,
}

/// The line's order: less decayed use first, then earlier arrival.
pub fn compare(a: &Waiter, b: &Waiter) -> Ordering {
    a.usage
        .total_cmp(&b.usage)
        .then_with(|| a.ticket.cmp(&b.ticket))
}

/// Where `ticket` stands, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Requests ahead with less recent use.
    pub less_use: usize,
    /// Requests ahead with as much recent use that came earlier.
    pub earlier: usize,
}

impl Place {
    /// 1 for the first in line.
    pub fn position(&self) -> usize {
        self.less_use + self.earlier + 1
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.position();
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        write!(f, "{n}{suffix} in line")?;
        let plural = |k: usize| if k == 1 { "request" } else { "requests" };
        let mut why = Vec::new();
        if self.less_use > 0 {
            why.push(format!(
                "{} {} from users with less recent GPU use",
                self.less_use,
                plural(self.less_use)
            ));
        }
        if self.earlier > 0 {
            why.push(format!(
                "{} {} with as much recent use that came earlier",
                self.earlier,
                plural(self.earlier)
            ));
        }
        if !why.is_empty() {
            write!(f, ": {} ahead of you", why.join(" and "))?;
        }
        Ok(())
    }
}

/// Where `ticket` stands in `line` (in any order), if it is there.
pub fn place(line: &[Waiter], ticket: u64) -> Option<Place> {
    let me = line.iter().find(|w| w.ticket == ticket)?;
    let ahead = line.iter().filter(|w| compare(w, me) == Ordering::Less);
    let (mut less_use, mut earlier) = (0, 0);
    for w in ahead {
        if w.usage < me.usage {
            less_use += 1;
        } else {
            earlier += 1;
        }
    }
    Some(Place { less_use, earlier })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: f64 = 86_400.0;

    #[test]
    fn use_halves_every_half_life() {
        assert_eq!(decay(0.0, DAY), 1.0);
        assert!((decay(DAY, DAY) - 0.5).abs() < 1e-12);
        assert!((decay(3.0 * DAY, DAY) - 0.125).abs() < 1e-12);
        // Spans "from the future" (clock steps) weigh as now, never more.
        assert_eq!(decay(-5.0, DAY), 1.0);
        let now = 10 * DAY as i64 * 1000;
        let hour = |ago_days: f64, secs: f64| Used {
            start_ms: now - (ago_days * DAY * 1000.0) as i64 - 1_800_000,
            end_ms: now - (ago_days * DAY * 1000.0) as i64 + 1_800_000,
            gpu_seconds: secs,
        };
        let got = decayed([hour(0.0, 3600.0), hour(1.0, 3600.0)], now, DAY);
        assert!((got - 5400.0).abs() < 1e-6, "{got}");
        assert!(decayed([], now, DAY).is_sign_positive());
    }

    #[test]
    fn less_recent_use_goes_first_and_ties_by_arrival() {
        let w = |ticket, uid, usage| Waiter { ticket, uid, usage };
        let mut line = vec![w(1, 10, 500.0), w(2, 11, 0.0), w(3, 12, 0.0), w(4, 13, 9e9)];
        line.sort_by(compare);
        let order: Vec<u64> = line.iter().map(|w| w.ticket).collect();
        assert_eq!(order, [2, 3, 1, 4]);
        assert_eq!(
            place(&line, 1),
            Some(Place {
                less_use: 2,
                earlier: 0
            })
        );
        assert_eq!(place(&line, 3).unwrap().position(), 2);
        assert_eq!(place(&line, 3).unwrap().earlier, 1);
        assert_eq!(place(&line, 2).unwrap().position(), 1);
        assert_eq!(place(&line, 99), None);
    }

    #[test]
    fn the_place_says_why() {
        let p = Place {
            less_use: 1,
            earlier: 0,
        };
        assert_eq!(
            p.to_string(),
            "2nd in line: 1 request from users with less recent GPU use ahead of you"
        );
        let p = Place {
            less_use: 0,
            earlier: 0,
        };
        assert_eq!(p.to_string(), "1st in line");
        let p = Place {
            less_use: 2,
            earlier: 9,
        };
        assert!(p.to_string().starts_with("12th in line: 2 requests"), "{p}");
    }
}
