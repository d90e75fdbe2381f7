//! The event log: every lifecycle transition ds01d makes or sees (create, start, stop and
//! why, idle warning, keep-alive, GPUs bound and released, remove, refusal), one JSON line
//! each in `<state>/events.log`, which only root can read; rotated to `events.log.1` by
//! size. Users read their own events through the API; followers get new ones as they come.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ds01_api::Event;

use crate::caller::Acting;
use tokio::sync::broadcast;

/// The log rotates when it grows past this.
const MAX_BYTES: u64 = 8 << 20;

/// The event log.
pub struct EventLog {
    path: PathBuf,
    lock: Mutex<()>,
    live: broadcast::Sender<Event>,
}

impl EventLog {
    /// The log at `<dir>/events.log`.
    pub fn open(dir: &Path) -> EventLog {
        EventLog {
            path: dir.join("events.log"),
            lock: Mutex::new(()),
            live: broadcast::channel(256).0,
        }
    }

    /// Records one event.
    pub fn record(&self, uid: u32, user: &str, container: &str, kind: &str, detail: String) {
        let now = time::OffsetDateTime::now_utc();
        let event = Event {
            time: crate::audit::now(),
            ts: now.unix_timestamp(),
            uid,
            user: user.to_owned(),
            container: container.to_owned(),
            kind: kind.to_owned(),
            detail,
        };
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() > MAX_BYTES) {
            let _ = std::fs::rename(&self.path, self.path.with_extension("log.1"));
        }
        use std::os::unix::fs::OpenOptionsExt;
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&self.path)
            .and_then(|mut f| f.write_all(&line));
        if let Err(e) = written {
            tracing::error!("cannot write the event log {}: {e}", self.path.display());
        }
        let _ = self.live.send(event);
    }

    /// Records one event about the acting user's `container`.
    pub fn record_for(&self, acting: &Acting, container: &str, kind: &str, detail: String) {
        self.record(
            acting.who.uid(),
            acting.who.login(),
            container,
            kind,
            detail,
        );
    }

    /// The recorded events that `keep` accepts, oldest first.
    pub fn read(&self, keep: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut out = Vec::new();
        for path in [self.path.with_extension("log.1"), self.path.clone()] {
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Event>(&line) {
                    if keep(&event) {
                        out.push(event);
                    }
                }
            }
        }
        out
    }

    /// Events as they are recorded from now on.
    pub fn follow(&self) -> broadcast::Receiver<Event> {
        self.live.subscribe()
    }
}
