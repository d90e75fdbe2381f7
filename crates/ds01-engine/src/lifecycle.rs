//! Everyday operations on a user's containers. Ownership is decided by DS01's labels and
//! name: a user can only act on containers labelled with their login.

use crate::client::Engine;
use crate::error::{is_not_found, Context, EngineError, Result};
use crate::identity::Identity;
use crate::labels;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    StopContainerOptionsBuilder,
};
use ds01_api::ContainerName;
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

pub use ds01_api::ContainerInfo;

/// A container with what its labels say, for accounting across users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledContainer {
    /// `<name>._.<uid>`.
    pub docker_name: String,
    /// The container ID.
    pub id: String,
    /// The owner's UID, from the name.
    pub uid: u32,
    /// Whether it runs, paused or restarting included: a paused container's processes
    /// still hold their memory and devices.
    pub running: bool,
    /// Whether it is paused (its processes frozen).
    pub paused: bool,
    /// Its labels.
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Engine {
    /// Lists containers, filtered by label on the engine's side.
    pub async fn list_containers(&self, scope: Scope<'_>) -> Result<Vec<ContainerInfo>> {
        // The engine matches names as regular expressions; the exact check follows below.
        let (pattern, only_uid) = match scope {
            Scope::User(who) => (format!(r"\._\.{}$", who.uid()), Some(who.uid())),
            Scope::AllUsers => (r"\._\.[0-9]+$".to_owned(), None),
        };
        let found = self.containers_named(&pattern).await?;
        let mut list: Vec<ContainerInfo> = found
            .into_iter()
            .filter_map(|c| {
                let docker_name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned();
                let get = |key| labels::get(&c.labels, key).unwrap_or("").to_owned();
                let uid = owner_uid(&docker_name)?;
                if only_uid.is_some_and(|wanted| wanted != uid) {
                    return None;
                }
                // DS01's current scripts write only `ds01.*` labels.
                let user = labels::get(&c.labels, labels::USER)
                    .or_else(|| labels::get(&c.labels, labels::DS01_USER))
                    .unwrap_or("")
                    .to_owned();
                Some(ContainerInfo {
                    name: ContainerName::from_docker_name(&docker_name)
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| get(labels::NAME)),
                    id: c.id.unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    user,
                    uid,
                    framework: get(labels::FRAMEWORK),
                    // ds01's and DS01's slots ("0", "1.2") read better than MLC's request.
                    gpus: labels::get(&c.labels, ds01_labels::gpu::SLOTS)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .unwrap_or_else(|| get(ds01_labels::gpu::MLC_GPUS)),
                    workspace: get(labels::WORK_MOUNT),
                    stops_at: None,
                    docker_name,
                })
            })
            .collect();
        list.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
        Ok(list)
    }

    /// Every container, running or not, whose name matches `pattern` (the engine reads it as
    /// a regular expression), in one engine call.
    async fn containers_named(
        &self,
        pattern: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>> {
        let filters = HashMap::from([("name".to_owned(), vec![pattern.to_owned()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.docker()
            .list_containers(Some(options))
            .await
            .context(|| "listing containers".to_owned())
    }

    /// Every `<name>._.<uid>` container of every user with its state and labels, in one
    /// engine call: what GPU holdings and usage counts are computed from.
    pub async fn labelled_containers(&self) -> Result<Vec<LabelledContainer>> {
        let found = self.containers_named(r"\._\.[0-9]+$").await?;
        Ok(found
            .into_iter()
            .filter_map(|c| {
                let docker_name = c
                    .names?
                    .into_iter()
                    .next()?
                    .trim_start_matches('/')
                    .to_owned();
                let state = c.state.map(|s| s.to_string()).unwrap_or_default();
                Some(LabelledContainer {
                    id: c.id.unwrap_or_default(),
                    uid: owner_uid(&docker_name)?,
                    running: matches!(state.as_str(), "running" | "paused" | "restarting"),
                    paused: state == "paused",
                    labels: c.labels.unwrap_or_default().into_iter().collect(),
                    docker_name,
                })
            })
            .collect())
    }

    /// Inspects `who`'s container `name`: the one named `<name>._.<uid>`, so another user's
    /// container cannot even be named.
    pub async fn owned_container(
        &self,
        who: &Identity,
        name: &ContainerName,
    ) -> Result<ContainerInspectResponse> {
        let docker_name = name.docker_name(who.uid());
        let found = match self.docker().inspect_container(&docker_name, None).await {
            Ok(found) => found,
            Err(e) if is_not_found(&e) => {
                return Err(EngineError::ContainerNotFound { name: docker_name })
            }
            Err(e) => return Err(e).context(|| format!("inspecting {docker_name}")),
        };
        // The engine found exactly `<name>._.<uid>`: the name is the ownership.
        Ok(found)
    }

    /// Starts the container (a no-op when it runs already).
    pub async fn start_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        if is_running(&found) {
            return Ok(());
        }
        let id = found.id.unwrap_or_default();
        self.docker()
            .start_container(&id, None)
            .await
            .context(|| format!("starting {}", name.docker_name(who.uid())))
    }

    /// Stops the container, giving its processes 10 s before they are killed.
    pub async fn stop_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        self.stop_container_within(who, name, 10).await
    }

    /// Stops the container: SIGTERM, then SIGKILL after `grace_secs`.
    pub async fn stop_container_within(
        &self,
        who: &Identity,
        name: &ContainerName,
        grace_secs: u32,
    ) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        let id = found.id.unwrap_or_default();
        let options = StopContainerOptionsBuilder::default()
            .t(grace_secs.min(3600) as i32)
            .build();
        self.docker()
            .stop_container(&id, Some(options))
            .await
            .context(|| format!("stopping {}", name.docker_name(who.uid())))
    }

    /// Removes the container (stopping it first with `force`). Its per-container image (the
    /// commit flow's `<repo>:<name>._.<uid>`) goes too, unless another container uses it; a
    /// baked container's own tag (same shape, on the user's build) is untagged; shared
    /// images such as the user's `ds01-<uid>/<name>:latest` are never removed here.
    /// Returns the image tags that were removed.
    pub async fn remove_container(
        &self,
        who: &Identity,
        name: &ContainerName,
        force: bool,
    ) -> Result<Vec<String>> {
        let found = self.owned_container(who, name).await?;
        let docker_name = name.docker_name(who.uid());
        if is_running(&found) && !force {
            return Err(EngineError::Running { name: docker_name });
        }
        let id = found.id.clone().unwrap_or_default();
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        self.docker()
            .remove_container(&id, Some(options))
            .await
            .context(|| format!("removing {docker_name}"))?;

        let image_ref = found.config.and_then(|c| c.image).unwrap_or_default();
        let image_id = found.image.unwrap_or_default();
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

pub(crate) fn is_running(found: &ContainerInspectResponse) -> bool {
    found
        .state
        .as_ref()
        .and_then(|s| s.running)
        .unwrap_or(false)
}

/// The owner's UID of a container named `<name>._.<uid>`.
pub(crate) fn owner_uid(docker_name: &str) -> Option<u32> {
    ds01_dockerfile::owner::split_owned_name(docker_name).map(|(_, uid)| uid)
}
