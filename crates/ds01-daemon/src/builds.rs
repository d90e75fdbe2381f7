//! What confines a user's image builds: how many run at once (`max_builds`), how long one
//! may run (`build_timeout`), and what each step gets (the user's memory, CPUs, shm and
//! pids, on the build network).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ds01_api::{ApiError, ErrorCode};
use ds01_engine::BuildLimits;
use ds01_policy::{Effective, ResourceRequest};

/// The cgroup (under each v1 hierarchy) whose per-user children hold the users' build
/// steps.
const BUILD_CGROUP: &str = "ds01-build";

/// Where the cgroup v1 hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Where the engine's cgroup v1 pids hierarchy is mounted.
const PIDS_HIERARCHY: &str = "/sys/fs/cgroup/pids";

/// The builds running now, per UID.
#[derive(Debug, Default, Clone)]
pub(crate) struct BuildSlots {
    running: Arc<Mutex<HashMap<u32, u32>>>,
}

/// One running build; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct BuildSlot {
    slots: BuildSlots,
    uid: u32,
}

impl BuildSlots {
    /// Takes a slot for `uid`, or refuses when `max_builds` are running. Counted and taken
    /// under one lock, so two requests racing cannot both take the last slot.
    pub(crate) fn take(&self, uid: u32, effective: &Effective) -> Result<BuildSlot, ApiError> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let now = running.get(&uid).copied().unwrap_or(0);
        effective
            .check_new_build(now)
            .map_err(crate::errors::from_limit)?;
        running.insert(uid, now + 1);
        Ok(BuildSlot {
            slots: self.clone(),
            uid,
        })
    }
}

impl Drop for BuildSlot {
    fn drop(&mut self) {
        let mut running = self.slots.running.lock().unwrap_or_else(|p| p.into_inner());
        let last = match running.get_mut(&self.uid) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => true,
        };
        if last {
            running.remove(&self.uid);
            // The user's last build is over: its cgroups are empty and go (made again,
            // with the policy of the time, for the next build). The engine makes the
            // directory in every hierarchy but removes only its containers' own.
            let hierarchies = std::fs::read_dir(CGROUP_ROOT)
                .into_iter()
                .flatten()
                .flatten();
            for hierarchy in hierarchies {
                let _ = std::fs::remove_dir(user_cgroup(&hierarchy.path(), self.uid));
            }
        }
    }
}

/// The per-user cgroup directory under `hierarchy`.
fn user_cgroup(hierarchy: &Path, uid: u32) -> PathBuf {
    hierarchy.join(BUILD_CGROUP).join(uid.to_string())
}

/// Prepares `<hierarchy>/ds01-build/<uid>` with `pids.max = pids` and returns the cgroup
/// parent that puts a build's steps under it. The engine creates the other hierarchies'
/// directories itself; only the pids limit has to be in place before.
fn prepare_pids_cgroup(hierarchy: &Path, uid: u32, pids: u32) -> std::io::Result<String> {
    let dir = user_cgroup(hierarchy, uid);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("pids.max"), pids.to_string())?;
    Ok(format!("/{BUILD_CGROUP}/{uid}"))
}

/// The limits of one user's build steps: the defaults their containers get (which are the
/// policy's ceilings), on `network`. The pids limit needs the engine's cgroupfs driver on
/// cgroup v1 (the legacy builder has no pids option, only a cgroup parent); elsewhere a
/// build is bounded by memory, CPUs and the user's slice alone, and the log says so.
pub(crate) fn limits_for(
    effective: &Effective,
    uid: u32,
    network: &str,
    cgroup_driver: &str,
) -> Result<BuildLimits, ApiError> {
    let applied = effective
        .check(&ResourceRequest::default())
        .map_err(crate::errors::from_limit)?;
    let hierarchy = Path::new(PIDS_HIERARCHY);
    let cgroup_parent = match applied.pids_limit {
        Some(pids) if cgroup_driver == "cgroupfs" && hierarchy.is_dir() => {
            Some(prepare_pids_cgroup(hierarchy, uid, pids).map_err(|e| {
                ApiError::new(
                    ErrorCode::Failed,
                    format!("cannot prepare the build cgroup of UID {uid}: {e}"),
                )
            })?)
        }
        Some(_) => {
            tracing::warn!(
                "builds get no pids limit: the engine's cgroup driver is {cgroup_driver:?}, \
                 not cgroupfs on cgroup v1"
            );
            None
        }
        None => None,
    };
    Ok(BuildLimits {
        memory: applied.memory.map(|m| m.bytes()),
        cpus: applied.cpus,
        shm_size: applied.shm_size.map(|s| s.bytes()),
        network: Some(network.to_owned()),
        cgroup_parent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_policy::Policy;

    fn effective(text: &str) -> Effective {
        Policy::from_toml(text).unwrap().effective("ann", &[])
    }

    #[test]
    fn slots_are_counted_per_user_and_freed_on_drop() {
        let slots = BuildSlots::default();
        let e = effective("[policy.default]\nmax_builds = 1");
        let first = slots.take(1000, &e).unwrap();
        let refused = slots.take(1000, &e).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Limit);
        assert!(
            refused.message.contains("max_builds") && refused.message.contains("[policy.default]"),
            "{refused}"
        );
        let other = slots.take(1001, &e).unwrap();
        drop(first);
        let again = slots.take(1000, &e).unwrap();
        drop((other, again));
        assert!(slots.running.lock().unwrap().is_empty());
    }

    #[test]
    fn the_pids_cgroup_is_prepared_under_the_hierarchy() {
        let dir = tempfile::tempdir().unwrap();
        let parent = prepare_pids_cgroup(dir.path(), 4242, 64).unwrap();
        assert_eq!(parent, "/ds01-build/4242");
        let max = std::fs::read_to_string(dir.path().join("ds01-build/4242/pids.max")).unwrap();
        assert_eq!(max, "64");
    }

    #[test]
    fn steps_get_the_users_container_defaults() {
        let e = effective("[policy.default]\nmemory = \"256m\"\ncpus = 1.5\nshm_size = \"64m\"");
        let limits = limits_for(&e, 4243, "ds01-build", "systemd").unwrap();
        assert_eq!(limits.memory, Some(256 << 20));
        assert_eq!(limits.cpus, Some(1.5));
        assert_eq!(limits.shm_size, Some(64 << 20));
        assert_eq!(limits.network.as_deref(), Some("ds01-build"));
        assert_eq!(limits.cgroup_parent, None, "no pids limit without cgroupfs");
    }
}
