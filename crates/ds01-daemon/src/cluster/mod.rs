//! Cluster mode: ds01d on a login node hands users' containers to Slurm (issue 22).
//!
//! A container is a Slurm batch job named `<name>._.<uid>` whose one step runs an OCI
//! bundle (`srun --container`) that ds01d made from the user's image under the `[cluster]
//! bundles` directory on shared storage. Slurm places it, holds its GPUs as gres, its
//! memory, CPUs and walltime; ds01d checks the policy's caps before the submit and runs
//! every Slurm command as the user (see [`slurm`]), so Slurm's own privacy rules apply to
//! what ds01d does for them. The bundle's directory is the container's existence: a stopped
//! container keeps it (and its ended job while Slurm remembers it), a removed one loses it.

pub mod accounting;
pub mod bundle;
pub mod job;
pub mod kept;
pub mod slurm;

use std::path::PathBuf;

use serde::Deserialize;

/// `[cluster]` as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The workload manager; only `slurm` for now.
    pub backend: Option<String>,
    /// The Slurm configuration the clients read (default `/etc/slurm/slurm.conf`).
    pub slurm_conf: Option<PathBuf>,
    /// Where the containers' OCI bundles go: a directory on storage every node mounts at
    /// the same path.
    pub bundles: Option<PathBuf>,
    /// The partition jobs go to (default: the cluster's default partition).
    pub partition: Option<String>,
    /// Whose accounting `ds01 usage` reads: `"ds01"` (the default, ds01d's own ledger) or
    /// `"slurm"` (slurmdbd's, through `sacct` as the user; the cluster needs
    /// `AccountingStorageType=accounting_storage/slurmdbd`, `AccountingStorageTRES=gres/gpu`
    /// and an association for each user).
    pub accounting: Option<String>,
}

/// The resolved `[cluster]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// See [`ClusterSettings::slurm_conf`].
    pub slurm_conf: PathBuf,
    /// See [`ClusterSettings::bundles`].
    pub bundles: PathBuf,
    /// See [`ClusterSettings::partition`].
    pub partition: Option<String>,
    /// Whether `ds01 usage` reads Slurm's accounting (see [`ClusterSettings::accounting`]).
    pub accounting: bool,
}

const DEFAULT_SLURM_CONF: &str = "/etc/slurm/slurm.conf";

impl ClusterSettings {
    /// Checks every value, naming the key of the first one refused. The files themselves
    /// are looked at when ds01d starts (a configuration may be checked on another host).
    pub fn resolve(&self) -> Result<ClusterConfig, String> {
        match self.backend.as_deref() {
            Some("slurm") => {}
            Some(other) => {
                return Err(format!(
                    "[cluster] backend = {other:?}: the only backend is \"slurm\""
                ))
            }
            None => return Err("[cluster] needs backend = \"slurm\"".into()),
        }
        let slurm_conf = self
            .slurm_conf
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SLURM_CONF));
        if !slurm_conf.is_absolute() {
            return Err(format!(
                "[cluster] slurm_conf = {:?}: give an absolute path",
                slurm_conf.display()
            ));
        }
        let bundles = match &self.bundles {
            Some(p) if p.is_absolute() && p != std::path::Path::new("/") => p.clone(),
            Some(p) => {
                return Err(format!(
                    "[cluster] bundles = {:?}: give an absolute directory (not /) on storage every node mounts",
                    p.display()
                ))
            }
            None => {
                return Err(
                    "[cluster] needs bundles: a directory on storage every node mounts".into(),
                )
            }
        };
        // The name goes on sbatch's command line: Slurm's partition names are plain words.
        if let Some(p) = &self.partition {
            if p.is_empty()
                || !p
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                return Err(format!(
                    "[cluster] partition = {p:?}: give a Slurm partition name (letters, digits, _ - .)"
                ));
            }
        }
        let accounting = match self.accounting.as_deref() {
            None | Some("ds01") => false,
            Some("slurm") => true,
            Some(other) => {
                return Err(format!(
                    "[cluster] accounting = {other:?}: give \"slurm\" (slurmdbd's, through sacct) or \"ds01\" (ds01d's own ledger)"
                ))
            }
        };
        Ok(ClusterConfig {
            slurm_conf,
            bundles,
            partition: self.partition.clone(),
            accounting,
        })
    }
}

impl ClusterConfig {
    /// Makes the bundles directory when missing: root's, and `0711`, so that users reach
    /// their own bundles by name but cannot list the others'. Checks that Slurm's
    /// configuration is there.
    pub fn prepare(&self) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !self.slurm_conf.is_file() {
            return Err(format!(
                "[cluster] slurm_conf: {} is not a file",
                self.slurm_conf.display()
            ));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.bundles)
            .and_then(|()| {
                std::fs::set_permissions(&self.bundles, std::fs::Permissions::from_mode(0o711))
            })
            .map_err(|e| {
                format!(
                    "[cluster] bundles: cannot make {}: {e}",
                    self.bundles.display()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<ClusterConfig, String> {
        #[derive(Deserialize)]
        struct F {
            cluster: ClusterSettings,
        }
        toml::from_str::<F>(text).unwrap().cluster.resolve()
    }

    #[test]
    fn a_slurm_table_resolves_with_defaults() {
        let c =
            resolve("[cluster]\nbackend = \"slurm\"\nbundles = \"/srv/ds01/bundles\"\n").unwrap();
        assert_eq!(c.slurm_conf, PathBuf::from("/etc/slurm/slurm.conf"));
        assert_eq!(c.bundles, PathBuf::from("/srv/ds01/bundles"));
        assert_eq!(c.partition, None);
        assert!(!c.accounting);
        let c =
            resolve("[cluster]\nbackend = \"slurm\"\nbundles = \"/b\"\naccounting = \"slurm\"\n")
                .unwrap();
        assert!(c.accounting);
    }

    #[test]
    fn bad_cluster_values_are_refused_by_key() {
        for (text, key) in [
            ("bundles = \"/b\"", "backend"),
            ("backend = \"kubernetes\"\nbundles = \"/b\"", "backend"),
            ("backend = \"slurm\"", "bundles"),
            ("backend = \"slurm\"\nbundles = \"rel\"", "bundles"),
            ("backend = \"slurm\"\nbundles = \"/\"", "bundles"),
            (
                "backend = \"slurm\"\nbundles = \"/b\"\nslurm_conf = \"s.conf\"",
                "slurm_conf",
            ),
            (
                "backend = \"slurm\"\nbundles = \"/b\"\npartition = \"gpu --uid=0\"",
                "partition",
            ),
            (
                "backend = \"slurm\"\nbundles = \"/b\"\naccounting = \"slurmdbd\"",
                "accounting",
            ),
        ] {
            let e = resolve(&format!("[cluster]\n{text}\n")).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
