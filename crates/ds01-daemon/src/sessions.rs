//! Open interactive sessions per container: an open `ds01 container open`/`exec` keeps a
//! container from counting as idle.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts of open sessions by Docker name.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<HashMap<String, usize>>);

impl Sessions {
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
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
