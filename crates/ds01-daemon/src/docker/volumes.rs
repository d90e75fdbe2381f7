//! Volumes through the Docker API: the caller's named volumes (`crate::volumes`), under
//! the names they gave. The local driver only, without options: its options can mount any
//! host path (`type=none,o=bind,device=/`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_engine::RawRequest;
use serde_json::{json, Value};

use super::{acting, relay, Answer, Caller, DockerError};
use crate::volumes::{engine_name, user_name};
use crate::Daemon;

/// An engine volume as its owner sees it: their name, no host path.
fn shown(mut volume: Value, uid: u32) -> Option<Value> {
    let engine = volume["Name"].as_str()?.to_owned();
    let owner = volume["Labels"][ds01_engine::labels::OWNER_UID]
        .as_str()?
        .to_owned();
    let name = user_name(&engine, uid).filter(|_| owner == uid.to_string())?;
    volume["Name"] = Value::from(name);
    volume["Mountpoint"] = Value::from("");
    Some(volume)
}

fn not_found(name: &str) -> DockerError {
    DockerError::new(
        StatusCode::NOT_FOUND,
        format!("get {}: no such volume", ds01_api::shown(name)),
    )
}

/// `GET /volumes`.
pub(crate) async fn list(State(d): State<Arc<Daemon>>, Extension(ctx): Caller) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let filters = json!({ "label": [format!("{}={uid}", ds01_engine::labels::OWNER_UID)] });
    let query = serde_urlencoded::to_string([("filters", filters.to_string())]).unwrap_or_default();
    let all = relay::json(
        &d.engine,
        RawRequest::new("GET", format!("/volumes?{query}")),
    )
    .await?;
    let mine: Vec<Value> = all["Volumes"]
        .as_array()
        .into_iter()
        .flatten()
        // Home volumes are ds01's, one per container: `docker volume ls` shows the user's own.
        .filter(|v| {
            v["Labels"][ds01_engine::labels::ROLE].as_str() != Some(ds01_engine::labels::ROLE_HOME)
        })
        .filter_map(|v| shown(v.clone(), uid))
        .collect();
    Ok(Json(json!({ "Volumes": mine, "Warnings": [] })).into_response())
}

/// `POST /volumes/create`.
pub(crate) async fn create(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let uid = acting.who.uid();
    let body: Value = super::json_body(&body, "volume")?;
    let driver = body["Driver"].as_str().unwrap_or("");
    if !driver.is_empty() && driver != "local" {
        return Err(DockerError::refused(
            &format!("Driver={}", ds01_api::shown(driver)),
            "volumes use the local driver",
        ));
    }
    if body["DriverOpts"]
        .as_object()
        .is_some_and(|o| !o.is_empty())
    {
        return Err(DockerError::refused(
            "DriverOpts",
            "the local driver's options can mount host paths",
        ));
    }
    let name = body["Name"].as_str().unwrap_or_default();
    let mut labels = Vec::new();
    for (k, v) in body["Labels"].as_object().into_iter().flatten() {
        let pair = format!("{k}={}", v.as_str().unwrap_or_default());
        labels.push(
            ds01_engine::labels::parse_extra_label(&pair)
                .map_err(|e| DockerError::invalid(e.to_string()))?,
        );
    }
    labels.extend(crate::volumes::labels(&d.config, &acting));
    let volume = ds01_engine::VolumeMount {
        name: engine_name(name, uid)?,
        target: String::new(),
        read_only: false,
        labels,
    };
    d.engine.user_volume(&volume, uid, acting.who.gid()).await?;
    let (_, shown) = own(&d, uid, name).await?;
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// The caller's volume `name`, as the engine has it.
async fn own(d: &Daemon, uid: u32, name: &str) -> Result<(String, Value), DockerError> {
    let engine = engine_name(name, uid).map_err(|_| not_found(name))?;
    let found = relay::json(
        &d.engine,
        RawRequest::new("GET", format!("/volumes/{engine}")),
    )
    .await
    .map_err(|_| not_found(name))?;
    let shown = shown(found, uid).ok_or_else(|| not_found(name))?;
    Ok((engine, shown))
}

/// `GET /volumes/{name}`.
pub(crate) async fn inspect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(name): Path<String>,
) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let (_, shown) = own(&d, uid, &name).await?;
    Ok(Json(shown).into_response())
}

/// `DELETE /volumes/{name}?force=`: the engine refuses one in use, as it does for Docker.
pub(crate) async fn remove(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(name): Path<String>,
    uri: Uri,
) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let (engine, _) = own(&d, uid, &name).await?;
    let path = format!("/volumes/{engine}{}", relay::query(&uri));
    relay::forward(&d.engine, RawRequest::new("DELETE", path)).await
}
