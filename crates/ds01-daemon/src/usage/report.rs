//! Sums of ledger records: a user's own usage, the admin's tables, the monthly report.
//! Pure arithmetic over records; reading them is the ledger's business.

use std::collections::{BTreeMap, BTreeSet};

use ds01_api::{
    ContainerUsage, MonthChange, UnusedAccount, UsageBy, UsageReport, UsageRow, UsageSummary,
    UsageTotals,
};

use super::ledger::{month_start, next_month};
use super::record::Record;

/// A calendar month, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Month {
    year: i32,
    month: u8,
}

impl Month {
    /// `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let month = Month {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
        };
        month_start(month.year, month.month).map(|_| month)
    }

    /// The month `ms` falls in.
    pub fn of(ms: i64) -> Month {
        let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Month {
            year: t.year(),
            month: t.month() as u8,
        }
    }

    /// The month before.
    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                month: self.month - 1,
                ..self
            }
        }
    }

    /// Its first millisecond.
    pub fn start_ms(self) -> i64 {
        month_start(self.year, self.month).unwrap_or(0)
    }

    /// The first millisecond of the month after.
    pub fn end_ms(self) -> i64 {
        let (y, m) = next_month(self.year, self.month);
        month_start(y, m).unwrap_or(i64::MAX)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Sums of records.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sum {
    gpu: f64,
    idle: f64,
    cpu: f64,
    memory: f64,
    util_percent_seconds: f64,
    util_seconds: f64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
    containers: BTreeSet<String>,
}

impl Sum {
    /// Adds one record.
    pub fn add(&mut self, r: &Record) {
        self.gpu += r.gpu_seconds;
        self.idle += r.idle_gpu_seconds;
        self.cpu += r.cpu_seconds;
        self.memory += r.memory_byte_seconds;
        self.util_percent_seconds += r.gpu_util_percent_seconds;
        self.util_seconds += r.gpu_util_measured_seconds;
        self.first_ms = Some(self.first_ms.map_or(r.start_ms, |f| f.min(r.start_ms)));
        self.last_ms = Some(self.last_ms.map_or(r.end_ms, |l| l.max(r.end_ms)));
        self.containers.insert(r.holder.container.clone());
    }

    /// The sums as the API shows them.
    pub fn totals(&self) -> UsageTotals {
        UsageTotals {
            gpu_seconds: self.gpu,
            idle_gpu_seconds: self.idle,
            cpu_seconds: self.cpu,
            memory_byte_seconds: self.memory,
            gpu_util_percent: (self.util_seconds > 0.0)
                .then(|| self.util_percent_seconds / self.util_seconds),
        }
    }

    /// The last moment of use, Unix milliseconds.
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }
}

/// One user's records, by container.
pub(crate) fn summary(
    user: &str,
    uid: u32,
    since_ms: i64,
    until_ms: i64,
    records: impl IntoIterator<Item = Record>,
) -> UsageSummary {
    let mut total = Sum::default();
    let mut per: BTreeMap<String, (Record, Sum, BTreeSet<String>)> = BTreeMap::new();
    for r in records {
        total.add(&r);
        let entry = per
            .entry(r.holder.container.clone())
            .or_insert_with(|| (r.clone(), Sum::default(), BTreeSet::new()));
        entry.1.add(&r);
        entry.2.extend(r.holder.gpus.iter().cloned());
        if r.end_ms >= entry.0.end_ms {
            entry.0 = r;
        }
    }
    let mut containers: Vec<ContainerUsage> = per
        .into_values()
        .map(|(last, sum, gpus)| ContainerUsage {
            container: last.holder.container,
            user: last.holder.user,
            uid: last.holder.uid,
            group: last.holder.group,
            gpus: gpus.into_iter().collect(),
            totals: sum.totals(),
            first: sum.first_ms.unwrap_or(0) / 1000,
            last: sum.last_ms.unwrap_or(0) / 1000,
        })
        .collect();
    containers.sort_by(|a, b| {
        b.totals
            .gpu_seconds
            .total_cmp(&a.totals.gpu_seconds)
            .then_with(|| a.container.cmp(&b.container))
    });
    UsageSummary {
        user: user.to_owned(),
        uid,
        since: since_ms / 1000,
        until: until_ms / 1000,
        totals: total.totals(),
        containers,
    }
}

/// Records summed by user, group and container at once.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    total: Sum,
    /// Per user: their group in their latest record, and the sums.
    users: BTreeMap<String, (String, i64, Sum)>,
    groups: BTreeMap<String, Sum>,
    /// Per container: its user and group, and the sums.
    containers: BTreeMap<String, (String, String, Sum)>,
}

impl Tables {
    /// Adds one record.
    pub fn add(&mut self, r: &Record) {
        self.total.add(r);
        let h = &r.holder;
        let user = self
            .users
            .entry(h.user.clone())
            .or_insert_with(|| (h.group.clone(), r.end_ms, Sum::default()));
        if r.end_ms >= user.1 {
            (user.0, user.1) = (h.group.clone(), r.end_ms);
        }
        user.2.add(r);
        self.groups.entry(h.group.clone()).or_default().add(r);
        self.containers
            .entry(h.container.clone())
            .or_insert_with(|| (h.user.clone(), h.group.clone(), Sum::default()))
            .2
            .add(r);
    }

    /// Everything together.
    pub fn totals(&self) -> UsageTotals {
        self.total.totals()
    }

    /// The rows grouped `by`, most GPU time first.
    pub fn rows(&self, by: UsageBy) -> Vec<UsageRow> {
        let row = |key: &str, user: Option<&str>, group: Option<&str>, sum: &Sum| UsageRow {
            key: key.to_owned(),
            user: user.map(str::to_owned),
            group: group.map(str::to_owned),
            containers: sum.containers.len() as u32,
            totals: sum.totals(),
        };
        let mut rows: Vec<UsageRow> = match by {
            UsageBy::User => self
                .users
                .iter()
                .map(|(u, (g, _, s))| row(u, Some(u), Some(g), s))
                .collect(),
            UsageBy::Group => self
                .groups
                .iter()
                .map(|(g, s)| row(g, None, Some(g), s))
                .collect(),
            UsageBy::Container => self
                .containers
                .iter()
                .map(|(c, (u, g, s))| row(c, Some(u), Some(g), s))
                .collect(),
        };
        rows.sort_by(|a, b| {
            b.totals
                .gpu_seconds
                .total_cmp(&a.totals.gpu_seconds)
                .then_with(|| a.key.cmp(&b.key))
        });
        rows
    }

    /// Each user's GPU seconds.
    fn gpu_by_user(&self) -> BTreeMap<&str, f64> {
        self.users
            .iter()
            .map(|(u, (_, _, s))| (u.as_str(), s.gpu))
            .collect()
    }
}

/// The containers shown as the month's top holders.
const TOP_HOLDERS: usize = 10;

/// The monthly report from the month's and the month before's tables.
pub(crate) fn report(
    month: Month,
    until_ms: i64,
    this: &Tables,
    before: &Tables,
    unused_days: u32,
    unused: Vec<UnusedAccount>,
) -> UsageReport {
    let now = this.gpu_by_user();
    let then = before.gpu_by_user();
    let mut change: Vec<MonthChange> = now
        .keys()
        .chain(then.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|u| MonthChange {
            user: (*u).to_owned(),
            gpu_seconds: now.get(u).copied().unwrap_or(0.0),
            previous_gpu_seconds: then.get(u).copied().unwrap_or(0.0),
        })
        .collect();
    change.sort_by(|a, b| {
        b.gpu_seconds
            .total_cmp(&a.gpu_seconds)
            .then_with(|| a.user.cmp(&b.user))
    });
    let mut top_holders = this.rows(UsageBy::Container);
    top_holders.retain(|r| r.totals.gpu_seconds > 0.0);
    top_holders.truncate(TOP_HOLDERS);
    UsageReport {
        month: month.to_string(),
        from: month.start_ms() / 1000,
        until: until_ms / 1000,
        totals: this.totals(),
        by_user: this.rows(UsageBy::User),
        by_group: this.rows(UsageBy::Group),
        top_holders,
        previous_month: month.previous().to_string(),
        previous_totals: before.totals(),
        change,
        unused_days,
        unused,
        webhook: None,
    }
}

/// The accounts in `candidates` (UID → login) whose last use (`last_used`, Unix ms) is
/// older than `days` before `until_ms`, or that never used anything.
pub(crate) fn unused(
    candidates: &BTreeMap<u32, String>,
    last_used: &BTreeMap<u32, i64>,
    days: u32,
    until_ms: i64,
) -> Vec<UnusedAccount> {
    let threshold = until_ms - i64::from(days) * 86_400_000;
    let mut out: Vec<UnusedAccount> = candidates
        .iter()
        .filter(|(uid, _)| last_used.get(uid).is_none_or(|t| *t < threshold))
        .map(|(uid, user)| UnusedAccount {
            user: user.clone(),
            uid: *uid,
            last_used: last_used.get(uid).map(|t| t / 1000),
        })
        .collect();
    out.sort_by(|a, b| {
        a.last_used
            .cmp(&b.last_used)
            .then_with(|| a.user.cmp(&b.user))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::record::Holder;

    fn record(container: &str, user: &str, group: &str, start: i64, gpu: f64, idle: f64) -> Record {
        let mut r = Record::empty(
            Holder {
                container: container.into(),
                id: container.into(),
                uid: 1000,
                user: user.into(),
                group: group.into(),
                gpus: vec![format!("GPU-{container}")],
                gpu_equivalents: 1.0,
            },
            start,
        );
        r.end_ms = start + 1000;
        r.gpu_seconds = gpu;
        r.idle_gpu_seconds = idle;
        r.cpu_seconds = 1.0;
        r
    }

    #[test]
    fn months_parse_and_step_back_across_a_year() {
        let m = Month::parse("2026-01").unwrap();
        assert_eq!(m.previous().to_string(), "2025-12");
        assert_eq!(m.end_ms() - m.start_ms(), 31 * 86_400_000);
        assert_eq!(Month::of(m.start_ms()), m);
        assert_eq!(Month::of(m.start_ms() - 1), m.previous());
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "x"] {
            assert!(Month::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn tables_sum_by_user_group_and_container_most_gpu_first() {
        let mut t = Tables::default();
        for r in [
            record("a1", "ann", "student", 0, 10.0, 4.0),
            record("a2", "ann", "student", 1000, 5.0, 0.0),
            record("b1", "bob", "researcher", 0, 30.0, 30.0),
        ] {
            t.add(&r);
        }
        let users = t.rows(UsageBy::User);
        assert_eq!(users[0].key, "bob");
        assert_eq!(
            (
                users[1].containers,
                users[1].totals.gpu_seconds,
                users[1].totals.idle_gpu_seconds
            ),
            (2, 15.0, 4.0)
        );
        let groups = t.rows(UsageBy::Group);
        assert_eq!(groups.len(), 2);
        assert_eq!(t.rows(UsageBy::Container).len(), 3);
        assert_eq!(t.totals().gpu_seconds, 45.0);
        assert_eq!(t.totals().cpu_seconds, 3.0);
    }

    #[test]
    fn the_report_compares_with_the_month_before_and_names_unused_accounts() {
        let mut this = Tables::default();
        this.add(&record("a1", "ann", "student", 0, 10.0, 0.0));
        let mut before = Tables::default();
        before.add(&record("c1", "cid", "student", 0, 7.0, 0.0));
        let month = Month::parse("2026-11").unwrap();
        let r = report(month, month.end_ms(), &this, &before, 30, Vec::new());
        assert_eq!(r.previous_month, "2026-10");
        let change: Vec<_> = r
            .change
            .iter()
            .map(|c| (c.user.as_str(), c.gpu_seconds, c.previous_gpu_seconds))
            .collect();
        assert_eq!(change, [("ann", 10.0, 0.0), ("cid", 0.0, 7.0)]);
        assert_eq!(r.top_holders.len(), 1);

        let day = 86_400_000;
        let candidates = BTreeMap::from([(1, "ann".into()), (2, "bob".into()), (3, "cid".into())]);
        let last = BTreeMap::from([(1, 100 * day), (2, 60 * day)]);
        let found = unused(&candidates, &last, 30, 100 * day);
        let names: Vec<_> = found
            .iter()
            .map(|u| (u.user.as_str(), u.last_used))
            .collect();
        assert_eq!(names, [("cid", None), ("bob", Some(60 * 86_400))]);
    }

    #[test]
    fn a_summary_is_by_container_with_its_devices() {
        let s = summary(
            "ann",
            1000,
            0,
            5000,
            [
                record("a1", "ann", "student", 0, 1.0, 0.0),
                record("a1", "ann", "student", 1000, 1.0, 1.0),
                record("a2", "ann", "student", 0, 3.0, 0.0),
            ],
        );
        assert_eq!(s.totals.gpu_seconds, 5.0);
        assert_eq!(s.containers[0].container, "a2");
        assert_eq!(s.containers[1].totals.idle_gpu_seconds, 1.0);
        assert_eq!(s.containers[1].gpus, ["GPU-a1"]);
        assert_eq!((s.containers[1].first, s.containers[1].last), (0, 2));
    }
}
