//! The inventory as the driver sees it, through NVML.
//!
//! The mapping from NVML's answers to [`Gpu`]s is written against the small [`Nvml`] trait so
//! it is tested with a fake on machines without a GPU; only [`NvmlSource`] (feature `nvml`)
//! touches the real library, which `nvml-wrapper` loads with `dlopen` at run time.

use super::{Gpu, Mig, SourceError};

/// A GPU as NVML describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NvmlGpu {
    pub uuid: String,
    pub name: String,
    pub mig_enabled: bool,
}

/// The few NVML calls the inventory needs.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
pub(crate) trait Nvml {
    fn count(&self) -> Result<u32, String>;
    fn gpu(&self, index: u32) -> Result<NvmlGpu, String>;
    /// The existing MIG instances of a GPU, as (uuid, device name), in NVML's handle order.
    fn migs(&self, index: u32) -> Result<Vec<(String, String)>, String>;
    fn utilisation(&self, uuid: &str) -> Option<u32>;
}

/// NVML names a MIG device "<parent name> MIG <profile>", e.g.
/// "NVIDIA A100-SXM4-40GB MIG 3g.20gb".
fn profile_of(mig_name: &str) -> Option<&str> {
    let (_, profile) = mig_name.rsplit_once(" MIG ")?;
    Some(profile.trim()).filter(|p| !p.is_empty())
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
pub(crate) fn gpus_from(nvml: &impl Nvml) -> Result<Vec<Gpu>, SourceError> {
    let mut gpus = Vec::new();
    for index in 0..nvml.count().map_err(SourceError::Nvml)? {
        let g = nvml.gpu(index).map_err(SourceError::Nvml)?;
        let mut mig = Vec::new();
        if g.mig_enabled {
            for (pos, (uuid, name)) in nvml
                .migs(index)
                .map_err(SourceError::Nvml)?
                .into_iter()
                .enumerate()
            {
                let profile = profile_of(&name).ok_or_else(|| {
                    SourceError::Nvml(format!(
                        "MIG device {uuid} is named {name:?}, which names no profile"
                    ))
                })?;
                // nvidia-smi numbers the existing instances 0, 1, … in handle order.
                mig.push(Mig {
                    index: Some(pos as u32),
                    uuid,
                    profile: profile.to_string(),
                });
            }
            // MIG on but no instances: the GPU can't run CUDA work as a whole, so it offers
            // nothing (DS01 HEAD skips it the same way).
            if mig.is_empty() {
                continue;
            }
        }
        gpus.push(Gpu {
            index,
            uuid: g.uuid,
            name: g.name,
            arch: None,
            mig,
        });
    }
    Ok(gpus)
}

#[cfg(feature = "nvml")]
pub use real::NvmlSource;

#[cfg(feature = "nvml")]
mod real {
    use nvml_wrapper::error::NvmlError;

    use super::{gpus_from, Nvml, NvmlGpu};
    use crate::inventory::{Device, GpuSource, Inventory, SourceError};

    /// The GPUs the NVIDIA driver reports, read through NVML at each call.
    pub struct NvmlSource {
        nvml: nvml_wrapper::Nvml,
    }

    impl std::fmt::Debug for NvmlSource {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("NvmlSource")
        }
    }

    impl NvmlSource {
        /// Loads `libnvidia-ml.so.1` and initialises NVML; fails on hosts without the driver.
        pub fn init() -> Result<NvmlSource, SourceError> {
            nvml_wrapper::Nvml::init()
                .map(|nvml| NvmlSource { nvml })
                .map_err(|e| SourceError::Nvml(e.to_string()))
        }
    }

    impl Nvml for NvmlSource {
        fn count(&self) -> Result<u32, String> {
            self.nvml.device_count().map_err(|e| e.to_string())
        }

        fn gpu(&self, index: u32) -> Result<NvmlGpu, String> {
            let d = self
                .nvml
                .device_by_index(index)
                .map_err(|e| e.to_string())?;
            let mig_enabled = match d.mig_mode() {
                Ok(m) => m.current == 1,
                Err(NvmlError::NotSupported) => false,
                Err(e) => return Err(e.to_string()),
            };
            Ok(NvmlGpu {
                uuid: d.uuid().map_err(|e| e.to_string())?,
                name: d.name().map_err(|e| e.to_string())?,
                mig_enabled,
            })
        }

        fn migs(&self, index: u32) -> Result<Vec<(String, String)>, String> {
            let d = self
                .nvml
                .device_by_index(index)
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for i in 0..d.mig_device_count().map_err(|e| e.to_string())? {
                match d.mig_device_by_index(i) {
                    Ok(m) => out.push((
                        m.uuid().map_err(|e| e.to_string())?,
                        m.name().map_err(|e| e.to_string())?,
                    )),
                    // Handle slots without an instance.
                    Err(NvmlError::NotFound | NvmlError::InvalidArg) => continue,
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok(out)
        }

        fn utilisation(&self, uuid: &str) -> Option<u32> {
            self.nvml
                .device_by_uuid(uuid)
                .ok()?
                .utilization_rates()
                .ok()
                .map(|u| u.gpu)
        }
    }

    impl GpuSource for NvmlSource {
        fn devices(&self) -> Result<Vec<Device>, SourceError> {
            Ok(Inventory::new(gpus_from(self)?)?.devices())
        }

        fn utilisation(&self, uuid: &str) -> Option<u32> {
            Nvml::utilisation(self, uuid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{DeviceKind, Inventory};

    struct Fake(Vec<(NvmlGpu, Vec<(&'static str, &'static str)>)>);

    impl Nvml for Fake {
        fn count(&self) -> Result<u32, String> {
            Ok(self.0.len() as u32)
        }
        fn gpu(&self, index: u32) -> Result<NvmlGpu, String> {
            self.0
                .get(index as usize)
                .map(|g| g.0.clone())
                .ok_or_else(|| "NotFound".into())
        }
        fn migs(&self, index: u32) -> Result<Vec<(String, String)>, String> {
            Ok(self.0[index as usize]
                .1
                .iter()
                .map(|(u, n)| (u.to_string(), n.to_string()))
                .collect())
        }
        fn utilisation(&self, uuid: &str) -> Option<u32> {
            (uuid == "GPU-0").then_some(42)
        }
    }

    fn gpu(uuid: &str, name: &str, mig_enabled: bool) -> NvmlGpu {
        NvmlGpu {
            uuid: uuid.into(),
            name: name.into(),
            mig_enabled,
        }
    }

    #[test]
    fn maps_full_gpus_mig_instances_and_skips_empty_mig_gpus() {
        let fake = Fake(vec![
            (gpu("GPU-0", "NVIDIA H100 80GB HBM3", false), vec![]),
            (
                gpu("GPU-1", "NVIDIA A100-SXM4-40GB", true),
                vec![
                    ("MIG-a", "NVIDIA A100-SXM4-40GB MIG 3g.20gb"),
                    ("MIG-b", "NVIDIA A100-SXM4-40GB MIG 1g.5gb"),
                ],
            ),
            (gpu("GPU-2", "NVIDIA A100-SXM4-40GB", true), vec![]),
        ]);
        let devices = Inventory::new(gpus_from(&fake).unwrap()).unwrap().devices();
        let got: Vec<(String, String, Option<&str>)> = devices
            .iter()
            .map(|d| (d.uuid.clone(), d.slot(), d.profile()))
            .collect();
        assert_eq!(
            got,
            [
                ("GPU-0".into(), "0".into(), None),
                ("MIG-a".into(), "1.0".into(), Some("3g.20gb")),
                ("MIG-b".into(), "1.1".into(), Some("1g.5gb")),
            ]
        );
        assert_eq!(
            devices[1].kind,
            DeviceKind::Mig {
                index: 0,
                profile: "3g.20gb".into()
            }
        );
        assert_eq!(devices[0].arch.as_deref(), Some("CUDA_HOPPER"));
        assert_eq!(fake.utilisation("GPU-0"), Some(42));
    }

    #[test]
    fn a_mig_device_without_a_profile_is_an_error_not_a_free_gpu() {
        let fake = Fake(vec![(
            gpu("GPU-1", "NVIDIA A100", true),
            vec![("MIG-a", "NVIDIA A100")],
        )]);
        let e = gpus_from(&fake).unwrap_err().to_string();
        assert!(e.contains("names no profile"), "{e}");
    }

    #[test]
    fn driver_errors_surface() {
        struct Broken;
        impl Nvml for Broken {
            fn count(&self) -> Result<u32, String> {
                Err("Driver Not Loaded".into())
            }
            fn gpu(&self, _: u32) -> Result<NvmlGpu, String> {
                unreachable!()
            }
            fn migs(&self, _: u32) -> Result<Vec<(String, String)>, String> {
                unreachable!()
            }
            fn utilisation(&self, _: &str) -> Option<u32> {
                None
            }
        }
        assert_eq!(
            gpus_from(&Broken).unwrap_err(),
            SourceError::Nvml("Driver Not Loaded".into())
        );
    }
}
