//! Disk limits. `disk` bounds what one container writes into its own layer on the engine's
//! shared storage: as the storage driver's quota where the driver has one (the engine then
//! refuses the writes), else measured by the reaper, which warns the owner near the limit
//! and stops the container over it. `image_storage` bounds what a user's images take
//! together: a build or commit is refused while the user is over it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ds01_api::{ApiError, ErrorCode};
use ds01_engine::{ContainerView, Engine, EngineInfo};
use ds01_labels::container;
use ds01_policy::{Cap, Effective, Size};

use crate::caller::Acting;
use crate::config::Config;
use crate::errors::from_engine;
use crate::Daemon;

/// How `disk` is enforced on this engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// The driver has a per-container quota: `StorageOpt size` in the create request.
    Quota,
    /// No quota: the reaper measures each running container's layer.
    Sampled,
}

impl Mechanism {
    /// The mechanism for an engine with `info`, whose host mount table is `mounts`
    /// (`/proc/self/mounts`; ds01d runs next to the engine). overlay2 has a quota only on
    /// xfs mounted with project quotas; the engine refuses `size` anywhere else.
    pub fn of(info: &EngineInfo, mounts: &str) -> Mechanism {
        match info.storage_driver.as_str() {
            "btrfs" | "zfs" | "devicemapper" => Mechanism::Quota,
            "overlay2"
                if info.backing_filesystem == "xfs"
                    && mount_options(mounts, &info.root_dir).is_some_and(|o| {
                        o.split(',').any(|o| o == "prjquota" || o == "pquota")
                    }) =>
            {
                Mechanism::Quota
            }
            _ => Mechanism::Sampled,
        }
    }

    /// What `doctor` says about it.
    pub fn describe(self, info: &EngineInfo) -> String {
        match self {
            Mechanism::Quota => format!(
                "storage driver {} has a per-container quota: `disk` is passed as the container's storage size, and the engine refuses writes over it",
                info.storage_driver
            ),
            Mechanism::Sampled => format!(
                "storage driver {} has no per-container quota: the reaper measures each running container's layer every check interval (or every `disk_check_every` rounds), warns at `disk_warn_percent` and stops a container over `disk`; a container can overshoot between two measurements",
                info.storage_driver
            ),
        }
    }
}

/// The options of the mount that holds `path`: the longest mount point it lies under.
fn mount_options<'a>(mounts: &'a str, path: &str) -> Option<&'a str> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, _, options) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let under = point == "/"
                || path == point
                || path.strip_prefix(point).is_some_and(|r| r.starts_with('/'));
            under.then_some((point.len(), options))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, options)| options)
}

/// The reaper's memory for disk: which containers were warned, and the round count.
#[derive(Default)]
pub struct DiskWatch {
    rounds: AtomicU64,
    warned: Mutex<HashSet<String>>,
}

/// `bytes` as a person reads it: `52.4 MiB`.
pub fn shown_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// What a sample says of one container against its limit.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Well under.
    Fine,
    /// At or over the warning share, not over the limit.
    Warn,
    /// Over the limit.
    Stop,
}

/// Where `used` bytes stand against `limit` with a warning at `warn_percent`.
pub fn verdict(used: u64, limit: Size, warn_percent: u32) -> Verdict {
    let limit = limit.bytes();
    if used > limit {
        Verdict::Stop
    } else if u128::from(used) * 100 >= u128::from(limit) * u128::from(warn_percent) {
        Verdict::Warn
    } else {
        Verdict::Fine
    }
}

/// One reaper round for disk: every `disk_check_every` rounds, the layers of the running
/// containers whose owner has a `disk` limit are measured in one engine call. Nothing is
/// measured where the driver enforces the quota itself.
/// Returns the IDs of the containers it stopped.
pub(crate) async fn round(daemon: &Arc<Daemon>, running: &[&ContainerView]) -> HashSet<String> {
    let mut stopped = HashSet::new();
    if daemon.disk_mechanism != Mechanism::Sampled {
        return stopped;
    }
    let lifecycle = &daemon.config.lifecycle;
    let watch = &daemon.watches.disk;
    let n = watch.rounds.fetch_add(1, Ordering::Relaxed);
    {
        // A container that stopped is warned afresh when it runs again.
        let ids: HashSet<&str> = running.iter().map(|c| c.id.as_str()).collect();
        lock(&watch.warned).retain(|id| ids.contains(id.as_str()));
    }
    if !n.is_multiple_of(u64::from(lifecycle.disk_check_every)) {
        return stopped;
    }
    let config = &daemon.config.file;
    // The limit of each container in scope. `ds01.protected` does not exempt: an image can
    // bring that label along, so it proves nothing about the admin's wish.
    let limited: Vec<(&ContainerView, &str, Size)> = running
        .iter()
        .filter(|c| crate::usage::in_scope(config, c))
        .filter_map(|c| {
            let login = container::owner_login(|k| c.labels.get(k))?;
            match crate::reaper::policy_of(daemon, c.uid(), login).disk.value {
                Cap::Limited(size) => Some((*c, login, size)),
                Cap::Unlimited => None,
            }
        })
        .collect();
    if limited.is_empty() {
        return stopped;
    }
    let ids: Vec<String> = limited.iter().map(|(c, _, _)| c.id.clone()).collect();
    let started = std::time::Instant::now();
    let sizes = match daemon.engine.layer_sizes(&ids).await {
        Ok(sizes) => sizes,
        Err(e) => {
            tracing::warn!("reaper: measuring the containers' layers: {e}");
            return stopped;
        }
    };
    tracing::debug!(
        "reaper: measured {} layer(s) in {} ms",
        ids.len(),
        started.elapsed().as_millis()
    );
    let warn_percent = lifecycle.disk_warn_percent;
    for (c, login, limit) in limited {
        let Some(&used) = sizes.get(&c.id) else {
            continue;
        };
        match verdict(used, limit, warn_percent) {
            Verdict::Fine => {}
            Verdict::Warn => {
                if !lock(&watch.warned).insert(c.id.clone()) {
                    continue;
                }
                let sentence = format!(
                    "has written {} into its own layer, {}% of its disk limit of {}: it will be stopped if it writes more than {} there; keep large files in /workspace or the home volume",
                    shown_size(used),
                    u128::from(used) * 100 / u128::from(limit.bytes().max(1)),
                    limit,
                    limit
                );
                crate::metrics::reaper_warned("disk");
                crate::reaper::warn_owner(daemon, c, login, "disk_warning", sentence);
            }
            Verdict::Stop => {
                let sentence = format!(
                    "was stopped: it had written {} into its own layer, over its disk limit of {} (the `disk` policy key); remove files from its layer after starting it, or recreate it",
                    shown_size(used),
                    limit
                );
                crate::metrics::reaper_stopped("disk");
                daemon
                    .events
                    .record(c.uid(), login, &c.name, "disk_stop", sentence.clone());
                crate::reaper::stop(daemon, c, login, &sentence).await;
                lock(&watch.warned).remove(&c.id);
                stopped.insert(c.id.clone());
            }
        }
    }
    stopped
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Mechanism {
    /// The layer quota a new container gets: `disk`, where the driver can enforce it.
    pub(crate) fn layer_quota(self, effective: &Effective) -> Option<Size> {
        match self {
            Mechanism::Quota => effective.disk.value.value(),
            Mechanism::Sampled => None,
        }
    }
}

/// The user's `image_storage` and what their images take now (see
/// [`ds01_engine::Engine::image_storage`]).
pub(crate) struct ImageStorage<'a> {
    engine: &'a Engine,
    cap: ds01_policy::Resolved<Cap<Size>>,
    uid: u32,
}

impl<'a> ImageStorage<'a> {
    /// The acting user's.
    pub(crate) fn of(engine: &'a Engine, config: &Config, acting: &Acting) -> ImageStorage<'a> {
        ImageStorage {
            engine,
            cap: acting.policy(config).image_storage,
            uid: acting.who.uid(),
        }
    }

    /// What the user's images take now.
    pub(crate) async fn used(&self) -> Result<u64, ApiError> {
        self.engine
            .image_storage(self.uid)
            .await
            .map_err(from_engine)
    }

    /// Refuses a build or commit that would start while the user's images are over it.
    pub(crate) async fn check(&self) -> Result<(), ApiError> {
        let Cap::Limited(limit) = self.cap.value else {
            return Ok(());
        };
        let used = self.used().await?;
        if used > limit.bytes() {
            return Err(ApiError::new(
                ErrorCode::Limit,
                format!(
                    "image_storage: your images take {}, over the most you may have, {limit} (from {}); remove images you no longer need and try again",
                    shown_size(used),
                    self.cap.source
                ),
            )
            .because(ds01_api::Reason::OverLimit {
                key: "image_storage".into(),
            }));
        }
        Ok(())
    }

    /// Refuses a create that would commit an image (the commit flow) while the user is
    /// over it; one from an image that carries the account makes only a tag.
    pub(crate) async fn check_commit(
        &self,
        who: &ds01_engine::Identity,
        create: &ds01_engine::CreateRequest,
    ) -> Result<(), ApiError> {
        let Err(refusal) = self.check().await else {
            return Ok(());
        };
        let plan = self
            .engine
            .plan_create(who, create)
            .await
            .map_err(from_engine)?;
        match plan.user_setup {
            ds01_api::UserSetup::Committed => Err(ApiError::new(
                ErrorCode::Limit,
                format!(
                    "this create would commit a new image for the container: {}",
                    refusal.message
                ),
            )
            .because(ds01_api::Reason::OverLimit {
                key: "image_storage".into(),
            })),
            ds01_api::UserSetup::Baked | ds01_api::UserSetup::Mapped => Ok(()),
        }
    }

    /// After a build or commit: a sentence for the user when their images are now over it.
    pub(crate) async fn note(&self) -> Option<String> {
        let limit = self.cap.value.value()?;
        let used = self.used().await.ok()?;
        (used > limit.bytes()).then(|| {
            format!(
                "your images now take {}, over your image_storage of {limit} (from {}): the next build or commit will be refused until you remove some",
                shown_size(used),
                self.cap.source
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(driver: &str, backing: &str) -> EngineInfo {
        EngineInfo {
            version: "20.10".into(),
            api_version: "1.41".into(),
            storage_driver: driver.into(),
            backing_filesystem: backing.into(),
            cgroup_driver: "cgroupfs".into(),
            root_dir: "/var/lib/docker".into(),
        }
    }

    #[test]
    fn the_mechanism_follows_the_driver_and_the_mount() {
        let xfs_pquota = "/dev/sdb1 /var/lib/docker xfs rw,relatime,attr2,inode64,prjquota 0 0\n";
        let xfs_plain = "/dev/sda1 / xfs rw,relatime,attr2,inode64,prjquota 0 0\n/dev/sdb1 /var/lib/docker xfs rw,relatime 0 0\n";
        assert_eq!(
            Mechanism::of(&info("overlay2", "xfs"), xfs_pquota),
            Mechanism::Quota
        );
        // The longest mount point decides: the root's quota option is not the engine's.
        assert_eq!(
            Mechanism::of(&info("overlay2", "xfs"), xfs_plain),
            Mechanism::Sampled
        );
        assert_eq!(
            Mechanism::of(&info("overlay2", "extfs"), xfs_pquota),
            Mechanism::Sampled
        );
        assert_eq!(Mechanism::of(&info("btrfs", ""), ""), Mechanism::Quota);
        assert_eq!(
            Mechanism::of(&info("fuse-overlayfs", ""), xfs_pquota),
            Mechanism::Sampled
        );
    }

    #[test]
    fn verdicts_at_the_warning_share_and_over_the_limit() {
        let limit: Size = "20m".parse().unwrap();
        assert_eq!(verdict(0, limit, 90), Verdict::Fine);
        assert_eq!(verdict(17 << 20, limit, 90), Verdict::Fine);
        assert_eq!(verdict(18 << 20, limit, 90), Verdict::Warn);
        assert_eq!(verdict(20 << 20, limit, 90), Verdict::Warn);
        assert_eq!(verdict((20 << 20) + 1, limit, 90), Verdict::Stop);
    }

    #[test]
    fn sizes_read_like_a_person_writes_them() {
        assert_eq!(shown_size(512), "512 B");
        assert_eq!(shown_size(52_428_800), "50.0 MiB");
        assert_eq!(shown_size(3 << 30), "3.0 GiB");
    }
}
