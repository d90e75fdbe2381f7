//! Where a user's image specs and rendered Dockerfiles are kept: `<dir>/<name>.toml` and
//! `<name>.Dockerfile` beside it. DS01's `~/dockerfiles/<name>.Dockerfile` stays readable
//! so images made before the migration can still be shown.

use std::path::{Path, PathBuf};

use ds01_dockerfile::{ImageName, ImageSpec};

use crate::exit::CliError;

/// One user's spec directory.
#[derive(Debug, Clone)]
pub struct SpecStore {
    dir: PathBuf,
    legacy: Option<PathBuf>,
}

impl SpecStore {
    /// A store in `dir`, with DS01's Dockerfile directory `legacy` read as a fallback.
    pub fn new(dir: PathBuf, legacy: Option<PathBuf>) -> SpecStore {
        SpecStore { dir, legacy }
    }

    /// `<dir>/<name>.toml`.
    pub fn spec_path(&self, name: &ImageName) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// `<dir>/<name>.Dockerfile`.
    pub fn dockerfile_path(&self, name: &ImageName) -> PathBuf {
        self.dir.join(format!("{name}.Dockerfile"))
    }

    /// DS01's `~/dockerfiles/<name>.Dockerfile`, when it exists.
    pub fn legacy_dockerfile(&self, name: &ImageName) -> Option<PathBuf> {
        let path = self.legacy.as_ref()?.join(format!("{name}.Dockerfile"));
        path.is_file().then_some(path)
    }

    /// Whether a spec is stored.
    pub fn exists(&self, name: &ImageName) -> bool {
        self.spec_path(name).is_file()
    }

    /// Loads the spec of `name`.
    pub fn load(&self, name: &ImageName) -> Result<ImageSpec, CliError> {
        let path = self.spec_path(name);
        if !path.is_file() {
            let hint = match self.legacy_dockerfile(name) {
                Some(old) => format!(
                    "; only DS01's {} exists: recreate the image with `ds01 image create {name}`",
                    old.display()
                ),
                None => format!("; create it with `ds01 image create {name}`"),
            };
            return Err(CliError::msg(format!("no image spec {name}{hint}")));
        }
        ImageSpec::load(&path).map_err(|e| CliError::msg(e.to_string()))
    }

    /// Saves the spec and its rendered Dockerfile (both written atomically).
    pub fn save(&self, spec: &ImageSpec) -> Result<(), CliError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| CliError::failure(format!("cannot create {}", self.dir.display()), e))?;
        let dockerfile = ds01_dockerfile::render(spec);
        spec.save(&self.spec_path(&spec.name))
            .map_err(|e| CliError::msg(e.to_string()))?;
        write_atomically(&self.dockerfile_path(&spec.name), dockerfile.text())
    }

    /// Removes the spec and Dockerfile of `name`; missing files are fine.
    pub fn remove(&self, name: &ImageName) -> Result<(), CliError> {
        for path in [self.spec_path(name), self.dockerfile_path(name)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CliError::failure(
                        format!("cannot remove {}", path.display()),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// The names of the stored specs, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".toml").map(str::to_owned)
            })
            .collect();
        names.sort();
        names
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("Dockerfile.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::failure(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_dockerfile::{Base, ImageRef};

    fn spec(name: &str) -> ImageSpec {
        ImageSpec::new(
            ImageName::parse(name).unwrap(),
            Base::Custom {
                image: ImageRef::parse("debian:12").unwrap(),
            },
        )
    }

    #[test]
    fn saves_lists_loads_and_removes_specs_with_their_dockerfiles() {
        let dir = tempfile::tempdir().unwrap();
        let store = SpecStore::new(dir.path().join("images"), None);
        let name = ImageName::parse("thesis").unwrap();
        store.save(&spec("thesis")).unwrap();
        store.save(&spec("alpha")).unwrap();
        assert_eq!(store.names(), ["alpha", "thesis"]);
        assert_eq!(store.load(&name).unwrap(), spec("thesis"));
        let dockerfile = std::fs::read_to_string(store.dockerfile_path(&name)).unwrap();
        assert!(dockerfile.contains("FROM debian:12"));
        store.remove(&name).unwrap();
        assert!(!store.exists(&name) && !store.dockerfile_path(&name).exists());
        store.remove(&name).unwrap();
    }

    #[test]
    fn a_ds01_dockerfile_alone_is_found_and_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("dockerfiles");
        std::fs::create_dir_all(&legacy).unwrap();
        std::fs::write(legacy.join("old.Dockerfile"), "FROM x\n").unwrap();
        let store = SpecStore::new(dir.path().join("images"), Some(legacy.clone()));
        let name = ImageName::parse("old").unwrap();
        assert_eq!(
            store.legacy_dockerfile(&name),
            Some(legacy.join("old.Dockerfile"))
        );
        let err = store.load(&name).unwrap_err().to_string();
        assert!(err.contains("old.Dockerfile"), "{err}");
    }
}
