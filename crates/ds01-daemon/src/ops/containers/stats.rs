//! `GET /v1/stats`: one resource-use sample of each of the acting user's running
//! containers.

use ds01_api::{ApiError, ContainerStats};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The samples.
pub async fn stats(d: &Daemon, acting: &Acting) -> Result<Vec<ContainerStats>, ApiError> {
    d.engine.stats(&acting.who).await.map_err(from_engine)
}
