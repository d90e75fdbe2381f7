//! `POST /v1/containers?dry_run=true`: the create request worked out by the create's own
//! pipeline, changing nothing: no container, no volume, no workspace directory, no GPU
//! reservation.

use ds01_api::{ApiError, ContainerCreate, CreatePlan};
use ds01_policy::Allocation;

use super::prepare::{self, Make};
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The planned create, where `create` is the engine's request for the final container.
/// GPUs are shown as asked: devices are picked only when a real create reserves them.
pub async fn dry_run(
    d: &Daemon,
    acting: &Acting,
    request: ContainerCreate,
) -> Result<CreatePlan, ApiError> {
    let effective = acting.policy(&d.config);
    let resolved = prepare::resolve(d, acting, &request).await?;
    let prepared = prepare::assemble(
        d,
        acting,
        &effective,
        &request,
        resolved,
        &Allocation::default(),
        Make::No,
    )
    .await?;
    let mut plan = d
        .engine
        .plan_create(&acting.who, &prepared.create)
        .await
        .map_err(from_engine)?;
    plan.gpus = request.gpus;
    Ok(plan)
}
