//! `POST /v1/containers/{name}/recreate` in cluster mode: its live job (running or
//! waiting) cancelled, as one server's recreate removes a running container without
//! asking, and a new job submitted from its bundle with what ds01d kept of its create.
//! After a node failure (`NODE_FAIL`) Slurm places the new job on a node that is up; the
//! bundle, on shared storage, is the container's file system wherever it runs. Unlike one
//! server's recreate, the image is not read again: the bundle's file system stays as the
//! container left it.

use ds01_api::{ApiError, CreatedContainer, OwnedContainer, UserSetup};

use super::submit;
use crate::caller::Acting;
use crate::cluster::kept::{self, Kept};
use crate::cluster::{slurm, ClusterConfig};
use crate::Daemon;

/// Replaces the container's job; answers as a create does.
pub async fn recreate(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<CreatedContainer, ApiError> {
    let (id, kept) = resubmit(d, cluster, acting, container, "recreate", "recreated").await?;
    Ok(CreatedContainer {
        name: container.to_string(),
        id: id.to_string(),
        image: kept.image,
        user_setup: UserSetup::Mapped,
        fallback: None,
        started: true,
        gpus: Vec::new(),
    })
}

/// Cancels the container's live job, if any, and submits a new one (`kind` the event's,
/// `done` what its owner did, for the record). Everything that may refuse is checked before
/// the cancel: a refused recreate leaves the job as it was. The job it replaces does not
/// count against `max_gpus`.
pub(super) async fn resubmit(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
    kind: &str,
    done: &str,
) -> Result<(u64, Kept), ApiError> {
    let _section = d.user_locks.enter(acting.who.uid()).await;
    let live = super::newest_job(cluster, acting, container)
        .await?
        .filter(|j| j.is_live());
    let kept = kept::load(&d.state_dir, container)?;
    let effective = acting.policy(&d.config);
    let within = submit::check(
        cluster,
        acting,
        &effective,
        &kept,
        live.as_ref().map(|j| j.id),
    )
    .await?;
    let lead = match &live {
        Some(job) => {
            slurm::cancel(cluster, &acting.who, job.id).await?;
            format!("{done} by its owner: Slurm job {} cancelled, ", job.id)
        }
        None => format!("{done} by its owner: "),
    };
    let id = submit::submit(d, cluster, acting, container, &kept, &within, kind, &lead).await?;
    Ok((id, kept))
}
