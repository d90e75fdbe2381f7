//! What a client sends. Paths are absolute (the client resolves `~` and the working
//! directory, where it knows them); files the service must not read on a user's behalf,
//! such as a catalog, travel as their contents.

use std::path::PathBuf;

use ds01_dockerfile::{AptPackage, ImageName, ImageRef, PipRequirement, UseCase};
use serde::{Deserialize, Serialize};

use crate::{ContainerName, GpuRequest, Size};

/// `POST /v1/images`: describe and build an image `ds01-<uid>/NAME:latest`.
///
/// Fields added after the first version default when absent, so older clients still work:
///
/// ```
/// let request: ds01_api::ImageCreate = serde_json::from_str(
///     r#"{"name": "thesis", "base": "debian:12", "requirements": "six\nidna>=3\n", "preset": "nlp"}"#,
/// ).unwrap();
/// assert_eq!(request.preset, Some(ds01_dockerfile::UseCase::Nlp));
/// assert!(request.dockerfile.is_none() && !request.ds01_legacy);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageCreate {
    /// The image name.
    pub name: ImageName,
    /// The image to build on.
    #[serde(default)]
    pub base: Option<ImageRef>,
    /// An AIME catalog framework to build on instead.
    #[serde(default)]
    pub framework: Option<String>,
    /// The framework version (newest when absent).
    #[serde(default)]
    pub framework_version: Option<String>,
    /// The GPU architecture (the server's when absent).
    #[serde(default)]
    pub arch: Option<String>,
    /// A catalog's text, read by the client as the user (the server's catalog when absent).
    #[serde(default)]
    pub catalog: Option<String>,
    /// pip requirements.
    #[serde(default)]
    pub pip: Vec<PipRequirement>,
    /// Debian/Ubuntu packages.
    #[serde(default)]
    pub apt: Vec<AptPackage>,
    /// Install Jupyter (`Some(true)`), leave it out (`Some(false)`), or the default.
    #[serde(default)]
    pub jupyter: Option<bool>,
    /// The text of a `requirements.txt`, read by the client as the user; its packages are
    /// copied into the spec (every line is checked: options, URLs and paths are refused).
    #[serde(default)]
    pub requirements: Option<String>,
    /// A use case whose package set is installed (`cv`, `nlp`, `rl`, `ml`, `llm`, `audio`,
    /// `ts`), on any base.
    #[serde(default)]
    pub preset: Option<UseCase>,
    /// The text of the user's own Dockerfile, read by the client as the user, instead of a
    /// base image: ds01d appends its steps (packages, the user) and builds it.
    #[serde(default)]
    pub dockerfile: Option<String>,
    /// The Dockerfile is one of DS01's (`~/dockerfiles/NAME.Dockerfile`): its own user setup
    /// is left out, ds01's replaces it.
    #[serde(default)]
    pub ds01_legacy: bool,
    /// Keep the spec only.
    #[serde(default)]
    pub no_build: bool,
    /// Build without the layer cache.
    #[serde(default)]
    pub no_cache: bool,
}

impl ImageCreate {
    /// A request to build `name` from the user's own Dockerfile `text`, with nothing else
    /// asked (no packages, JupyterLab as the server's default).
    ///
    /// ```
    /// let name = ds01_dockerfile::ImageName::parse("tool").unwrap();
    /// let request = ds01_api::ImageCreate::from_dockerfile(name, "FROM debian:12\n".into());
    /// assert!(request.base.is_none() && request.pip.is_empty() && !request.ds01_legacy);
    /// ```
    pub fn from_dockerfile(name: ImageName, text: String) -> ImageCreate {
        ImageCreate {
            name,
            base: None,
            framework: None,
            framework_version: None,
            arch: None,
            catalog: None,
            pip: Vec::new(),
            apt: Vec::new(),
            jupyter: None,
            requirements: None,
            preset: None,
            dockerfile: Some(text),
            ds01_legacy: false,
            no_build: false,
            no_cache: false,
        }
    }
}

/// `POST /v1/images/{name}/update`: change an image's packages, rebuild when it changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageUpdate {
    /// pip requirements to add (or change the version of).
    #[serde(default)]
    pub add: Vec<PipRequirement>,
    /// Packages to remove by name.
    #[serde(default)]
    pub remove: Vec<String>,
    /// apt packages to add.
    #[serde(default)]
    pub add_apt: Vec<AptPackage>,
    /// Rebuild even when unchanged.
    #[serde(default)]
    pub rebuild: bool,
    /// Rebuild without the layer cache.
    #[serde(default)]
    pub no_cache: bool,
}

/// `POST /v1/containers`: create a container `<name>._.<uid>` that runs as the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerCreate {
    /// The container name.
    pub name: ContainerName,
    /// The image to run (else the catalog's, else the caller's own image of that name).
    #[serde(default)]
    pub image: Option<ImageRef>,
    /// An AIME catalog framework.
    #[serde(default)]
    pub framework: Option<String>,
    /// The framework version.
    #[serde(default)]
    pub framework_version: Option<String>,
    /// The GPU architecture label.
    #[serde(default)]
    pub arch: Option<String>,
    /// A catalog's text, read by the client as the user.
    #[serde(default)]
    pub catalog: Option<String>,
    /// Host directory for `/workspace` (absolute).
    #[serde(default)]
    pub workspace: Option<PathBuf>,
    /// Host directory for `/data` (absolute).
    #[serde(default)]
    pub data: Option<PathBuf>,
    /// Host directory for `/models` (absolute).
    #[serde(default)]
    pub models: Option<PathBuf>,
    /// GPUs; none when absent.
    #[serde(default)]
    pub gpus: Option<GpuRequest>,
    /// Wait in line for GPUs when none are free, instead of failing.
    #[serde(default)]
    pub wait: bool,
    /// `/dev/shm` size (at most the policy's).
    #[serde(default)]
    pub shm_size: Option<Size>,
    /// Memory limit (at most the policy's).
    #[serde(default)]
    pub memory: Option<Size>,
    /// CPU limit (at most the policy's).
    #[serde(default)]
    pub cpus: Option<f64>,
    /// Process limit (at most the policy's).
    #[serde(default)]
    pub pids_limit: Option<i64>,
    /// Extra labels `KEY=VALUE`; ds01's and MLC's own keys are refused.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Start it once created.
    #[serde(default)]
    pub start: bool,
    /// Mount no workspace at all (else `workspace`, else the server's default:
    /// the configured `workspace`, or `~/workspace/<name>`, created if missing).
    #[serde(default)]
    pub no_workspace: bool,
    /// What the container runs, when not ds01's interactive shell (Docker-API clients:
    /// their command, environment and terminal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// Which tool made it (the `ds01.container_type` label the reaper reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_type: Option<ContainerType>,
    /// Named volumes of the user's, mounted in the container (made on first use).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<NamedVolume>,
}

/// One of the user's named volumes (`data`, the engine's `data._.<uid>`) mounted at `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedVolume {
    /// The volume's name as the user gave it.
    pub name: String,
    /// Where it is mounted in the container (absolute).
    pub target: String,
    /// Mounted read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// The process a container runs, as a Docker-API client asks for it; every field left
/// out is the image's own.
///
/// ```
/// let p: ds01_api::Process = serde_json::from_str(r#"{"cmd": ["redis-server"], "tty": false}"#).unwrap();
/// assert_eq!(p.cmd.as_deref(), Some(&["redis-server".to_owned()][..]));
/// assert!(p.env.is_empty() && p.workdir.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// The command (the image's `CMD` when absent).
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// The entrypoint (the image's when absent).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Environment `NAME=VALUE`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory (the image's when absent).
    #[serde(default)]
    pub workdir: Option<String>,
    /// A terminal.
    #[serde(default)]
    pub tty: bool,
    /// Keep stdin open.
    #[serde(default)]
    pub stdin: bool,
    /// Close stdin after the first attach ends.
    #[serde(default)]
    pub stdin_once: bool,
    /// More names the container answers to on its owner's network (Compose's service names).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The container's hostname.
    #[serde(default)]
    pub hostname: Option<String>,
    /// ds01d removes the container once it exits (`docker run --rm`), as its own remove
    /// does (the engine's auto-remove would leave the committed image behind).
    #[serde(default)]
    pub auto_remove: bool,
}

/// The tool a container was made with, as DS01's labels name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerType {
    /// ds01's own commands (DS01's "atomic").
    Atomic,
    /// A Docker-API client: the `docker` CLI, an SDK.
    Docker,
    /// docker-compose.
    Compose,
    /// VS Code Dev Containers.
    Devcontainer,
}

impl ContainerType {
    /// The type a `ds01.container_type` label names.
    pub fn from_label(value: &str) -> Option<ContainerType> {
        [
            ContainerType::Atomic,
            ContainerType::Docker,
            ContainerType::Compose,
            ContainerType::Devcontainer,
        ]
        .into_iter()
        .find(|t| t.as_str() == value)
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerType::Atomic => "atomic",
            ContainerType::Docker => "docker",
            ContainerType::Compose => "compose",
            ContainerType::Devcontainer => "devcontainer",
        }
    }
}

impl ContainerCreate {
    /// A request with nothing but the name set.
    pub fn named(name: ContainerName) -> ContainerCreate {
        ContainerCreate {
            name,
            image: None,
            framework: None,
            framework_version: None,
            arch: None,
            catalog: None,
            workspace: None,
            data: None,
            models: None,
            gpus: None,
            wait: false,
            shm_size: None,
            memory: None,
            cpus: None,
            pids_limit: None,
            labels: Vec::new(),
            start: false,
            no_workspace: false,
            process: None,
            container_type: None,
            volumes: Vec::new(),
        }
    }
}

/// `POST /v1/containers/{name}/exec` (an HTTP upgrade to [`crate::frames`]): run a command
/// as the caller in their container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The command and its arguments; empty for a login shell.
    #[serde(default)]
    pub command: Vec<String>,
    /// Allocate a terminal.
    #[serde(default)]
    pub tty: bool,
    /// Pass stdin.
    #[serde(default)]
    pub stdin: bool,
    /// Extra environment `NAME=VALUE`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Terminal size, columns.
    #[serde(default)]
    pub width: Option<u16>,
    /// Terminal size, rows.
    #[serde(default)]
    pub height: Option<u16>,
    /// Start the container first when it is stopped.
    #[serde(default)]
    pub start: bool,
}

/// `GET /v1/containers?all_users=true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Every user's containers (admins only).
    #[serde(default)]
    pub all_users: bool,
}

/// `POST /v1/containers?dry_run=true`: work the request out and answer with it, changing
/// nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateQuery {
    /// Answer with the planned request instead of creating.
    #[serde(default)]
    pub dry_run: bool,
}

/// `DELETE /v1/containers/{name}` and `DELETE /v1/containers?stopped=true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveQuery {
    /// Stop a running container first.
    #[serde(default)]
    pub force: bool,
    /// Remove the home volume too (else it is kept for a container of the same name).
    #[serde(default)]
    pub volumes: bool,
    /// Answer with what would be removed, removing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /v1/containers/{name}/jupyter`: JupyterLab as the caller in their container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JupyterRequest {
    /// The port on the host's loopback; the service picks a free one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}
