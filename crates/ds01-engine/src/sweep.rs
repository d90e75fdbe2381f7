//! Everything that carries one label, found and removed: how a caller that labels all it
//! makes (the test harness marks each test's objects with `ds01.test=<test>`) leaves the
//! engine as it found it, even when it died half-way and holds no IDs.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};

use crate::client::Engine;
use crate::error::{is_not_found, Context, Result};

/// The objects that carry a label, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labelled {
    /// Container IDs, running or not.
    pub containers: Vec<String>,
    /// Image IDs, intermediate images included, newest first.
    pub images: Vec<String>,
    /// Network IDs.
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
}

impl Engine {
    /// Every container, image, network and volume labelled `key=value`, in one call per
    /// kind.
    pub async fn labelled(&self, key: &str, value: &str) -> Result<Labelled> {
        let filters = HashMap::from([("label".to_owned(), vec![format!("{key}={value}")])]);
        let what = || format!("listing what carries {key}={value}");
        let docker = self.docker();
        let containers = docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context(what)?;
        // The engine lists images newest first, so children come before their parents,
        // which the engine will not remove while a child stands on them.
        let images = docker
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context(what)?;
        let networks = docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context(what)?;
        let volumes = docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .context(what)?;
        Ok(Labelled {
            containers: containers.into_iter().filter_map(|c| c.id).collect(),
            images: images.into_iter().map(|i| i.id).collect(),
            networks: networks.into_iter().filter_map(|n| n.id).collect(),
            volumes: volumes
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name)
                .collect(),
        })
    }

    /// Removes everything labelled `key=value`: containers first (forced, with their
    /// anonymous volumes), as they hold networks, volumes and images; then those.
    /// Every object is tried even when one fails, so one stuck object leaves no others;
    /// the first failure is returned after that. An object already gone is no failure:
    /// two sweeps of one label may race.
    ///
    /// ```no_run
    /// # async fn demo(engine: &ds01_engine::Engine) -> ds01_engine::Result<()> {
    /// engine.remove_labelled("ds01.test", "create-flows-4242").await?;
    /// assert_eq!(
    ///     engine.labelled("ds01.test", "create-flows-4242").await?,
    ///     ds01_engine::Labelled::default()
    /// );
    /// # Ok(()) }
    /// ```
    pub async fn remove_labelled(&self, key: &str, value: &str) -> Result<()> {
        let found = self.labelled(key, value).await?;
        let docker = self.docker();
        let mut first_failure = Ok(());
        let mut outcome =
            |result: std::result::Result<(), bollard::errors::Error>, what| match result {
                Err(e) if !is_not_found(&e) && first_failure.is_ok() => {
                    first_failure = Err(e).context(|| format!("removing {what}"));
                }
                _ => {}
            };
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        for id in &found.containers {
            let result = docker.remove_container(id, Some(force.clone())).await;
            outcome(result, format!("container {id}"));
        }
        for id in &found.networks {
            outcome(docker.remove_network(id).await, format!("network {id}"));
        }
        let plain = RemoveVolumeOptionsBuilder::default().build();
        for name in &found.volumes {
            let result = docker.remove_volume(name, Some(plain.clone())).await;
            outcome(result, format!("volume {name}"));
        }
        // Forced: the engine removes an image named by its ID, not a tag, only so when
        // more than one tag points at it.
        let force = RemoveImageOptionsBuilder::default().force(true).build();
        for id in &found.images {
            let result = docker.remove_image(id, Some(force.clone()), None).await;
            outcome(result.map(drop), format!("image {id}"));
        }
        first_failure
    }
}
