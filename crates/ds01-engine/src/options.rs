//! What a user may choose for a container: mounts, GPUs, limits and labels.

use crate::error::{EngineError, Result};
use ds01_api::{GpuRequest, Size};
use std::path::PathBuf;

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
    /// With it, the engine binds `<mount_points>/workspace` (`data`, `models`) instead of
    /// the directories above, which only the labels then name: ds01d binds each directory,
    /// checked and opened without following links, onto its mount point right before every
    /// start, so the path the engine resolves is one no user can swap.
    pub mount_points: Option<PathBuf>,
    /// The GPUs the container gets; `None` means CPU only.
    pub gpus: Option<GpuRequest>,
    /// `/dev/shm` size. Without it the container keeps Docker's private default rather
    /// than sharing the host's IPC namespace as MLC did.
    pub shm_size: Option<Size>,
    /// The cgroup parent (a systemd slice such as `ds01-student-h_baker.slice`).
    pub cgroup_parent: Option<String>,
    /// Memory limit (also used as the memory+swap limit, so no swap on top).
    pub memory: Option<Size>,
    /// CPU limit in CPUs (fractions allowed).
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
    /// The most the container may write into its own layer, as the storage driver's quota
    /// (`StorageOpt size`). Only for drivers that have one (overlay2 on xfs with project
    /// quotas, btrfs, zfs, devicemapper): others refuse the create with it.
    pub layer_quota: Option<Size>,
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
    pub memlock: Option<Size>,
    /// Share the host's network (MLC's way); otherwise the container has its own.
    pub host_network: bool,
    /// The network the container joins unless it shares the host's: its owner's private
    /// bridge ([`UserNetwork`]), made beforehand with `Engine::user_network`. `None` leaves
    /// it on the engine's default bridge (engine-level callers, DS01's own flows).
    pub network: Option<String>,
    /// Let setuid binaries (sudo) gain privileges, with Docker's default capabilities;
    /// otherwise the container gets `no-new-privileges` and no capabilities at all.
    pub allow_privilege_gain: bool,
    /// The GPU UUIDs the container may see, passed as `NVIDIA_VISIBLE_DEVICES` (`void` when
    /// empty): the way to bind GPUs without a device request, and to hide the GPUs an image
    /// would otherwise see with `all`. `None` leaves the variable alone.
    pub visible_gpus: Option<Vec<String>>,
    /// Labels the service owns (GPU allocation): they override any other label of the key.
    pub owned_labels: Vec<(String, String)>,
    /// A named volume mounted over the user's home inside the container, so that what the
    /// user keeps in `~` outlives the container (Docker fills an empty volume from the
    /// image on its first mount).
    pub home: Option<HomeVolume>,
    /// What the container runs, when not ds01's interactive shell in `/workspace`.
    pub process: Option<ds01_api::Process>,
    /// More named volumes (the user's own, already named `<name>._.<uid>`).
    pub volumes: Vec<VolumeMount>,
}

/// A named volume mounted in a container; the engine makes it, with these labels, on first
/// use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The engine's volume name.
    pub name: String,
    /// Where it is mounted.
    pub target: String,
    /// Read-only.
    pub read_only: bool,
    /// The labels the volume gets when the engine creates it.
    pub labels: Vec<(String, String)>,
}

/// The named volume that holds a container's home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeVolume {
    /// The volume name (`ds01-home-<name>._.<uid>`).
    pub name: String,
    /// Where it is mounted (`/home/<username>`).
    pub target: String,
    /// The labels the volume gets when the engine creates it.
    pub labels: Vec<(String, String)>,
}

impl HomeVolume {
    /// The home volume's name for a container's Docker name: derived from it, so a user can
    /// only ever name their own containers' volumes.
    pub fn name_for(docker_name: &str) -> String {
        format!("ds01-home-{docker_name}")
    }
}

/// The private bridge network of one account: every container ds01d makes for that UID joins
/// it, and no other UID's container ever does. The engine isolates bridges from each other,
/// so containers of different users cannot reach each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNetwork;

impl UserNetwork {
    /// The start of every user bridge's interface name: the host's firewall rules for
    /// ds01's user networks match it (`ds01-+`), and nothing else on the host.
    pub const BRIDGE_PREFIX: &'static str = "ds01-";

    /// The network's name for a UID: derived from the UID alone, so the same account always
    /// gets the same network and two accounts never share one.
    pub fn name_for(uid: u32) -> String {
        format!("ds01-net-{uid}")
    }

    /// The bridge interface's name for a UID. Linux allows 15 characters; the prefix and
    /// a 10-digit UID make exactly 15.
    pub fn bridge_for(uid: u32) -> String {
        format!("{}{uid}", Self::BRIDGE_PREFIX)
    }
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
                    "a CPU limit of {cpus} is not a positive number of CPUs"
                )));
            }
        }
        if let Some(pids) = self.pids_limit {
            if pids <= 0 {
                return Err(EngineError::InvalidOption(format!(
                    "a pids limit of {pids} would let nothing run: it must be positive"
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
                    ds01_api::shown(parent)
                )));
            }
        }
        Ok(())
    }
}
