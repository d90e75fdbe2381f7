//! The create options a container keeps in its `ds01.create_options` label, so `recreate`
//! can make it again without the user retyping them. The label outlives ds01d's versions
//! (a container made today is recreated by next year's ds01d), so it has a format of its
//! own, versioned, apart from the wire's `ContainerCreate`, which may change with the API.

use std::path::PathBuf;

use ds01_api::{ContainerCreate, ContainerName, GpuRequest, Size};
use ds01_dockerfile::ImageRef;
use serde::{Deserialize, Serialize};

/// The version this ds01d writes.
const VERSION: u32 = 1;

/// A create request as a container keeps it: what it was made from and with, not what a
/// request does once (start it, wait for GPUs) nor the client's catalog text (a recreate
/// uses the server's catalog). The name is the container's own, never a label's.
///
/// Version 0 is the label ds01 wrote before this type: the whole create request as JSON,
/// whose fields read the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCreate {
    /// The format's version (0 when absent: the labels of an older ds01).
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    image: Option<ImageRef>,
    #[serde(default)]
    framework: Option<String>,
    #[serde(default)]
    framework_version: Option<String>,
    #[serde(default)]
    arch: Option<String>,
    #[serde(default)]
    workspace: Option<PathBuf>,
    #[serde(default)]
    data: Option<PathBuf>,
    #[serde(default)]
    models: Option<PathBuf>,
    #[serde(default)]
    gpus: Option<GpuRequest>,
    #[serde(default)]
    shm_size: Option<Size>,
    #[serde(default)]
    memory: Option<Size>,
    #[serde(default)]
    cpus: Option<f64>,
    #[serde(default)]
    pids_limit: Option<i64>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default)]
    no_workspace: bool,
    /// Added within version 1: absent for ds01's own containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    process: Option<ds01_api::Process>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_type: Option<ds01_api::ContainerType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<ds01_api::NamedVolume>,
}

impl StoredCreate {
    /// What a container made by `request` keeps.
    pub fn of(request: &ContainerCreate) -> StoredCreate {
        StoredCreate {
            version: VERSION,
            image: request.image.clone(),
            framework: request.framework.clone(),
            framework_version: request.framework_version.clone(),
            arch: request.arch.clone(),
            workspace: request.workspace.clone(),
            data: request.data.clone(),
            models: request.models.clone(),
            gpus: request.gpus.clone(),
            shm_size: request.shm_size,
            memory: request.memory,
            cpus: request.cpus,
            pids_limit: request.pids_limit,
            labels: request.labels.clone(),
            no_workspace: request.no_workspace,
            process: request.process.clone(),
            container_type: request.container_type,
            volumes: request.volumes.clone(),
        }
    }

    /// Whether ds01d removes the container once it exits (`docker run --rm`).
    pub fn auto_remove(&self) -> bool {
        self.process.as_ref().is_some_and(|p| p.auto_remove)
    }

    /// The label's value.
    pub fn to_label(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a label's value; a version this ds01d does not know is refused rather than
    /// half read.
    pub fn from_label(text: &str) -> Result<StoredCreate, String> {
        let stored: StoredCreate = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if stored.version > VERSION {
            return Err(format!(
                "they are of version {}, newer than this ds01d reads ({VERSION})",
                stored.version
            ));
        }
        Ok(stored)
    }

    /// The request that makes container `name` again, started or not.
    pub fn request(&self, name: ContainerName, start: bool) -> ContainerCreate {
        ContainerCreate {
            image: self.image.clone(),
            framework: self.framework.clone(),
            framework_version: self.framework_version.clone(),
            arch: self.arch.clone(),
            catalog: None,
            workspace: self.workspace.clone(),
            data: self.data.clone(),
            models: self.models.clone(),
            gpus: self.gpus.clone(),
            wait: false,
            shm_size: self.shm_size,
            memory: self.memory,
            cpus: self.cpus,
            pids_limit: self.pids_limit,
            labels: self.labels.clone(),
            start,
            no_workspace: self.no_workspace,
            process: self.process.clone(),
            container_type: self.container_type,
            volumes: self.volumes.clone(),
            ..ContainerCreate::named(name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> ContainerName {
        n.parse().unwrap()
    }

    #[test]
    fn keeps_what_a_recreate_needs_and_drops_what_a_request_does_once() {
        let mut request = ContainerCreate::named(name("cv"));
        request.image = Some("ds01-1000/cv:latest".parse().unwrap());
        request.gpus = Some("1".parse().unwrap());
        request.memory = Some("8g".parse().unwrap());
        request.labels = vec!["project=thesis".into()];
        request.catalog = Some("Pytorch, 2.5, CUDA, x".into());
        request.start = true;
        request.wait = true;
        let stored = StoredCreate::from_label(&StoredCreate::of(&request).to_label()).unwrap();
        assert_eq!(stored.version, VERSION);
        let again = stored.request(name("other"), false);
        assert_eq!(again.name.as_str(), "other");
        assert_eq!(
            (again.start, again.wait, again.catalog),
            (false, false, None)
        );
        assert_eq!(again.image, request.image);
        assert_eq!(again.gpus, request.gpus);
        assert_eq!(again.memory, request.memory);
        assert_eq!(again.labels, request.labels);
    }

    #[test]
    fn reads_the_unversioned_labels_of_an_older_ds01() {
        // What ds01 wrote before the label had a version: the create request itself.
        let old = r#"{"name":"cv","image":"ds01-1000/cv:latest","framework":null,
            "framework_version":null,"arch":null,"catalog":null,"workspace":"/home/a/w",
            "data":null,"models":null,"gpus":null,"wait":false,"shm_size":null,
            "memory":"4g","cpus":2.0,"pids_limit":null,"labels":[],"start":false,
            "no_workspace":false}"#;
        let stored = StoredCreate::from_label(old).unwrap();
        assert_eq!(stored.version, 0);
        let again = stored.request(name("cv"), true);
        assert_eq!(again.workspace, Some(PathBuf::from("/home/a/w")));
        assert_eq!(again.cpus, Some(2.0));
        assert!(again.start);
    }

    #[test]
    fn refuses_a_newer_format_and_garbage() {
        assert!(StoredCreate::from_label(r#"{"version":2}"#)
            .unwrap_err()
            .contains("version 2"));
        assert!(StoredCreate::from_label("not json").is_err());
    }
}
