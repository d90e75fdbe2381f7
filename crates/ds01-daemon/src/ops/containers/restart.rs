//! `POST /v1/containers/{name}/restart`.
//!
//! GPUs follow the rule of `start`: a container holds its devices while it runs *or is
//! paused* (its processes keep their GPU memory); a restart re-binds the devices its labels
//! name only if no other running container holds them, and holds them for it across the
//! restart, so nobody takes them in between.

use ds01_api::{ApiError, OwnedContainer};

use super::rebind::rebind;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Restarts the acting user's container (starts it when stopped).
pub async fn restart(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    grace_secs: u32,
) -> Result<(), ApiError> {
    if let Some(cluster) = &d.config.cluster {
        return crate::ops::cluster::restart::restart(d, cluster, acting, container).await;
    }
    // A restart starts a stopped container: its devices are counted like a start's, inside
    // the section. The reservation then counts them for its owner until the container
    // runs, so the section is left before the engine's restart (whose stop may take the
    // whole grace period; `restart --all` runs them side by side).
    let section = d.user_locks.enter(acting.who.uid()).await;
    // Held across the restart (its own holding does not count against it).
    let reservation = rebind(d, acting, container, "restart", false, &section).await?;
    drop(section);
    // A restart is a start: the engine resolves the binds again.
    let bound = crate::binds::bind_for_start(
        &d.engine,
        &d.state_dir,
        &d.config.file.mount_roots,
        container,
        true,
    )
    .await?;
    d.engine
        .restart_container_within(container, grace_secs)
        .await
        .map_err(from_engine)?;
    drop(bound);
    drop(reservation);
    d.events.record_for(
        acting,
        container,
        "restart",
        "restarted by its owner".into(),
    );
    Ok(())
}
