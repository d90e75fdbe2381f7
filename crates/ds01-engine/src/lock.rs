//! A host-local lock per container name, held for the whole of a create. It makes "is a
//! setup container under this name stale?" answerable: when this process holds the lock, no
//! other ds01 process on the host is creating that container, so a setup container under the
//! name can only be debris of a run that died (killed process, crashed daemon).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

/// Outcome of trying to take the lock.
pub(crate) enum NameLock {
    /// This call holds the lock until the value is dropped.
    Held(#[allow(dead_code)] File),
    /// Another ds01 process on this host is creating the same container right now.
    Busy,
    /// No lock could be taken (the lock directory is not writable): carry on without the
    /// stale-setup recovery.
    Unavailable,
}

fn lock_dir(uid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("ds01-locks-{uid}"))
}

impl NameLock {
    pub(crate) fn try_acquire(uid: u32, docker_name: &str) -> NameLock {
        let dir = lock_dir(uid);
        if std::fs::create_dir_all(&dir).is_err() {
            return NameLock::Unavailable;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{docker_name}.lock")));
        let Ok(file) = file else {
            return NameLock::Unavailable;
        };
        match file.try_lock() {
            Ok(()) => NameLock::Held(file),
            Err(TryLockError::WouldBlock) => NameLock::Busy,
            Err(TryLockError::Error(_)) => NameLock::Unavailable,
        }
    }

    pub(crate) fn held(&self) -> bool {
        matches!(self, NameLock::Held(_))
    }
}
