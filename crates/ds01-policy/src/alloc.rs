//! The GPU allocator: given the devices, who holds what and a request, which devices to hand
//! out. Pure and deterministic; the daemon serialises calls and records the result before
//! `docker create`, which closes DS01's decide-then-create race.
//!
//! Devices are exclusive: one container per device, never shared.

mod labels;

use std::collections::{BTreeMap, BTreeSet};

use crate::inventory::{Device, DeviceKind};

pub use labels::{gpus_from_labels, LabelGpus};

/// Tolerance for float sums of MIG fractions (3 × 1/7 + 4/7 must equal 1).
const EPS: f64 = 1e-9;

/// Devices held by one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// Container id or name, shown only to its owner.
    pub container: String,
    /// The owner's UID.
    pub uid: u32,
    /// The device UUIDs it holds (`GPU-…`/`MIG-…`).
    pub uuids: Vec<String>,
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuAsk {
    /// No GPU.
    None,
    /// This many full GPUs, picked by the allocator.
    Count(u32),
    /// One MIG instance of this profile, e.g. "3g.40gb".
    Mig(String),
    /// These devices by UUID (needs `allow_device_pick`).
    Devices(Vec<String>),
}

/// One allocation request.
#[derive(Debug, Clone, PartialEq)]
pub struct AllocRequest {
    /// The user's UID.
    pub uid: u32,
    /// What they ask for.
    pub ask: GpuAsk,
    /// Their cap in full-GPU equivalents (`f64::INFINITY` for unlimited).
    pub max_gpus: f64,
    /// Whether they may name devices.
    pub allow_device_pick: bool,
}

/// The devices handed out.
///
/// ```
/// use ds01_policy::{allocate, AllocRequest, GpuAsk, Inventory};
///
/// let inv = Inventory::from_toml(
///     "[[gpu]]\nindex = 0\nuuid = \"GPU-a\"\nname = \"NVIDIA H100\"\n\
///      [[gpu]]\nindex = 1\nuuid = \"GPU-b\"\nname = \"NVIDIA H100\"",
/// )?;
/// let req = AllocRequest { uid: 1001, ask: GpuAsk::Count(1), max_gpus: 2.0, allow_device_pick: false };
/// let a = allocate(&inv.devices(), &[], &req)?;
/// assert_eq!(a.uuids(), ["GPU-a"]);
/// assert_eq!(a.labels(), [("ds01.gpu.uuids", "GPU-a".to_string()), ("ds01.gpu.slots", "0".into()), ("ds01.gpu.uuid", "GPU-a".into())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Allocation {
    /// The chosen devices, in the order chosen.
    pub devices: Vec<Device>,
}

impl Allocation {
    /// The UUIDs, for `--gpus device=…` / `NVIDIA_VISIBLE_DEVICES`.
    pub fn uuids(&self) -> Vec<&str> {
        self.devices.iter().map(|d| d.uuid.as_str()).collect()
    }

    /// The total in full-GPU equivalents.
    pub fn fraction(&self) -> f64 {
        self.devices.iter().map(Device::fraction).sum()
    }

    /// The labels DS01's tools read: `ds01.gpu.uuids` and `ds01.gpu.slots` (comma-separated,
    /// slots spelt "0" / "1.2" as DS01's allocator writes them), plus `ds01.gpu.uuid` for a
    /// single device, which DS01's idle check reads first. Empty for no GPU.
    pub fn labels(&self) -> Vec<(&'static str, String)> {
        if self.devices.is_empty() {
            return Vec::new();
        }
        let slots: Vec<String> = self.devices.iter().map(Device::slot).collect();
        let mut out = vec![
            (ds01_labels::gpu::UUIDS, self.uuids().join(",")),
            (ds01_labels::gpu::SLOTS, slots.join(",")),
        ];
        if let [one] = self.devices.as_slice() {
            out.push((ds01_labels::gpu::UUID, one.uuid.clone()));
        }
        out
    }
}

/// Why no devices were handed out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AllocError {
    /// The request would take the user over `max_gpus`.
    #[error(
        "this needs {asked} GPU (full-GPU equivalents); you hold {held} and your limit is {cap}"
    )]
    CapExceeded {
        /// The cap.
        cap: Amount,
        /// What the user holds now.
        held: Amount,
        /// What the request costs.
        asked: Amount,
    },
    /// Fewer free devices of the kind asked for than asked.
    #[error("{asked} full GPU(s) asked, but only {free} free")]
    NotEnoughFree {
        /// Full GPUs asked for.
        asked: u32,
        /// Full GPUs free.
        free: u32,
    },
    /// No device has this UUID.
    #[error("no GPU or MIG instance here has UUID {0}")]
    UnknownDevice(String),
    /// The UUID names a GPU that is split into MIG instances.
    #[error("GPU {0} is split into MIG instances; ask for an instance (or a MIG profile) instead")]
    SplitGpu(String),
    /// Another user's container holds the device; who is not said.
    #[error("{0} is in use")]
    InUse(String),
    /// One of the user's own containers holds the device.
    #[error("{uuid} is already held by your container {container}")]
    HeldByYou {
        /// The device.
        uuid: String,
        /// The user's container holding it.
        container: String,
    },
    /// The user may not name devices.
    #[error("you may not choose GPUs by UUID (allow_device_pick is off); ask for a number of GPUs or a MIG profile")]
    PickNotAllowed,
    /// The same UUID was named twice.
    #[error("{0} is named twice")]
    Duplicate(String),
    /// No free instance of the profile.
    #[error("no free MIG instance with profile {profile}{}", free_list(.free))]
    ProfileUnavailable {
        /// The profile asked for.
        profile: String,
        /// Profiles that do have a free instance.
        free: Vec<String>,
    },
}

fn free_list(free: &[String]) -> String {
    if free.is_empty() {
        " (no MIG instance is free)".into()
    } else {
        format!(" (free profiles: {})", free.join(", "))
    }
}

/// A number of full-GPU equivalents, displayed briefly ("2", "0.43", "unlimited").
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Amount(pub f64);

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_infinite() {
            f.write_str("unlimited")
        } else {
            let s = format!("{:.2}", self.0);
            f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

/// Picks devices for `req`, never one that `holdings` lists, never beyond `req.max_gpus`.
///
/// `Count(n)` takes full GPUs only, lowest index first. `Mig(profile)` takes the free instance
/// of that profile on the physical GPU with the least of its capacity in use, so load spreads
/// (ties by GPU index, then instance). UUIDs in `holdings` that the inventory does not know are
/// ignored for the cap.
pub fn allocate(
    devices: &[Device],
    holdings: &[Holding],
    req: &AllocRequest,
) -> Result<Allocation, AllocError> {
    let by_uuid: BTreeMap<&str, &Device> = devices.iter().map(|d| (d.uuid.as_str(), d)).collect();
    let holder: BTreeMap<&str, &Holding> = holdings
        .iter()
        .flat_map(|h| h.uuids.iter().map(move |u| (u.as_str(), h)))
        .collect();
    let held: f64 = holder
        .iter()
        .filter(|(_, h)| h.uid == req.uid)
        .filter_map(|(u, _)| by_uuid.get(u).map(|d| d.fraction()))
        .sum();
    // In use per physical GPU, so a MIG request lands on the emptiest card.
    let mut load: BTreeMap<u32, f64> = BTreeMap::new();
    for u in holder.keys() {
        if let Some(d) = by_uuid.get(u) {
            *load.entry(d.gpu_index).or_default() += d.fraction();
        }
    }
    let free = |d: &&Device| !holder.contains_key(d.uuid.as_str());
    let within_cap = |asked: f64| {
        if held + asked > req.max_gpus + EPS {
            Err(AllocError::CapExceeded {
                cap: Amount(req.max_gpus),
                held: Amount(held),
                asked: Amount(asked),
            })
        } else {
            Ok(())
        }
    };

    let chosen: Vec<&Device> = match &req.ask {
        GpuAsk::None | GpuAsk::Count(0) => Vec::new(),
        GpuAsk::Count(n) => {
            within_cap(f64::from(*n))?;
            let full: Vec<&Device> = devices
                .iter()
                .filter(|d| d.kind == DeviceKind::Full)
                .filter(free)
                .collect();
            if full.len() < *n as usize {
                return Err(AllocError::NotEnoughFree {
                    asked: *n,
                    free: full.len() as u32,
                });
            }
            let mut full = full;
            full.sort_by_key(|d| d.gpu_index);
            full.truncate(*n as usize);
            full
        }
        GpuAsk::Mig(profile) => {
            let mut candidates: Vec<&Device> = devices
                .iter()
                .filter(|d| d.profile() == Some(profile.as_str()))
                .filter(free)
                .collect();
            let Some(fraction) = devices
                .iter()
                .find(|d| d.profile() == Some(profile))
                .map(Device::fraction)
            else {
                return Err(unavailable(profile, devices, free));
            };
            within_cap(fraction)?;
            let key = |d: &&Device| {
                (
                    load.get(&d.gpu_index).copied().unwrap_or(0.0),
                    d.gpu_index,
                    d.slot(),
                )
            };
            candidates.sort_by(|a, b| key(a).partial_cmp(&key(b)).expect("loads are finite"));
            match candidates.first() {
                Some(d) => vec![*d],
                None => return Err(unavailable(profile, devices, free)),
            }
        }
        GpuAsk::Devices(uuids) => {
            if !req.allow_device_pick {
                return Err(AllocError::PickNotAllowed);
            }
            let mut seen = BTreeSet::new();
            let mut out = Vec::new();
            for u in uuids {
                if !seen.insert(u.as_str()) {
                    return Err(AllocError::Duplicate(u.clone()));
                }
                let Some(d) = by_uuid.get(u.as_str()) else {
                    return Err(if devices.iter().any(|d| &d.gpu_uuid == u) {
                        AllocError::SplitGpu(u.clone())
                    } else {
                        AllocError::UnknownDevice(u.clone())
                    });
                };
                out.push(*d);
            }
            within_cap(out.iter().map(|d| d.fraction()).sum())?;
            for d in &out {
                match holder.get(d.uuid.as_str()) {
                    Some(h) if h.uid == req.uid => {
                        return Err(AllocError::HeldByYou {
                            uuid: d.uuid.clone(),
                            container: h.container.clone(),
                        })
                    }
                    Some(_) => return Err(AllocError::InUse(d.uuid.clone())),
                    None => {}
                }
            }
            out
        }
    };
    Ok(Allocation {
        devices: chosen.into_iter().cloned().collect(),
    })
}

fn unavailable(profile: &str, devices: &[Device], free: impl Fn(&&Device) -> bool) -> AllocError {
    let free: BTreeSet<String> = devices
        .iter()
        .filter(free)
        .filter_map(|d| d.profile())
        .map(String::from)
        .collect();
    AllocError::ProfileUnavailable {
        profile: profile.into(),
        free: free.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use proptest::prelude::*;

    /// GPU 0, 1: full H100s. GPU 2: 3g + 2g + 2g. GPU 3: 3g + 3g + 1g.
    fn devices() -> Vec<Device> {
        let mut t = String::new();
        for (i, migs) in [
            (0, &[][..]),
            (1, &[]),
            (2, &["3g.40gb", "2g.20gb", "2g.20gb"]),
            (3, &["3g.40gb", "3g.40gb", "1g.10gb"]),
        ] {
            t += &format!("[[gpu]]\nindex={i}\nuuid=\"GPU-{i}\"\nname=\"NVIDIA H100 80GB HBM3\"\n");
            for (j, p) in migs.iter().enumerate() {
                t += &format!("[[gpu.mig]]\nuuid=\"MIG-{i}-{j}\"\nprofile=\"{p}\"\n");
            }
        }
        Inventory::from_toml(&t).unwrap().devices()
    }

    fn hold(container: &str, uid: u32, uuids: &[&str]) -> Holding {
        Holding {
            container: container.into(),
            uid,
            uuids: uuids.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn req(uid: u32, ask: GpuAsk, max_gpus: f64) -> AllocRequest {
        AllocRequest {
            uid,
            ask,
            max_gpus,
            allow_device_pick: true,
        }
    }

    #[test]
    fn count_takes_free_full_gpus_by_index() {
        let d = devices();
        let a = allocate(
            &d,
            &[hold("x", 2, &["GPU-0"])],
            &req(1, GpuAsk::Count(1), 1.0),
        )
        .unwrap();
        assert_eq!(a.uuids(), ["GPU-1"]);
        assert_eq!(a.labels()[1], ("ds01.gpu.slots", "1".into()));
        let e = allocate(
            &d,
            &[hold("x", 2, &["GPU-0"])],
            &req(1, GpuAsk::Count(2), 4.0),
        )
        .unwrap_err();
        assert_eq!(e, AllocError::NotEnoughFree { asked: 2, free: 1 });
        assert_eq!(e.to_string(), "2 full GPU(s) asked, but only 1 free");
        assert!(allocate(&d, &[], &req(1, GpuAsk::None, 0.0))
            .unwrap()
            .devices
            .is_empty());
    }

    #[test]
    fn cap_counts_mig_fractions_and_says_what_is_held() {
        let d = devices();
        let h = [hold("a", 1, &["MIG-2-0"]), hold("b", 1, &["GPU-0"])];
        let e = allocate(&d, &h, &req(1, GpuAsk::Count(1), 2.0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "this needs 1 GPU (full-GPU equivalents); you hold 1.43 and your limit is 2"
        );
        // 1 + 3/7 + 2/7 fits under 2.
        let a = allocate(&d, &h, &req(1, GpuAsk::Mig("2g.20gb".into()), 2.0)).unwrap();
        assert_eq!(
            a.labels(),
            [
                ("ds01.gpu.uuids", "MIG-2-1".to_string()),
                ("ds01.gpu.slots", "2.1".into()),
                ("ds01.gpu.uuid", "MIG-2-1".into())
            ]
        );
        // Someone else's holdings never count against this user.
        assert!(allocate(
            &d,
            &[hold("z", 9, &["GPU-0"])],
            &req(1, GpuAsk::Count(1), 1.0)
        )
        .is_ok());
    }

    #[test]
    fn mig_goes_to_the_least_loaded_gpu() {
        let d = devices();
        // GPU 2 has 3/7 in use, GPU 3 none: the 3g goes to GPU 3.
        let a = allocate(
            &d,
            &[hold("a", 5, &["MIG-2-0"])],
            &req(1, GpuAsk::Mig("3g.40gb".into()), 1.0),
        )
        .unwrap();
        assert_eq!(a.uuids(), ["MIG-3-0"]);
        // Equal load: lowest GPU index.
        let a = allocate(&d, &[], &req(1, GpuAsk::Mig("3g.40gb".into()), 1.0)).unwrap();
        assert_eq!(a.uuids(), ["MIG-2-0"]);
        let busy = [hold("a", 5, &["MIG-2-0", "MIG-3-0", "MIG-3-1"])];
        let e = allocate(&d, &busy, &req(1, GpuAsk::Mig("3g.40gb".into()), 1.0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no free MIG instance with profile 3g.40gb (free profiles: 1g.10gb, 2g.20gb)"
        );
        let e = allocate(&d, &[], &req(1, GpuAsk::Mig("7g.80gb".into()), 1.0)).unwrap_err();
        assert!(matches!(e, AllocError::ProfileUnavailable { .. }));
    }

    #[test]
    fn picking_devices_is_checked_and_discreet() {
        let d = devices();
        let h = [hold("theirs", 2, &["GPU-0"]), hold("mine", 1, &["MIG-3-2"])];
        let mut r = req(
            1,
            GpuAsk::Devices(vec!["GPU-1".into(), "MIG-2-1".into()]),
            2.0,
        );
        assert_eq!(allocate(&d, &h, &r).unwrap().uuids(), ["GPU-1", "MIG-2-1"]);
        r.ask = GpuAsk::Devices(vec!["GPU-0".into()]);
        let e = allocate(&d, &h, &r).unwrap_err();
        assert_eq!(e.to_string(), "GPU-0 is in use");
        r.ask = GpuAsk::Devices(vec!["MIG-3-2".into()]);
        assert_eq!(
            allocate(&d, &h, &r).unwrap_err().to_string(),
            "MIG-3-2 is already held by your container mine"
        );
        r.ask = GpuAsk::Devices(vec!["GPU-2".into()]);
        assert_eq!(
            allocate(&d, &h, &r).unwrap_err(),
            AllocError::SplitGpu("GPU-2".into())
        );
        r.ask = GpuAsk::Devices(vec!["GPU-9".into()]);
        assert_eq!(
            allocate(&d, &h, &r).unwrap_err(),
            AllocError::UnknownDevice("GPU-9".into())
        );
        r.ask = GpuAsk::Devices(vec!["GPU-1".into(), "GPU-1".into()]);
        assert_eq!(
            allocate(&d, &h, &r).unwrap_err(),
            AllocError::Duplicate("GPU-1".into())
        );
        r.ask = GpuAsk::Devices(vec!["GPU-1".into()]);
        r.allow_device_pick = false;
        assert_eq!(
            allocate(&d, &h, &r).unwrap_err(),
            AllocError::PickNotAllowed
        );
    }

    fn ask_strategy() -> impl Strategy<Value = GpuAsk> {
        prop_oneof![
            (0u32..3).prop_map(GpuAsk::Count),
            prop::sample::select(vec!["3g.40gb", "2g.20gb", "1g.10gb", "7g.80gb"])
                .prop_map(|p| GpuAsk::Mig(p.into())),
            prop::collection::vec(
                prop::sample::select(vec![
                    "GPU-0", "GPU-1", "MIG-2-0", "MIG-2-1", "MIG-3-2", "GPU-2"
                ]),
                1..3
            )
            .prop_map(|v| GpuAsk::Devices(v.into_iter().map(String::from).collect())),
        ]
    }

    proptest! {
        #[test]
        fn never_hands_out_a_device_twice_nor_exceeds_a_cap(
            steps in prop::collection::vec((0u32..4, ask_strategy(), any::<bool>()), 1..40)
        ) {
            let d = devices();
            let caps = [1.0, 2.0, 0.5, f64::INFINITY];
            let mut holdings: Vec<Holding> = Vec::new();
            for (i, (uid, ask, release)) in steps.into_iter().enumerate() {
                if release && !holdings.is_empty() {
                    holdings.remove(i % holdings.len());
                }
                let r = AllocRequest { uid, ask, max_gpus: caps[uid as usize], allow_device_pick: true };
                if let Ok(a) = allocate(&d, &holdings, &r) {
                    if !a.devices.is_empty() {
                        holdings.push(Holding { container: format!("c{i}"), uid, uuids: a.uuids().iter().map(|s| s.to_string()).collect() });
                    }
                }
                let mut all: Vec<&String> = holdings.iter().flat_map(|h| &h.uuids).collect();
                let n = all.len();
                all.sort();
                all.dedup();
                prop_assert_eq!(all.len(), n, "a device was handed out twice");
                for u in 0..4u32 {
                    let used: f64 = holdings.iter().filter(|h| h.uid == u).flat_map(|h| &h.uuids)
                        .map(|x| d.iter().find(|d| &d.uuid == x).unwrap().fraction()).sum();
                    prop_assert!(used <= caps[u as usize] + EPS, "uid {} holds {} over cap", u, used);
                }
            }
        }
    }
}
