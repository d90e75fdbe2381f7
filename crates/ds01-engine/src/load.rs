//! Stacking a layer on a local image through the engine's image-load endpoint: the image
//! configuration is the base's own, with the layer and a history entry appended, and the
//! tarball carries that configuration and the one new layer only. The engine does not read
//! a layer it already holds, so the base's layers are named in the manifest but never sent.
//!
//! The base's configuration is read from the engine's image store (ds01d runs as root next
//! to the engine) and trusted only when its SHA-256 is the image ID. Where the store is
//! elsewhere or laid out otherwise (a remote engine, the containerd image store), nothing is
//! stacked and the caller commits through the engine instead.

use crate::client::Engine;
use crate::error::{Context, Result};
use crate::layer::Layer;
use bollard::query_parameters::ImportImageOptionsBuilder;
use ds01_dockerfile::ImageRef;
use futures_util::TryStreamExt;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;

/// What the new image says about itself beyond its base.
pub(crate) struct Stacked<'a> {
    /// The image's labels, whole (they replace the base's).
    pub labels: &'a HashMap<String, String>,
    /// The history entry's `created_by`.
    pub created_by: &'a str,
    /// The history entry's comment.
    pub comment: &'a str,
}

impl Engine {
    /// Loads `layer` on top of the image `base_id` as `target`; returns the new image's ID,
    /// or `None` when this engine's store cannot be read (nothing was changed then).
    pub(crate) async fn stack_layer(
        &self,
        base_id: &str,
        layer: &Layer,
        what: &Stacked<'_>,
        target: &ImageRef,
    ) -> Result<Option<String>> {
        let Some(base_config) = self.image_config(base_id).await else {
            return Ok(None);
        };
        let now = crate::create::now_utc();
        let Some(config) = stacked_config(&base_config, &layer.diff_id, what, &now) else {
            tracing::debug!("the configuration of {base_id} is not one ds01 can extend");
            return Ok(None);
        };
        let config_hex = hex::encode(Sha256::digest(&config));
        let tarball = load_tarball(&config, &config_hex, layer, target).map_err(|e| {
            crate::error::EngineError::InvalidOption(format!("writing an image: {e}"))
        })?;
        let options = ImportImageOptionsBuilder::default().quiet(true).build();
        self.docker()
            .import_image(options, bollard::body_full(tarball.into()), None)
            .try_collect::<Vec<_>>()
            .await
            .context(|| format!("committing the setup container's writes to {target}"))?;
        Ok(Some(format!("sha256:{config_hex}")))
    }

    /// The raw configuration of a local image, when the engine keeps it where this process
    /// can read it and its digest proves it is that image's.
    async fn image_config(&self, image_id: &str) -> Option<Vec<u8>> {
        let hex_id = image_id.strip_prefix("sha256:")?;
        if hex_id.len() != 64 || !hex_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let dir = self.image_config_dir().await?;
        let bytes = tokio::fs::read(dir.join(hex_id)).await.ok()?;
        (hex::encode(Sha256::digest(&bytes)) == hex_id).then_some(bytes)
    }

    /// `<engine root>/image/<driver>/imagedb/content/sha256`, looked up once.
    async fn image_config_dir(&self) -> Option<PathBuf> {
        if !self.storage_access() {
            return None;
        }
        // An engine that did not answer is asked again next time; its answer is kept.
        let found = self
            .image_store
            .get_or_try_init(|| async {
                let info = self.docker().info().await?;
                let dir = info
                    .docker_root_dir
                    .zip(info.driver)
                    .map(|(root, driver)| {
                        PathBuf::from(root)
                            .join("image")
                            .join(driver)
                            .join("imagedb/content/sha256")
                    })
                    .filter(|dir| dir.is_dir());
                Ok::<_, bollard::errors::Error>(dir)
            })
            .await;
        found.ok().cloned().flatten()
    }
}

/// The base's configuration with the layer appended. `None` when it is not the v1 image
/// configuration this expects.
fn stacked_config(base: &[u8], diff_id: &str, what: &Stacked<'_>, now: &str) -> Option<Vec<u8>> {
    let mut image: Map<String, Value> = serde_json::from_slice(base).ok()?;
    let rootfs = image.get_mut("rootfs")?.as_object_mut()?;
    if rootfs.get("type")?.as_str()? != "layers" {
        return None;
    }
    rootfs
        .get_mut("diff_ids")?
        .as_array_mut()?
        .push(json!(diff_id));
    let history = image
        .entry("history")
        .or_insert_with(|| json!([]))
        .as_array_mut()?;
    history.push(json!({
        "created": now,
        "created_by": what.created_by,
        "comment": what.comment,
    }));
    let config = image
        .entry("config")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    config.insert("Labels".into(), json!(what.labels));
    // As a commit does: an image with nothing to run gets a shell.
    let runs_something = config
        .get("Cmd")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    if !runs_something {
        config.insert("Cmd".into(), json!(["/bin/bash"]));
    }
    image.insert("created".into(), json!(now));
    // These describe the container the base was last built in, not this image.
    image.remove("container");
    image.remove("container_config");
    serde_json::to_vec(&image).ok()
}

/// A `docker save`-format tarball holding the configuration and the new layer only.
fn load_tarball(
    config: &[u8],
    config_hex: &str,
    layer: &Layer,
    target: &ImageRef,
) -> std::io::Result<Vec<u8>> {
    let image: Value = serde_json::from_slice(config)?;
    let layers: Vec<String> = image["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|d| format!("{}/layer.tar", d.trim_start_matches("sha256:")))
        .collect();
    let new_layer = layers.last().cloned().unwrap_or_default();
    let config_name = format!("{config_hex}.json");
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [target.to_string()],
        "Layers": layers,
    }]);
    let mut tarball = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tarball.append_data(&mut header, name, data)
    };
    add(&config_name, config)?;
    add(&new_layer, &layer.tar)?;
    add("manifest.json", &serde_json::to_vec(&manifest)?)?;
    tarball.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(labels: &HashMap<String, String>) -> Stacked<'_> {
        Stacked {
            labels,
            created_by: "ds01: user h_baker (1722830498:1722830498)",
            comment: "ds01: user account added",
        }
    }

    #[test]
    fn the_base_configuration_gains_the_layer_history_and_labels() {
        let base = br#"{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
            "container":"abc","container_config":{"Cmd":["/bin/sh"]},
            "config":{"Env":["PATH=/usr/bin"],"Cmd":null,"Labels":{"ds01.test":"fixture"},"Healthcheck":{"Test":["NONE"]}},
            "rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created":"2026-01-01T00:00:00Z","created_by":"import"}]}"#;
        let labels = HashMap::from([("aime.mlc.DS01_USER_ID".to_owned(), "1722830498".to_owned())]);
        let out =
            stacked_config(base, "sha256:bb", &what(&labels), "2026-11-29T00:00:00Z").unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["rootfs"]["diff_ids"], json!(["sha256:aa", "sha256:bb"]));
        assert_eq!(out["history"][1]["comment"], "ds01: user account added");
        assert_eq!(out["config"]["Labels"], json!(labels));
        assert_eq!(out["config"]["Cmd"], json!(["/bin/bash"]));
        // What ds01 does not touch stays the base's.
        assert_eq!(out["config"]["Env"], json!(["PATH=/usr/bin"]));
        assert_eq!(out["config"]["Healthcheck"], json!({"Test": ["NONE"]}));
        assert_eq!(out["architecture"], "amd64");
        assert_eq!(out["created"], "2026-11-29T00:00:00Z");
        assert!(out.get("container").is_none() && out.get("container_config").is_none());
    }

    #[test]
    fn a_configuration_of_another_shape_is_not_extended() {
        let labels = HashMap::new();
        for base in [
            &b"not json"[..],
            br#"{"rootfs":{"type":"other","diff_ids":[]}}"#,
            b"{}",
        ] {
            assert!(stacked_config(base, "sha256:bb", &what(&labels), "now").is_none());
        }
    }

    #[test]
    fn the_tarball_names_every_layer_but_holds_only_the_new_one() {
        let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:aa","sha256:bb"]}}"#;
        let layer = Layer {
            tar: b"layer bytes".to_vec(),
            diff_id: "sha256:bb".into(),
        };
        let target: ImageRef = "ds01-fixture/debian11:c._.1722830498".parse().unwrap();
        let tarball = load_tarball(config, "cc", &layer, &target).unwrap();
        let mut archive = tar::Archive::new(tarball.as_slice());
        let mut files = HashMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut data = String::new();
            std::io::Read::read_to_string(&mut entry, &mut data).unwrap();
            files.insert(entry.path().unwrap().display().to_string(), data);
        }
        assert_eq!(files["bb/layer.tar"], "layer bytes");
        assert!(!files.contains_key("aa/layer.tar"));
        let manifest: Value = serde_json::from_str(&files["manifest.json"]).unwrap();
        assert_eq!(
            manifest,
            json!([{"Config": "cc.json", "RepoTags": ["ds01-fixture/debian11:c._.1722830498"],
                    "Layers": ["aa/layer.tar", "bb/layer.tar"]}])
        );
    }
}
