//! Configuration: `/etc/ds01/config.toml`, then the user's `~/.config/ds01/config.toml`;
//! a key set in a later file wins, and command-line flags win over both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ds01_username::{SliceGroup, SliceName};
use serde::Deserialize;

use crate::exit::CliError;

/// The system-wide file; `DS01_SYSTEM_CONFIG` points elsewhere (tests, staging servers).
const SYSTEM_CONFIG: &str = "/etc/ds01/config.toml";

/// Where the AIME catalog usually lives on an MLC host.
const DEFAULT_CATALOG: &str = "/opt/aime-ml-containers/ml_images.repo";

/// Where root keeps the image specs of the users it acts for (`--as`).
const DEFAULT_STATE_DIR: &str = "/var/lib/ds01";

/// One configuration file; every key optional so that files can be layered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    workspace: Option<PathBuf>,
    catalog: Option<PathBuf>,
    architecture: Option<String>,
    shm_size: Option<String>,
    memlock: Option<String>,
    cgroup_parent: Option<String>,
    privileged: Option<bool>,
    state_dir: Option<PathBuf>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The merged configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Default host directory for `/workspace` (`~` expands to the user's home).
    pub workspace: Option<PathBuf>,
    /// The AIME catalog file.
    pub catalog: PathBuf,
    /// Whether a configuration file named the catalog (rather than the built-in default).
    pub catalog_configured: bool,
    /// The GPU architecture catalog images are chosen for.
    pub architecture: String,
    /// Default `/dev/shm` size (`16g`).
    pub shm_size: Option<String>,
    /// Default locked-memory limit (`8m`); unset means unlimited, as MLC has it.
    pub memlock: Option<String>,
    /// Cgroup parent template; `{group}` and `{user}` follow the slice rules.
    pub cgroup_parent: Option<String>,
    /// Whether containers run privileged.
    pub privileged: bool,
    /// Where root keeps other users' image specs.
    pub state_dir: PathBuf,
    /// Labels put on every container.
    pub labels: BTreeMap<String, String>,
    /// The files that were read, in order.
    pub sources: Vec<PathBuf>,
}

impl Config {
    /// Reads the system file, then the user's; missing files are skipped.
    pub fn load() -> Result<Config, CliError> {
        let system = std::env::var_os("DS01_SYSTEM_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SYSTEM_CONFIG));
        let mut paths = vec![system];
        if let Some(dir) = config_home() {
            paths.push(dir.join("ds01/config.toml"));
        }
        let mut files = Vec::new();
        for path in paths {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let file: ConfigFile = toml::from_str(&text).map_err(|e| {
                        CliError::msg(format!(
                            "configuration file {} is not valid: {e}\n  fix or remove it",
                            path.display()
                        ))
                    })?;
                    files.push((path, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CliError::failure(
                        format!("cannot read configuration file {}", path.display()),
                        e,
                    ))
                }
            }
        }
        Ok(Config::merge(files))
    }

    fn merge(files: Vec<(PathBuf, ConfigFile)>) -> Config {
        let mut config = Config {
            catalog: PathBuf::from(DEFAULT_CATALOG),
            architecture: "CUDA_ADA".to_owned(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            ..Config::default()
        };
        for (path, file) in files {
            config.workspace = file.workspace.or(config.workspace);
            if let Some(catalog) = file.catalog {
                config.catalog = catalog;
                config.catalog_configured = true;
            }
            config.architecture = file.architecture.unwrap_or(config.architecture);
            config.shm_size = file.shm_size.or(config.shm_size);
            config.cgroup_parent = file.cgroup_parent.or(config.cgroup_parent);
            config.memlock = file.memlock.or(config.memlock);
            config.privileged = file.privileged.unwrap_or(config.privileged);
            config.state_dir = file.state_dir.unwrap_or(config.state_dir);
            config.labels.extend(file.labels);
            config.sources.push(path);
        }
        config
    }

    /// Expands the cgroup-parent template for a user: `{group}` is the slice group (the
    /// name of the user's primary group), `{user}` the login as DS01's slice rules spell it.
    pub fn cgroup_parent_for(template: &str, group: &str, login: &str) -> Result<String, CliError> {
        if !template.contains('{') {
            return Ok(template.to_owned());
        }
        let group = SliceGroup::parse(group)
            .map_err(|e| CliError::msg(format!("cgroup parent `{template}`: {e}")))?;
        let slice = SliceName::new(&group, login)
            .map_err(|e| CliError::msg(format!("cgroup parent `{template}`: {e}")))?;
        Ok(template
            .replace("{group}", slice.group())
            .replace("{user}", slice.user()))
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config")))
}

/// The caller's home directory.
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Expands a leading `~/` against `home`.
pub fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn later_files_win_and_labels_merge() {
        let merged = Config::merge(vec![
            (
                "/etc".into(),
                file("shm_size = \"8g\"\nprivileged = true\n[labels]\na = \"1\"\nb = \"1\"\n"),
            ),
            (
                "~".into(),
                file("shm_size = \"16g\"\n[labels]\nb = \"2\"\n"),
            ),
        ]);
        assert_eq!(merged.shm_size.as_deref(), Some("16g"));
        assert!(merged.privileged);
        assert_eq!(merged.labels["a"], "1");
        assert_eq!(merged.labels["b"], "2");
        assert_eq!(merged.catalog, PathBuf::from(DEFAULT_CATALOG));
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ConfigFile>("shm = \"8g\"\n").is_err());
    }

    #[test]
    fn cgroup_template_uses_slice_rules() {
        let slice = Config::cgroup_parent_for(
            "ds01-{group}-{user}.slice",
            "student",
            "h.baker@hertie-school.lan",
        )
        .unwrap();
        assert_eq!(slice, "ds01-student-h_baker.slice");
        assert_eq!(
            Config::cgroup_parent_for("fixed.slice", "x", "y").unwrap(),
            "fixed.slice"
        );
    }
}
