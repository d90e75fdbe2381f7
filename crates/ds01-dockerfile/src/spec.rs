//! [`ImageSpec`]: everything that describes one user image, stored as one TOML file.
//!
//! Editing an image means editing its spec and rendering again; the Dockerfile is never
//! edited in place.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::Base;
use crate::defaults::{self, UseCase};
use crate::env::{EnvName, EnvValue};
use crate::identity::Login;
use crate::name::ImageName;
use crate::package::{normalize_pip_name, AptPackage, PipRequirement};

/// Why a spec could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The TOML text is not a valid spec (syntax, unknown key, or a refused value).
    #[error("the image spec is not valid: {0}")]
    Invalid(#[source] toml::de::Error),
    /// The spec file is not a valid spec.
    #[error("the image spec {path} is not valid: {source}")]
    InvalidFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        source: toml::de::Error,
    },
    /// The spec file could not be read.
    #[error("cannot read the image spec {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The spec file could not be written; the previous file, if any, is unchanged.
    #[error("cannot save the image spec {path}: {source}; the previous version is unchanged")]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The spec could not be turned into TOML.
    #[error("cannot write the image spec as TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
    /// A catalog-base field does not have the catalog's form.
    #[error("invalid catalog base: {0}")]
    Base(String),
}

/// The packages installed into an image, by group. Each group becomes its own `RUN`, in the
/// order of the fields, so that editing one group keeps the layers of the groups before it.
///
/// ```
/// use ds01_dockerfile::{Packages, PipRequirement};
///
/// let mut p = Packages::default();
/// p.extra.push(PipRequirement::parse("wandb").unwrap());
/// assert!(p.apt.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packages {
    /// Debian packages (`apt-get install`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt: Vec<AptPackage>,
    /// Jupyter and interactive tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jupyter: Vec<PipRequirement>,
    /// Core data-science packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_science: Vec<PipRequirement>,
    /// Packages for the spec's use case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub use_case: Vec<PipRequirement>,
    /// Packages from the user's `requirements.txt`, copied in when the image was created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<PipRequirement>,
    /// The user's own pip packages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<PipRequirement>,
}

impl Packages {
    /// The pip groups with their Dockerfile comments, in render order.
    pub(crate) fn pip_groups(&self) -> [(&'static str, &[PipRequirement]); 5] {
        [
            ("Jupyter & Interactive", &self.jupyter),
            ("Core Data Science", &self.data_science),
            ("Use case specific packages", &self.use_case),
            ("Packages from requirements.txt", &self.requirements),
            ("Additional user packages", &self.extra),
        ]
    }

    fn pip_groups_mut(&mut self) -> [&mut Vec<PipRequirement>; 5] {
        [
            &mut self.jupyter,
            &mut self.data_science,
            &mut self.use_case,
            &mut self.requirements,
            &mut self.extra,
        ]
    }

    /// Whether any pip group lists a package (the image then gets the user's venv).
    ///
    /// ```
    /// # use ds01_dockerfile::{Packages, PipRequirement};
    /// let mut p = Packages::default();
    /// assert!(!p.has_pip());
    /// p.requirements.push(PipRequirement::parse("six").unwrap());
    /// assert!(p.has_pip());
    /// ```
    pub fn has_pip(&self) -> bool {
        self.pip_groups().iter().any(|(_, g)| !g.is_empty())
    }
}

/// How the host user is baked into the image.
///
/// ```
/// assert!(ds01_dockerfile::UserSettings::default().bake);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    /// Create the user at build time from the `DS01_*` build arguments (the default), so a
    /// container needs no setup commit. When false the image has no user block and no user
    /// labels, and containers get the user at creation instead.
    pub bake: bool,
}

impl Default for UserSettings {
    fn default() -> UserSettings {
        UserSettings { bake: true }
    }
}

/// The description of one user image, stored as TOML (one file per image).
///
/// Every field holds validated values, so any `ImageSpec` renders to a safe Dockerfile.
///
/// ```
/// use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec, PipRequirement};
///
/// let mut spec = ImageSpec::new(
///     ImageName::parse("thesis").unwrap(),
///     Base::Custom { image: ImageRef::parse("ubuntu:24.04").unwrap() },
/// );
/// spec.add_pip(PipRequirement::parse("transformers>=4.30").unwrap());
/// let toml = spec.to_toml_string().unwrap();
/// assert_eq!(ImageSpec::from_toml_str(&toml).unwrap(), spec);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// The image name (`NAME` in `ds01-<uid>/<NAME>:latest`).
    pub name: ImageName,
    /// The login of the user the image belongs to, for the `maintainer` labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Login>,
    /// What the image is for (shown in the Dockerfile header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<UseCase>,
    /// Write a Jupyter server config (listen on all interfaces, no browser) and register an
    /// IPython kernel named after the image.
    #[serde(default)]
    pub configure_jupyter: bool,
    /// The base image.
    pub base: Base,
    /// Packages to install.
    #[serde(default)]
    pub packages: Packages,
    /// Environment variables set with `ENV`, rendered in name order.
    #[serde(default)]
    pub env: BTreeMap<EnvName, EnvValue>,
    /// How the user is baked in.
    #[serde(default)]
    pub user: UserSettings,
}

impl ImageSpec {
    /// A spec with nothing but a name and a base: no packages, no environment, no Jupyter
    /// setup, user baked in.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec};
    /// let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// assert!(spec.env.is_empty() && spec.user.bake);
    /// ```
    pub fn new(name: ImageName, base: Base) -> ImageSpec {
        ImageSpec {
            name,
            owner: None,
            use_case: None,
            configure_jupyter: false,
            base,
            packages: Packages::default(),
            env: BTreeMap::new(),
            user: UserSettings::default(),
        }
    }

    /// A spec as DS01's `image-create` starts one. On a catalog base: the default apt
    /// tools, Jupyter and data-science packages, the use case's packages, Jupyter setup and
    /// DS01's environment. On a custom base only the environment, since nothing is known
    /// about the image (apt may not even exist).
    ///
    /// ```
    /// use ds01_dockerfile::{AimeBase, Base, ImageName, ImageRef, ImageSpec, UseCase};
    ///
    /// let image = ImageRef::parse("aimehub/pytorch-2.7.1-aime-cuda11.8.0").unwrap();
    /// let base = Base::Aime(AimeBase::new("Pytorch", "2.7.1-aime", "CUDA_AMPERE", image).unwrap());
    /// let spec = ImageSpec::with_ds01_defaults(ImageName::parse("cv").unwrap(), base, Some(UseCase::ComputerVision));
    /// assert_eq!(spec.packages.apt.len(), 5);
    /// assert!(spec.configure_jupyter);
    /// assert!(spec.packages.use_case.iter().any(|p| p.name() == "timm"));
    /// ```
    pub fn with_ds01_defaults(name: ImageName, base: Base, use_case: Option<UseCase>) -> ImageSpec {
        let pip = |list: &[&str]| -> Vec<PipRequirement> {
            list.iter()
                .map(|p| PipRequirement::parse(p).expect("default packages are valid"))
                .collect()
        };
        let mut spec = ImageSpec::new(name, base);
        spec.use_case = use_case;
        spec.env = defaults::ENV
            .iter()
            .map(|(k, v)| {
                let name = EnvName::parse(k).expect("default names are valid");
                (name, EnvValue::parse(v).expect("default values are valid"))
            })
            .collect();
        if matches!(spec.base, Base::Aime(_)) {
            spec.configure_jupyter = true;
            spec.packages.apt = defaults::APT
                .iter()
                .map(|p| AptPackage::parse(p).expect("default packages are valid"))
                .collect();
            spec.packages.jupyter = pip(defaults::JUPYTER);
            spec.packages.data_science = pip(defaults::DATA_SCIENCE);
            spec.packages.use_case = pip(use_case.map_or(&[], UseCase::packages));
        }
        spec
    }

    /// Whether the image gets ds01's Python setup and the user's virtual environment
    /// ([`crate::VENV_PATH`], first on `PATH`): when it installs pip packages or Jupyter.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec, PipRequirement};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// assert!(!spec.needs_venv());
    /// spec.add_pip(PipRequirement::parse("requests").unwrap());
    /// assert!(spec.needs_venv());
    /// ```
    pub fn needs_venv(&self) -> bool {
        self.configure_jupyter || self.packages.has_pip()
    }

    /// Applies a preset: the use case's packages (DS01's `--type`), on any base. Packages
    /// already in another group keep their place.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec, UseCase};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// spec.apply_preset(UseCase::ReinforcementLearning);
    /// assert_eq!(spec.use_case, Some(UseCase::ReinforcementLearning));
    /// let names: Vec<&str> = spec.packages.use_case.iter().map(|p| p.as_str()).collect();
    /// assert_eq!(names, ["gymnasium", "stable-baselines3"]);
    /// ```
    pub fn apply_preset(&mut self, use_case: UseCase) {
        self.use_case = Some(use_case);
        self.packages.use_case.clear();
        for package in use_case.packages() {
            let requirement = PipRequirement::parse(package).expect("default packages are valid");
            let name = requirement.normalized_name();
            let elsewhere = self
                .packages
                .pip_groups()
                .iter()
                .any(|(_, g)| g.iter().any(|r| r.normalized_name() == name));
            if !elsewhere {
                self.packages.use_case.push(requirement);
            }
        }
    }

    /// Adds requirements from a `requirements.txt` to their own group; a package already in
    /// any group is replaced there, as [`ImageSpec::add_pip`] does.
    ///
    /// ```
    /// # use ds01_dockerfile::{parse_requirements, Base, ImageName, ImageRef, ImageSpec};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("debian:12").unwrap() });
    /// spec.add_requirements(parse_requirements("six\nidna>=3\n").unwrap());
    /// assert_eq!(spec.packages.requirements.len(), 2);
    /// ```
    pub fn add_requirements(&mut self, requirements: Vec<PipRequirement>) {
        for requirement in requirements {
            let name = requirement.normalized_name();
            let slot = self
                .packages
                .pip_groups_mut()
                .into_iter()
                .find_map(|g| g.iter_mut().find(|r| r.normalized_name() == name));
            match slot {
                Some(slot) => *slot = requirement,
                None => self.packages.requirements.push(requirement),
            }
        }
    }

    /// Adds a pip requirement to the user's own group. If a requirement for the same package
    /// (compared as pip does, `Scikit_Learn` = `scikit-learn`) is already in any group, it is
    /// replaced in place and returned, so `transformers>=4.30` updates `transformers`.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec, PipRequirement};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// let req = |s| PipRequirement::parse(s).unwrap();
    /// assert_eq!(spec.add_pip(req("Torch")), None);
    /// assert_eq!(spec.add_pip(req("torch==2.3.1")), Some(req("Torch")));
    /// assert_eq!(spec.packages.extra, [req("torch==2.3.1")]);
    /// ```
    pub fn add_pip(&mut self, requirement: PipRequirement) -> Option<PipRequirement> {
        let name = requirement.normalized_name();
        for group in self.packages.pip_groups_mut() {
            if let Some(slot) = group.iter_mut().find(|r| r.normalized_name() == name) {
                return Some(std::mem::replace(slot, requirement));
            }
        }
        self.packages.extra.push(requirement);
        None
    }

    /// Adds an apt package; one with the same name is replaced in place and returned.
    ///
    /// ```
    /// # use ds01_dockerfile::{AptPackage, Base, ImageName, ImageRef, ImageSpec};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// assert_eq!(spec.add_apt(AptPackage::parse("tmux").unwrap()), None);
    /// assert_eq!(spec.packages.apt.len(), 1);
    /// ```
    pub fn add_apt(&mut self, package: AptPackage) -> Option<AptPackage> {
        match self
            .packages
            .apt
            .iter_mut()
            .find(|p| p.name() == package.name())
        {
            Some(slot) => Some(std::mem::replace(slot, package)),
            None => {
                self.packages.apt.push(package);
                None
            }
        }
    }

    /// Removes every apt package named `name` and every pip requirement for the package
    /// `name` (compared as pip does), from all groups. Returns how many entries went.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec, PipRequirement};
    /// # let mut spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// spec.add_pip(PipRequirement::parse("scikit-learn>=1.3").unwrap());
    /// assert_eq!(spec.remove_package("Scikit_Learn"), 1);
    /// assert_eq!(spec.remove_package("scikit-learn"), 0);
    /// ```
    pub fn remove_package(&mut self, name: &str) -> usize {
        let pip_name = normalize_pip_name(name);
        let apt_before = self.packages.apt.len();
        self.packages.apt.retain(|p| p.name() != name);
        let mut removed = apt_before - self.packages.apt.len();
        for group in self.packages.pip_groups_mut() {
            let before = group.len();
            group.retain(|r| r.normalized_name() != pip_name);
            removed += before - group.len();
        }
        removed
    }

    /// Parses a spec from TOML, validating every value.
    ///
    /// ```
    /// use ds01_dockerfile::ImageSpec;
    ///
    /// let spec = ImageSpec::from_toml_str(r#"
    ///     name = "thesis"
    ///     [base]
    ///     kind = "custom"
    ///     image = "ubuntu:24.04"
    ///     [packages]
    ///     extra = ["transformers>=4.30"]
    /// "#).unwrap();
    /// assert_eq!(spec.packages.extra[0].as_str(), "transformers>=4.30");
    ///
    /// let err = ImageSpec::from_toml_str("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[packages]\nextra = [\"x; rm -rf /\"]\n").unwrap_err();
    /// assert!(err.to_string().contains("x; rm -rf /"));
    /// ```
    pub fn from_toml_str(text: &str) -> Result<ImageSpec, SpecError> {
        toml::from_str(text).map_err(SpecError::Invalid)
    }

    /// The spec as TOML; [`ImageSpec::from_toml_str`] gives back an equal spec.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec};
    /// let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// assert!(spec.to_toml_string().unwrap().starts_with("name = \"x\""));
    /// ```
    pub fn to_toml_string(&self) -> Result<String, SpecError> {
        Ok(toml::to_string(self)?)
    }

    /// Reads a spec file.
    ///
    /// ```no_run
    /// let spec = ds01_dockerfile::ImageSpec::load("thesis.toml".as_ref())?;
    /// # Ok::<(), ds01_dockerfile::SpecError>(())
    /// ```
    pub fn load(path: &Path) -> Result<ImageSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| SpecError::InvalidFile {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the spec atomically: to a temporary file in the same directory, flushed to
    /// disk, then renamed over `path`. A crash or a full disk leaves the old file intact.
    ///
    /// ```no_run
    /// # use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec};
    /// # let spec = ImageSpec::new(ImageName::parse("x").unwrap(), Base::Custom { image: ImageRef::parse("a").unwrap() });
    /// spec.save("thesis.toml".as_ref())?;
    /// # Ok::<(), ds01_dockerfile::SpecError>(())
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), SpecError> {
        let text = self.to_toml_string()?;
        let fail = |source| SpecError::Write {
            path: path.to_owned(),
            source,
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| fail(std::io::Error::other("the path names no file")))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(format!(".tmp-{}", std::process::id()));
        let temp = path.with_file_name(temp_name);

        let written = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, path)
        })();
        if let Err(source) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(fail(source));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AimeBase, ImageRef};

    fn aime() -> Base {
        Base::Aime(
            AimeBase::new(
                "Pytorch",
                "2.7.1-aime",
                "CUDA_AMPERE",
                ImageRef::parse("aimehub/pytorch-2.7.1-aime-cuda11.8.0").unwrap(),
            )
            .unwrap(),
        )
    }

    fn full() -> ImageSpec {
        let mut spec = ImageSpec::with_ds01_defaults(
            ImageName::parse("thesis-cv").unwrap(),
            aime(),
            Some(UseCase::ComputerVision),
        );
        spec.owner = Some(Login::parse("h.baker@hertie-school.lan").unwrap());
        spec.add_pip(PipRequirement::parse("transformers>=4.30").unwrap());
        spec.add_apt(AptPackage::parse("tmux").unwrap());
        spec
    }

    #[test]
    fn toml_round_trips_and_reads_like_a_config_file() {
        let spec = full();
        let text = spec.to_toml_string().unwrap();
        assert_eq!(ImageSpec::from_toml_str(&text).unwrap(), spec);
        insta::assert_snapshot!("full_spec_toml", text);
    }

    #[test]
    fn minimal_spec_needs_only_name_and_base() {
        let spec = ImageSpec::from_toml_str(
            "name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"debian:12\"\n",
        )
        .unwrap();
        assert_eq!(spec.packages, Packages::default());
        assert!(spec.user.bake);
        assert!(!spec.configure_jupyter);
    }

    #[test]
    fn refused_values_and_typos_are_reported_with_their_location() {
        for (text, needle) in [
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[packages]\nextra = [\"ok\", \"bad\\nline\"]\n", "\"bad\\nline\""),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[packages]\napt = [\"vim;reboot\"]\n", "\"vim;reboot\""),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[env]\nA = \"x\\ny\"\n", "control character"),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[env]\n\"A-B\" = \"x\"\n", "\"A-B\""),
            ("name = \"x\"\npakages = 1\n[base]\nkind = \"custom\"\nimage = \"a\"\n", "unknown field `pakages`"),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\ntag = \"b\"\n", "unknown field `tag`"),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n[packages]\npip = []\n", "unknown field `pip`"),
            ("name = \"x\"\n[base]\nkind = \"custom\"\nimage = \"Ubuntu\"\n", "lowercase"),
            ("name = \"x\"\n[base]\nkind = \"docker\"\nimage = \"a\"\n", "unknown variant `docker`"),
            ("name = \"x\"\n[base]\nkind = \"aime\"\nframework = \"Py torch\"\nversion = \"1\"\narchitecture = \"CUDA\"\nimage = \"a\"\n", "framework \"Py torch\""),
            ("name = \"x\"\n[base]\nkind = \"aime\"\nframework = \"P\"\nversion = \"1\"\narchitecture = \"CUDA\"\nimage = \"a\"\nextra = 1\n", "unknown field `extra`"),
            ("name = \"X Y\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n", "not a valid image name"),
            ("name = \"x\"\nuse_case = \"vision\"\n[base]\nkind = \"custom\"\nimage = \"a\"\n", "unknown variant `vision`"),
        ] {
            let msg = ImageSpec::from_toml_str(text).unwrap_err().to_string();
            assert!(msg.contains(needle), "{text}\n=> {msg}");
        }
    }

    #[test]
    fn editing_replaces_same_package_and_removes_across_groups() {
        let mut spec = full();
        // `transformers` is not in the cv set, `timm` is: updating it keeps its group.
        let old = spec.add_pip(PipRequirement::parse("TIMM==1.0").unwrap());
        assert_eq!(old.unwrap().as_str(), "timm");
        assert!(spec
            .packages
            .use_case
            .iter()
            .any(|p| p.as_str() == "TIMM==1.0"));
        assert!(!spec.packages.extra.iter().any(|p| p.name() == "TIMM"));

        assert_eq!(spec.remove_package("timm"), 1);
        assert_eq!(spec.remove_package("tmux"), 1);
        assert_eq!(spec.remove_package("not-there"), 0);
        let replaced = spec.add_apt(AptPackage::parse("git=1:2.39.2-1").unwrap());
        assert_eq!(replaced.unwrap().as_str(), "git");
    }

    #[test]
    fn custom_base_defaults_install_nothing() {
        let base = Base::Custom {
            image: ImageRef::parse("ubuntu:24.04").unwrap(),
        };
        let spec =
            ImageSpec::with_ds01_defaults(ImageName::parse("x").unwrap(), base, Some(UseCase::Nlp));
        assert_eq!(spec.packages, Packages::default());
        assert!(!spec.configure_jupyter);
        assert_eq!(spec.env.len(), 5);
        assert_eq!(spec.use_case, Some(UseCase::Nlp));
    }

    #[test]
    fn save_is_atomic_and_load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("thesis-cv.toml");
        let spec = full();
        spec.save(&path).unwrap();
        assert_eq!(ImageSpec::load(&path).unwrap(), spec);
        // Saving again replaces the file and leaves no temporary behind.
        let mut edited = spec.clone();
        edited.remove_package("tmux");
        edited.save(&path).unwrap();
        assert_eq!(ImageSpec::load(&path).unwrap(), edited);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["thesis-cv.toml"]);

        std::fs::write(&path, "name = 1").unwrap();
        let msg = ImageSpec::load(&path).unwrap_err().to_string();
        assert!(
            msg.contains("thesis-cv.toml") && msg.contains("line 1"),
            "{msg}"
        );
        let msg = ImageSpec::load(&dir.path().join("none.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("cannot read") && msg.contains("none.toml"),
            "{msg}"
        );
    }

    #[test]
    fn failed_save_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.toml");
        std::fs::write(&path, "old").unwrap();
        // The target is a directory now: the rename fails, the temp file is cleaned up.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("keep"), "").unwrap();
        let err = full().save(&blocked).unwrap_err().to_string();
        assert!(err.contains("previous version is unchanged"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
