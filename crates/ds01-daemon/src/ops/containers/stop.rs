//! `POST /v1/containers/{name}/stop`: SIGTERM, then SIGKILL after the grace period; its
//! GPUs come free for whoever waits.

use ds01_api::{ApiError, OwnedContainer};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Stops the acting user's container within `grace_secs`.
pub async fn stop(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    grace_secs: u32,
) -> Result<(), ApiError> {
    if let Some(cluster) = &d.config.cluster {
        return crate::ops::cluster::stop::stop(d, cluster, acting, container).await;
    }
    d.engine
        .stop_container_within(container, grace_secs)
        .await
        .map_err(from_engine)?;
    d.gpus.released();
    d.events
        .record_for(acting, container, "stop", "stopped by its owner".into());
    Ok(())
}
