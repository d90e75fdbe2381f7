//! What users' containers and images take on the engine's disk: the bytes a container wrote
//! into its own layer, and the size of a user's images, each in one engine call.

use std::collections::{HashMap, HashSet};

use bollard::query_parameters::{ListContainersOptionsBuilder, ListImagesOptionsBuilder};

use ds01_dockerfile::owner::{OwnedImage, OwnedName};
use ds01_dockerfile::ImageRef;

use crate::client::Engine;
use crate::error::{Context, Result};

impl Engine {
    /// The bytes each of the containers `ids` wrote into its own layer. Where the engine
    /// names an upper directory this process can read (overlay2, fuse-overlayfs; ds01d runs
    /// as root next to the engine), its files' allocated blocks are summed here: asking the
    /// engine (`size=true`) makes it also total the image's whole root file system, seconds
    /// per container on fuse-overlayfs. Otherwise the engine's `SizeRw`.
    pub async fn layer_sizes(&self, ids: &[String]) -> Result<HashMap<String, u64>> {
        let mut sizes = HashMap::new();
        let mut ask_engine = Vec::new();
        for id in ids {
            let found = match self.docker().inspect_container(id, None).await {
                Ok(found) => found,
                Err(e) if crate::error::is_not_found(&e) => continue,
                Err(e) => return Err(e).context(|| format!("inspecting container {id}")),
            };
            match crate::upper::upper_dir(&found) {
                Some(dir) => {
                    let used = tokio::task::spawn_blocking(move || allocated_bytes(&dir))
                        .await
                        .ok()
                        .and_then(|r| r.ok());
                    match used {
                        Some(used) => {
                            sizes.insert(id.clone(), used);
                        }
                        None => ask_engine.push(id.clone()),
                    }
                }
                None => ask_engine.push(id.clone()),
            }
        }
        sizes.extend(self.engine_layer_sizes(&ask_engine).await?);
        Ok(sizes)
    }

    /// The engine's `SizeRw` for `ids`, in one call.
    async fn engine_layer_sizes(&self, ids: &[String]) -> Result<HashMap<String, u64>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let filters = HashMap::from([("id".to_owned(), ids.to_vec())]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .size(true)
            .filters(&filters)
            .build();
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .context(|| "measuring the containers' layers".to_owned())?;
        Ok(found
            .into_iter()
            .filter_map(|c| {
                let id = c.id?;
                // Only an exact ID asked for: the engine's filter also matches prefixes.
                ids.contains(&id)
                    .then(|| (id, c.size_rw.unwrap_or(0).max(0) as u64))
            })
            .collect())
    }

    /// The storage of user `uid`'s own images: their repository `ds01-<uid>/…` and the
    /// per-container tags `…:<name>._.<uid>` in any repository. Each distinct image counts
    /// its whole size once (two tags of one image count once), base layers included: an
    /// engine of API 1.41 does not say which layers images share.
    pub async fn image_storage(&self, uid: u32) -> Result<u64> {
        let options = ListImagesOptionsBuilder::default().build();
        let images = self
            .docker()
            .list_images(Some(options))
            .await
            .context(|| "listing images".to_owned())?;
        let mut seen = HashSet::new();
        let mut total = 0u64;
        for image in images {
            let mine = image.repo_tags.iter().any(|t| {
                t.parse::<ImageRef>().is_ok_and(|r| {
                    OwnedImage::owner(&r) == Some(uid)
                        || OwnedName::of_tag(&r).is_some_and(|o| o.uid() == uid)
                })
            });
            if mine && seen.insert(image.id.clone()) {
                total += image.size.max(0) as u64;
            }
        }
        Ok(total)
    }
}

/// The disk space the files under `dir` take: allocated blocks, so a sparse file counts
/// what it really holds, and a hard link once.
fn allocated_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = HashSet::new();
    let mut total = 0u64;
    crate::upper::walk(dir, |_, _, meta| {
        if meta.nlink() < 2 || seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        Ok(())
    })?;
    Ok(total)
}
