//! The GPUs the allocator may hand out, read from a TOML file or (feature `nvml`) from the
//! driver.
//!
//! ```toml
//! [[gpu]]
//! index = 0
//! uuid = "GPU-0a1b…"
//! name = "NVIDIA H100 80GB HBM3"
//! arch = "CUDA_HOPPER"        # optional; otherwise derived from the name
//! [[gpu.mig]]                 # optional: this GPU is split
//! uuid = "MIG-1c2d…"
//! profile = "3g.40gb"
//! index = 0                   # optional: nvidia-smi's "MIG … Device N"; defaults to the position
//! ```
//!
//! A GPU that has MIG instances is allocatable only through them: handing out the parent would
//! give one container every instance at once.

mod arch;
mod nvml;

use std::collections::BTreeSet;

use serde::Deserialize;

pub use arch::arch_from_name;
#[cfg(feature = "nvml")]
pub use nvml::NvmlSource;

/// One physical GPU as listed in the inventory file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// The driver's index (`nvidia-smi -L`'s "GPU N").
    pub index: u32,
    /// `GPU-…`.
    pub uuid: String,
    /// The product name, e.g. "NVIDIA H100 80GB HBM3".
    pub name: String,
    /// An AIME-style architecture tag overriding the one derived from `name`.
    #[serde(default)]
    pub arch: Option<String>,
    /// The MIG instances, if the GPU is split.
    #[serde(default)]
    pub mig: Vec<Mig>,
}

/// One MIG instance of a [`Gpu`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mig {
    /// nvidia-smi's "MIG … Device N" on its GPU; the position in the list when absent.
    #[serde(default)]
    pub index: Option<u32>,
    /// `MIG-…`.
    pub uuid: String,
    /// The profile, e.g. "3g.40gb" or (a compute instance) "1c.3g.40gb".
    pub profile: String,
}

/// Something the allocator can hand to one container: a whole GPU or one MIG instance.
///
/// ```
/// use ds01_policy::Inventory;
///
/// let inv = Inventory::from_toml(r#"
///     [[gpu]]
///     index = 0
///     uuid = "GPU-aaaa"
///     name = "NVIDIA H100 80GB HBM3"
///     [[gpu]]
///     index = 1
///     uuid = "GPU-bbbb"
///     name = "NVIDIA A100-SXM4-80GB"
///     [[gpu.mig]]
///     uuid = "MIG-cccc"
///     profile = "3g.40gb"
/// "#)?;
/// let d = inv.devices();
/// assert_eq!((d[0].slot(), d[0].fraction(), d[0].arch.as_deref()), ("0".into(), 1.0, Some("CUDA_HOPPER")));
/// assert_eq!((d[1].slot(), d[1].fraction()), ("1.0".into(), 3.0 / 7.0));
/// # Ok::<(), ds01_policy::InventoryError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// What Docker's `--gpus device=` takes: `GPU-…` or `MIG-…`.
    pub uuid: String,
    /// The physical GPU's index.
    pub gpu_index: u32,
    /// The physical GPU's UUID (the same as `uuid` for a full GPU).
    pub gpu_uuid: String,
    /// The physical GPU's product name.
    pub name: String,
    /// AIME-style architecture tag (`CUDA_AMPERE`…), if known.
    pub arch: Option<String>,
    /// Full GPU or MIG instance.
    pub kind: DeviceKind,
    fraction: f64,
}

/// Whether a [`Device`] is a whole GPU or a MIG instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceKind {
    /// The whole GPU.
    Full,
    /// A MIG instance.
    Mig {
        /// Its number on the parent GPU.
        index: u32,
        /// Its profile, e.g. "3g.40gb".
        profile: String,
    },
}

impl Device {
    /// The share of a full GPU this device is, which is what it costs against `max_gpus`.
    ///
    /// The rule: a full GPU is 1; a MIG instance is its compute slices over the GPU's total,
    /// where the slices are the profile's leading `N` in "Ng.…" (or "Nc.…" for a compute
    /// instance) and the total is 7, except on the A30, which has 4. So 3g.40gb on an H100 is
    /// 3/7. Unlike DS01 (which counted an unknown profile as 0, a free GPU), a profile that
    /// does not follow the rule is refused when the inventory is read.
    pub fn fraction(&self) -> f64 {
        self.fraction
    }

    /// DS01's slot id: `"0"` for full GPU 0, `"1.2"` for MIG instance 2 of GPU 1 (the spelling
    /// DS01's allocator writes into `ds01.gpu.slots`).
    pub fn slot(&self) -> String {
        match &self.kind {
            DeviceKind::Full => self.gpu_index.to_string(),
            DeviceKind::Mig { index, .. } => format!("{}.{index}", self.gpu_index),
        }
    }

    /// The MIG profile, for a MIG instance.
    pub fn profile(&self) -> Option<&str> {
        match &self.kind {
            DeviceKind::Full => None,
            DeviceKind::Mig { profile, .. } => Some(profile),
        }
    }
}

/// Why an inventory was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InventoryError {
    /// The file is not valid TOML or has unknown keys.
    #[error("GPU inventory: {0}")]
    Parse(String),
    /// Two GPUs claim the same index.
    #[error("GPU inventory: index {0} is listed twice")]
    DuplicateIndex(u32),
    /// Two devices claim the same UUID.
    #[error("GPU inventory: UUID `{0}` is listed twice")]
    DuplicateUuid(String),
    /// Two MIG instances of one GPU claim the same number.
    #[error("GPU inventory: GPU {gpu} has two MIG instances numbered {index}")]
    DuplicateMigIndex {
        /// The GPU index.
        gpu: u32,
        /// The repeated MIG index.
        index: u32,
    },
    /// A UUID that cannot be passed safely to Docker.
    #[error("GPU inventory: `{0}` is not a device UUID (only ASCII letters, digits and `-`)")]
    BadUuid(String),
    /// A MIG profile that does not say how many compute slices it has.
    #[error("GPU inventory: MIG instance {uuid} has profile `{profile}`, expected e.g. \"3g.40gb\" with 1 to {total} slices")]
    BadProfile {
        /// The instance.
        uuid: String,
        /// The profile as given.
        profile: String,
        /// The GPU's total compute slices.
        total: u32,
    },
    /// The MIG instances of one GPU add up to more than the GPU.
    #[error("GPU inventory: the MIG instances of GPU {gpu} use {used} compute slices, but it has {total}")]
    Oversubscribed {
        /// The GPU index.
        gpu: u32,
        /// Slices claimed.
        used: u32,
        /// Slices the GPU has.
        total: u32,
    },
    /// An `arch` override with characters no tag has.
    #[error("GPU inventory: arch `{0}` is not a tag like CUDA_AMPERE")]
    BadArch(String),
}

/// Why a [`GpuSource`] could not list its devices.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The devices it found do not form a valid inventory.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The NVML library could not be loaded or queried.
    #[error("NVML: {0}")]
    Nvml(String),
}

/// Where GPUs come from: the inventory file, or the driver.
pub trait GpuSource {
    /// Every allocatable device, in index order.
    fn devices(&self) -> Result<Vec<Device>, SourceError>;
    /// The device's current utilisation in percent, if the source can measure it (a MIG
    /// instance usually cannot be measured on its own).
    fn utilisation(&self, uuid: &str) -> Option<u32>;
}

/// A validated list of GPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    gpus: Vec<Gpu>,
}

fn valid_uuid(u: &str) -> bool {
    !u.is_empty() && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn total_slices(gpu_name: &str) -> u32 {
    if gpu_name
        .to_ascii_uppercase()
        .split([' ', '-'])
        .any(|t| t == "A30")
    {
        4
    } else {
        7
    }
}

fn profile_slices(profile: &str) -> Option<u32> {
    let (n, rest) = profile.split_at(profile.find(|c: char| !c.is_ascii_digit())?);
    (rest.starts_with("g.") || rest.starts_with("c."))
        .then(|| n.parse().ok())
        .flatten()
}

impl Inventory {
    /// Reads an inventory file (a list of `[[gpu]]` tables).
    pub fn from_toml(text: &str) -> Result<Inventory, InventoryError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            gpu: Vec<Gpu>,
        }
        let f: File = toml::from_str(text).map_err(|e| InventoryError::Parse(e.to_string()))?;
        Inventory::new(f.gpu)
    }

    /// Validates a list of GPUs: unique indices and UUIDs, safe UUIDs, known MIG profiles that
    /// fit their GPU. MIG instances without an index are numbered by position.
    pub fn new(mut gpus: Vec<Gpu>) -> Result<Inventory, InventoryError> {
        gpus.sort_by_key(|g| g.index);
        if let Some(w) = gpus.windows(2).find(|w| w[0].index == w[1].index) {
            return Err(InventoryError::DuplicateIndex(w[0].index));
        }
        let mut uuids = BTreeSet::new();
        let mut seen = |u: &str| {
            if !valid_uuid(u) {
                return Err(InventoryError::BadUuid(u.into()));
            }
            if !uuids.insert(u.to_string()) {
                return Err(InventoryError::DuplicateUuid(u.into()));
            }
            Ok(())
        };
        for g in &mut gpus {
            seen(&g.uuid)?;
            if let Some(a) = &g.arch {
                if a.is_empty() || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(InventoryError::BadArch(a.clone()));
                }
            }
            let total = total_slices(&g.name);
            let (mut used, mut indices) = (0, BTreeSet::new());
            for (pos, m) in g.mig.iter_mut().enumerate() {
                seen(&m.uuid)?;
                let index = *m.index.get_or_insert(pos as u32);
                if !indices.insert(index) {
                    return Err(InventoryError::DuplicateMigIndex {
                        gpu: g.index,
                        index,
                    });
                }
                match profile_slices(&m.profile) {
                    Some(n) if (1..=total).contains(&n) => used += n,
                    _ => {
                        return Err(InventoryError::BadProfile {
                            uuid: m.uuid.clone(),
                            profile: m.profile.clone(),
                            total,
                        })
                    }
                }
            }
            if used > total {
                return Err(InventoryError::Oversubscribed {
                    gpu: g.index,
                    used,
                    total,
                });
            }
        }
        Ok(Inventory { gpus })
    }

    /// The GPUs, in index order.
    pub fn gpus(&self) -> &[Gpu] {
        &self.gpus
    }

    /// Every allocatable device: each unsplit GPU, and each MIG instance of a split one.
    pub fn devices(&self) -> Vec<Device> {
        let mut out = Vec::new();
        for g in &self.gpus {
            let arch = g
                .arch
                .clone()
                .or_else(|| arch_from_name(&g.name).map(String::from));
            let device = |uuid: &str, kind, fraction| Device {
                uuid: uuid.into(),
                gpu_index: g.index,
                gpu_uuid: g.uuid.clone(),
                name: g.name.clone(),
                arch: arch.clone(),
                kind,
                fraction,
            };
            if g.mig.is_empty() {
                out.push(device(&g.uuid, DeviceKind::Full, 1.0));
            }
            let total = f64::from(total_slices(&g.name));
            let mut migs: Vec<&Mig> = g.mig.iter().collect();
            migs.sort_by_key(|m| m.index);
            for m in migs {
                let slices = profile_slices(&m.profile).map_or(0.0, f64::from);
                let kind = DeviceKind::Mig {
                    index: m.index.unwrap_or(0),
                    profile: m.profile.clone(),
                };
                out.push(device(&m.uuid, kind, slices / total));
            }
        }
        out
    }
}

impl GpuSource for Inventory {
    fn devices(&self) -> Result<Vec<Device>, SourceError> {
        Ok(Inventory::devices(self))
    }

    fn utilisation(&self, _uuid: &str) -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
        [[gpu]]
        index = 1
        uuid = "GPU-bbbb"
        name = "NVIDIA A100-SXM4-80GB"
        [[gpu.mig]]
        uuid = "MIG-b0"
        profile = "4g.40gb"
        [[gpu.mig]]
        uuid = "MIG-b1"
        profile = "2g.20gb"
        [[gpu.mig]]
        uuid = "MIG-b2"
        profile = "1g.10gb"
        [[gpu]]
        index = 0
        uuid = "GPU-aaaa"
        name = "NVIDIA GeForce RTX 4090"
    "#;

    #[test]
    fn split_gpus_are_allocatable_only_through_their_instances() {
        let d = Inventory::from_toml(TWO).unwrap().devices();
        let uuids: Vec<&str> = d.iter().map(|d| d.uuid.as_str()).collect();
        assert_eq!(uuids, ["GPU-aaaa", "MIG-b0", "MIG-b1", "MIG-b2"]);
        let slots: Vec<String> = d.iter().map(Device::slot).collect();
        assert_eq!(slots, ["0", "1.0", "1.1", "1.2"]);
        assert_eq!(d[0].arch.as_deref(), Some("CUDA_ADA"));
        assert_eq!(d[1].arch.as_deref(), Some("CUDA_AMPERE"));
        assert_eq!(d[1].gpu_uuid, "GPU-bbbb");
        assert!((d[1].fraction() - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(d[3].profile(), Some("1g.10gb"));
    }

    #[test]
    fn a30_has_four_slices_and_arch_can_be_overridden() {
        let inv = Inventory::from_toml(
            "[[gpu]]\nindex=0\nuuid=\"GPU-a\"\nname=\"NVIDIA A30\"\narch=\"CUDA\"\n\
             [[gpu.mig]]\nuuid=\"MIG-a\"\nprofile=\"2g.12gb\"\nindex=3",
        )
        .unwrap();
        let d = inv.devices();
        assert_eq!(
            (d[0].fraction(), d[0].slot(), d[0].arch.as_deref()),
            (0.5, "0.3".into(), Some("CUDA"))
        );
    }

    fn err(text: &str) -> String {
        Inventory::from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn invalid_inventories_are_refused_with_reasons() {
        let gpu =
            |i: u32, u: &str| format!("[[gpu]]\nindex={i}\nuuid=\"{u}\"\nname=\"NVIDIA H100\"\n");
        assert!(err(&(gpu(0, "GPU-a") + &gpu(0, "GPU-b"))).contains("index 0 is listed twice"));
        assert!(err(&(gpu(0, "GPU-a") + &gpu(1, "GPU-a"))).contains("`GPU-a` is listed twice"));
        assert!(err(&gpu(0, "GPU-a,GPU-b")).contains("is not a device UUID"));
        assert!(err(&gpu(0, "")).contains("is not a device UUID"));
        let mig = |u: &str, p: &str| format!("[[gpu.mig]]\nuuid=\"{u}\"\nprofile=\"{p}\"\n");
        let e = err(&(gpu(0, "GPU-a") + &mig("MIG-x", "big")));
        assert!(e.contains("profile `big`"), "{e}");
        assert!(err(&(gpu(0, "GPU-a") + &mig("MIG-x", "8g.90gb"))).contains("1 to 7 slices"));
        let e = err(&(gpu(0, "GPU-a") + &mig("MIG-x", "4g.40gb") + &mig("MIG-y", "4g.40gb")));
        assert!(e.contains("use 8 compute slices, but it has 7"), "{e}");
        let e = err(&(gpu(0, "GPU-a") + &mig("GPU-a", "1g.10gb")));
        assert!(e.contains("listed twice"), "{e}");
        assert!(
            err("[[gpu]]\nindex=0\nuuid=\"GPU-a\"\nname=\"x\"\narch=\"cuda ampere\"")
                .contains("arch")
        );
        assert!(err("[[gpus]]\nindex=0").contains("unknown field"));
    }

    #[test]
    fn compute_instance_profiles_count_their_own_slices() {
        assert_eq!(profile_slices("1c.3g.40gb"), Some(1));
        assert_eq!(profile_slices("7g.80gb"), Some(7));
        assert_eq!(profile_slices("1g.10gb+me"), Some(1));
        assert_eq!(profile_slices("g.10gb"), None);
    }
}
