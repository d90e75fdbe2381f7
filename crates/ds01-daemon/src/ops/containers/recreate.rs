//! `POST /v1/containers/{name}/recreate`: the container made again from the create options
//! it keeps (`ds01.create_options`), so an `image update` reaches it without retyping
//! options. The options go through the same pipeline as a new create (policy, mounts,
//! image owner, GPU allocation), so a label can ask for nothing its owner could not ask for
//! themselves.

use ds01_api::{ApiError, CreatedContainer, OwnedContainer};
use ds01_engine::labels;

use super::prepare;
use super::stored::StoredCreate;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::stream::Reporter;
use crate::Daemon;

/// Stops and removes the container (its home volume and workspace stay), then creates it
/// again from its image reference as it resolves now, with the kept options, started if it
/// was running.
pub async fn recreate(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    reporter: Reporter,
) -> Result<CreatedContainer, ApiError> {
    if let Some(cluster) = &d.config.cluster {
        return crate::ops::cluster::recreate::recreate(d, cluster, acting, container).await;
    }
    // One section from the removal to the new container: the slot the old one frees is its
    // own, not a parallel create's.
    let section = d.user_locks.enter(acting.who.uid()).await;
    let found = d
        .engine
        .owned_container(container)
        .await
        .map_err(from_engine)?;
    let kept = found
        .label(labels::CREATE_OPTIONS)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{container} keeps no create options (it was made by another tool or an older ds01); remove it and create it again"
            ))
            .subject(container.name().as_str())
        })?;
    let stored = StoredCreate::from_label(kept).map_err(|e| {
        ApiError::invalid(format!(
            "the create options {container} keeps do not read: {e}"
        ))
    })?;
    // The name is the container's own, never what a label says.
    let request = stored.request(container.name().clone(), found.state.is_live());
    // Resolved before anything is removed: an image that has gone fails here.
    prepare::resolve(d, acting, &request).await?;
    reporter.report(ds01_api::Progress::Stage(format!(
        "removing {container} (its home volume and workspace stay)"
    )));
    d.engine
        .remove_container(container, true)
        .await
        .map_err(from_engine)?;
    d.gpus.released();
    d.events.record_for(
        acting,
        container,
        "remove",
        "removed to be recreated".into(),
    );
    super::create::create(d, acting, request, reporter, Some(section))
        .await
        .map_err(|mut e| {
            e.message = format!(
                "{container} was removed but could not be made again (its home volume and workspace are kept): {}",
                e.message
            );
            e
        })
}
