//! What the service answers: results, progress, and the lines of a streamed answer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::ApiError;

/// How the user's account got into a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserSetup {
    /// The image already carried the account (checked in `/etc/passwd`, not just labels).
    Baked,
    /// A setup container added the account and was committed to a per-container image.
    Committed,
    /// None needed: a cluster container's root is mapped to the user's UID (rootless runc
    /// on a Slurm node), whatever accounts the image has.
    Mapped,
}

impl UserSetup {
    /// `baked`, `committed` or `mapped`, as the labels and `--json` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserSetup::Baked => "baked",
            UserSetup::Committed => "committed",
            UserSetup::Mapped => "mapped",
        }
    }
}

/// A container that now exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedContainer {
    /// The Docker name, `<name>._.<uid>`.
    pub name: String,
    /// The container ID.
    pub id: String,
    /// The image reference the container runs.
    pub image: String,
    /// How the user got into it.
    pub user_setup: UserSetup,
    /// Why the baked path was not taken, when the image claimed to carry the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Whether it was started after creation.
    #[serde(default)]
    pub started: bool,
    /// The UUIDs of the GPUs (or MIG instances) bound to it; empty for none.
    #[serde(default)]
    pub gpus: Vec<String>,
}

/// One container as `ds01 container list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// The display name (`thesis`).
    pub name: String,
    /// The Docker name (`thesis._.1000`).
    pub docker_name: String,
    /// The container ID.
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// `created`, `running`, `exited`, ...
    pub state: String,
    /// Docker's human status (`Up 3 minutes`).
    pub status: String,
    /// The owner's login, as its labels say (`aime.mlc.USER`, else `ds01.user`).
    pub user: String,
    /// The owner's UID, from the `._.<uid>` name.
    pub uid: u32,
    /// The framework label (`aime.mlc.FRAMEWORK`).
    pub framework: String,
    /// The GPUs it holds (`aime.mlc.GPUS`).
    pub gpus: String,
    /// The host directory at `/workspace` (`aime.mlc.WORK_MOUNT`).
    pub workspace: String,
    /// When ds01d will stop it and why ("14:05 UTC (idle)"), once it has warned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stops_at: Option<String>,
}

/// A running container's resource use, from one stats sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// The display name.
    pub name: String,
    /// CPU use in percent of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// Memory limit, bytes.
    pub memory_limit_bytes: u64,
    /// Number of processes.
    pub pids: u64,
}

/// A built (or, with `no_build`, only described) image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBuilt {
    /// `ds01-<uid>/<name>:latest`.
    pub image: String,
    /// The image ID, when built.
    pub id: Option<String>,
    /// The hash of the rendered Dockerfile the image was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec_sha256: Option<String>,
    /// Whether this request built it (false: unchanged, or `no_build`).
    pub built: bool,
    /// The user's containers made from this image (an update reaches them only when they
    /// are recreated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<String>,
    /// Something the user should know after the build (their images are now over
    /// `image_storage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One row of `ds01 image list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRow {
    /// The NAME of `ds01-<uid>/NAME:latest`.
    pub name: String,
    /// The full reference.
    pub image: String,
    /// The image ID; `None` for a spec that was never built.
    pub id: Option<String>,
    /// Size in bytes.
    pub size: Option<i64>,
    /// Creation time (seconds since the epoch).
    pub created: Option<i64>,
    /// Whether ds01 keeps a spec for it.
    pub spec: bool,
}

/// `ds01 image show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageDetails {
    /// The NAME.
    pub name: String,
    /// The full reference.
    pub image: String,
    /// The image ID, when built.
    pub id: Option<String>,
    /// Size in bytes.
    pub size: Option<i64>,
    /// Creation time as the engine reports it.
    pub created: Option<String>,
    /// The image's labels.
    pub labels: BTreeMap<String, String>,
    /// The spec, when ds01 keeps one.
    pub spec: Option<ds01_dockerfile::ImageSpec>,
    /// The rendered Dockerfile (from the spec, or a legacy file).
    pub dockerfile: Option<String>,
}

/// What a removal removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// The Docker name or image reference.
    pub name: String,
    /// Images removed with it (per-container images no other container used), or tags
    /// untagged (a baked container's own tag; the image stays under its other tags).
    #[serde(default)]
    pub removed_images: Vec<String>,
    /// Volumes removed with it (its home volume, when asked to).
    #[serde(default)]
    pub removed_volumes: Vec<String>,
    /// Volumes kept (its home volume, which a container of the same name gets again).
    #[serde(default)]
    pub kept_volumes: Vec<String>,
}

/// Who the service takes the caller to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Whoami {
    /// The login NSS gives for the UID.
    pub login: String,
    /// The UID, from the kernel's peer credentials.
    pub uid: u32,
    /// The primary GID.
    pub gid: u32,
    /// The container account name derived from the login; `None` for root.
    pub username: Option<String>,
    /// The names of the caller's groups.
    pub groups: Vec<String>,
    /// Whether the caller may act for others.
    pub admin: bool,
    /// The service's version.
    pub daemon_version: String,
}

/// `GET /v1/limits`: the caller's effective policy and what they use now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitsReport {
    /// The login the policy was resolved for.
    pub login: String,
    /// Every key: its value and where it comes from (`[policy.users."…"]`, a group, the
    /// default, or built in).
    pub effective: serde_json::Value,
    /// Containers the user has, running or not.
    pub containers: u32,
    /// Full-GPU equivalents the user's running containers hold.
    pub gpus: f64,
    /// Bytes the user's own images take (what `image_storage` bounds: each distinct image
    /// whole, base layers included).
    #[serde(default)]
    pub image_storage: u64,
}

/// One device of `ds01 admin gpus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuRow {
    /// DS01's slot: `0` for GPU 0, `1.2` for MIG instance 2 of GPU 1.
    pub slot: String,
    /// The device UUID.
    pub uuid: String,
    /// The GPU's name.
    pub name: String,
    /// The MIG profile, for an instance.
    pub profile: Option<String>,
    /// The container holding it (`<name>._.<uid>`), if any.
    pub container: Option<String>,
    /// The holder's login, if any.
    pub user: Option<String>,
}

/// `ds01 admin gpus`: the devices and the line of `--wait` requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuTable {
    /// Every device and its holder.
    pub devices: Vec<GpuRow>,
    /// The requests waiting for devices, first in line first.
    pub queue: Vec<QueuedRequest>,
}

/// One `--wait` request in line for GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedRequest {
    /// 1 for the first in line.
    pub position: usize,
    /// The requesting user's login.
    pub user: String,
    /// The requesting user's UID.
    pub uid: u32,
    /// The container it would create (`<name>._.<uid>`).
    pub container: String,
    /// The user's decayed GPU-seconds when the request joined, which orders the line.
    pub decayed_gpu_seconds: f64,
    /// Unix seconds when the request joined.
    pub waiting_since: i64,
}

/// One device as a user sees it in `ds01 status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuStatus {
    /// DS01's slot (`0`, `1.2`).
    pub slot: String,
    /// The GPU's name.
    pub name: String,
    /// The MIG profile, for an instance.
    pub profile: Option<String>,
    /// Whether a container holds it.
    pub held: bool,
    /// Whether it is the caller's own container that holds it.
    pub mine: bool,
    /// The holder's login: the caller's own, or anyone's where the admin shows holders
    /// (`[gpus] show_holders`).
    pub user: Option<String>,
}

/// A container of the caller's in `ds01 status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnContainerStatus {
    /// The name the user gave.
    pub name: String,
    /// `running`, `paused`, `exited`...
    pub state: String,
    /// The devices it holds (running or paused).
    pub gpus: Vec<String>,
    /// When the reaper will stop it if nothing changes, Unix seconds.
    pub stops_at: Option<i64>,
    /// Seconds until then.
    pub stops_in_secs: Option<u64>,
    /// The rule: `idle` or `max_runtime`.
    pub stop_rule: Option<String>,
}

/// `ds01 status`: the server's GPUs, the `--wait` line and the caller's containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatus {
    /// Every device.
    pub gpus: Vec<GpuStatus>,
    /// Requests waiting for GPUs, everybody's.
    pub queue_length: usize,
    /// The caller's own requests in line: `(container name, position from 1)`.
    pub my_queue: Vec<(String, usize)>,
    /// Whether high-demand mode shortens idle timeouts now.
    pub high_demand: bool,
    /// The caller's containers.
    pub containers: Vec<OwnContainerStatus>,
}

/// One device in `ds01 admin top`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopGpu {
    /// DS01's slot.
    pub slot: String,
    /// The GPU's name.
    pub name: String,
    /// The holding container (`<name>._.<uid>`).
    pub container: Option<String>,
    /// The holder's login.
    pub user: Option<String>,
    /// How long the holder has been running, seconds.
    pub held_secs: Option<u64>,
    /// Whether the reaper counts the holder idle now (`None`: not watched).
    pub idle: Option<bool>,
    /// GPU utilisation, percent, where NVML reads it.
    pub utilisation: Option<f64>,
}

/// A stop the reaper will make if nothing changes (`ds01 admin top`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopStop {
    /// The container (`<name>._.<uid>`).
    pub container: String,
    /// Its owner's login.
    pub user: String,
    /// When, Unix seconds.
    pub at: i64,
    /// Seconds from now.
    pub in_secs: u64,
    /// `idle` or `max_runtime`.
    pub rule: String,
}

/// `ds01 admin top`: who holds each GPU, how, and the reaper's next stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminTop {
    /// Every device.
    pub gpus: Vec<TopGpu>,
    /// Whether high-demand mode is on.
    pub high_demand: bool,
    /// The next stops, soonest first.
    pub next_stops: Vec<TopStop>,
}

/// One lifecycle event (`ds01 events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// RFC 3339, UTC.
    pub time: String,
    /// Unix seconds.
    pub ts: i64,
    /// The owner's UID.
    pub uid: u32,
    /// The owner's login.
    pub user: String,
    /// `<name>._.<uid>`.
    pub container: String,
    /// `create`, `start`, `stop`, `warn`, `keep_alive`, `gpu_bound`, `gpu_released`,
    /// `remove`, `refused`, `on_stop`; for the server (container `-`, user `root`):
    /// `high_demand_on`, `high_demand_off`.
    pub kind: String,
    /// A sentence for people.
    pub detail: String,
}

/// One line of `ds01 doctor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// One thing a long request reports while it works.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Progress {
    /// A new stage began, e.g. "running user setup in ds01-fixture/debian11".
    Stage(String),
    /// A line of build output (`Step 3/12 : RUN ...`, or what the step printed).
    BuildOutput(String),
    /// The baked path was not taken, and why; the flow falls back to a commit.
    Fallback(String),
    /// How long a step of the flow took, e.g. "create: creating the container took 21.3 ms
    /// (96.0 ms in all)" (`ds01 -vv` shows these).
    Timing(String),
}

/// One line of a streamed answer (`application/x-ndjson`): progress lines, then exactly
/// one result or error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamItem<T> {
    /// The first line: the operation's ID, which `POST /v1/operations/{id}/cancel` takes.
    Operation(String),
    /// Work in progress.
    Progress(Progress),
    /// The outcome.
    Result(T),
    /// The failure.
    Error(ApiError),
}

/// `POST /v1/containers/{name}/jupyter`: where the user's JupyterLab answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JupyterServer {
    /// The Docker name of the container.
    pub name: String,
    /// The port on the host's loopback (`127.0.0.1`), the same inside an ssh tunnel.
    pub port: u16,
    /// The token that authenticates to it: whoever holds it can run code as the user.
    pub token: String,
    /// The URL to open, token included.
    pub url: String,
    /// The `ssh -L` command that brings the port to a laptop.
    pub ssh: String,
    /// Where JupyterLab's log is, inside the container.
    pub log: String,
    /// `true` when it was already running and is handed out again.
    pub reused: bool,
}
