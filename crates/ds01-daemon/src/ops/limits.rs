//! `GET /v1/limits`: the policy that applies to the acting user, each value with where it
//! comes from, and what they use of it now.

use ds01_api::{ApiError, LimitsReport};
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::disk::ImageStorage;
use crate::errors::from_engine;
use crate::Daemon;

/// The user's limits and usage.
pub async fn limits(d: &Daemon, acting: &Acting) -> Result<LimitsReport, ApiError> {
    let effective = acting.policy(&d.config);
    let containers = d
        .engine
        .list_containers(Scope::User(&acting.who))
        .await
        .map_err(from_engine)?;
    let held = d.gpus.held(&d.engine, "").await?;
    Ok(LimitsReport {
        login: acting.who.login().to_owned(),
        effective: serde_json::to_value(&effective).unwrap_or_default(),
        containers: containers.len() as u32,
        gpus: d.gpus.usage(&held, acting.who.uid()),
        image_storage: ImageStorage::of(&d.engine, &d.config, acting)
            .used()
            .await?,
    })
}
