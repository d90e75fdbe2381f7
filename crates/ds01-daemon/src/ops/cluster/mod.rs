//! The container operations of cluster mode (`[cluster]`, see `crate::cluster`): the
//! same endpoints as on one server, dispatched here by the single-server operations when
//! the configuration names a cluster. One operation a file; [`observe`] turns the job
//! states Slurm reports into ds01d's own events.

pub mod create;
pub mod exec;
pub mod jupyter;
pub mod list;
pub mod logs;
pub mod observe;
pub mod recreate;
pub mod remove;
pub mod restart;
pub mod start;
pub mod stop;
pub mod submit;

use ds01_api::{ApiError, ErrorCode, OwnedContainer};

use crate::caller::Acting;
use crate::cluster::job::Job;
use crate::cluster::{bundle, ClusterConfig};

/// The container's newest job, if Slurm still knows one; a container without a bundle is
/// answered as one that is not there.
async fn newest_job(
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<Option<Job>, ApiError> {
    if !bundle::dir(cluster, container).is_dir() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no container {} of yours", container.name()),
        )
        .subject(container.name().as_str())
        .because(ds01_api::Reason::NoContainer));
    }
    let jobs = crate::cluster::slurm::jobs(cluster, &acting.who).await?;
    Ok(jobs.into_iter().find(|j| j.name == container.as_str()))
}

/// The acting user's containers, each with whether its newest job runs or waits: what
/// `--all` chooses from.
pub async fn containers_live(
    cluster: &ClusterConfig,
    acting: &Acting,
) -> Result<Vec<(OwnedContainer, bool)>, ApiError> {
    let jobs = crate::cluster::slurm::jobs(cluster, &acting.who).await?;
    Ok(bundle::of_user(cluster, acting.who.uid())
        .into_iter()
        .map(|c| {
            // Newest first: the container's current job.
            let live = jobs
                .iter()
                .find(|j| j.name == c.as_str())
                .is_some_and(Job::is_live);
            (c, live)
        })
        .collect())
}
