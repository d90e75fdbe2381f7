//! One critical section per user. A cap is only a cap if counting what a user has and
//! acting on the count happen without another request of the same user in between: two
//! creates that both count one container under `max_containers = 2` would otherwise both
//! go ahead, and so would two starts that both count the GPUs held. Every operation that
//! adds a container or makes one hold GPUs counts and acts inside its user's section.
//!
//! The sections are per user, so holding one (across a create's commit flow, say) only
//! ever delays that user's own requests. The counts themselves come from the engine's
//! labels, never from here: this map holds no state a restarted ds01d would need.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::OwnedMutexGuard;

/// The sections, by UID. An entry lives only while someone holds or waits for its lock
/// (the map keeps weak references), so the map does not grow with every user ever seen.
#[derive(Default)]
pub struct UserLocks {
    sections: Mutex<HashMap<u32, Weak<tokio::sync::Mutex<()>>>>,
}

/// Inside `uid`'s section until dropped.
pub struct Section {
    _guard: OwnedMutexGuard<()>,
}

impl UserLocks {
    /// Enters `uid`'s section, waiting for whoever is in it.
    pub async fn enter(&self, uid: u32) -> Section {
        let lock = {
            let mut sections = self.sections.lock().unwrap_or_else(|p| p.into_inner());
            // Entries nobody holds or waits for are dropped here, on the next entry.
            sections.retain(|_, w| w.strong_count() > 0);
            match sections.get(&uid).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    sections.insert(uid, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        Section {
            _guard: lock.lock_owned().await,
        }
    }

    /// How many users have an entry now (for tests of the map's size).
    #[cfg(test)]
    fn entries(&self) -> usize {
        let sections = self.sections.lock().unwrap_or_else(|p| p.into_inner());
        sections.values().filter(|w| w.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_user_waits_for_their_own_section_only() {
        let locks = UserLocks::default();
        let held = locks.enter(1000).await;
        // Another user goes straight in.
        let other = tokio::time::timeout(Duration::from_secs(5), locks.enter(1001)).await;
        assert!(other.is_ok(), "another user's section must not wait");
        // The same user does not, until the first leaves.
        let mut same = Box::pin(locks.enter(1000));
        assert!(futures_util::poll!(same.as_mut()).is_pending());
        drop(held);
        let _second = tokio::time::timeout(Duration::from_secs(5), same)
            .await
            .expect("the section is free once its holder left");
    }

    #[tokio::test]
    async fn entries_go_when_nobody_holds_them() {
        let locks = UserLocks::default();
        for uid in 0..100 {
            drop(locks.enter(uid).await);
        }
        assert_eq!(locks.entries(), 0);
        let _held = locks.enter(7).await;
        drop(locks.enter(8).await);
        assert_eq!(locks.entries(), 1);
        assert_eq!(locks.sections.lock().unwrap().len(), 2, "pruned on entry");
        drop(locks.enter(9).await);
        assert_eq!(locks.sections.lock().unwrap().len(), 2, "8 pruned, 9 added");
    }
}
