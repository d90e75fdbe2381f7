//! The one pipeline of a create, shared by the create itself, its dry run and a recreate:
//! the request resolved against the admin's policy into the engine's create request.
//!
//! [`resolve`] decides the image and what is asked of the GPUs; [`assemble`] turns the
//! request into the container's options once its devices are known. A dry run runs both
//! with [`Make::No`], which names the workspace, slice and network without making them.

use std::path::PathBuf;

use ds01_api::{ApiError, ContainerCreate, ErrorCode, GpuRequest, Reason};
use ds01_dockerfile::{ImageName, ImageRef};
use ds01_engine::{labels::parse_extra_label, ContainerOptions, CreateRequest, Provenance};
use ds01_labels::gpu;
use ds01_policy::{Allocation, Effective, GpuAsk, Network, ResourceRequest};

use super::stored::StoredCreate;
use crate::authz::{Authz, IfMissing};
use crate::caller::Acting;
use crate::errors::{from_engine, from_limit};
use crate::gpus::{self, Binding};
use crate::workspace::Made;
use crate::{mounts, Daemon};

/// Whether the pipeline makes what the container needs (a create) or only names it (a
/// dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Make {
    Yes,
    No,
}

/// Where the request's image comes from: its five optional fields, decided once.
enum ImageSource<'a> {
    /// An image the user named.
    Given(&'a ImageRef),
    /// A catalog framework, from the client's catalog text or the server's catalog.
    Catalog {
        framework: &'a str,
        version: Option<&'a str>,
        catalog: Option<&'a str>,
    },
    /// None: the user's own image of the container's name.
    Own,
}

impl<'a> ImageSource<'a> {
    fn of(request: &'a ContainerCreate) -> ImageSource<'a> {
        match (&request.image, &request.framework) {
            (Some(image), _) => ImageSource::Given(image),
            (None, Some(framework)) => ImageSource::Catalog {
                framework,
                version: request.framework_version.as_deref(),
                catalog: request.catalog.as_deref(),
            },
            (None, None) => ImageSource::Own,
        }
    }
}

/// The image decided for a request, and what it asks of the GPUs.
pub(crate) struct Resolved {
    image: ImageRef,
    provenance: Provenance,
    pull: bool,
    arch: Option<String>,
    /// What the request asks of the GPUs, checked against the server's devices.
    pub ask: GpuAsk,
}

/// The engine's request for the container, and the default workspace the pipeline made
/// (for the caller to take back if the create fails later).
pub(crate) struct Prepared {
    pub create: CreateRequest,
    pub made: Option<Made>,
}

/// The caller's own image of the container's name, for a request that names no image.
pub(crate) fn own_image(request: &ContainerCreate, uid: u32) -> Result<ImageRef, ApiError> {
    ImageName::parse(request.name.as_str())
        .ok()
        .map(|n| n.image_ref(uid))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "no image given, and `{}` cannot name an image of yours",
                request.name
            ))
            .because(Reason::NoImageGiven)
        })
}

/// Decides the image (checked for the caller: the engine gets the tag that was checked,
/// never the text that named it) and the GPU ask.
pub(crate) async fn resolve(
    d: &Daemon,
    acting: &Acting,
    request: &ContainerCreate,
) -> Result<Resolved, ApiError> {
    let uid = acting.who.uid();
    let (image, provenance, pull, arch) = match ImageSource::of(request) {
        ImageSource::Given(image) => {
            let allowed = Authz::new(&d.engine, &d.config)
                .image(uid, image, IfMissing::Refuse)
                .await?
                .reference;
            (
                allowed.tagged_or_latest(),
                Provenance::Custom(allowed.to_string()),
                false,
                request.arch.clone(),
            )
        }
        ImageSource::Catalog {
            framework,
            version,
            catalog,
        } => {
            let (entry, arch) = crate::ops::images::base::catalog_entry(
                &d.config,
                catalog,
                framework,
                version,
                request.arch.as_deref(),
            )?;
            let image = Authz::new(&d.engine, &d.config)
                .image(uid, &entry.image, IfMissing::Pull)
                .await?
                .reference;
            let provenance = Provenance::Catalog {
                framework: entry.framework,
                version: entry.version,
            };
            (image, provenance, true, Some(arch))
        }
        ImageSource::Own => {
            let own = own_image(request, uid)?;
            let found = d
                .engine
                .image_info(&own.to_string())
                .await
                .map_err(from_engine)?;
            if found.is_none() {
                return Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("no image given, and image {own} not found"),
                )
                .subject(request.name.as_str())
                .because(Reason::NoImageGiven));
            }
            let provenance = Provenance::Custom(own.to_string());
            (own, provenance, false, request.arch.clone())
        }
    };
    let ask = gpus::ask(request.gpus.as_ref(), d.gpus.devices())?;
    if ask != GpuAsk::None && d.gpus.devices().is_empty() {
        return Err(ApiError::invalid(
            "this server has no GPUs that ds01d knows of; a container here gets none",
        )
        .because(Reason::NoGpus));
    }
    Ok(Resolved {
        image,
        provenance,
        pull,
        arch,
        ask,
    })
}

/// The engine's request for the container: the user's requests where the policy allows
/// them, the server's settings for everything that decides what a container may do, and
/// the devices of `allocation`. Only with [`Make::Yes`] are the missing default
/// workspace, the slice's caps, the user's network and the mount points made, after every
/// check here.
pub(crate) async fn assemble(
    d: &Daemon,
    acting: &Acting,
    effective: &Effective,
    request: &ContainerCreate,
    resolved: Resolved,
    allocation: &Allocation,
    make: Make,
) -> Result<Prepared, ApiError> {
    let applied = effective
        .check(&ResourceRequest {
            memory: request.memory,
            cpus: request.cpus,
            shm_size: request.shm_size,
            pids_limit: pids_limit(request.pids_limit)?,
        })
        .map_err(from_limit)?;
    let who = &acting.who;
    let roots = &d.config.file.mount_roots;
    let mount = |what: &str, dir: &Option<PathBuf>| {
        dir.as_ref()
            .map(|dir| mounts::check(what, dir, who.uid(), roots))
            .transpose()
    };
    let volumes = crate::volumes::mounts(&d.config, acting, &request.volumes)?;
    let data = mount("data", &request.data)?;
    let models = mount("models", &request.models)?;
    let mut labels = Vec::new();
    for pair in &request.labels {
        labels.push(parse_extra_label(pair).map_err(|e| ApiError::invalid(e.to_string()))?);
    }
    let uuids: Vec<String> = allocation.uuids().iter().map(|u| u.to_string()).collect();
    let (gpus, visible_gpus) = match d.gpus.binding() {
        Binding::DeviceRequest if !uuids.is_empty() => {
            (Some(GpuRequest::Devices(uuids.clone())), Some(uuids))
        }
        _ => (None, Some(uuids)),
    };
    // ds01d's own GPU labels replace any an image brings along (an image could otherwise
    // claim devices for its containers).
    let mut owned_labels: Vec<(String, String)> = [gpu::UUIDS, gpu::SLOTS, gpu::UUID]
        .iter()
        .map(|k| (k.to_string(), String::new()))
        .collect();
    for (k, v) in allocation.labels() {
        owned_labels.retain(|(old, _)| old != k);
        owned_labels.push((k.to_owned(), v));
    }
    owned_labels.push((
        ds01_engine::labels::CREATE_OPTIONS.to_owned(),
        StoredCreate::of(request).to_label(),
    ));
    owned_labels.push((
        ds01_engine::labels::CONTAINER_TYPE.to_owned(),
        request
            .container_type
            .unwrap_or(ds01_api::ContainerType::Atomic)
            .as_str()
            .to_owned(),
    ));
    let arch = allocation
        .devices
        .first()
        .or(d.gpus.devices().first())
        .and_then(|d| d.arch.clone())
        .or(resolved.arch);
    let cgroup_parent = cgroup_parent(d, acting, effective, make).await?;
    let host_network = effective.network.value == Network::Host;
    let network = match (host_network, make) {
        (true, _) => None,
        (false, Make::Yes) => Some(
            d.engine
                .user_network(who, &d.config.resource_labels())
                .await
                .map_err(from_engine)?,
        ),
        (false, Make::No) => Some(ds01_engine::UserNetwork::name_for(who.uid())),
    };
    if make == Make::Yes {
        for volume in &volumes {
            d.engine
                .user_volume(volume, who.uid(), who.gid())
                .await
                .map_err(from_engine)?;
        }
    }
    // Last, when nothing here can refuse any more.
    let (workspace, made) = if request.no_workspace {
        (None, None)
    } else if request.workspace.is_some() {
        (mount("workspace", &request.workspace)?, None)
    } else {
        crate::workspace::default_workspace(&d.config, acting, &request.name, make == Make::Yes)?
    };
    let owned = request.name.owned_by(who.uid());
    let mount_points = (workspace.is_some() || data.is_some() || models.is_some())
        .then(|| crate::binds::points(&d.state_dir, &owned));
    if let (Some(points), Make::Yes) = (&mount_points, make) {
        if let Err(e) = crate::binds::prepare(points) {
            if let Some(made) = made {
                made.undo();
            }
            return Err(ApiError::new(
                ErrorCode::Failed,
                format!("cannot prepare the container's mount points: {e}"),
            ));
        }
    }
    let options = ContainerOptions {
        workspace,
        data,
        models,
        mount_points,
        gpus,
        visible_gpus,
        owned_labels,
        shm_size: applied.shm_size,
        cgroup_parent,
        memory: applied.memory,
        cpus: applied.cpus,
        pids_limit: applied.pids_limit.map(i64::from),
        layer_quota: d.disk_mechanism.layer_quota(effective),
        labels,
        privileged: false,
        arch,
        memlock: d.config.file.memlock,
        host_network,
        network,
        allow_privilege_gain: effective.sudo.value,
        home: Some(crate::workspace::home_volume(
            &d.config,
            acting,
            &request.name,
        )),
        process: request.process.clone(),
        volumes,
    };
    Ok(Prepared {
        create: CreateRequest {
            name: request.name.clone(),
            image: resolved.image,
            provenance: resolved.provenance,
            pull_if_missing: resolved.pull,
            options,
            resource_labels: d.config.resource_labels(),
        },
        made,
    })
}

/// A positive pids limit, as the policy reads it.
fn pids_limit(asked: Option<i64>) -> Result<Option<u32>, ApiError> {
    match asked {
        Some(n) if n <= 0 => Err(ApiError::invalid(format!(
            "a pids limit of {n} would let nothing run: it must be positive"
        ))
        .because(Reason::NotPositive {
            field: "pids_limit".into(),
        })),
        Some(n) => Ok(Some(u32::try_from(n).unwrap_or(u32::MAX))),
        None => Ok(None),
    }
}

/// The user's slice with the policy's aggregate caps (systemd driver), else the
/// configured cgroup parent, if any; the slice's caps are applied only with [`Make::Yes`].
async fn cgroup_parent(
    d: &Daemon,
    acting: &Acting,
    effective: &Effective,
    make: Make,
) -> Result<Option<String>, ApiError> {
    let login = acting.who.login();
    if d.cgroup_driver != "systemd" {
        return Ok(d
            .config
            .cgroup_parent_for(acting.primary_group.as_deref(), login));
    }
    let Some(slice) = acting
        .primary_group
        .as_deref()
        .and_then(|g| crate::slices::slice_name(g, login))
    else {
        return Ok(None);
    };
    if make == Make::Yes {
        crate::slices::apply(&slice, &crate::slices::properties(&effective.aggregate)).await?;
    }
    Ok(Some(slice))
}
