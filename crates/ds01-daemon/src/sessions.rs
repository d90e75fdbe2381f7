//! Open interactive sessions per container: an open `ds01 container open`/`exec` keeps a
//! container from counting as idle.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

/// Counts of open sessions by Docker name, and the notices for them.
#[derive(Debug)]
pub struct Sessions {
    open: Mutex<HashMap<String, usize>>,
    notices: broadcast::Sender<(String, String)>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            open: Mutex::new(HashMap::new()),
            notices: broadcast::channel(64).0,
        }
    }
}

impl Sessions {
    /// How many sessions into `name` are open.
    pub fn count(&self, name: &str) -> usize {
        self.lock().get(name).copied().unwrap_or(0)
    }

    /// Tells the open sessions into `name` (e.g. of a coming stop).
    pub fn notify(&self, name: &str, text: &str) {
        let _ = self.notices.send((name.to_owned(), text.to_owned()));
    }

    /// Notices from now on, for every container: a session keeps those of its own.
    pub fn notices(&self) -> broadcast::Receiver<(String, String)> {
        self.notices.subscribe()
    }

    /// A session into `name` opened.
    pub fn open(&self, name: &str) {
        *self.lock().entry(name.to_owned()).or_default() += 1;
    }

    /// A session into `name` ended.
    pub fn close(&self, name: &str) {
        let mut map = self.lock();
        if let Some(n) = map.get_mut(name) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(name);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}
