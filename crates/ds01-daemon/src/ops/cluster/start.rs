//! `POST /v1/containers/{name}/start` in cluster mode: a stopped container (its bundle,
//! no live job) gets a new job from its bundle, with the GPUs and resources ds01d kept of
//! its create, checked against the policy's caps as they are now. The bundle's file system
//! is the container's: what its last job wrote is there.

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Reason};

use super::submit;
use crate::caller::Acting;
use crate::cluster::{kept, ClusterConfig};
use crate::Daemon;

/// Submits the container's job again; one that runs or waits already is refused.
pub async fn start(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<u64, ApiError> {
    // Inside the section from the count of held GPUs to the submit, as a create is.
    let _section = d.user_locks.enter(acting.who.uid()).await;
    let live = super::newest_job(cluster, acting, container)
        .await?
        .filter(|j| j.is_live());
    // A job that is completing (just stopped) is on its way out: a start right after a
    // stop is no second container, and its GPUs are not counted twice.
    let ending = live
        .as_ref()
        .filter(|j| j.state == "COMPLETING")
        .map(|j| j.id);
    if let Some(job) = live.filter(|j| Some(j.id) != ending) {
        return Err(ApiError::new(
            ErrorCode::Invalid,
            format!(
                "container {} is running or waiting already ({}); `ds01 container restart` submits it again",
                container.name(),
                job.status()
            ),
        )
        .subject(container.name().as_str())
        .because(Reason::Running));
    }
    let kept = kept::load(&d.state_dir, container)?;
    let effective = acting.policy(&d.config);
    let within = submit::check(cluster, acting, &effective, &kept, ending).await?;
    submit::submit(
        d,
        cluster,
        acting,
        container,
        &kept,
        &within,
        "start",
        "started by its owner: ",
    )
    .await
}
