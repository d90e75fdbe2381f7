//! The ledger's files in `<state>/ledger/` (0700): one append-only JSON-lines file per UTC
//! month of the records' start (`2026-11.jsonl`, 0600), and `open.json`, the sampler's
//! open records and readings, replaced atomically.
//!
//! Every round is committed in two steps: first `open.json` with the open records *after*
//! the round and the records the round closed (`pending`, with the lengths the month files
//! had), then the closed records appended and fsync'd. A crash before the first step leaves
//! the round unmade: the next round measures it again from the saved readings. A crash
//! after it leaves `pending`, which recovery appends unless the lines past the saved lengths
//! already hold them; a torn last line is cut off first. So no interval is counted twice and
//! none is lost.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::Record;
use super::sampler::Open;

/// The state file.
const OPEN_FILE: &str = "open.json";

/// What `open.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    /// Per container ID, its open record and last reading.
    open: BTreeMap<String, Open>,
    /// The records closed by the round that saved this, maybe not appended yet.
    pending: Vec<Record>,
    /// The lengths of the month files `pending` goes to, before it was appended.
    lengths: BTreeMap<String, u64>,
}

/// The ledger directory.
pub(crate) struct Ledger {
    dir: PathBuf,
}

impl Ledger {
    /// The ledger in `dir`, made if missing, recovered from a crash if need be; with the
    /// open records the last commit saved.
    pub fn open(dir: &Path) -> std::io::Result<(Ledger, BTreeMap<String, Open>)> {
        crate::private_dir(dir)?;
        let ledger = Ledger {
            dir: dir.to_owned(),
        };
        let path = dir.join(OPEN_FILE);
        let saved: Saved = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                // Kept for the admin to look at; the open records in it are lost (at most
                // `record_every` of each running container), never counted twice.
                let aside = dir.join(format!("{OPEN_FILE}.bad"));
                tracing::error!(
                    "the usage ledger's {} does not parse ({e}); moved to {} and started afresh",
                    path.display(),
                    aside.display()
                );
                let _ = std::fs::rename(&path, &aside);
                Saved::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved::default(),
            Err(e) => return Err(e),
        };
        ledger.recover(&saved)?;
        Ok((ledger, saved.open))
    }

    fn month_file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Cuts torn lines and appends what the last commit had not.
    fn recover(&self, saved: &Saved) -> std::io::Result<()> {
        for name in files_of(&saved.pending) {
            cut_torn_line(&self.month_file(&name))?;
        }
        let mut missing = Vec::new();
        for name in files_of(&saved.pending) {
            let from = saved.lengths.get(&name).copied().unwrap_or(0);
            let there = appended_since(&self.month_file(&name), from)?;
            missing.extend(
                saved
                    .pending
                    .iter()
                    .filter(|r| file_name(r.start_ms) == name)
                    .filter(|r| !there.contains(&(r.holder.id.clone(), r.start_ms)))
                    .cloned(),
            );
        }
        self.append(missing).map_err(|(e, _)| e)
    }

    /// Saves `open` and appends `closed` (see the module's comment for the order). On an
    /// error, the records not written are handed back, to be tried again with the next
    /// round's.
    pub fn commit(
        &self,
        open: &BTreeMap<String, Open>,
        closed: Vec<Record>,
    ) -> Result<(), (std::io::Error, Vec<Record>)> {
        let mut lengths = BTreeMap::new();
        for name in files_of(&closed) {
            let len = match std::fs::symlink_metadata(self.month_file(&name)) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err((e, closed)),
            };
            lengths.insert(name, len);
        }
        let saved = Saved {
            open: open.clone(),
            pending: closed,
            lengths,
        };
        if let Err(e) = write_atomically(
            &self.dir,
            OPEN_FILE,
            &serde_json::to_vec(&saved).unwrap_or_default(),
        ) {
            return Err((e, saved.pending));
        }
        self.append(saved.pending)
    }

    /// Appends records to their month files, each file fsync'd. A failed append is cut back
    /// to where it began, so that trying its records again cannot write a line twice; those
    /// and the records of the files not reached are handed back.
    fn append(&self, records: Vec<Record>) -> Result<(), (std::io::Error, Vec<Record>)> {
        let names = files_of(&records);
        for (n, name) in names.iter().enumerate() {
            let mut text = Vec::new();
            for r in records.iter().filter(|r| file_name(r.start_ms) == *name) {
                serde_json::to_writer(&mut text, r).unwrap_or_default();
                text.push(b'\n');
            }
            if let Err(e) = append_to(&self.month_file(name), &text) {
                let unwritten = records
                    .into_iter()
                    .filter(|r| names[n..].contains(&file_name(r.start_ms)))
                    .collect();
                return Err((e, unwritten));
            }
        }
        Ok(())
    }

    /// Calls `each` with every record of the month files that overlap `[from_ms, to_ms)`,
    /// cut to that span, oldest file first. Lines that do not parse (a line being written)
    /// are skipped.
    pub fn read(&self, from_ms: i64, to_ms: i64, mut each: impl FnMut(Record)) {
        for name in months(from_ms, to_ms) {
            let Ok(file) = open_nofollow(&self.month_file(&name)) else {
                continue;
            };
            for line in BufReader::new(file).lines().map_while(Result::ok) {
                if let Some(r) = serde_json::from_str::<Record>(&line)
                    .ok()
                    .and_then(|r| r.within(from_ms, to_ms))
                {
                    each(r);
                }
            }
        }
    }
}

/// The month file of a record starting at `ms`: `YYYY-MM.jsonl` (UTC).
pub(crate) fn file_name(ms: i64) -> String {
    let (year, month) = month_of(ms);
    format!("{year:04}-{month:02}.jsonl")
}

fn month_of(ms: i64) -> (i32, u8) {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (t.year(), t.month() as u8)
}

/// The start of month `(year, month)` in Unix milliseconds.
pub(crate) fn month_start(year: i32, month: u8) -> Option<i64> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, 1).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The month after `(year, month)`.
pub(crate) fn next_month(year: i32, month: u8) -> (i32, u8) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// The month files that may hold records of `[from_ms, to_ms)`.
fn months(from_ms: i64, to_ms: i64) -> Vec<String> {
    let mut out = Vec::new();
    let (mut year, mut month) = month_of(from_ms);
    while month_start(year, month).is_some_and(|start| start < to_ms) {
        out.push(format!("{year:04}-{month:02}.jsonl"));
        (year, month) = next_month(year, month);
    }
    out
}

fn files_of(records: &[Record]) -> Vec<String> {
    let mut names: Vec<String> = records.iter().map(|r| file_name(r.start_ms)).collect();
    names.sort();
    names.dedup();
    names
}

/// Appends `text` to `path` (made 0600) and syncs it; on failure the file is cut back.
fn append_to(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let before = file.metadata()?.len();
    file.write_all(text)
        .and_then(|()| file.sync_data())
        .inspect_err(|_| {
            let _ = file.set_len(before);
        })
}

fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Cuts a last line without its newline: a write a crash interrupted.
fn cut_torn_line(path: &Path) -> std::io::Result<()> {
    let mut file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    // Lines are short: the last newline is within the last few kilobytes, else the tail is
    // read back in steps.
    let mut end = len;
    while end > 0 {
        let step = end.min(64 << 10);
        let mut tail = vec![0; step as usize];
        file.seek(SeekFrom::Start(end - step))?;
        file.read_exact(&mut tail)?;
        if let Some(at) = tail.iter().rposition(|b| *b == b'\n') {
            let keep = end - step + at as u64 + 1;
            if keep != len {
                file.set_len(keep)?;
                file.sync_data()?;
            }
            return Ok(());
        }
        end -= step;
    }
    if len > 0 {
        file.set_len(0)?;
        file.sync_data()?;
    }
    Ok(())
}

/// The (container ID, start) of the whole lines past `from` in `path`.
fn appended_since(path: &Path, from: u64) -> std::io::Result<HashSet<(String, i64)>> {
    let mut file = match open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    // A file shorter than it was (an admin cut it) is read whole.
    let from = if file.metadata()?.len() < from {
        0
    } else {
        from
    };
    file.seek(SeekFrom::Start(from))?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Record>(&l).ok())
        .map(|r| (r.holder.id, r.start_ms))
        .collect())
}

/// Replaces `dir/name` with `bytes`: a temporary file, fsync'd, renamed over it, and the
/// directory fsync'd, so a crash leaves the old or the new file, whole.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::record::Holder;

    const DAY: i64 = 86_400_000;
    /// 2026-11-30T23:00:00Z.
    const NOV_30_23H: i64 = 1_796_079_600_000;

    fn record(id: &str, start_ms: i64, end_ms: i64) -> Record {
        let mut r = Record::empty(
            Holder {
                container: format!("{id}._.1000"),
                id: id.into(),
                uid: 1000,
                user: "ann".into(),
                group: "default".into(),
                gpus: vec!["GPU-a".into()],
                gpu_equivalents: 1.0,
            },
            start_ms,
        );
        r.end_ms = end_ms;
        r.gpu_seconds = (end_ms - start_ms) as f64 / 1000.0;
        r
    }

    fn all(ledger: &Ledger) -> Vec<Record> {
        let mut out = Vec::new();
        ledger.read(0, i64::MAX / 2, |r| out.push(r));
        out
    }

    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn records_go_to_the_month_they_start_in_and_are_read_across_months() {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, open) = Ledger::open(&dir.path().join("ledger")).unwrap();
        assert!(open.is_empty());
        let nov = record("a", NOV_30_23H, NOV_30_23H + 3_600_000);
        let dec = record("a", NOV_30_23H + 3_600_000, NOV_30_23H + 7_200_000);
        ledger
            .commit(&BTreeMap::new(), vec![nov.clone(), dec.clone()])
            .unwrap();
        let root = dir.path().join("ledger");
        assert!(root.join("2026-11.jsonl").exists() && root.join("2026-12.jsonl").exists());
        assert_eq!(
            (
                mode(&root),
                mode(&root.join("2026-11.jsonl")),
                mode(&root.join(OPEN_FILE))
            ),
            (0o700, 0o600, 0o600)
        );
        assert_eq!(all(&ledger), [nov.clone(), dec]);
        // December alone.
        let mut december = Vec::new();
        ledger.read(NOV_30_23H + 3_600_000, NOV_30_23H + 40 * DAY, |r| {
            december.push(r)
        });
        assert_eq!(december.len(), 1);
        assert_eq!(file_name(nov.start_ms), "2026-11.jsonl");
    }

    #[test]
    fn a_crash_after_saving_appends_the_pending_records_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ledger");
        let (ledger, _) = Ledger::open(&root).unwrap();
        let first = record("a", 0, 1_000);
        ledger
            .commit(&BTreeMap::new(), vec![first.clone()])
            .unwrap();
        // The next round saved its state, then died before appending.
        let second = record("a", 1_000, 2_000);
        let third = record("b", 1_000, 2_000);
        let saved = Saved {
            open: BTreeMap::new(),
            pending: vec![second.clone(), third.clone()],
            lengths: BTreeMap::from([(
                file_name(0),
                std::fs::metadata(root.join(file_name(0))).unwrap().len(),
            )]),
        };
        write_atomically(&root, OPEN_FILE, &serde_json::to_vec(&saved).unwrap()).unwrap();
        let (ledger, _) = Ledger::open(&root).unwrap();
        assert_eq!(all(&ledger), [first.clone(), second.clone(), third.clone()]);
        // It died after appending one of the two, half-way through the second line.
        let (ledger, _) = {
            let path = root.join(file_name(0));
            let whole = std::fs::read(&path).unwrap();
            let third_line = serde_json::to_vec(&third).unwrap();
            std::fs::write(&path, &whole[..whole.len() - third_line.len() / 2]).unwrap();
            let mut saved = saved;
            saved.lengths.insert(
                file_name(0),
                serde_json::to_vec(&first).unwrap().len() as u64 + 1,
            );
            write_atomically(&root, OPEN_FILE, &serde_json::to_vec(&saved).unwrap()).unwrap();
            Ledger::open(&root).unwrap()
        };
        assert_eq!(all(&ledger), [first.clone(), second.clone(), third]);
        // Opened again with nothing pending: nothing changes.
        ledger.commit(&BTreeMap::new(), Vec::new()).unwrap();
        let (ledger, _) = Ledger::open(&root).unwrap();
        assert_eq!(all(&ledger).len(), 3);
    }

    #[test]
    fn a_torn_line_without_any_newline_empties_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        std::fs::write(&path, b"{\"v\":1,\"sta").unwrap();
        cut_torn_line(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        std::fs::write(&path, b"one\ntwo\nthr").unwrap();
        cut_torn_line(&path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
    }

    #[test]
    fn months_are_listed_from_the_first_to_the_last_overlapping_one() {
        assert_eq!(
            months(NOV_30_23H, NOV_30_23H + 2 * 3_600_000),
            ["2026-11.jsonl", "2026-12.jsonl"]
        );
        assert_eq!(months(NOV_30_23H, NOV_30_23H + 1), ["2026-11.jsonl"]);
        assert_eq!(
            month_start(2026, 12),
            Some(NOV_30_23H + 3_600_000),
            "December starts at midnight UTC"
        );
    }
}
