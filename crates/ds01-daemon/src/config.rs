//! The daemon's configuration: one root-owned TOML file, read by ds01d alone. Nothing a
//! user sets (environment, `~/.config`, flags) reaches it.

pub use crate::metrics::MetricsSettings;
pub use crate::usage::UsageSettings;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ds01_api::Size;
use ds01_policy::demand::HighDemand;
use ds01_policy::{Inventory, Policy, Span};
use ds01_username::{SliceGroup, SliceName};
use serde::Deserialize;

/// The system configuration file.
pub const DEFAULT_CONFIG: &str = ds01_api::SYSTEM_CONFIG;

/// Where the AIME catalog usually lives on an MLC host.
const DEFAULT_CATALOG: &str = "/opt/aime-ml-containers/ml_images.repo";

/// What can go wrong reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path} is not a valid ds01 configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file is writable by someone other than root, so it cannot be trusted.
    #[error("{path} may be changed by users other than root (mode {mode:o}, owner {owner}); ds01d trusts only a root-owned file that only root can write")]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Its owner.
        owner: u32,
    },
}

/// `[container_types.<type>]`: what replaces the owner's policy for that type's containers;
/// unset keys keep the policy's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeTimeouts {
    /// Stop after this long idle (`never`: no idle stop).
    pub idle_timeout: Option<ds01_policy::Cap<Span>>,
    /// Stop after this long running (`never`: no runtime stop).
    pub max_runtime: Option<ds01_policy::Cap<Span>>,
}

/// The container policy every user gets (issue-10 policy tables extend it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The socket the CLI finds the service at (the CLI reads only this key).
    pub socket: Option<PathBuf>,
    /// The Docker-API socket ds01d also serves, for users' own Docker tools; none unless set.
    pub docker_socket: Option<PathBuf>,
    /// Members of this Unix group may act for others, like root.
    pub admin_group: Option<String>,
    /// The default host directory for `/workspace`; `~` is the user's home.
    pub workspace: Option<PathBuf>,
    /// Host directories under which users may mount any directory they can read (shared
    /// data sets, models), besides directories they own.
    #[serde(default)]
    pub mount_roots: Vec<PathBuf>,
    /// The AIME catalog file.
    pub catalog: Option<PathBuf>,
    /// Repositories whose images any user may build on or run (`ds01-fixture/*`,
    /// `aimehub/pytorch`; a trailing `*` matches any rest), besides the catalog's own and
    /// the user's own images. Unset: every repository that is not a user's
    /// (`ds01-<uid>/`), see `crate::authz`.
    pub allowed_bases: Option<Vec<String>>,
    /// The GPU architecture catalog images are chosen for.
    pub architecture: Option<String>,
    /// The locked-memory limit of containers; unset: unlimited, as MLC has it.
    pub memlock: Option<Size>,
    /// CA certificates (a PEM file) that pip trusts in the users' image builds and venvs,
    /// for a network whose proxy intercepts TLS; unset: pip's own.
    pub build_ca_certificates: Option<PathBuf>,
    /// The bridge network users' image builds run on, made by ds01d when missing (default
    /// `ds01-build`).
    pub build_network: Option<String>,
    /// The cgroup parent; `{group}` and `{user}` follow DS01's slice rules.
    pub cgroup_parent: Option<String>,
    /// Labels put on everything ds01d creates (test suites and admin tools find their
    /// objects by them).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Which running containers the reaper acts on: `all` of the engine's user containers
    /// (the default: DS01's own count too), or only those `labelled` with every `[labels]`
    /// pair, for a second ds01d that shares an engine (a staging instance, a test suite).
    #[serde(default)]
    pub reap: ReapScope,
    /// The reaper's timeouts for the containers of one tool (`ds01.container_type`:
    /// `docker`, `compose`, `devcontainer` through the Docker-API socket), in place of the
    /// owner's policy's, as DS01's policy had them.
    #[serde(default)]
    pub container_types: BTreeMap<ds01_api::ContainerType, TypeTimeouts>,
    /// The policy tables, read by `ds01_policy::Policy` (limits, GPUs, sudo, network).
    #[serde(default)]
    pub policy: Option<toml::Value>,
    /// Where the GPUs are described.
    #[serde(default)]
    pub gpus: GpuSettings,
    /// The reaper's settings.
    #[serde(default)]
    pub lifecycle: LifecycleSettings,
    /// How the socket holds up under many, idle or slow clients.
    #[serde(default)]
    pub server: ServerSettings,
    /// What the users' private networks may reach on the host.
    #[serde(default)]
    pub network: NetworkSettings,
    /// The usage ledger's records and the monthly report's webhook.
    #[serde(default)]
    pub usage: UsageSettings,
    /// Where the Prometheus metrics are served, if anywhere.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// Where warnings go besides the user's sessions and alerts file.
    #[serde(default)]
    pub notify: NotifySettings,
    /// Cluster mode: containers become jobs of a workload manager. Absent: one server.
    #[serde(default)]
    pub cluster: Option<crate::cluster::ClusterSettings>,
}

/// `[notify]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Where the reaper's warnings and `--wait` grants are posted as `{"text": ...}`
    /// (Slack and Teams incoming webhooks take it); http only.
    pub webhook: Option<String>,
}

impl NotifySettings {
    /// The webhook, checked.
    pub fn resolve(&self) -> Result<Option<crate::usage::Webhook>, String> {
        self.webhook
            .as_deref()
            .map(|url| {
                crate::usage::Webhook::parse(url)
                    .map_err(|e| format!("[notify] webhook = {url:?}: {e}"))
            })
            .transpose()
    }
}

/// `[network]`: the host's firewall for the users' private bridges (see `firewall.rs`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Host ports (TCP and UDP, on any of the host's addresses) that containers on the
    /// users' private networks may connect to; by default none: the engine's name service
    /// inside each container needs no host port.
    #[serde(default)]
    pub host_ports: Vec<u16>,
}

/// `[server]`: timeouts and connection caps of ds01d's socket, so that one user's idle or
/// half-sent connections cannot starve the others (or the reaper) of file descriptors.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// From a request's first byte to the end of its head, and as long again from there
    /// for its body (default `10s`).
    pub header_timeout: Option<String>,
    /// A connection with no request in flight is closed after this (default `30s`).
    pub idle_timeout: Option<String>,
    /// Open connections of one UID, streams and exec sessions included (default 64).
    pub connections_per_user: Option<u32>,
    /// Streaming requests of one UID at once: builds, creates, exec, logs, cp, followed
    /// events (default 16).
    pub streams_per_user: Option<u32>,
    /// Open connections in all (default 4096; lowered to what the descriptor limit allows).
    pub max_connections: Option<u32>,
}

/// The resolved `[server]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// See [`ServerSettings::header_timeout`].
    pub header_timeout: Duration,
    /// See [`ServerSettings::idle_timeout`].
    pub idle_timeout: Duration,
    /// See [`ServerSettings::connections_per_user`].
    pub connections_per_user: usize,
    /// See [`ServerSettings::streams_per_user`].
    pub streams_per_user: usize,
    /// See [`ServerSettings::max_connections`].
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            connections_per_user: 64,
            streams_per_user: 16,
            max_connections: 4096,
        }
    }
}

/// No count beyond this makes sense for one host's socket.
const MAX_COUNT: u32 = 1_000_000;
/// Nor a timeout beyond an hour.
const MAX_TIMEOUT: Span = Span::from_secs(3600);

impl ServerSettings {
    /// Checks every value, naming the key of the first one refused.
    pub fn resolve(&self) -> Result<ServerLimits, String> {
        let defaults = ServerLimits::default();
        let span = |key: &str, value: &Option<String>, default: Duration| match value {
            None => Ok(default),
            Some(text) => match text.parse::<Span>() {
                Ok(s) if s.secs() >= 1 && s <= MAX_TIMEOUT => Ok(Duration::from_secs(s.secs())),
                Ok(_) => Err(format!(
                    "[server] {key} = {text:?}: give a duration from 1s to 1h"
                )),
                Err(e) => Err(format!("[server] {key} = {text:?}: {e}")),
            },
        };
        let count = |key: &str, value: Option<u32>, default: usize| match value {
            None => Ok(default),
            Some(n) if (1..=MAX_COUNT).contains(&n) => Ok(n as usize),
            Some(n) => Err(format!(
                "[server] {key} = {n}: give a number from 1 to {MAX_COUNT}"
            )),
        };
        let limits = ServerLimits {
            header_timeout: span(
                "header_timeout",
                &self.header_timeout,
                defaults.header_timeout,
            )?,
            idle_timeout: span("idle_timeout", &self.idle_timeout, defaults.idle_timeout)?,
            connections_per_user: count(
                "connections_per_user",
                self.connections_per_user,
                defaults.connections_per_user,
            )?,
            streams_per_user: count(
                "streams_per_user",
                self.streams_per_user,
                defaults.streams_per_user,
            )?,
            max_connections: count(
                "max_connections",
                self.max_connections,
                defaults.max_connections,
            )?,
        };
        // A stream holds a connection: a stream cap above the connection cap would never bind.
        if limits.streams_per_user > limits.connections_per_user {
            return Err(format!(
                "[server] streams_per_user = {} is more than connections_per_user = {}; every stream holds a connection",
                limits.streams_per_user, limits.connections_per_user
            ));
        }
        Ok(limits)
    }
}

/// `[lifecycle]`: how the reaper samples. Timeouts are per user, in `[policy]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSettings {
    /// How often running containers are sampled (default `60s`).
    pub check_interval: Option<String>,
    /// CPU use under this (percent of one CPU) counts as idle (default 5).
    pub idle_cpu_percent: Option<f64>,
    /// GPU utilisation under this counts as idle (default 5; NVML only).
    pub idle_gpu_percent: Option<u32>,
    /// Between SIGTERM and SIGKILL when the reaper stops a container (default `10s`).
    pub stop_grace: Option<String>,
    /// Where the storage driver has no quota: measure containers' layers every this many
    /// rounds (default 1). The engine walks each layer to measure it.
    pub disk_check_every: Option<u32>,
    /// Warn the owner once a container's layer holds this share of its `disk` limit
    /// (percent, default 90).
    pub disk_warn_percent: Option<u32>,
    /// Warn owners this long before an idle or max-runtime stop, besides the warning one
    /// check interval before it (default none).
    pub warn_before: Option<Vec<String>>,
    /// High-demand mode: on above this share of the GPUs allocated (0 to 1; the default, 1,
    /// is never).
    pub high_demand_share: Option<f64>,
    /// What idle timeouts are multiplied by in high-demand mode (default 0.5).
    pub high_demand_factor: Option<f64>,
}

/// The resolved `[lifecycle]` table: every value checked when ds01d starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    /// See [`LifecycleSettings::check_interval`].
    pub check_interval: Duration,
    /// See [`LifecycleSettings::idle_cpu_percent`].
    pub idle_cpu_percent: f64,
    /// See [`LifecycleSettings::idle_gpu_percent`].
    pub idle_gpu_percent: u32,
    /// See [`LifecycleSettings::stop_grace`], in seconds.
    pub stop_grace_secs: u32,
    /// See [`LifecycleSettings::disk_check_every`].
    pub disk_check_every: u32,
    /// See [`LifecycleSettings::disk_warn_percent`].
    pub disk_warn_percent: u32,
    /// High-demand mode.
    pub high_demand: HighDemand,
    /// See [`LifecycleSettings::warn_before`].
    pub warn_before: Vec<Span>,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            check_interval: Duration::from_secs(60),
            idle_cpu_percent: 5.0,
            idle_gpu_percent: 5,
            stop_grace_secs: 10,
            disk_check_every: 1,
            disk_warn_percent: 90,
            high_demand: HighDemand {
                share: 1.0,
                factor: 0.5,
            },
            warn_before: Vec::new(),
        }
    }
}

impl LifecycleSettings {
    /// Checks every value, naming the key of the first one refused.
    pub fn resolve(&self) -> Result<Lifecycle, String> {
        let defaults = Lifecycle::default();
        let span = |key: &str, value: &Option<String>, max: u64| -> Result<Option<u64>, String> {
            let Some(text) = value else { return Ok(None) };
            match text.parse::<Span>() {
                Ok(s) if (1..=max).contains(&s.secs()) => Ok(Some(s.secs())),
                Ok(_) => Err(format!(
                    "[lifecycle] {key} = {text:?}: give a duration from 1s to {}",
                    Span::from_secs(max)
                )),
                Err(e) => Err(format!("[lifecycle] {key} = {text:?}: {e}")),
            }
        };
        let percent = |key: &str, value: Option<f64>, low: f64| match value {
            Some(p) if !(low..=100.0).contains(&p) => Err(format!(
                "[lifecycle] {key} = {p}: give a percentage from {low} to 100"
            )),
            _ => Ok(()),
        };
        percent("idle_cpu_percent", self.idle_cpu_percent, 0.0)?;
        percent(
            "idle_gpu_percent",
            self.idle_gpu_percent.map(f64::from),
            0.0,
        )?;
        percent(
            "disk_warn_percent",
            self.disk_warn_percent.map(f64::from),
            1.0,
        )?;
        let fraction = |key: &str, value: Option<f64>| match value {
            Some(f) if !(f > 0.0 && f <= 1.0) => Err(format!(
                "[lifecycle] {key} = {f}: give a fraction above 0, at most 1"
            )),
            _ => Ok(value),
        };
        let high_demand = HighDemand {
            share: fraction("high_demand_share", self.high_demand_share)?
                .unwrap_or(defaults.high_demand.share),
            factor: fraction("high_demand_factor", self.high_demand_factor)?
                .unwrap_or(defaults.high_demand.factor),
        };
        if self.disk_check_every == Some(0) {
            return Err(
                "[lifecycle] disk_check_every = 0: give a number of rounds, 1 or more".into(),
            );
        }
        Ok(Lifecycle {
            check_interval: span("check_interval", &self.check_interval, 24 * 3600)?
                .map_or(defaults.check_interval, Duration::from_secs),
            idle_cpu_percent: self.idle_cpu_percent.unwrap_or(defaults.idle_cpu_percent),
            idle_gpu_percent: self.idle_gpu_percent.unwrap_or(defaults.idle_gpu_percent),
            stop_grace_secs: span("stop_grace", &self.stop_grace, 3600)?
                .map_or(defaults.stop_grace_secs, |s| s as u32),
            disk_check_every: self.disk_check_every.unwrap_or(defaults.disk_check_every),
            disk_warn_percent: self.disk_warn_percent.unwrap_or(defaults.disk_warn_percent),
            high_demand,
            warn_before: self
                .warn_before
                .iter()
                .flatten()
                .map(|t| match t.parse::<Span>() {
                    Ok(s) if s.secs() >= 1 => Ok(s),
                    Ok(_) => Err(format!("[lifecycle] warn_before: {t:?} is no lead time")),
                    Err(e) => Err(format!("[lifecycle] warn_before: {t:?}: {e}")),
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `reap`: whose containers the reaper stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReapScope {
    /// Every user container on the engine.
    #[default]
    All,
    /// Only containers that carry every `[labels]` pair of this ds01d.
    Labelled,
}

/// `[gpus]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuSettings {
    /// A TOML inventory file (`[[gpu]]` tables); without one, NVML at run time where built
    /// in, else no GPUs.
    pub inventory: Option<PathBuf>,
    /// The half-life of the GPU use that orders `--wait` requests (default `7d`).
    pub fair_share_half_life: Option<String>,
    /// Whether `ds01 status` names who holds each GPU to every user (default false: users
    /// see only that a GPU is taken, and their own).
    #[serde(default)]
    pub show_holders: bool,
}

/// The default of [`GpuSettings::fair_share_half_life`].
const DEFAULT_HALF_LIFE: Duration = Duration::from_secs(7 * 86_400);

impl GpuSettings {
    /// The fair queue's half-life, checked: from a second to a year.
    pub fn half_life(&self) -> Result<Duration, String> {
        let Some(text) = &self.fair_share_half_life else {
            return Ok(DEFAULT_HALF_LIFE);
        };
        match text.parse::<Span>() {
            Ok(s) if (1..=365 * 86_400).contains(&s.secs()) => Ok(Duration::from_secs(s.secs())),
            Ok(_) => Err(format!(
                "[gpus] fair_share_half_life = {text:?}: give a duration from 1s to 365d"
            )),
            Err(e) => Err(format!("[gpus] fair_share_half_life = {text:?}: {e}")),
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file read, if any.
    pub source: Option<PathBuf>,
    /// The file's values.
    pub file: FileConfig,
    /// The catalog file.
    pub catalog: PathBuf,
    /// The GPU architecture catalog images are chosen for when no GPU says otherwise.
    pub architecture: String,
    /// The admin's policy.
    pub policy: Policy,
    /// The GPUs, when an inventory is configured.
    pub inventory: Option<Inventory>,
    /// The socket's timeouts and caps.
    pub server: ServerLimits,
    /// The resolved `[lifecycle]` table.
    pub lifecycle: Lifecycle,
    /// The resolved `[usage]` table.
    pub usage: crate::usage::UsageConfig,
    /// The resolved `[metrics] listen`.
    pub metrics: Option<crate::metrics::MetricsListen>,
    /// The resolved `[notify] webhook`.
    pub notify_webhook: Option<crate::usage::Webhook>,
    /// The resolved `[gpus] fair_share_half_life`.
    pub fair_share_half_life: Duration,
    /// The resolved `[cluster]` table; `None` is single-server mode.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Config {
    /// Labels put on everything the service creates, from the configuration only.
    pub fn resource_labels(&self) -> Vec<(String, String)> {
        self.file
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Reads `path`; a missing file means built-in defaults. A file others may write is
    /// refused (`trust_any_owner` skips that check, for tests that run ds01d unprivileged).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::from_file(
                    None,
                    FileConfig::default(),
                    Policy::default(),
                    None,
                ))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        check_trusted(path)?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: FileConfig = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let policy = Policy::from_value(file.policy.clone()).map_err(|e| invalid(e.to_string()))?;
        let server = file.server.resolve().map_err(invalid)?;
        let lifecycle = file.lifecycle.resolve().map_err(invalid)?;
        let usage = file.usage.resolve().map_err(invalid)?;
        let metrics = file.metrics.resolve().map_err(invalid)?;
        let fair_share_half_life = file.gpus.half_life().map_err(invalid)?;
        let notify_webhook = file.notify.resolve().map_err(invalid)?;
        let cluster = file
            .cluster
            .as_ref()
            .map(|c| c.resolve())
            .transpose()
            .map_err(invalid)?;
        let inventory = match &file.gpus.inventory {
            None => None,
            Some(p) => {
                check_trusted(p)?;
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.clone(),
                    source,
                })?;
                Some(
                    Inventory::from_toml(&text).map_err(|e| ConfigError::Invalid {
                        path: p.clone(),
                        message: e.to_string(),
                    })?,
                )
            }
        };
        Ok(Config {
            server,
            lifecycle,
            usage,
            metrics,
            fair_share_half_life,
            notify_webhook,
            cluster,
            ..Config::from_file(Some(path.to_owned()), file, policy, inventory)
        })
    }

    fn from_file(
        source: Option<PathBuf>,
        file: FileConfig,
        policy: Policy,
        inventory: Option<Inventory>,
    ) -> Config {
        Config {
            policy,
            inventory,
            server: ServerLimits::default(),
            lifecycle: Lifecycle::default(),
            usage: Default::default(),
            metrics: None,
            fair_share_half_life: DEFAULT_HALF_LIFE,
            notify_webhook: None,
            cluster: None,
            source,
            catalog: file
                .catalog
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CATALOG)),
            architecture: file
                .architecture
                .clone()
                .unwrap_or_else(|| "CUDA_ADA".to_owned()),
            file,
        }
    }

    /// The network builds run on.
    pub fn build_network(&self) -> &str {
        self.file.build_network.as_deref().unwrap_or("ds01-build")
    }

    /// The cgroup parent for a user, from the configured template.
    pub fn cgroup_parent_for(&self, group: Option<&str>, login: &str) -> Option<String> {
        let template = self.file.cgroup_parent.as_deref()?;
        if !template.contains('{') {
            return Some(template.to_owned());
        }
        let group = SliceGroup::parse(group?).ok()?;
        let slice = SliceName::new(&group, login).ok()?;
        Some(
            template
                .replace("{group}", slice.group())
                .replace("{user}", slice.user()),
        )
    }
}

fn check_trusted(path: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if (meta.uid() != 0 && meta.uid() != me) || meta.mode() & 0o022 != 0 {
        return Err(ConfigError::Untrusted {
            path: path.to_owned(),
            mode: meta.mode() & 0o7777,
            owner: meta.uid(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_file(
            None,
            toml::from_str(text).unwrap(),
            Policy::from_toml(text).unwrap(),
            None,
        )
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("privileged = true").is_err());
    }

    #[test]
    fn the_reaper_acts_on_all_containers_unless_told_labelled() {
        assert_eq!(config("").file.reap, ReapScope::All);
        assert_eq!(config("reap = \"labelled\"").file.reap, ReapScope::Labelled);
        assert!(toml::from_str::<FileConfig>("reap = \"mine\"").is_err());
    }

    fn server(text: &str) -> Result<ServerLimits, String> {
        toml::from_str::<FileConfig>(text).unwrap().server.resolve()
    }

    #[test]
    fn the_server_table_has_defaults_and_takes_small_values() {
        assert_eq!(server("").unwrap(), ServerLimits::default());
        let small = server(
            "[server]\nheader_timeout = \"2s\"\nidle_timeout = \"1m\"\nconnections_per_user = 8\nstreams_per_user = 2\nmax_connections = 100\n",
        )
        .unwrap();
        assert_eq!(small.header_timeout, Duration::from_secs(2));
        assert_eq!(small.idle_timeout, Duration::from_secs(60));
        assert_eq!(
            (
                small.connections_per_user,
                small.streams_per_user,
                small.max_connections
            ),
            (8, 2, 100)
        );
    }

    #[test]
    fn bad_server_values_are_refused_by_key() {
        for (text, key) in [
            ("header_timeout = \"0s\"", "header_timeout"),
            ("idle_timeout = \"soon\"", "idle_timeout"),
            ("idle_timeout = \"2d\"", "idle_timeout"),
            ("connections_per_user = 0", "connections_per_user"),
            ("max_connections = 0", "max_connections"),
            ("streams_per_user = 65", "streams_per_user"),
        ] {
            let e = server(&format!("[server]\n{text}\n")).unwrap_err();
            assert!(e.contains(&format!("[server] {key}")), "{text}: {e}");
        }
        assert!(toml::from_str::<FileConfig>("[server]\nbacklog = 5\n").is_err());
        assert!(toml::from_str::<FileConfig>("[server]\nmax_connections = -1\n").is_err());
    }

    #[test]
    fn no_host_port_is_open_to_user_networks_unless_listed() {
        assert!(config("").file.network.host_ports.is_empty());
        let c = config("[network]\nhost_ports = [53, 3128]");
        assert_eq!(c.file.network.host_ports, [53, 3128]);
        assert!(toml::from_str::<FileConfig>("[network]\nhost_ports = [70000]").is_err());
        assert!(toml::from_str::<FileConfig>("[network]\nopen = true").is_err());
    }

    #[test]
    fn cgroup_parent_follows_the_slice_rules() {
        let c = config(r#"cgroup_parent = "ds01-{group}-{user}.slice""#);
        assert_eq!(
            c.cgroup_parent_for(Some("student"), "h.baker@hertie-school.lan")
                .unwrap(),
            "ds01-student-h_baker.slice"
        );
    }
}
