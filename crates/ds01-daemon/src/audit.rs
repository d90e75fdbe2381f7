//! The audit log: one JSON line per request (who, acting for whom, what, and the outcome),
//! appended to `<state>/audit.log`, which only root can read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// An append-only audit log.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

/// One audited request.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    /// RFC 3339, UTC.
    pub time: String,
    /// The caller's UID (peer credentials).
    pub uid: u32,
    /// The caller's login, when NSS knew it.
    pub login: Option<&'a str>,
    /// Whom an admin acted for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act_as: Option<&'a str>,
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The request path.
    pub path: &'a str,
    /// The HTTP status answered (a streamed answer's outcome is in its last line).
    pub status: u16,
}

impl AuditLog {
    /// A log at `<dir>/audit.log`.
    pub fn open(dir: &Path) -> AuditLog {
        let path = dir.join("audit.log");
        AuditLog {
            file: Mutex::new(open(&path)),
            path,
        }
    }

    /// Appends one line; a failure to write is reported once per attempt on stderr.
    pub fn write(&self, entry: &Entry<'_>) {
        let mut text = serde_json::to_vec(entry).unwrap_or_default();
        text.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = open(&self.path);
        }
        if let Some(f) = file.as_mut() {
            if let Err(e) = f.write_all(&text) {
                tracing::error!("cannot write the audit log {}: {e}", self.path.display());
                *file = None;
            }
        }
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn open(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| tracing::error!("cannot open the audit log {}: {e}", path.display()))
        .ok()
}

/// Now, as RFC 3339.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
