//! The daemon's configuration: one root-owned TOML file, read by ds01d alone. Nothing a
//! user sets (environment, `~/.config`, flags) reaches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ds01_api::Size;
use ds01_policy::{Inventory, Policy};
use ds01_username::{SliceGroup, SliceName};
use serde::Deserialize;

/// The system configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/ds01/config.toml";

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

/// The container policy every user gets (issue-10 policy tables extend it).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The socket the CLI finds the service at (the CLI reads only this key).
    pub socket: Option<PathBuf>,
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
    /// The policy tables, read by `ds01_policy::Policy` (limits, GPUs, sudo, network).
    #[serde(default)]
    pub policy: Option<toml::Value>,
    /// Where the GPUs are described.
    #[serde(default)]
    pub gpus: GpuSettings,
    /// The reaper's settings.
    #[serde(default)]
    pub lifecycle: LifecycleSettings,
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
}

impl Config {
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
        let policy = Policy::from_toml(&text).map_err(|e| invalid(e.to_string()))?;
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
        Ok(Config::from_file(
            Some(path.to_owned()),
            file,
            policy,
            inventory,
        ))
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
