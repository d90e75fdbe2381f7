//! How many connections and streams the socket holds, per UID and in all, and the file
//! descriptors that leaves for the engine, the state files and the reaper.
//!
//! The counts are taken by the kernel's UID of the connection, at accept time: no NSS
//! look-up on the accept path (it may block), so members of the admin group count as the
//! users they are. Root (UID 0) is held to the global cap only: it can stop ds01d anyway,
//! and an admin's tools must not be locked out by a user's flood.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::ServerLimits;

/// Descriptors kept out of the connections' reach: at least this many, or a quarter of
/// the limit when that is more.
const MIN_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit in force.
pub fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                return hard;
            }
            soft
        }
        // Not expected on Linux; 1024 is the usual soft default.
        Err(_) => 1024,
    }
}

/// The most connections `fd_limit` descriptors carry: a reserve is kept, and each
/// connection may hold a second descriptor (its engine connection, for exec, logs, cp).
pub fn connection_budget(fd_limit: u64) -> usize {
    let reserve = MIN_RESERVE.max(fd_limit / 4);
    (fd_limit.saturating_sub(reserve) / 2).max(1) as usize
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The caller has `connections_per_user` open already.
    User,
    /// The service has `max_connections` open already.
    Global,
}

/// The counts, shared by the accept loop and the routes that stream.
#[derive(Debug)]
pub struct Gate {
    per_user: usize,
    streams_per_user: usize,
    global: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    connections: HashMap<u32, usize>,
    streams: HashMap<u32, usize>,
}

impl Gate {
    /// A gate with the configured caps, the global one lowered to `budget`.
    pub fn new(limits: &ServerLimits, budget: usize) -> Arc<Gate> {
        Arc::new(Gate {
            per_user: limits.connections_per_user,
            streams_per_user: limits.streams_per_user,
            global: limits.max_connections.min(budget),
            counts: Mutex::new(Counts::default()),
        })
    }

    /// The global cap in force.
    pub fn max_connections(&self) -> usize {
        self.global
    }

    /// Admits one connection of `uid`, or says why not.
    pub fn admit(self: &Arc<Self>, uid: u32) -> Result<ConnectionSlot, Refusal> {
        let mut counts = self.lock();
        if counts.open >= self.global {
            return Err(Refusal::Global);
        }
        let mine = counts.connections.entry(uid).or_default();
        if uid != 0 && *mine >= self.per_user {
            return Err(Refusal::User);
        }
        *mine += 1;
        counts.open += 1;
        Ok(ConnectionSlot {
            gate: self.clone(),
            uid,
        })
    }

    /// One stream of `uid`, or `None` at the cap.
    pub fn stream(self: &Arc<Self>, uid: u32) -> Option<StreamSlot> {
        let mut counts = self.lock();
        let mine = counts.streams.entry(uid).or_default();
        if uid != 0 && *mine >= self.streams_per_user {
            return None;
        }
        *mine += 1;
        Some(StreamSlot {
            gate: self.clone(),
            uid,
        })
    }

    /// The connections cap of one user.
    pub fn connections_per_user(&self) -> usize {
        self.per_user
    }

    /// The streams cap of one user.
    pub fn streams_per_user(&self) -> usize {
        self.streams_per_user
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn release(map: &mut HashMap<u32, usize>, uid: u32) {
    if let Some(n) = map.get_mut(&uid) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(&uid);
        }
    }
}

/// One admitted connection; released when dropped (with the socket, which it travels with).
#[derive(Debug)]
pub struct ConnectionSlot {
    gate: Arc<Gate>,
    uid: u32,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.gate.lock();
        counts.open = counts.open.saturating_sub(1);
        release(&mut counts.connections, self.uid);
    }
}

/// One stream in flight; released when dropped (with the response body or the upgraded
/// connection).
#[derive(Debug)]
pub struct StreamSlot {
    gate: Arc<Gate>,
    uid: u32,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        release(&mut self.gate.lock().streams, self.uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(per_user: usize, streams: usize, global: usize) -> Arc<Gate> {
        let limits = ServerLimits {
            connections_per_user: per_user,
            streams_per_user: streams,
            max_connections: global,
            ..ServerLimits::default()
        };
        Gate::new(&limits, usize::MAX)
    }

    #[test]
    fn one_user_at_the_cap_leaves_room_for_another() {
        let g = gate(2, 1, 10);
        let held: Vec<_> = (0..2).map(|_| g.admit(1000).unwrap()).collect();
        assert_eq!(g.admit(1000).unwrap_err(), Refusal::User);
        let other = g.admit(1001).unwrap();
        drop(held);
        let again = g.admit(1000).unwrap();
        drop((other, again));
        assert_eq!(g.lock().open, 0);
        assert!(g.lock().connections.is_empty());
    }

    #[test]
    fn the_global_cap_binds_everyone_root_included() {
        let g = gate(2, 1, 3);
        let _a = (g.admit(1000).unwrap(), g.admit(1001).unwrap());
        let _root = g.admit(0).unwrap();
        assert_eq!(g.admit(1002).unwrap_err(), Refusal::Global);
        assert_eq!(g.admit(0).unwrap_err(), Refusal::Global);
    }

    #[test]
    fn root_is_held_to_the_global_cap_only() {
        let g = gate(1, 1, 10);
        let _c: Vec<_> = (0..5).map(|_| g.admit(0).unwrap()).collect();
        let _s: Vec<_> = (0..5).map(|_| g.stream(0).unwrap()).collect();
    }

    #[test]
    fn streams_are_counted_per_user_and_released() {
        let g = gate(4, 2, 10);
        let s = (g.stream(1000).unwrap(), g.stream(1000).unwrap());
        assert!(g.stream(1000).is_none());
        assert!(g.stream(1001).is_some());
        drop(s);
        assert!(g.stream(1000).is_some());
    }

    #[test]
    fn the_budget_keeps_a_reserve_and_room_for_engine_connections() {
        assert_eq!(connection_budget(1024), (1024 - 256) / 2);
        assert_eq!(connection_budget(65_536), (65_536 - 16_384) / 2);
        assert_eq!(connection_budget(100), 1);
        let limits = ServerLimits::default();
        assert_eq!(Gate::new(&limits, 384).max_connections(), 384);
        assert_eq!(Gate::new(&limits, 1 << 20).max_connections(), 4096);
    }
}
