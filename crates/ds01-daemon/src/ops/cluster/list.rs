//! `GET /v1/containers` in cluster mode: the caller's containers (their bundles), each
//! with its newest job's state, node and GPUs as Slurm reports them to the caller.

use ds01_api::{ApiError, ContainerFilter, ContainerInfo};

use crate::caller::Acting;
use crate::cluster::{bundle, slurm, ClusterConfig};
use crate::Daemon;

/// The caller's containers that pass every filter.
pub async fn list(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    filters: &[ContainerFilter],
) -> Result<Vec<ContainerInfo>, ApiError> {
    let who = &acting.who;
    let jobs = slurm::jobs(cluster, who).await?;
    super::observe::record_endings(d, acting, &jobs);
    // A waiting job's place in the queue: not worth failing the list for.
    let queue = if jobs.iter().any(|j| j.state == "PENDING") {
        slurm::queue(cluster).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    // And Slurm's priority for it, with the caller's fair-share (their own numbers only).
    let waiting = if queue.is_empty() {
        Default::default()
    } else {
        crate::cluster::accounting::waiting(cluster, who).await
    };
    let list = bundle::of_user(cluster, who.uid())
        .into_iter()
        .map(|c| {
            // Newest first: a container removed and made again shows its new job.
            let job = jobs.iter().find(|j| j.name == c.as_str());
            ContainerInfo {
                name: c.name().to_string(),
                docker_name: c.to_string(),
                id: job.map(|j| j.id.to_string()).unwrap_or_default(),
                image: job.map(|j| j.image.clone()).unwrap_or_default(),
                state: job
                    .map(|j| j.state.to_lowercase())
                    .unwrap_or_else(|| "ended".into()),
                status: job
                    .map(|j| j.status_in(&queue) + &waiting.note(j.id))
                    .unwrap_or_else(|| "Slurm no longer knows its job (see `ds01 why`)".into()),
                user: who.login().to_owned(),
                uid: who.uid(),
                framework: String::new(),
                gpus: job
                    .filter(|j| j.gpus > 0)
                    .map(|j| j.gpus.to_string())
                    .unwrap_or_default(),
                workspace: String::new(),
                stops_at: None,
            }
        })
        .filter(|c| filters.iter().all(|f| f.matches(c)))
        .collect();
    Ok(list)
}
