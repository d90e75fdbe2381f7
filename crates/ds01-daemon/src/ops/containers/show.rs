//! `GET /v1/containers/{name}`: what one container is.

use ds01_api::{ApiError, ContainerDetails, OwnedContainer};

use ds01_labels::image;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Its image, user setup, mounts, limits, labels and state, with when the reaper will stop
/// it, its GPUs (through the server's inventory: DS01's scripts record slots, not UUIDs)
/// and the account it runs as inside.
pub async fn show(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<ContainerDetails, ApiError> {
    let mut details = d
        .engine
        .container_details(container)
        .await
        .map_err(from_engine)?;
    details.stops_at = d.watches.stops_at(&details.id);
    let labels = details.labels.clone().into_iter().collect();
    details.gpus = ds01_policy::gpus_from_labels(&labels, d.gpus.devices()).uuids;
    // The image's baked account, as ds01's builds and DS01's scripts record it (DS01's
    // spelling, `h_baker`, is not what ds01 derives from the login); else the account ds01
    // sets up for the owner.
    details.account = [image::USERNAME, image::DS01_USERNAME]
        .iter()
        .find_map(|k| details.labels.get(*k).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_else(|| acting.who.username().to_string());
    Ok(details)
}
