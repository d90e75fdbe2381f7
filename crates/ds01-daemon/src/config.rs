//! The daemon's configuration: one root-owned TOML file, read by ds01d alone. Nothing a
//! user sets (environment, `~/.config`, flags) reaches it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ds01_api::ByteSize;
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
    pub memlock: Option<ByteSize>,
    /// CA certificates (a PEM file) that pip trusts in the users' image builds and venvs,
    /// for a network whose proxy intercepts TLS; unset: pip's own.
    pub build_ca_certificates: Option<PathBuf>,
    /// The cgroup parent; `{group}` and `{user}` follow DS01's slice rules.
    pub cgroup_parent: Option<String>,
    /// Labels put on everything ds01d creates (test suites and admin tools find their
    /// objects by them).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The policy tables.
    #[serde(default)]
    pub policy: PolicyTables,
}

/// `[policy.default]`, `[policy.groups.<g>]`, `[policy.users.<login>]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PolicyTables {
    /// Everyone.
    #[serde(default)]
    pub default: PolicyEntry,
    /// By Unix group name.
    #[serde(default)]
    pub groups: BTreeMap<String, PolicyEntry>,
    /// By login.
    #[serde(default)]
    pub users: BTreeMap<String, PolicyEntry>,
}

/// One policy table; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PolicyEntry {
    /// Passwordless sudo (and setuid binaries) work in the user's containers.
    pub sudo: Option<bool>,
    /// `private` (default) or `host` networking.
    pub network: Option<Network>,
    /// Everything else (limits, GPUs, lifecycle) is read by the policy engine.
    #[serde(flatten)]
    pub rest: BTreeMap<String, toml::Value>,
}

/// A container's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// Its own network namespace on the default bridge.
    Private,
    /// The host's network (MLC's default).
    Host,
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
    /// The GPU architecture.
    pub architecture: String,
}

impl Config {
    /// Reads `path`; a missing file means built-in defaults. A file others may write is
    /// refused (`trust_any_owner` skips that check, for tests that run ds01d unprivileged).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::from_file(None, FileConfig::default()))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        check_trusted(path)?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Config::from_file(Some(path.to_owned()), file))
    }

    fn from_file(source: Option<PathBuf>, file: FileConfig) -> Config {
        Config {
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

    /// Whether `login` (with `groups`) gets working sudo: the user's entry, else any of
    /// their groups that allows it, else the default; off unless the admin says so.
    pub fn sudo_allowed(&self, login: &str, groups: &[String]) -> bool {
        let p = &self.file.policy;
        if let Some(v) = user_entry(p, login).and_then(|e| e.sudo) {
            return v;
        }
        let by_group: Vec<bool> = groups
            .iter()
            .filter_map(|g| p.groups.get(g).and_then(|e| e.sudo))
            .collect();
        if !by_group.is_empty() {
            return by_group.contains(&true);
        }
        p.default.sudo.unwrap_or(false)
    }

    /// The network of `login`'s containers, resolved like [`Config::sudo_allowed`].
    pub fn network(&self, login: &str, groups: &[String]) -> Network {
        let p = &self.file.policy;
        if let Some(v) = user_entry(p, login).and_then(|e| e.network) {
            return v;
        }
        let by_group: Vec<Network> = groups
            .iter()
            .filter_map(|g| p.groups.get(g).and_then(|e| e.network))
            .collect();
        if !by_group.is_empty() {
            return if by_group.contains(&Network::Host) {
                Network::Host
            } else {
                Network::Private
            };
        }
        p.default.network.unwrap_or(Network::Private)
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

/// SSSD may hand out logins with or without their domain: both spellings match an entry.
fn user_entry<'a>(p: &'a PolicyTables, login: &str) -> Option<&'a PolicyEntry> {
    p.users.get(login).or_else(|| {
        let short = login.split('@').next()?;
        p.users
            .iter()
            .find(|(k, _)| k.split('@').next() == Some(short))
            .map(|(_, v)| v)
    })
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
        Config::from_file(None, toml::from_str(text).unwrap())
    }

    #[test]
    fn sudo_and_network_are_off_unless_the_admin_allows_them() {
        let c = config("");
        assert!(!c.sudo_allowed("alice", &["staff".into()]));
        assert_eq!(c.network("alice", &[]), Network::Private);
        let c = config(
            r#"
            [policy.groups.admins]
            sudo = true
            network = "host"
            [policy.users."bob@example.lan"]
            sudo = false
            "#,
        );
        assert!(c.sudo_allowed("alice", &["admins".into()]));
        assert_eq!(c.network("alice", &["admins".into()]), Network::Host);
        assert!(!c.sudo_allowed("carol", &["staff".into()]));
        assert!(
            !c.sudo_allowed("bob", &["admins".into()]),
            "user entry wins"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("privileged = true").is_err());
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
