//! GPU utilisation where NVML can read it (built with `nvml`, on a host with the driver):
//! what tells a GPU that is held but idle from one at work. Without it, idleness rests on
//! CPU and sessions alone, as the reaper's does.

/// Reads devices' utilisation, if anything can.
pub(crate) struct Utilisation {
    #[cfg(feature = "nvml")]
    nvml: Option<ds01_policy::NvmlSource>,
}

impl Utilisation {
    /// NVML, when built in and loadable.
    pub fn new() -> Utilisation {
        Utilisation {
            #[cfg(feature = "nvml")]
            nvml: ds01_policy::NvmlSource::init().ok(),
        }
    }

    /// The mean utilisation (percent) of those of `uuids` that can be read.
    pub fn mean(&self, uuids: &[String]) -> Option<f64> {
        #[cfg(feature = "nvml")]
        if let Some(nvml) = &self.nvml {
            use ds01_policy::GpuSource;
            let read: Vec<f64> = uuids
                .iter()
                .filter_map(|u| nvml.utilisation(u))
                .map(f64::from)
                .collect();
            if !read.is_empty() {
                return Some(read.iter().sum::<f64>() / read.len() as f64);
            }
        }
        let _ = uuids;
        None
    }
}
