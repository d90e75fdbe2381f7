//! What a user may choose for a container: mounts, GPUs, limits and labels.

use crate::error::{EngineError, Result};
use crate::gpu::GpuRequest;
use std::path::PathBuf;
use std::str::FromStr;

/// A size in bytes written the way Docker takes it: `16g`, `512m`, `1024k`, `100b`, `100`
/// (units are powers of 1024).
///
/// ```
/// use ds01_engine::ByteSize;
/// assert_eq!("16g".parse::<ByteSize>().unwrap().bytes(), 16 << 30);
/// assert_eq!("512M".parse::<ByteSize>().unwrap().bytes(), 512 << 20);
/// assert!("lots".parse::<ByteSize>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            EngineError::InvalidOption(format!(
                "`{}` is not a size; write a number with an optional unit b, k, m or g (e.g. 16g)",
                crate::error::shown(s)
            ))
        };
        let lower = s.trim().to_ascii_lowercase();
        let digits_end = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (number, unit) = lower.split_at(digits_end);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let shift = match unit.trim_end_matches('b') {
            "" => 0,
            "k" => 10,
            "m" => 20,
            "g" => 30,
            _ => return Err(bad()),
        };
        if unit.len() > 2 || (unit.len() == 2 && !unit.ends_with('b')) {
            return Err(bad());
        }
        number
            .checked_mul(1 << shift)
            .filter(|n| *n > 0)
            .map(ByteSize)
            .ok_or_else(bad)
    }
}

/// How a container is set up besides its image. `Default` is a CPU-only container with no
/// mounts and no limits.
#[derive(Debug, Clone, Default)]
pub struct ContainerOptions {
    /// Host directory mounted at `/workspace` (DS01's default is `~/workspace`).
    pub workspace: Option<PathBuf>,
    /// Host directory mounted at `/data`.
    pub data: Option<PathBuf>,
    /// Host directory mounted at `/models`.
    pub models: Option<PathBuf>,
    /// The GPUs the container gets; `None` means CPU only.
    pub gpus: Option<GpuRequest>,
    /// `/dev/shm` size. Without it the container keeps Docker's private default rather
    /// than sharing the host's IPC namespace as MLC did.
    pub shm_size: Option<ByteSize>,
    /// The cgroup parent (a systemd slice such as `ds01-student-h_baker.slice`).
    pub cgroup_parent: Option<String>,
    /// Memory limit (also used as the memory+swap limit, so no swap on top).
    pub memory: Option<ByteSize>,
    /// CPU limit in CPUs (fractions allowed).
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
    /// Extra labels, already checked with [`crate::labels::parse_extra_label`].
    pub labels: Vec<(String, String)>,
    /// Run privileged. Off unless the server's configuration turns it on: with it every
    /// GPU is visible and the GPU allocation means nothing.
    pub privileged: bool,
    /// The GPU architecture label value (from the catalog), if known.
    pub arch: Option<String>,
    /// Locked-memory limit. `None` is MLC's `memlock=-1` (unlimited, for pinned GPU
    /// buffers); hosts whose hard limit is lower (unprivileged engines, some sandboxes) must
    /// set a size, or starting the container fails with "error setting rlimits".
    pub memlock: Option<ByteSize>,
}

impl ContainerOptions {
    pub(crate) fn gpu_request(&self) -> GpuRequest {
        self.gpus.clone().unwrap_or(GpuRequest::CpuOnly)
    }

    /// Checks what can be checked before the engine is asked: directories exist, the CPU
    /// count is sensible, the cgroup parent is a plain slice name.
    pub fn validate(&self) -> Result<()> {
        for (what, dir) in [
            ("workspace", &self.workspace),
            ("data", &self.data),
            ("models", &self.models),
        ] {
            if let Some(path) = dir {
                if !path.is_absolute() {
                    return Err(EngineError::InvalidOption(format!(
                        "{what} directory {} must be an absolute path",
                        path.display()
                    )));
                }
                if !path.is_dir() {
                    return Err(EngineError::MissingDirectory {
                        what,
                        path: path.clone(),
                    });
                }
            }
        }
        if let Some(cpus) = self.cpus {
            if !(cpus.is_finite() && cpus > 0.0 && cpus <= 4096.0) {
                return Err(EngineError::InvalidOption(format!(
                    "--cpus {cpus} must be a positive number of CPUs"
                )));
            }
        }
        if let Some(pids) = self.pids_limit {
            if pids <= 0 {
                return Err(EngineError::InvalidOption(format!(
                    "--pids-limit {pids} must be positive"
                )));
            }
        }
        if let Some(parent) = &self.cgroup_parent {
            let ok = !parent.is_empty()
                && parent
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
            if !ok {
                return Err(EngineError::InvalidOption(format!(
                    "cgroup parent `{}` may hold only letters, digits, `-`, `_`, `.` and `/`",
                    crate::error::shown(parent)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("100".parse::<ByteSize>().unwrap().bytes(), 100);
        assert_eq!("1kb".parse::<ByteSize>().unwrap().bytes(), 1024);
        for bad in [
            "",
            "0",
            "g",
            "1t",
            "1gg",
            "-1g",
            "1.5g",
            "99999999999999999999g",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?}");
        }
    }
}
