//! `DELETE /v1/containers/{name}` in cluster mode: its job cancelled if it still runs or
//! waits (only with `force` when it runs, as on one server), then its bundle removed.

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Reason, RemoveQuery, Removed};

use crate::caller::Acting;
use crate::cluster::{bundle, kept, slurm, ClusterConfig};
use crate::Daemon;

/// Removes the container, or with `dry_run` names it.
pub async fn remove(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
    query: RemoveQuery,
) -> Result<Removed, ApiError> {
    let job = super::newest_job(cluster, acting, container).await?;
    let removed = Removed {
        name: container.to_string(),
        removed_images: Vec::new(),
        removed_volumes: Vec::new(),
        kept_volumes: Vec::new(),
    };
    if query.dry_run {
        return Ok(removed);
    }
    if let Some(job) = job.filter(|j| j.is_live()) {
        if job.state == "RUNNING" && !query.force {
            return Err(ApiError::new(
                ErrorCode::Invalid,
                format!(
                    "container {} runs (Slurm job {}); stop it first or remove it with --force",
                    container.name(),
                    job.id
                ),
            )
            .subject(container.name().as_str())
            .because(Reason::Running));
        }
        slurm::cancel(cluster, &acting.who, job.id).await?;
    }
    bundle::remove(&bundle::dir(cluster, container));
    kept::remove(&d.state_dir, container);
    d.events
        .record_for(acting, container, "remove", "removed by its owner".into());
    Ok(removed)
}
