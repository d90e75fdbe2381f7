//! `DELETE /v1/containers/{name}`: the container, its own image or tag, and with
//! `volumes` its home volume; the home volume is kept otherwise, so a container of the
//! same name finds the user's files again. A dry run answers with what would go.

use ds01_api::{ApiError, OwnedContainer, RemoveQuery, Removed};
use ds01_dockerfile::ImageRef;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Removes the acting user's container, or with `dry_run` says what that would remove.
pub async fn remove(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    query: RemoveQuery,
) -> Result<Removed, ApiError> {
    if let Some(cluster) = &d.config.cluster {
        return crate::ops::cluster::remove::remove(d, cluster, acting, container, query).await;
    }
    if query.dry_run {
        return plan(d, container, query.volumes).await;
    }
    let removed_images = d
        .engine
        .remove_container(container, query.force)
        .await
        .map_err(from_engine)?;
    d.gpus.released();
    crate::binds::forget(&crate::binds::points(&d.state_dir, container));
    d.events
        .record_for(acting, container, "remove", "removed by its owner".into());
    let (removed_volumes, kept_volumes) = if query.volumes {
        let gone = d
            .engine
            .remove_home_volume(container)
            .await
            .map_err(from_engine)?;
        (gone.into_iter().collect(), Vec::new())
    } else {
        let kept = d.engine.home_volume(container).await.map_err(from_engine)?;
        (Vec::new(), kept.into_iter().collect())
    };
    Ok(Removed {
        name: container.to_string(),
        removed_images,
        removed_volumes,
        kept_volumes,
    })
}

/// What removing the container would remove, removing nothing. Its own image or tag is
/// listed when it has one (a committed image another container uses stays).
async fn plan(d: &Daemon, container: &OwnedContainer, volumes: bool) -> Result<Removed, ApiError> {
    let found = d
        .engine
        .owned_container(container)
        .await
        .map_err(from_engine)?;
    let own_image = found
        .image
        .parse::<ImageRef>()
        .ok()
        .is_some_and(|r| r.tag() == Some(container.as_str()));
    let home = d.engine.home_volume(container).await.map_err(from_engine)?;
    let (removed_volumes, kept_volumes) = match home {
        Some(v) if volumes => (vec![v], Vec::new()),
        Some(v) => (Vec::new(), vec![v]),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Removed {
        name: container.to_string(),
        removed_images: if own_image {
            vec![found.image]
        } else {
            Vec::new()
        },
        removed_volumes,
        kept_volumes,
    })
}
