//! Where a user's image specs and rendered Dockerfiles are kept: `<state>/users/<uid>/images/`
//! `<name>.toml` and `<name>.Dockerfile` beside it, in ds01d's root-owned state directory, so
//! that what ds01d reads back is what it wrote. (DS01's `~/dockerfiles` belong to the user:
//! the client reads those, as the user.)

use std::path::{Path, PathBuf};

use ds01_dockerfile::{ImageName, ImageSpec};

use ds01_api::{ApiError, ErrorCode};

/// One user's spec directory.
#[derive(Debug, Clone)]
pub struct SpecStore {
    dir: PathBuf,
}

impl SpecStore {
    /// A store in `dir`.
    pub fn new(dir: PathBuf) -> SpecStore {
        SpecStore { dir }
    }

    /// The store of user `uid` in ds01d's state directory.
    pub fn of(state_dir: &Path, uid: u32) -> SpecStore {
        SpecStore::new(state_dir.join("users").join(uid.to_string()).join("images"))
    }

    /// `<dir>/<name>.toml`.
    pub fn spec_path(&self, name: &ImageName) -> PathBuf {
        self.dir.join(format!("{name}.toml"))
    }

    /// `<dir>/<name>.Dockerfile`.
    pub fn dockerfile_path(&self, name: &ImageName) -> PathBuf {
        self.dir.join(format!("{name}.Dockerfile"))
    }

    /// Whether a spec is stored.
    pub fn exists(&self, name: &ImageName) -> bool {
        self.spec_path(name).is_file()
    }

    /// Loads the spec of `name`.
    pub fn load(&self, name: &ImageName) -> Result<ImageSpec, ApiError> {
        let path = self.spec_path(name);
        if !path.is_file() {
            return Err(
                ApiError::new(ErrorCode::NotFound, format!("no image spec {name}"))
                    .subject(name.as_str())
                    .because(ds01_api::Reason::NoImageSpec),
            );
        }
        ImageSpec::load(&path).map_err(|e| ApiError::new(ErrorCode::Failed, e.to_string()))
    }

    /// Saves the spec and its rendered Dockerfile (both written atomically).
    pub fn save(&self, spec: &ImageSpec) -> Result<(), ApiError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_failed(&self.dir, e))?;
        let dockerfile = ds01_dockerfile::render(spec);
        spec.save(&self.spec_path(&spec.name))
            .map_err(|e| ApiError::new(ErrorCode::Failed, e.to_string()))?;
        write_atomically(&self.dockerfile_path(&spec.name), dockerfile.text())
    }

    /// Removes the spec and Dockerfile of `name`; missing files are fine.
    pub fn remove(&self, name: &ImageName) -> Result<(), ApiError> {
        let built = self.dir.join(format!("{name}.built"));
        for path in [self.spec_path(name), self.dockerfile_path(name), built] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_failed(&path, e)),
            }
        }
        Ok(())
    }

    /// Remembers the image ID a build of `name` produced.
    pub fn record_built(&self, name: &ImageName, id: &str) -> Result<(), ApiError> {
        write_atomically(&self.dir.join(format!("{name}.built")), id)
    }

    /// The image ID the last build of `name` produced.
    pub fn built_id(&self, name: &ImageName) -> Option<String> {
        std::fs::read_to_string(self.dir.join(format!("{name}.built")))
            .ok()
            .map(|s| s.trim().to_owned())
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

fn write_atomically(path: &Path, text: &str) -> Result<(), ApiError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| io_failed(path, e))
}

fn io_failed(path: &Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Failed,
        format!("ds01d cannot write {}: {e}", path.display()),
    )
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
        let store = SpecStore::new(dir.path().join("images"));
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
}
