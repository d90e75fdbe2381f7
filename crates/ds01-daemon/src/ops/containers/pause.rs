//! `POST /v1/containers/{name}/pause`: every process frozen; its memory and GPUs stay held,
//! and the idle timer goes on.

use ds01_api::{ApiError, OwnedContainer};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Pauses the acting user's running container.
pub async fn pause(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<(), ApiError> {
    d.engine
        .pause_container(container)
        .await
        .map_err(from_engine)?;
    d.events.record_for(
        acting,
        container,
        "pause",
        "paused by its owner (its GPUs stay held; the idle timer goes on)".into(),
    );
    Ok(())
}
