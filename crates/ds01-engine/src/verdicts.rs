//! A cache of "this image really carries this account" verdicts. Reading `/etc/passwd` out
//! of a container costs a mount of its filesystem, several times a bare create; image IDs
//! are content hashes, so a verdict recorded for an ID never goes stale.

use ds01_dockerfile::Identity;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Verdicts stored as empty files named after the image ID and the account, with the ones
/// seen by this process kept in memory as well (consulted first: no file system call on the
/// hot path of a baked create). Clones share the memory.
///
/// ```
/// use ds01_engine::{Identity, VerdictCache};
/// let dir = std::env::temp_dir().join(format!("ds01-doc-verdicts-{}", std::process::id()));
/// let cache = VerdictCache::new(&dir);
/// let who = Identity::new("alice", 1000, 1000).unwrap();
/// assert!(!cache.is_verified("sha256:ab12", &who));
/// cache.record("sha256:ab12", &who);
/// assert!(cache.is_verified("sha256:ab12", &who));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct VerdictCache {
    dir: PathBuf,
    known: Arc<Mutex<HashSet<PathBuf>>>,
}

impl VerdictCache {
    /// A cache in `dir` (created on first use).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        VerdictCache {
            dir: dir.as_ref().to_owned(),
            known: Arc::default(),
        }
    }

    /// `$XDG_CACHE_HOME/ds01/verified`, else `~/.cache/ds01/verified`.
    pub fn default_location() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("ds01").join("verified"))
    }

    fn entry(&self, image_id: &str, who: &Identity) -> Option<PathBuf> {
        let id = image_id.strip_prefix("sha256:").unwrap_or(image_id);
        // Only a plain hex ID makes a file name; anything else is simply never cached.
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let name = format!("{id}-{}-{}-{}", who.uid(), who.gid(), who.username());
        Some(self.dir.join(name))
    }

    /// Whether the account was verified in this image before.
    pub fn is_verified(&self, image_id: &str, who: &Identity) -> bool {
        let Some(path) = self.entry(image_id, who) else {
            return false;
        };
        if self.memory().contains(&path) {
            return true;
        }
        let on_disk = path.exists();
        if on_disk {
            self.memory().insert(path);
        }
        on_disk
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a positive verdict. Failing to write only costs speed next time.
    pub fn record(&self, image_id: &str, who: &Identity) {
        if let Some(path) = self.entry(image_id, who) {
            self.memory().insert(path.clone());
            let written =
                std::fs::create_dir_all(&self.dir).and_then(|()| std::fs::write(&path, b""));
            if let Err(e) = written {
                tracing::debug!(
                    "could not cache the account verdict in {}: {e}",
                    path.display()
                );
            }
        }
    }
}
