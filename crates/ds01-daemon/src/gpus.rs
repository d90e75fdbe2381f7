//! GPU allocation. The containers' labels are the only record of who holds what (DS01's
//! `ds01.gpu.*` and MLC's `aime.mlc.GPUS`), so a restarted ds01d knows every allocation,
//! and containers made by DS01's scripts count too. A *running* container holds its devices;
//! a stopped one holds nothing, and `start` binds its devices again only if they are free.
//! Between choosing devices and the container running, an in-memory reservation holds
//! them, so two requests never get the same device.
//!
//! `--wait` requests queue in the fair order of [`ds01_policy::fair`]: less decayed GPU
//! use first (the caller weighs it from the usage ledger), then arrival.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ds01_labels::container;

use ds01_api::{ApiError, ErrorCode, GpuRequest, GpuRow, GpuTable, Progress, QueuedRequest};
use ds01_engine::{ContainerView, Engine};
use ds01_policy::fair::{self, Waiter};
use ds01_policy::{
    allocate, gpus_from_labels, AllocError, AllocRequest, Allocation, Device, GpuAsk, Holding,
};

use crate::errors::from_engine;
use crate::stream::Reporter;

/// How a container is given its devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `NVIDIA_VISIBLE_DEVICES=<uuids>`: a file inventory, where the engine may have no
    /// NVIDIA runtime to take a device request.
    Environment,
    /// A device request by UUID (NVML found the GPUs, so the runtime is there).
    #[cfg_attr(not(feature = "nvml"), allow(dead_code))]
    DeviceRequest,
}

/// The server's GPUs and the reservations in flight.
pub struct Gpus {
    devices: Vec<Device>,
    binding: Binding,
    reserved: Mutex<HashMap<String, Holding>>,
    /// How many reservations have ended. A reservation ends once its container runs (and
    /// holds by its labels): a look at the engine taken before that, joined with the map
    /// after it, would see the devices held by neither, so such a look is taken again.
    ended: AtomicU64,
    /// The `--wait` requests, in fair order.
    queue: Mutex<Vec<Queued>>,
    next_ticket: Mutex<u64>,
    freed: tokio::sync::Notify,
}

/// One `--wait` request in line.
struct Queued {
    waiter: Waiter,
    user: String,
    container: String,
    /// Unix seconds.
    since: i64,
}

/// What a `--wait` request brings to the line.
pub struct Wait<'a> {
    /// Where its progress (its place in line) goes.
    pub reporter: &'a Reporter,
    /// The requesting user's login.
    pub user: String,
    /// Their decayed GPU-seconds now, which orders the line.
    pub usage: f64,
}

/// Devices held for a container until it runs (or the request fails).
pub struct Reservation<'a> {
    gpus: &'a Gpus,
    key: String,
    /// What was chosen.
    pub allocation: Allocation,
    /// Whether the request waited in line for it.
    pub waited: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut reserved = self.gpus.lock_reserved();
        reserved.remove(&self.key);
        self.gpus.ended.fetch_add(1, Ordering::SeqCst);
        drop(reserved);
        self.gpus.freed.notify_waiters();
    }
}

/// A place in the line of `--wait` requests; leaving it (done, failed or cancelled) lets
/// the next one go.
struct Ticket<'a> {
    gpus: &'a Gpus,
    id: u64,
    joined: std::time::Instant,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        crate::metrics::queue_left(self.joined.elapsed());
        let mut queue = self.gpus.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.retain(|q| q.waiter.ticket != self.id);
        drop(queue);
        self.gpus.freed.notify_waiters();
    }
}

/// What holds the devices now: running containers (by their labels) and reservations.
pub(crate) fn holdings(
    devices: &[Device],
    containers: &[ContainerView],
    skip: &str,
) -> Vec<Holding> {
    containers
        .iter()
        .filter(|c| c.state.is_live() && c.name.as_str() != skip)
        .filter_map(|c| {
            let labels: HashMap<String, String> = c.labels.clone().into_iter().collect();
            let found = gpus_from_labels(&labels, devices);
            (!found.uuids.is_empty()).then(|| Holding {
                container: c.name.to_string(),
                uid: c.uid(),
                uuids: found.uuids,
            })
        })
        .collect()
}

impl Gpus {
    /// The devices of a file inventory (bound through the environment).
    pub fn new(devices: Vec<Device>, binding: Binding) -> Gpus {
        Gpus {
            devices,
            binding,
            reserved: Mutex::new(HashMap::new()),
            ended: AtomicU64::new(0),
            queue: Mutex::new(Vec::new()),
            next_ticket: Mutex::new(0),
            freed: tokio::sync::Notify::new(),
        }
    }

    /// How containers get their devices.
    pub fn binding(&self) -> Binding {
        self.binding
    }

    /// The devices.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    fn lock_reserved(&self) -> std::sync::MutexGuard<'_, HashMap<String, Holding>> {
        self.reserved.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes `--wait` requests: devices may have come free.
    pub fn released(&self) {
        self.freed.notify_waiters();
    }

    /// The devices held now, by running containers and by reservations (but `skip`).
    pub async fn held(&self, engine: &Engine, skip: &str) -> Result<Vec<Holding>, ApiError> {
        let containers = engine
            .list_containers(ds01_engine::Scope::AllUsers)
            .await
            .map_err(from_engine)?;
        let mut held = holdings(&self.devices, &containers, skip);
        held.extend(
            self.lock_reserved()
                .iter()
                .filter(|(k, _)| k.as_str() != skip)
                .map(|(_, h)| h.clone()),
        );
        Ok(held)
    }

    /// The full-GPU equivalents `uid`'s running containers hold.
    pub fn usage(&self, held: &[Holding], uid: u32) -> f64 {
        self.equivalents(held.iter().filter(|h| h.uid == uid))
    }

    /// The full-GPU equivalents `held` takes, and of all the devices.
    pub fn allocated(&self, held: &[Holding]) -> (f64, f64) {
        let total = self.devices.iter().map(Device::fraction).sum();
        (self.equivalents(held.iter()), total)
    }

    fn equivalents<'h>(&self, held: impl Iterator<Item = &'h Holding>) -> f64 {
        held.flat_map(|h| &h.uuids)
            .filter_map(|u| self.devices.iter().find(|d| &d.uuid == u))
            .map(Device::fraction)
            .sum()
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Chooses devices for container `key` of `uid` and reserves them. With `wait`, a
    /// request that finds too few free devices waits its turn, in the fair order.
    pub async fn reserve(
        &self,
        engine: &Engine,
        key: &str,
        request: AllocRequest,
        wait: Option<Wait<'_>>,
    ) -> Result<Reservation<'_>, ApiError> {
        let uid = request.uid;
        let ticket = wait.as_ref().map(|w| {
            let mut next = self.next_ticket.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            let id = *next;
            let mut queue = self.lock_queue();
            queue.push(Queued {
                waiter: Waiter {
                    ticket: id,
                    uid,
                    usage: w.usage,
                },
                user: w.user.clone(),
                container: key.to_owned(),
                since: crate::usage::now_ms() / 1000,
            });
            queue.sort_by(|a, b| fair::compare(&a.waiter, &b.waiter));
            drop(queue);
            crate::metrics::queue_joined();
            Ticket {
                gpus: self,
                id,
                joined: std::time::Instant::now(),
            }
        });
        let wait = wait.as_ref().map(|w| w.reporter);
        let gone = wait.map(|r| r.gone());
        let mut waited = false;
        tokio::pin!(gone);
        loop {
            let place = ticket.as_ref().and_then(|t| {
                let queue = self.lock_queue();
                let line: Vec<Waiter> = queue.iter().map(|q| q.waiter.clone()).collect();
                fair::place(&line, t.id)
            });
            if place.is_none_or(|p| p.position() == 1) {
                // Subscribe before looking, so a release between the look and the wait is
                // not missed.
                let freed = self.freed.notified();
                let ended = self.ended.load(Ordering::SeqCst);
                let held = self.held(engine, key).await?;
                let outcome = {
                    let mut reserved = self.lock_reserved();
                    if self.ended.load(Ordering::SeqCst) != ended {
                        // A reservation ended while the engine was asked: look again.
                        continue;
                    }
                    // Reservations made since `held` was read are in the map: take them in.
                    let mut all = held;
                    for (k, h) in reserved.iter() {
                        if k != key && !all.iter().any(|x| x.container == *k) {
                            all.push(h.clone());
                        }
                    }
                    match allocate(&self.devices, &all, &request) {
                        Ok(allocation) => {
                            reserved.insert(
                                key.to_owned(),
                                Holding {
                                    container: key.to_owned(),
                                    uid,
                                    uuids: allocation
                                        .uuids()
                                        .iter()
                                        .map(|u| u.to_string())
                                        .collect(),
                                },
                            );
                            Ok(allocation)
                        }
                        Err(e) => Err(e),
                    }
                };
                match outcome {
                    Ok(allocation) => {
                        return Ok(Reservation {
                            gpus: self,
                            key: key.to_owned(),
                            allocation,
                            waited,
                        })
                    }
                    Err(
                        e @ (AllocError::NotEnoughFree { .. }
                        | AllocError::ProfileUnavailable { .. }),
                    ) if wait.is_some() => {
                        if let Some(r) = wait {
                            r.report(Progress::Stage(format!(
                                "waiting for a GPU, 1st in line ({e})"
                            )));
                        }
                        waited = true;
                        self.wait_a_while(freed, gone.as_mut().as_pin_mut()).await?;
                    }
                    Err(e) => return Err(refusal(e)),
                }
            } else {
                let freed = self.freed.notified();
                if let (Some(r), Some(p)) = (wait, place) {
                    r.report(Progress::Stage(format!("waiting for a GPU, {p}")));
                }
                waited = true;
                self.wait_a_while(freed, gone.as_mut().as_pin_mut()).await?;
            }
        }
    }

    /// Until a release, a timeout (containers also stop outside ds01d), or the client
    /// leaving the line.
    async fn wait_a_while(
        &self,
        freed: tokio::sync::futures::Notified<'_>,
        gone: Option<std::pin::Pin<&mut (impl std::future::Future<Output = ()> + Send)>>,
    ) -> Result<(), ApiError> {
        let left = async {
            match gone {
                Some(g) => g.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = freed => Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(2)) => Ok(()),
            _ = left => Err(ApiError::new(ErrorCode::Interrupted, "left the line for a GPU")),
        }
    }

    /// Counts a reservation of container `key` again, inside its owner's critical section:
    /// its devices are held by nobody else, and with what `uid` holds now they are within
    /// `max_gpus`.
    pub async fn recheck(
        &self,
        engine: &Engine,
        key: &str,
        uid: u32,
        allocation: &Allocation,
        max_gpus: f64,
    ) -> Result<(), ApiError> {
        let held = self.held(engine, key).await?;
        let request = AllocRequest {
            uid,
            ask: GpuAsk::Devices(allocation.uuids().iter().map(|u| u.to_string()).collect()),
            max_gpus,
            allow_device_pick: true,
        };
        allocate(&self.devices, &held, &request)
            .map(|_| ())
            .map_err(refusal)
    }

    /// The `--wait` line, first in line first.
    pub(crate) fn line(&self) -> Vec<QueuedRequest> {
        self.lock_queue()
            .iter()
            .enumerate()
            .map(|(i, q)| QueuedRequest {
                position: i + 1,
                user: q.user.clone(),
                uid: q.waiter.uid,
                container: q.container.clone(),
                decayed_gpu_seconds: q.waiter.usage,
                waiting_since: q.since,
            })
            .collect()
    }

    /// `ds01 admin gpus`: every device and its holder, and the line.
    pub async fn table(&self, engine: &Engine) -> Result<GpuTable, ApiError> {
        Ok(GpuTable {
            devices: self.devices_table(engine).await?,
            queue: self.line(),
        })
    }

    async fn devices_table(&self, engine: &Engine) -> Result<Vec<GpuRow>, ApiError> {
        let containers = engine
            .list_containers(ds01_engine::Scope::AllUsers)
            .await
            .map_err(from_engine)?;
        Ok(self.rows(&containers))
    }

    /// Every device and its holder among `containers` (all users' containers).
    pub(crate) fn rows(&self, containers: &[ContainerView]) -> Vec<GpuRow> {
        let held = holdings(&self.devices, containers, "");
        self.devices
            .iter()
            .map(|d| {
                let holder = held.iter().find(|h| h.uuids.contains(&d.uuid));
                let user = holder.and_then(|h| {
                    containers
                        .iter()
                        .find(|c| c.name.as_str() == h.container)
                        .and_then(|c| container::owner_login(|k| c.labels.get(k)))
                        .map(str::to_owned)
                });
                GpuRow {
                    slot: d.slot(),
                    uuid: d.uuid.clone(),
                    name: d.name.clone(),
                    profile: d.profile().map(str::to_owned),
                    container: holder.map(|h| h.container.clone()),
                    user,
                }
            })
            .collect()
    }
}

/// What the user asked for, in the allocator's terms.
pub fn ask(request: Option<&GpuRequest>, devices: &[Device]) -> Result<GpuAsk, ApiError> {
    Ok(match request {
        None | Some(GpuRequest::CpuOnly) => GpuAsk::None,
        Some(GpuRequest::All) => {
            return Err(ApiError::invalid(
                "`all` would take every GPU of a shared server; ask for a count or a MIG slice",
            ))
        }
        Some(GpuRequest::Count(n)) => GpuAsk::Count(*n),
        Some(GpuRequest::Mig(profile)) => GpuAsk::Mig(profile.clone()),
        // DS01's slots ("0", "1.2") name devices too.
        Some(GpuRequest::Devices(ids)) => GpuAsk::Devices(
            ids.iter()
                .map(|id| {
                    devices
                        .iter()
                        .find(|d| d.slot() == *id)
                        .map_or_else(|| id.clone(), |d| d.uuid.clone())
                })
                .collect(),
        ),
    })
}

fn refusal(e: AllocError) -> ApiError {
    let code = match e {
        AllocError::CapExceeded { .. } => ErrorCode::Limit,
        AllocError::PickNotAllowed => ErrorCode::Forbidden,
        AllocError::UnknownDevice(_) | AllocError::SplitGpu(_) | AllocError::Duplicate(_) => {
            ErrorCode::Invalid
        }
        _ => ErrorCode::Busy,
    };
    let reason = matches!(e, AllocError::CapExceeded { .. }).then(|| ds01_api::Reason::OverLimit {
        key: "max_gpus".into(),
    });
    let mut error = ApiError::new(code, e.to_string());
    error.reason = reason;
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_dockerfile::owner::OwnedName;
    use ds01_engine::ContainerState;
    use ds01_policy::Inventory;

    fn devices() -> Vec<Device> {
        Inventory::from_toml(
            "[[gpu]]\nindex = 0\nuuid = \"GPU-a\"\nname = \"NVIDIA H100\"\n\
             [[gpu]]\nindex = 1\nuuid = \"GPU-b\"\nname = \"NVIDIA H100\"",
        )
        .unwrap()
        .devices()
    }

    fn container(name: &str, running: bool, labels: &[(&str, &str)]) -> ContainerView {
        ContainerView {
            name: OwnedName::parse(name).unwrap(),
            id: name.into(),
            image: String::new(),
            image_id: String::new(),
            state: if running {
                ContainerState::Running
            } else {
                ContainerState::Exited
            },
            status: String::new(),
            started_at: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mounts: Vec::new(),
        }
    }

    #[test]
    fn only_running_containers_hold_and_ds01_labels_count() {
        let d = devices();
        let cs = [
            container("a._.1000", true, &[("ds01.gpu.uuids", "GPU-a")]),
            container("b._.1001", false, &[("ds01.gpu.uuids", "GPU-b")]),
            // DS01's own scripts: slots only.
            container("c._.1002", true, &[("ds01.gpu.slots", "1")]),
        ];
        let held = holdings(&d, &cs, "");
        let names: Vec<&str> = held.iter().map(|h| h.container.as_str()).collect();
        assert_eq!(names, ["a._.1000", "c._.1002"]);
        assert_eq!(held[1].uuids, ["GPU-b"]);
        assert!(holdings(&d, &cs, "a._.1000")
            .iter()
            .all(|h| h.container != "a._.1000"));
    }

    #[test]
    fn asks_map_slots_to_uuids_and_refuse_all() {
        let d = devices();
        assert_eq!(
            ask(Some(&GpuRequest::Devices(vec!["1".into()])), &d).unwrap(),
            GpuAsk::Devices(vec!["GPU-b".into()])
        );
        assert_eq!(ask(None, &d).unwrap(), GpuAsk::None);
        assert!(ask(Some(&GpuRequest::All), &d).is_err());
    }
}
