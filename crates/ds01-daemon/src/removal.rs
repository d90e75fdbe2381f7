//! Removing containers: one by name, or all of the user's stopped ones. The home volume is
//! kept unless asked for, so a container of the same name finds the user's files again;
//! a dry run answers with what would go.

use ds01_api::{ApiError, ContainerName, RemoveQuery, Removed};
use ds01_dockerfile::ImageRef;
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

impl Daemon {
    /// `DELETE /v1/containers/{name}`.
    pub async fn remove(
        &self,
        acting: &Acting,
        name: &ContainerName,
        query: RemoveQuery,
    ) -> Result<Removed, ApiError> {
        let who = &acting.who;
        let docker_name = name.docker_name(who.uid());
        if query.dry_run {
            return self.removal_plan(acting, name, query.volumes).await;
        }
        let removed_images = self
            .engine
            .remove_container(who, name, query.force)
            .await
            .map_err(from_engine)?;
        self.gpus.released();
        crate::binds::forget(&crate::binds::points(&self.state_dir, &docker_name));
        self.event(
            acting,
            &docker_name,
            "remove",
            "removed by its owner".into(),
        );
        let (removed_volumes, kept_volumes) = if query.volumes {
            let gone = self
                .engine
                .remove_home_volume(who, name)
                .await
                .map_err(from_engine)?;
            (gone.into_iter().collect(), Vec::new())
        } else {
            let kept = self
                .engine
                .home_volume(who, name)
                .await
                .map_err(from_engine)?;
            (Vec::new(), kept.into_iter().collect())
        };
        Ok(Removed {
            name: docker_name,
            removed_images,
            removed_volumes,
            kept_volumes,
        })
    }

    /// What removing `name` would remove, removing nothing. The container's own image or
    /// tag is listed when it has one (a committed image another container uses stays).
    async fn removal_plan(
        &self,
        acting: &Acting,
        name: &ContainerName,
        volumes: bool,
    ) -> Result<Removed, ApiError> {
        let who = &acting.who;
        let docker_name = name.docker_name(who.uid());
        let found = self
            .engine
            .owned_container(who, name)
            .await
            .map_err(from_engine)?;
        let image = found.config.and_then(|c| c.image).unwrap_or_default();
        let own_image = image
            .parse::<ImageRef>()
            .ok()
            .is_some_and(|r| r.tag() == Some(docker_name.as_str()));
        let home = self
            .engine
            .home_volume(who, name)
            .await
            .map_err(from_engine)?;
        let (removed_volumes, kept_volumes) = match home {
            Some(v) if volumes => (vec![v], Vec::new()),
            Some(v) => (Vec::new(), vec![v]),
            None => (Vec::new(), Vec::new()),
        };
        Ok(Removed {
            name: docker_name,
            removed_images: if own_image { vec![image] } else { Vec::new() },
            removed_volumes,
            kept_volumes,
        })
    }

    /// `DELETE /v1/containers?stopped=true`: every one of the user's containers that is
    /// not running (nor paused); running ones are left alone.
    pub async fn remove_stopped(
        &self,
        acting: &Acting,
        query: RemoveQuery,
    ) -> Result<Vec<Removed>, ApiError> {
        let mine = self
            .engine
            .list_containers(Scope::User(&acting.who))
            .await
            .map_err(from_engine)?;
        let query = RemoveQuery {
            force: false,
            ..query
        };
        let mut removed = Vec::new();
        for c in mine {
            if matches!(c.state.as_str(), "running" | "paused" | "restarting") {
                continue;
            }
            let Ok(name) = c.name.parse::<ContainerName>() else {
                continue;
            };
            removed.push(self.remove(acting, &name, query).await?);
        }
        Ok(removed)
    }
}
