//! Host-local journals, one per container name (creates) or image tag (builds), each held
//! under an exclusive file lock for the whole call. The lock says "no other ds01 process on
//! this host is working on this name"; the journal's contents say what the last call that
//! held it had set out to make. A call that finds a non-empty journal therefore knows it
//! holds debris of a run that died (killed process, crashed daemon, lost answer) and can
//! remove exactly that, and nothing else.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Outcome of trying to take a journal.
pub(crate) enum Journal {
    /// This call holds the journal until the value is dropped.
    Held(File),
    /// Another ds01 process on this host works on the same name right now.
    Busy,
    /// No lock could be taken (the directory is not writable): carry on without recovery.
    Unavailable,
}

/// Creates `<base>/<uid>`, with `base` closed to everybody but its owner (root).
fn journal_dir(base: &Path, uid: u32) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(base)?;
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o700))?;
    let dir = base.join(uid.to_string());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    Ok(dir)
}

impl Journal {
    /// Takes the journal `key` (a Docker name or a tag made file-name safe) of user `uid`.
    pub(crate) fn try_acquire(base: &Path, uid: u32, key: &str) -> Journal {
        let Ok(dir) = journal_dir(base, uid) else {
            return Journal::Unavailable;
        };
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .custom_flags(nix::libc::O_NOFOLLOW)
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(dir.join(format!("{safe}.lock")));
        let Ok(file) = file else {
            return Journal::Unavailable;
        };
        match file.try_lock() {
            Ok(()) => Journal::Held(file),
            Err(TryLockError::WouldBlock) => Journal::Busy,
            Err(TryLockError::Error(_)) => Journal::Unavailable,
        }
    }

    pub(crate) fn held(&self) -> bool {
        matches!(self, Journal::Held(_))
    }

    /// The lines a dead run left (empty when the last run finished cleanly).
    pub(crate) fn leftover(&mut self) -> Vec<String> {
        let Journal::Held(file) = self else {
            return Vec::new();
        };
        let mut text = String::new();
        let _ = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        text.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Replaces the journal with `line` (the call's operation ID), durably: it must be on
    /// disk before the first resource is asked for.
    pub(crate) fn start(&mut self, line: &str) {
        self.clear();
        self.append(line);
    }

    /// Adds a line (e.g. a build step container's ID).
    pub(crate) fn append(&mut self, line: &str) {
        if let Journal::Held(file) = self {
            let _ = file
                .seek(SeekFrom::End(0))
                .and_then(|_| writeln!(file, "{line}"))
                .and_then(|()| file.sync_data());
        }
    }

    /// Empties the journal: the call finished, or everything it made is gone.
    pub(crate) fn clear(&mut self) {
        if let Journal::Held(file) = self {
            let _ = file.set_len(0).and_then(|()| file.sync_data());
        }
    }
}
