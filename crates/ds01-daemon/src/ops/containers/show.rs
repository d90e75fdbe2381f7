//! `GET /v1/containers/{name}`: what one container is.

use ds01_api::{ApiError, ContainerDetails, OwnedContainer};

use crate::errors::from_engine;
use crate::Daemon;

/// Its image, user setup, mounts, limits, labels and state, with when the reaper will stop
/// it and its GPUs (through the server's inventory: DS01's scripts record slots, not
/// UUIDs).
pub async fn show(d: &Daemon, container: &OwnedContainer) -> Result<ContainerDetails, ApiError> {
    let mut details = d
        .engine
        .container_details(container)
        .await
        .map_err(from_engine)?;
    details.stops_at = d.watches.stops_at(&details.id);
    let labels = details.labels.clone().into_iter().collect();
    details.gpus = ds01_policy::gpus_from_labels(&labels, d.gpus.devices()).uuids;
    Ok(details)
}
