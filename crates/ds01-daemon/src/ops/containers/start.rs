//! `POST /v1/containers/{name}/start`: the container's devices are bound again, if no
//! running container holds them now and its owner's cap allows, and its directories bound
//! as checked now.

use ds01_api::{ApiError, OwnedContainer};

use super::rebind::rebind;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Starts the acting user's container (a no-op when it runs).
pub async fn start(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<(), ApiError> {
    if let Some(cluster) = &d.config.cluster {
        crate::ops::cluster::start::start(d, cluster, acting, container).await?;
        return Ok(());
    }
    let section = d.user_locks.enter(acting.who.uid()).await;
    let reservation = rebind(d, acting, container, "start", true, &section).await?;
    let bound = crate::binds::bind_for_start(
        &d.engine,
        &d.state_dir,
        &d.config.file.mount_roots,
        container,
        false,
    )
    .await?;
    d.engine
        .start_container(container)
        .await
        .map_err(from_engine)?;
    drop(bound);
    if let Some(r) = &reservation {
        d.events.record_for(
            acting,
            container,
            "gpu_bound",
            format!("bound GPU(s) {}", r.allocation.uuids().join(", ")),
        );
    }
    drop(reservation);
    drop(section);
    d.events
        .record_for(acting, container, "start", "started by its owner".into());
    Ok(())
}
