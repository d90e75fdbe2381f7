//! The small answers of single actions, and the bodies of requests that carry one value.

use ds01_dockerfile::PipRequirement;
use serde::{Deserialize, Serialize};

use crate::{GpuRequest, UserSetup};

/// `GET /v1/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The wire format's version ([`crate::API_VERSION`]).
    pub api: u32,
    /// ds01d's version.
    pub version: String,
    /// The Docker-API socket ds01d serves too, if any (`ds01 docker-env`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_socket: Option<String>,
}

/// A simple action on one container: start, stop, restart, pause, unpause, keep-alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acted {
    /// The Docker name, `<name>._.<uid>`.
    pub name: String,
    /// What was done, in words (`started`, `kept alive until 18:00`).
    pub action: String,
}

/// `POST /v1/containers/{name}/install`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRequest {
    /// What pip installs, as root, in the running container.
    pub packages: Vec<PipRequirement>,
    /// Commit the result to the container's own image afterwards.
    #[serde(default)]
    pub commit: bool,
}

/// `POST /v1/containers/{name}/install`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The Docker name.
    pub name: String,
    /// `installed`.
    pub action: String,
    /// What was installed.
    pub packages: Vec<PipRequirement>,
    /// The image the result was committed to, with `commit`.
    #[serde(default)]
    pub committed: Option<String>,
}

/// `POST /v1/containers/{name}/keep-alive`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepAliveRequest {
    /// How long, as a span (`8h`).
    #[serde(rename = "for")]
    pub span: String,
}

/// `GET /v1/containers/{name}/why`: the container's events as sentences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Story {
    /// The Docker name.
    pub container: String,
    /// `HH:MM: what happened`, oldest first.
    pub story: Vec<String>,
}

/// One thing `admin gc` removed (or, in a dry run, would remove), and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collected {
    /// A container's, image's or volume's name.
    pub name: String,
    /// `container`, `image` or `volume`.
    pub kind: String,
    /// Why it goes.
    pub why: String,
}

/// `POST /v1/admin/gc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcReport {
    /// Nothing was removed.
    pub dry_run: bool,
    /// What went (or would go).
    pub collected: Vec<Collected>,
}

/// `POST /v1/operations/{id}/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancelled {
    /// The operation.
    pub operation: String,
    /// Always true: an operation that is not running is an error.
    pub cancelled: bool,
}

/// `POST /v1/containers?dry_run=true`: what a create would do, changing nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatePlan {
    /// The Docker name.
    pub name: String,
    /// The path the create would take.
    pub user_setup: UserSetup,
    /// Whether the image would be pulled first.
    pub pull: bool,
    /// The GPUs asked for.
    pub gpus: Option<GpuRequest>,
    /// The engine's create body the container would get.
    pub create: serde_json::Value,
}
