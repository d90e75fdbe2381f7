//! `GET /v1/containers` in cluster mode: the caller's containers (their bundles), each
//! with its newest job's state, node and GPUs as Slurm reports them to the caller; for an
//! admin's `--all-users`, every user's, from Slurm's view as ds01d.

use ds01_api::{ApiError, ContainerFilter, ContainerInfo, OwnedContainer};

use ds01_engine::Identity;

use crate::caller::Acting;
use crate::cluster::job::Job;
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
    let containers = bundle::of_user(cluster, who.uid());
    let login = |_: u32| who.login().to_owned();
    Ok(rows(d, cluster, Some(who), containers, &jobs, login, filters).await)
}

/// Every user's containers (an admin's `--all-users`), the jobs read as ds01d: only the
/// jobs whose submitter is the UID their name claims.
pub async fn list_all(
    d: &Daemon,
    cluster: &ClusterConfig,
    filters: &[ContainerFilter],
) -> Result<Vec<ContainerInfo>, ApiError> {
    let jobs: Vec<Job> = slurm::all_jobs(cluster)
        .await?
        .into_iter()
        .map(|(job, _)| job)
        .collect();
    let containers = bundle::all(cluster);
    let login = |uid: u32| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map_or_else(|| format!("#{uid}"), |u| u.name)
    };
    let mut list = rows(d, cluster, None, containers, &jobs, login, filters).await;
    list.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
    Ok(list)
}

/// One row per container, each with its newest job of `jobs`; `caller` is the user whose
/// own list it is.
async fn rows(
    d: &Daemon,
    cluster: &ClusterConfig,
    caller: Option<&Identity>,
    containers: Vec<OwnedContainer>,
    jobs: &[Job],
    login: impl Fn(u32) -> String,
    filters: &[ContainerFilter],
) -> Vec<ContainerInfo> {
    // A waiting job's place in the queue: not worth failing the list for.
    let queue = if jobs.iter().any(|j| j.state == "PENDING") {
        slurm::queue(cluster).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    // And Slurm's priority for it, with the caller's fair-share: their own numbers only,
    // so not in an admin's list of everybody's.
    let waiting = match caller {
        Some(who) if !queue.is_empty() => crate::cluster::accounting::waiting(cluster, who).await,
        _ => Default::default(),
    };
    // Newest first: a container removed and made again shows its new job.
    let mut newest_first: Vec<&Job> = jobs.iter().collect();
    newest_first.sort_by_key(|j| std::cmp::Reverse(j.id));
    containers
        .into_iter()
        .map(|c| {
            let job = newest_first.iter().find(|j| j.name == c.as_str());
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
                user: login(c.uid()),
                uid: c.uid(),
                framework: String::new(),
                gpus: job
                    .filter(|j| j.gpus > 0)
                    .map(|j| j.gpus.to_string())
                    .unwrap_or_default(),
                workspace: String::new(),
                stops_at: job.and_then(|j| d.watches.stops_at(&format!("slurm-{}", j.id))),
            }
        })
        .filter(|c| filters.iter().all(|f| f.matches(c)))
        .collect()
}
