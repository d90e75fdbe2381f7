//! `POST /v1/containers` in cluster mode: the container becomes a Slurm job of the user.
//! The policy's caps are checked first, inside the user's section as on one server:
//! `max_containers` against the user's bundles (stopped containers count, as they do on
//! one server), `max_gpus` against the GPUs of the user's live jobs. Memory and CPUs are
//! the request's within the policy (else the policy's ceiling), the walltime the policy's
//! `max_runtime` (see [`submit`]). Slurm then places the job, or queues it until GPUs are
//! free. What the container asked is kept in ds01d's state ([`Kept`]) for its next jobs.

use ds01_api::{ApiError, ContainerCreate, CreatedContainer, GpuRequest, Reason, UserSetup};

use super::submit;
use crate::authz::{Authz, IfMissing};
use crate::caller::Acting;
use crate::cluster::kept::{self, Kept};
use crate::cluster::{bundle, ClusterConfig};
use crate::errors::from_limit;
use crate::Daemon;

/// Submits the container's job; answers with the job ID as the container's ID.
pub async fn create(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    request: ContainerCreate,
) -> Result<CreatedContainer, ApiError> {
    let who = &acting.who;
    let key = request.name.owned_by(who.uid());
    refuse_single_server_options(&request)?;
    let gpus = gpu_count(request.gpus.as_ref())?;
    let effective = acting.policy(&d.config);
    let image = image(d, acting, &request).await?;
    let kept = Kept::new(image.clone(), gpus, request.memory, request.cpus);
    let _section = d.user_locks.enter(who.uid()).await;
    effective
        .check_new_container(bundle::of_user(cluster, who.uid()).len() as u32)
        .map_err(from_limit)?;
    let within = submit::check(cluster, acting, &effective, &kept, None).await?;
    let dir = bundle::make(
        &d.engine,
        cluster,
        who,
        &key,
        &image,
        &d.config.resource_labels(),
    )
    .await?;
    let submitted = match kept::save(&d.state_dir, &key, &kept) {
        Ok(()) => submit::submit(d, cluster, acting, &key, &kept, &within, "submit", "").await,
        Err(e) => Err(e),
    };
    let id = match submitted {
        Ok(id) => id,
        Err(e) => {
            bundle::remove(&dir);
            kept::remove(&d.state_dir, &key);
            return Err(e);
        }
    };
    Ok(CreatedContainer {
        name: key.to_string(),
        id: id.to_string(),
        image,
        user_setup: UserSetup::Mapped,
        fallback: None,
        started: true,
        // Slurm binds the devices on the node when the job starts; ds01d names none.
        gpus: Vec::new(),
    })
}

/// What the cluster's containers do not have yet, refused by name rather than ignored.
fn refuse_single_server_options(request: &ContainerCreate) -> Result<(), ApiError> {
    let given = [
        ("--framework", request.framework.is_some()),
        ("--workspace", request.workspace.is_some()),
        ("--data", request.data.is_some()),
        ("--models", request.models.is_some()),
        ("--label", !request.labels.is_empty()),
        ("a Docker-API process", request.process.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((what, _)) => Err(ApiError::invalid(format!(
            "{what} is not available for containers on this cluster (ds01d runs them as Slurm jobs)"
        ))),
        None => Ok(()),
    }
}

/// The GPUs asked: a count; devices and MIG slices are Slurm's to pick.
fn gpu_count(asked: Option<&GpuRequest>) -> Result<u32, ApiError> {
    match asked {
        None | Some(GpuRequest::CpuOnly) => Ok(0),
        Some(GpuRequest::Count(n)) => Ok(*n),
        Some(_) => Err(ApiError::invalid(
            "on this cluster ask for a number of GPUs (`--gpus N`); Slurm picks the devices",
        )
        .because(Reason::NoGpus)),
    }
}

/// The image, checked for the caller as on one server: a given one, else the caller's own
/// of the container's name.
async fn image(d: &Daemon, acting: &Acting, request: &ContainerCreate) -> Result<String, ApiError> {
    let uid = acting.who.uid();
    let given = match &request.image {
        Some(image) => image.clone(),
        None => crate::ops::containers::prepare::own_image(request, uid)?,
    };
    let allowed = Authz::new(&d.engine, &d.config)
        .image(uid, &given, IfMissing::Refuse)
        .await?;
    // The tag that was checked, never the text that named it.
    Ok(allowed.reference.tagged_or_latest().to_string())
}
