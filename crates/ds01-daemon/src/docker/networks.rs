//! Networks through the Docker API. Each user has one private network on the shared
//! engine (closed to other users and to the host's ports); every network a client names
//! is that one, under the client's name. So Compose's `<project>_default` exists as soon
//! as it is asked for, its services reach each other by their names there, and nothing a
//! user does with networks can join anyone else's.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_engine::RawRequest;
use serde_json::{json, Value};

use super::{acting, names, relay, Answer, Caller, DockerError};
use crate::caller::Acting;
use crate::Daemon;

/// The network names each user has created through this door (kept while ds01d runs: a
/// client that finds one missing after a restart creates it again, as Compose does).
#[derive(Debug, Default)]
pub(crate) struct Networks {
    names: Mutex<HashMap<u32, BTreeSet<String>>>,
}

/// The most network names one user keeps.
const MAX_NAMES: usize = 256;

impl Networks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, BTreeSet<String>>> {
        self.names.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self, uid: u32, name: &str) -> bool {
        self.lock().get(&uid).is_some_and(|n| n.contains(name))
    }

    fn names(&self, uid: u32) -> Vec<String> {
        self.lock()
            .get(&uid)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }
}

fn not_found(name: &str) -> DockerError {
    DockerError::new(
        StatusCode::NOT_FOUND,
        format!("network {} not found", ds01_api::shown(name)),
    )
}

/// The caller's network, made if it is not there yet: its engine name and ID.
async fn own(d: &Daemon, acting: &Acting) -> Result<(String, String), DockerError> {
    let name = d
        .engine
        .user_network(&acting.who, &d.config.resource_labels())
        .await?;
    let found = relay::json(
        &d.engine,
        RawRequest::new("GET", format!("/networks/{name}")),
    )
    .await?;
    let id = found["Id"].as_str().unwrap_or_default().to_owned();
    Ok((name, id))
}

/// The caller's network as the client named it.
fn view(name: &str, id: &str) -> Value {
    json!({
        "Name": name, "Id": id, "Created": "0001-01-01T00:00:00Z", "Scope": "local",
        "Driver": "bridge", "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": {}, "Config": []},
        "Internal": false, "Attachable": false, "Ingress": false,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": false,
        "Containers": {}, "Options": {}, "Labels": {}
    })
}

/// `GET /networks`.
pub(crate) async fn list(State(d): State<Arc<Daemon>>, Extension(ctx): Caller) -> Answer {
    let acting = acting(&ctx)?;
    let (_, id) = own(&d, &acting).await?;
    let views: Vec<Value> = d
        .docker
        .networks
        .names(acting.who.uid())
        .iter()
        .map(|name| view(name, &id))
        .collect();
    Ok(Json(views).into_response())
}

/// `GET /networks/{name}`.
pub(crate) async fn inspect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(name): Path<String>,
) -> Answer {
    let acting = acting(&ctx)?;
    if !d.docker.networks.known(acting.who.uid(), &name) {
        return Err(not_found(&name));
    }
    let (_, id) = own(&d, &acting).await?;
    Ok(Json(view(&name, &id)).into_response())
}

/// `POST /networks/create`: a bridge network (the caller's own) under the given name.
pub(crate) async fn create(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let body: Value = super::json_body(&body, "network")?;
    let driver = body["Driver"].as_str().unwrap_or("");
    if !driver.is_empty() && driver != "bridge" {
        return Err(DockerError::refused(
            &format!("Driver={}", ds01_api::shown(driver)),
            "your containers share your own bridge network",
        ));
    }
    let name = body["Name"].as_str().unwrap_or_default().to_owned();
    if ds01_api::ContainerName::new(&name).is_err() {
        return Err(DockerError::invalid(format!(
            "invalid network name `{}`: use letters, digits, `_` and `-`",
            ds01_api::shown(&name)
        )));
    }
    let (_, id) = own(&d, &acting).await?;
    let uid = acting.who.uid();
    {
        let mut all = d.docker.networks.lock();
        let names = all.entry(uid).or_default();
        if names.contains(&name) {
            return Err(DockerError::new(
                StatusCode::CONFLICT,
                format!("network with name {name} already exists"),
            ));
        }
        if names.len() >= MAX_NAMES {
            return Err(DockerError::new(
                StatusCode::FORBIDDEN,
                format!("ds01: you have {MAX_NAMES} networks already; remove some"),
            ));
        }
        names.insert(name);
    }
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))).into_response())
}

/// `DELETE /networks/{name}`: the caller's network stays, for their other containers.
pub(crate) async fn remove(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(name): Path<String>,
) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let removed = d
        .docker
        .networks
        .lock()
        .get_mut(&uid)
        .is_some_and(|names| names.remove(&name));
    if !removed {
        return Err(not_found(&name));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /networks/{name}/connect`: the container is on its owner's network already; the
/// names asked for are added by joining it again with them.
pub(crate) async fn connect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    if !d.docker.networks.known(acting.who.uid(), &name) {
        return Err(not_found(&name));
    }
    let body: Value = super::json_body(&body, "connect")?;
    let reference = body["Container"].as_str().unwrap_or_default();
    let mine = names::container(&d.engine, acting.who.uid(), reference).await?;
    let (network, _) = own(&d, &acting).await?;
    let mut aliases = vec![Value::from(mine.name())];
    for alias in body["EndpointConfig"]["Aliases"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if alias
            .as_str()
            .is_some_and(|a| ds01_api::ContainerName::new(a).is_ok())
        {
            aliases.push(alias.clone());
        }
    }
    // Leaving first may fail when it is not on it (a container made by an older ds01).
    let _ = d
        .engine
        .raw(RawRequest::json(
            "POST",
            format!("/networks/{network}/disconnect"),
            &json!({"Container": mine.id, "Force": true}),
        ))
        .await?
        .bytes()
        .await;
    relay::json(
        &d.engine,
        RawRequest::json(
            "POST",
            format!("/networks/{network}/connect"),
            &json!({"Container": mine.id, "EndpointConfig": {"Aliases": aliases}}),
        ),
    )
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /networks/{name}/disconnect`: a container stays on its owner's network.
pub(crate) async fn disconnect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(_name): Path<String>,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let reference = body["Container"].as_str().unwrap_or_default();
    names::container(&d.engine, acting.who.uid(), reference).await?;
    Ok(StatusCode::OK.into_response())
}
