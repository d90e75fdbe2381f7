//! `GET /v1/containers`: the acting user's containers, or everybody's for an admin, as
//! `ds01 container list` shows them.

use ds01_api::{ApiError, ContainerFilter, ContainerInfo};
use ds01_engine::{labels, ContainerView, Scope};

use crate::caller::{Acting, Caller};
use crate::errors::from_engine;
use crate::Daemon;

/// The containers in `acting`'s scope (every user's with `all_users`, for admins only)
/// that pass every filter.
pub async fn list(
    d: &Daemon,
    caller: &Caller,
    acting: Option<&Acting>,
    all_users: bool,
    filters: &[ContainerFilter],
) -> Result<Vec<ContainerInfo>, ApiError> {
    if let Some(cluster) = &d.config.cluster {
        return match (acting, all_users) {
            (Some(a), false) => crate::ops::cluster::list::list(d, cluster, a, filters).await,
            _ if caller.admin => crate::ops::cluster::list::list_all(d, cluster, filters).await,
            _ => Err(ApiError::forbidden(
                "only admins may list every user's containers",
            )),
        };
    }
    let scope = match acting {
        Some(a) if !all_users => Scope::User(&a.who),
        _ if caller.admin => Scope::AllUsers,
        _ => {
            return Err(ApiError::forbidden(
                "only admins may list every user's containers",
            ))
        }
    };
    let found = d.engine.list_containers(scope).await.map_err(from_engine)?;
    let mut list: Vec<ContainerInfo> = found
        .into_iter()
        .map(|c| {
            let stops_at = d.watches.stops_at(&c.id);
            ContainerInfo { stops_at, ..row(c) }
        })
        .filter(|c| filters.iter().all(|f| f.matches(c)))
        .collect();
    list.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
    Ok(list)
}

/// One container as the list shows it, from the engine's view and its labels (MLC's and
/// DS01's, so containers made by either tool list too).
fn row(c: ContainerView) -> ContainerInfo {
    let get = |key| c.label(key).unwrap_or("").to_owned();
    ContainerInfo {
        name: c
            .owned()
            .map(|o| o.name().to_string())
            .unwrap_or_else(|| get(labels::NAME)),
        docker_name: c.name.to_string(),
        id: c.id.clone(),
        image: c.image.clone(),
        state: c.state.as_str().to_owned(),
        status: c.status.clone(),
        // DS01's current scripts write only `ds01.*` labels.
        user: ds01_labels::container::owner_login(|k| c.labels.get(k))
            .unwrap_or("")
            .to_owned(),
        uid: c.uid(),
        framework: get(labels::FRAMEWORK),
        // ds01's and DS01's slots ("0", "1.2") read better than MLC's request.
        gpus: c
            .label(ds01_labels::gpu::SLOTS)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| get(ds01_labels::gpu::MLC_GPUS)),
        workspace: get(labels::WORK_MOUNT),
        stops_at: None,
    }
}

/// The list filters of `GET /v1/containers?filter=KEY=VALUE&...`, checked.
pub fn filters(pairs: &[(String, String)]) -> Result<Vec<ContainerFilter>, ApiError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v.parse().map_err(ApiError::invalid))
        .collect()
}
