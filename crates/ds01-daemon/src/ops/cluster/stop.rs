//! `POST /v1/containers/{name}/stop` in cluster mode: the job is cancelled (as the user,
//! so Slurm itself refuses anyone else's). Its bundle stays: the container is stopped, not
//! gone, and Slurm frees its GPUs for the queue.

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Reason};

use crate::caller::Acting;
use crate::cluster::{slurm, ClusterConfig};
use crate::Daemon;

/// Cancels the container's live job.
pub async fn stop(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<(), ApiError> {
    let job = super::newest_job(cluster, acting, container)
        .await?
        .filter(|j| j.is_live())
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Invalid,
                format!(
                    "container {} has no job running or waiting",
                    container.name()
                ),
            )
            .subject(container.name().as_str())
            .because(Reason::NotRunning)
        })?;
    slurm::cancel(cluster, &acting.who, job.id).await?;
    d.events.record_for(
        acting,
        container,
        "stop",
        format!("stopped by its owner (scancel of Slurm job {})", job.id),
    );
    Ok(())
}
