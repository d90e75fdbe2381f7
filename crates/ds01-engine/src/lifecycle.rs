//! Everyday operations on a user's containers. Ownership is decided by the name alone,
//! `<name>._.<uid>`, which only ds01d (or an admin) gives: labels, which any image can
//! carry, never decide.

use crate::client::Engine;
use crate::error::{is_not_found, Context, EngineError, Result};
use crate::labels;
use crate::view::ContainerView;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    StopContainerOptionsBuilder,
};
use ds01_api::OwnedContainer;
use ds01_dockerfile::owner::OwnedName;
use ds01_dockerfile::Identity;
use ds01_dockerfile::ImageRef;
use std::collections::HashMap;

/// Whose containers to list.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One user's: those named `<name>._.<uid>` with the user's UID. The name, which only
    /// ds01d (or an admin) gives, decides; labels, which an image can carry, never do.
    User(&'a Identity),
    /// Every container named `<name>._.<uid>` on the host (DS01's, MLC's and ds01's).
    AllUsers,
}

impl Engine {
    /// Lists containers, sorted by owner and name. The engine filters by name; the exact
    /// check of the form and the owner follows here.
    pub async fn list_containers(&self, scope: Scope<'_>) -> Result<Vec<ContainerView>> {
        // The engine matches names as regular expressions.
        let (pattern, only_uid) = match scope {
            Scope::User(who) => (OwnedName::filter(Some(who.uid())), Some(who.uid())),
            Scope::AllUsers => (OwnedName::filter(None), None),
        };
        let filters = HashMap::from([("name".to_owned(), vec![pattern])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .context(|| "listing containers".to_owned())?;
        let mut list: Vec<ContainerView> = found
            .into_iter()
            .filter_map(ContainerView::from_summary)
            .filter(|c| only_uid.is_none_or(|wanted| wanted == c.uid()))
            .collect();
        list.sort_by(|a, b| (a.uid(), a.name.name()).cmp(&(b.uid(), b.name.name())));
        Ok(list)
    }

    /// The user's container, found by its Docker name `<name>._.<uid>` alone, so another
    /// user's container cannot even be named.
    pub async fn owned_container(&self, container: &OwnedContainer) -> Result<ContainerView> {
        let found = self.inspect_owned(container).await?;
        Ok(ContainerView::from_inspect(
            OwnedName::new(container.name().as_str(), container.uid()),
            &found,
        ))
    }

    /// The engine's whole inspect of the user's container, for the engine's own flows.
    pub(crate) async fn inspect_owned(
        &self,
        container: &OwnedContainer,
    ) -> Result<ContainerInspectResponse> {
        match self.docker().inspect_container(container, None).await {
            // The engine found exactly `<name>._.<uid>`: the name is the ownership.
            Ok(found) => Ok(found),
            Err(e) if is_not_found(&e) => Err(EngineError::ContainerNotFound {
                name: container.clone(),
            }),
            Err(e) => Err(e).context(|| format!("inspecting {container}")),
        }
    }

    /// Starts the container (a no-op when it runs already).
    pub async fn start_container(&self, container: &OwnedContainer) -> Result<()> {
        let found = self.owned_container(container).await?;
        if found.state.is_live() {
            return Ok(());
        }
        self.docker()
            .start_container(&found.id, None)
            .await
            .context(|| format!("starting {}", container))
    }

    /// Stops the container, giving its processes 10 s before they are killed.
    pub async fn stop_container(&self, container: &OwnedContainer) -> Result<()> {
        self.stop_container_within(container, 10).await
    }

    /// Stops the container: SIGTERM, then SIGKILL after `grace_secs`.
    pub async fn stop_container_within(
        &self,
        container: &OwnedContainer,
        grace_secs: u32,
    ) -> Result<()> {
        let found = self.owned_container(container).await?;
        let options = StopContainerOptionsBuilder::default()
            .t(grace_secs.min(3600) as i32)
            .build();
        self.docker()
            .stop_container(&found.id, Some(options))
            .await
            .context(|| format!("stopping {}", container))
    }

    /// Removes the container (stopping it first with `force`). Its per-container image (the
    /// commit flow's `<repo>:<name>._.<uid>`) goes too, unless another container uses it; a
    /// baked container's own tag (same shape, on the user's build) is untagged; shared
    /// images such as the user's `ds01-<uid>/<name>:latest` are never removed here.
    /// Returns the image tags that were removed.
    pub async fn remove_container(
        &self,
        container: &OwnedContainer,
        force: bool,
    ) -> Result<Vec<String>> {
        let found = self.owned_container(container).await?;
        let docker_name = container;
        if found.state.is_live() && !force {
            return Err(EngineError::Running {
                name: docker_name.clone(),
            });
        }
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        self.docker()
            .remove_container(&found.id, Some(options))
            .await
            .context(|| format!("removing {docker_name}"))?;

        let image_ref = found.image;
        let image_id = found.image_id;
        let per_container = image_ref
            .parse::<ImageRef>()
            .ok()
            .is_some_and(|r| r.tag() == Some(docker_name.as_str()));
        if !per_container || !self.may_untag(&image_id).await? {
            return Ok(vec![]);
        }
        // By tag, without force: the engine only untags when other tags still point at it.
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker()
            .remove_image(&image_ref, Some(options), None)
            .await
        {
            Ok(_) => Ok(vec![image_ref]),
            Err(e) if is_not_found(&e) => Ok(vec![]),
            Err(e) => Err(e).context(|| format!("removing image {image_ref}")),
        }
    }

    /// Whether a removed container's own tag may go: always when the image was a baked
    /// container's (its other tags keep the image: the user's build stays), else (a
    /// committed per-container image) only when no other container runs from it.
    async fn may_untag(&self, image_id: &str) -> Result<bool> {
        let image = match self.docker().inspect_image(image_id).await {
            Ok(image) => image,
            Err(e) if is_not_found(&e) => return Ok(false),
            Err(e) => return Err(e).context(|| format!("inspecting image {image_id}")),
        };
        let image_labels = image.config.as_ref().and_then(|c| c.labels.clone());
        let committed =
            labels::get(&image_labels, labels::ROLE) == Some(labels::ROLE_COMMITTED_IMAGE);
        let other_tags = image.repo_tags.as_ref().is_some_and(|t| t.len() > 1);
        if other_tags && !committed {
            return Ok(true);
        }
        Ok(!self.image_in_use(image_id).await?)
    }

    /// Whether any container (of any user) was created from the image.
    pub async fn image_in_use(&self, image_id: &str) -> Result<bool> {
        Ok(!self.containers_using(image_id).await?.is_empty())
    }

    /// The Docker names of the containers created from the image.
    pub async fn containers_using(&self, image: &str) -> Result<Vec<String>> {
        let filters = HashMap::from([("ancestor".to_owned(), vec![image.to_owned()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .context(|| format!("listing containers of image {image}"))?;
        Ok(found
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect())
    }
}
