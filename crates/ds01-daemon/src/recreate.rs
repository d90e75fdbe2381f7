//! `container recreate`: the container made again from the create request stored in its
//! `ds01.create_options` label, so an `image update` reaches it without retyping options.
//! The request goes through the same checks as a new one (policy, mounts, image owner,
//! GPU allocation), so a label can ask for nothing its owner could not ask for themselves.

use ds01_api::{ApiError, ContainerCreate, ContainerName, CreatedContainer};
use ds01_dockerfile::ImageRef;
use ds01_engine::labels;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::stream::Reporter;
use crate::Daemon;

impl Daemon {
    /// `POST /v1/containers/{name}/recreate`: stops and removes the container (its home
    /// volume and workspace stay), then creates it again from its image reference as it
    /// resolves now, with the stored options, started if it was running.
    pub async fn recreate(
        &self,
        acting: &Acting,
        name: &ContainerName,
        reporter: Reporter,
    ) -> Result<CreatedContainer, ApiError> {
        let who = &acting.who;
        let key = name.docker_name(who.uid());
        // One section from the removal to the new container: the slot the old one frees is
        // its own, not a parallel create's.
        let section = self.user_locks.enter(who.uid()).await;
        let found = self
            .engine
            .owned_container(who, name)
            .await
            .map_err(from_engine)?;
        let running = found
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false);
        let stored = found
            .config
            .as_ref()
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(labels::CREATE_OPTIONS))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key} keeps no create options (it was made by another tool or an older ds01); remove it and create it again"
                ))
                .subject(name.as_str())
            })?;
        let mut request: ContainerCreate = serde_json::from_str(stored).map_err(|e| {
            ApiError::invalid(format!(
                "the stored create options of {key} do not read: {e}"
            ))
        })?;
        // The name is the container's own, never what a label says.
        request.name = name.clone();
        request.start = running;
        request.wait = false;
        // Resolved before anything is removed: an image that has gone fails here.
        self.choose_image(acting, &request).await?;
        reporter.report(ds01_api::Progress::Stage(format!(
            "removing {key} (its home volume and workspace stay)"
        )));
        self.engine
            .remove_container(who, name, true)
            .await
            .map_err(from_engine)?;
        self.gpus.released();
        self.event(acting, &key, "remove", "removed to be recreated".into());
        self.create_within(acting, request, reporter, Some(section))
            .await
            .map_err(|mut e| {
                e.message = format!(
                    "{key} was removed but could not be made again (its home volume and workspace are kept): {}",
                    e.message
                );
                e
            })
    }

    /// The display names of the acting user's containers made from `reference`
    /// (`ds01-<uid>/NAME:latest`), as their labels record it.
    pub(crate) async fn containers_from(
        &self,
        acting: &Acting,
        reference: &str,
    ) -> Result<Vec<String>, ApiError> {
        let all = self
            .engine
            .labelled_containers()
            .await
            .map_err(from_engine)?;
        Ok(all
            .into_iter()
            .filter(|c| c.uid == acting.who.uid())
            .filter(|c| {
                c.labels
                    .get(labels::CUSTOM_IMAGE)
                    .and_then(|i| i.parse::<ImageRef>().ok())
                    .is_some_and(|i| i.tagged_or_latest().to_string() == reference)
            })
            .filter_map(|c| ContainerName::from_docker_name(&c.docker_name))
            .map(|n| n.to_string())
            .collect())
    }
}
