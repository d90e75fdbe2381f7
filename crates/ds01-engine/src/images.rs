//! Looking up, listing and deleting images, by reference or by a user's repository
//! (`ds01-<uid>/`), in one engine call each.

use std::collections::{BTreeMap, HashMap};

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use crate::client::Engine;
use crate::error::{is_not_found, Context, EngineError, Result};

/// A local image as ds01 needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image ID (`sha256:...`).
    pub id: String,
    /// Its labels (an image's labels are what its author wrote: never proof of anything).
    pub labels: BTreeMap<String, String>,
    /// Size in bytes.
    pub size: Option<i64>,
    /// Creation time as the engine reports it.
    pub created: Option<String>,
    /// Every `repo:tag` that points at this ID: who may use an image named by its ID
    /// is decided by these, never by the text that named it.
    pub tags: Vec<String>,
}

/// One tag of a listed image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTag {
    /// The tag, `repo:tag`.
    pub tag: String,
    /// The image ID.
    pub id: String,
    /// Size in bytes.
    pub size: i64,
    /// Creation time, seconds since the epoch.
    pub created: i64,
}

impl Engine {
    /// The image `reference` (a tag, a full or short ID, a digest: whatever the engine
    /// resolves), or `None` when it is not here.
    pub async fn image_info(&self, reference: &str) -> Result<Option<ImageInfo>> {
        match self.docker().inspect_image(reference).await {
            Ok(image) => Ok(Some(ImageInfo {
                id: image.id.unwrap_or_default(),
                labels: image
                    .config
                    .and_then(|c| c.labels)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                size: image.size,
                created: image.created,
                tags: image.repo_tags.unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).context(|| format!("inspecting image {reference}")),
        }
    }

    /// Every tag under the repositories matching `pattern` (e.g. `ds01-1000/*`), in one call.
    pub async fn image_tags(&self, pattern: &str) -> Result<Vec<ImageTag>> {
        let filters = HashMap::from([("reference".to_owned(), vec![pattern.to_owned()])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = self
            .docker()
            .list_images(Some(options))
            .await
            .context(|| format!("listing images {pattern}"))?;
        let mut tags = Vec::new();
        for image in images {
            for tag in image.repo_tags {
                tags.push(ImageTag {
                    tag,
                    id: image.id.clone(),
                    size: image.size,
                    created: image.created,
                });
            }
        }
        tags.sort_by(|a, b| a.tag.cmp(&b.tag));
        Ok(tags)
    }

    /// Removes the tag `reference` (`force`: also while containers use it; they keep running
    /// on the untagged image). `Ok(false)` when it was not there.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<bool> {
        let options = RemoveImageOptionsBuilder::default().force(force).build();
        match self
            .docker()
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) if crate::error::is_conflict(&e) => Err(EngineError::ImageInUse {
                image: reference.to_owned(),
                containers: "(a container)".into(),
            }),
            Err(e) => Err(e).context(|| format!("deleting image {reference}")),
        }
    }

    /// Whether the engine answers, with its version, its storage driver, its cgroup
    /// driver and its root directory (for `doctor`).
    pub async fn info(&self) -> Result<EngineInfo> {
        let version = self
            .docker()
            .version()
            .await
            .context(|| "asking the engine's version".to_owned())?;
        let info = self
            .docker()
            .info()
            .await
            .context(|| "asking the engine's configuration".to_owned())?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: self.api_version(),
            storage_driver: info.driver.unwrap_or_default(),
            backing_filesystem: info
                .driver_status
                .unwrap_or_default()
                .into_iter()
                .find(|pair| pair.first().map(String::as_str) == Some("Backing Filesystem"))
                .and_then(|pair| pair.get(1).cloned())
                .unwrap_or_default(),
            cgroup_driver: info
                .cgroup_driver
                .map(|d| d.to_string())
                .unwrap_or_default(),
            root_dir: info.docker_root_dir.unwrap_or_default(),
        })
    }
}

/// What `doctor` reports of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    /// The engine's version.
    pub version: String,
    /// The negotiated API version.
    pub api_version: String,
    /// `overlay2`, `fuse-overlayfs`, ...
    pub storage_driver: String,
    /// The file system under the driver's data (`xfs`, `extfs`, ...), where it says.
    pub backing_filesystem: String,
    /// `systemd` or `cgroupfs`.
    pub cgroup_driver: String,
    /// Where the engine keeps its data.
    pub root_dir: String,
}
