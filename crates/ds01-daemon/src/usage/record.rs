//! One line of the ledger, and the sampled intervals it adds up.
//!
//! A record covers one container from `start_ms` to `end_ms` inside one bucket of
//! `record_every` (buckets are aligned to the Unix epoch and divide a day, so no record
//! crosses a UTC midnight, and so no month). Its quantities are spread evenly over its span,
//! which is how a reader takes a part of it.

use serde::{Deserialize, Serialize};

/// The format of a ledger line (`v`).
pub(crate) const FORMAT: u32 = 1;

/// Who held what: the part of a record that does not grow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Holder {
    /// The Docker name, `<name>._.<uid>`.
    pub container: String,
    /// The engine's container ID.
    pub id: String,
    /// The owner's UID (from the name, which only ds01d or an admin gives).
    pub uid: u32,
    /// The owner's login (NSS, else the container's labels).
    pub user: String,
    /// The owner's policy group, `default` when no group table applies.
    pub group: String,
    /// The devices held (UUIDs).
    #[serde(default)]
    pub gpus: Vec<String>,
    /// Their sum in full-GPU equivalents (a MIG slice counts its fraction).
    #[serde(default)]
    pub gpu_equivalents: f64,
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Record {
    /// [`FORMAT`].
    pub v: u32,
    /// The span, Unix milliseconds.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
    /// Who.
    #[serde(flatten)]
    pub holder: Holder,
    /// `gpu_equivalents` × the span.
    #[serde(default)]
    pub gpu_seconds: f64,
    /// The part of `gpu_seconds` in intervals that were idle.
    #[serde(default)]
    pub idle_gpu_seconds: f64,
    /// CPU time used (the cgroup counter's difference).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// The memory limit × the span.
    #[serde(default)]
    pub memory_byte_seconds: f64,
    /// GPU utilisation (percent) × the seconds in which NVML read it.
    #[serde(default)]
    pub gpu_util_percent_seconds: f64,
    /// The seconds in which NVML read the utilisation.
    #[serde(default)]
    pub gpu_util_measured_seconds: f64,
}

/// One sampled interval of one running container.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub start_ms: i64,
    pub end_ms: i64,
    /// CPU seconds used in it.
    pub cpu_seconds: f64,
    /// The memory limit, bytes.
    pub memory_limit: f64,
    /// Whether the container was idle through it.
    pub idle: bool,
    /// GPU utilisation, percent, where NVML read it.
    pub gpu_util: Option<f64>,
}

impl Interval {
    fn secs(&self) -> f64 {
        (self.end_ms - self.start_ms) as f64 / 1000.0
    }

    /// The interval cut at `at` (inside it), CPU shared out by time.
    fn split(self, at: i64) -> (Interval, Interval) {
        let share = (at - self.start_ms) as f64 / (self.end_ms - self.start_ms) as f64;
        (
            Interval {
                end_ms: at,
                cpu_seconds: self.cpu_seconds * share,
                ..self
            },
            Interval {
                start_ms: at,
                cpu_seconds: self.cpu_seconds * (1.0 - share),
                ..self
            },
        )
    }
}

impl Record {
    /// An empty record of `holder` starting at `at`.
    pub fn empty(holder: Holder, at: i64) -> Record {
        Record {
            v: FORMAT,
            start_ms: at,
            end_ms: at,
            holder,
            gpu_seconds: 0.0,
            idle_gpu_seconds: 0.0,
            cpu_seconds: 0.0,
            memory_byte_seconds: 0.0,
            gpu_util_percent_seconds: 0.0,
            gpu_util_measured_seconds: 0.0,
        }
    }

    /// Whether it covers no time.
    pub fn is_empty(&self) -> bool {
        self.end_ms <= self.start_ms
    }

    /// Adds an interval that starts where the record ends (or anywhere, when it is empty).
    fn add(&mut self, i: &Interval) {
        if self.is_empty() {
            self.start_ms = i.start_ms;
        }
        self.end_ms = i.end_ms;
        let secs = i.secs();
        let gpu = secs * self.holder.gpu_equivalents;
        self.gpu_seconds += gpu;
        if i.idle {
            self.idle_gpu_seconds += gpu;
        }
        self.cpu_seconds += i.cpu_seconds;
        self.memory_byte_seconds += i.memory_limit * secs;
        if let Some(util) = i.gpu_util {
            self.gpu_util_percent_seconds += util * secs;
            self.gpu_util_measured_seconds += secs;
        }
    }

    /// Adds `interval` to the open record `open`, cutting it at each bucket boundary of
    /// `every_ms`: the closed records are returned, and `open` holds the rest.
    pub fn accrue(open: &mut Record, interval: Interval, every_ms: i64) -> Vec<Record> {
        let mut closed = Vec::new();
        let mut rest = interval;
        if rest.end_ms <= rest.start_ms {
            return closed;
        }
        // An open record from an earlier bucket than the interval closes first.
        if !open.is_empty() && bucket(open.start_ms, every_ms) != bucket(rest.start_ms, every_ms) {
            closed.push(open.take());
        }
        loop {
            let boundary = (bucket(rest.start_ms, every_ms) + 1) * every_ms;
            if rest.end_ms <= boundary {
                open.add(&rest);
                // Ending on the boundary closes the bucket now, not one round later.
                if rest.end_ms == boundary {
                    closed.push(open.take());
                }
                return closed;
            }
            let (now, later) = rest.split(boundary);
            open.add(&now);
            closed.push(open.take());
            rest = later;
        }
    }

    /// The record, leaving an empty one of the same holder where it ended.
    pub fn take(&mut self) -> Record {
        let next = Record::empty(self.holder.clone(), self.end_ms);
        std::mem::replace(self, next)
    }

    /// The part of the record inside `[from_ms, to_ms)`, its quantities shared out by time;
    /// `None` when they do not overlap.
    pub fn within(&self, from_ms: i64, to_ms: i64) -> Option<Record> {
        let start = self.start_ms.max(from_ms);
        let end = self.end_ms.min(to_ms);
        if end <= start {
            return None;
        }
        if start == self.start_ms && end == self.end_ms {
            return Some(self.clone());
        }
        let share = (end - start) as f64 / (self.end_ms - self.start_ms) as f64;
        Some(Record {
            start_ms: start,
            end_ms: end,
            gpu_seconds: self.gpu_seconds * share,
            idle_gpu_seconds: self.idle_gpu_seconds * share,
            cpu_seconds: self.cpu_seconds * share,
            memory_byte_seconds: self.memory_byte_seconds * share,
            gpu_util_percent_seconds: self.gpu_util_percent_seconds * share,
            gpu_util_measured_seconds: self.gpu_util_measured_seconds * share,
            ..self.clone()
        })
    }
}

fn bucket(ms: i64, every_ms: i64) -> i64 {
    ms.div_euclid(every_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(equivalents: f64) -> Holder {
        Holder {
            container: "a._.1000".into(),
            id: "c1".into(),
            uid: 1000,
            user: "ann".into(),
            group: "default".into(),
            gpus: vec!["MIG-1".into()],
            gpu_equivalents: equivalents,
        }
    }

    fn interval(start_ms: i64, end_ms: i64, cpu_seconds: f64, idle: bool) -> Interval {
        Interval {
            start_ms,
            end_ms,
            cpu_seconds,
            memory_limit: 1000.0,
            idle,
            gpu_util: None,
        }
    }

    #[test]
    fn intervals_add_up_gpu_equivalents_idle_time_and_memory() {
        let mut open = Record::empty(holder(3.0 / 7.0), 0);
        assert!(Record::accrue(&mut open, interval(0, 7_000, 1.0, false), 60_000).is_empty());
        assert!(Record::accrue(&mut open, interval(7_000, 14_000, 0.0, true), 60_000).is_empty());
        assert_eq!((open.start_ms, open.end_ms), (0, 14_000));
        assert!((open.gpu_seconds - 6.0).abs() < 1e-9);
        assert!((open.idle_gpu_seconds - 3.0).abs() < 1e-9);
        assert_eq!(open.memory_byte_seconds, 14_000.0);
        assert_eq!(open.cpu_seconds, 1.0);
    }

    #[test]
    fn a_record_never_crosses_a_bucket_and_nothing_is_lost_at_the_cut() {
        let mut open = Record::empty(holder(1.0), 50_000);
        // 50 s to 130 s with buckets of 60 s: cut at 60 s and 120 s.
        let closed = Record::accrue(&mut open, interval(50_000, 130_000, 8.0, false), 60_000);
        let spans: Vec<_> = closed.iter().map(|r| (r.start_ms, r.end_ms)).collect();
        assert_eq!(spans, [(50_000, 60_000), (60_000, 120_000)]);
        assert_eq!((open.start_ms, open.end_ms), (120_000, 130_000));
        let gpu: f64 = closed.iter().map(|r| r.gpu_seconds).sum::<f64>() + open.gpu_seconds;
        let cpu: f64 = closed.iter().map(|r| r.cpu_seconds).sum::<f64>() + open.cpu_seconds;
        assert!((gpu - 80.0).abs() < 1e-9 && (cpu - 8.0).abs() < 1e-9);
        // Ending exactly on a boundary closes the record at once.
        let closed = Record::accrue(&mut open, interval(130_000, 180_000, 0.0, false), 60_000);
        assert_eq!(closed.len(), 1);
        assert!(open.is_empty());
    }

    #[test]
    fn an_open_record_of_an_older_bucket_closes_before_a_later_interval() {
        let mut open = Record::empty(holder(1.0), 0);
        Record::accrue(&mut open, interval(0, 30_000, 0.0, false), 60_000);
        // A gap (the container was not seen for a while), then an interval in a later bucket.
        let closed = Record::accrue(&mut open, interval(70_000, 80_000, 0.0, false), 60_000);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start_ms, closed[0].end_ms), (0, 30_000));
        assert_eq!((open.start_ms, open.end_ms), (70_000, 80_000));
    }

    #[test]
    fn a_part_of_a_record_shares_its_quantities_by_time() {
        let mut open = Record::empty(holder(1.0), 0);
        Record::accrue(&mut open, interval(0, 40_000, 4.0, true), 60_000);
        let part = open.within(30_000, 90_000).unwrap();
        assert_eq!((part.start_ms, part.end_ms), (30_000, 40_000));
        assert!((part.gpu_seconds - 10.0).abs() < 1e-9);
        assert!((part.cpu_seconds - 1.0).abs() < 1e-9);
        assert!(open.within(40_000, 50_000).is_none());
    }

    #[test]
    fn a_line_reads_back_as_written() {
        let mut open = Record::empty(holder(1.0), 0);
        Record::accrue(&mut open, interval(0, 1_000, 0.5, false), 60_000);
        let line = serde_json::to_string(&open).unwrap();
        assert!(line.contains("\"container\":\"a._.1000\""), "{line}");
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), open);
    }
}
