//! The caller's containers through the Docker API: list, inspect, the lifecycle verbs
//! (through ds01's own operations where ds01 has one, so binds, GPUs and events are the
//! same as with `ds01 container ...`), and the streams (logs, wait, attach) relayed from
//! the engine once the container is known to be the caller's.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_engine::RawRequest;
use serde::Deserialize;
use serde_json::Value;

use super::{acting, names, relay, Answer, Caller, DockerError};
use crate::ops::containers as ops;
use crate::Daemon;

/// `GET /containers/json`: the caller's containers, under the names they chose. The
/// client's own query (`all`, `filters`, `limit`) goes to the engine as it is; ownership
/// is decided on the answer.
pub(crate) async fn list(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    request: Request,
) -> Answer {
    let acting = acting(&ctx)?;
    let Query(q) = Query::<ListQuery>::try_from_uri(request.uri())
        .map_err(|e| DockerError::invalid(e.body_text()))?;
    // Only what narrows the list reaches the engine (`size` would have it measure every
    // user's containers before ownership is decided here).
    let mut pairs = vec![(
        "all",
        if q.all.as_deref().is_some_and(truthy) {
            "1"
        } else {
            "0"
        },
    )];
    if let Some(filters) = &q.filters {
        pairs.push(("filters", filters));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    let mine = names::all(&d.engine, acting.who.uid(), &query).await?;
    let limit = q
        .limit
        .filter(|n| *n > 0)
        .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let shown: Vec<Value> = mine
        .into_iter()
        .take(limit)
        .map(|m| {
            let mut entry = m.summary.clone();
            entry["Names"] = Value::from(vec![format!("/{}", m.name())]);
            entry
        })
        .collect();
    Ok(Json(shown).into_response())
}

/// `GET /containers/{id}/json`.
pub(crate) async fn inspect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    let mut details = relay::json(
        &d.engine,
        RawRequest::new("GET", format!("/containers/{}/json", mine.id)),
    )
    .await?;
    details["Name"] = Value::from(format!("/{}", mine.name()));
    // The caller's volumes under the names they gave them.
    let uid = acting.who.uid();
    for mount in details["Mounts"].as_array_mut().into_iter().flatten() {
        let name = mount["Name"]
            .as_str()
            .and_then(|n| crate::volumes::user_name(n, uid));
        if let Some(name) = name.map(str::to_owned) {
            mount["Name"] = Value::from(name);
        }
    }
    Ok(Json(details).into_response())
}

/// `POST /containers/{id}/start`: ds01's start, which binds the checked mounts first.
pub(crate) async fn start(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    let running = mine.summary["State"].as_str() == Some("running");
    if running {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    ops::start::start(&d, &acting, &mine.owned).await?;
    if auto_remove(&mine.summary) {
        tokio::spawn(remove_once_exited(d.clone(), acting, mine));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Whether the container was made with `--rm` (its create options say so).
fn auto_remove(summary: &Value) -> bool {
    summary["Labels"][ds01_engine::labels::CREATE_OPTIONS]
        .as_str()
        .and_then(|text| ops::stored::StoredCreate::from_label(text).ok())
        .is_some_and(|stored| stored.auto_remove())
}

/// `docker run --rm`: once the container stops, ds01's remove takes it with what it made
/// (the committed image, the mount points); the client waits for that (`condition=removed`).
async fn remove_once_exited(d: Arc<Daemon>, acting: crate::caller::Acting, mine: names::Mine) {
    let waited = d
        .engine
        .raw(RawRequest::new(
            "POST",
            format!("/containers/{}/wait?condition=not-running", mine.id),
        ))
        .await;
    if let Ok(answer) = waited {
        let _ = answer.bytes().await;
    }
    // As Docker's --rm takes a container's anonymous volumes, this takes its home volume.
    let query = ds01_api::RemoveQuery {
        force: true,
        volumes: true,
        dry_run: false,
    };
    if let Err(e) = ops::remove::remove(&d, &acting, &mine.owned, query).await {
        tracing::warn!(
            "removing {} after it exited (--rm): {}",
            mine.owned,
            e.message
        );
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    all: Option<String>,
    filters: Option<String>,
    limit: Option<i64>,
}

/// Docker's booleans in a query: `1`, `true`, `True`.
fn truthy(text: &str) -> bool {
    matches!(text, "1" | "true" | "True" | "TRUE")
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StopQuery {
    t: Option<i64>,
}

/// `POST /containers/{id}/stop?t=N`.
pub(crate) async fn stop(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    Query(q): Query<StopQuery>,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    if mine.summary["State"].as_str() != Some("running") {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    ops::stop::stop(&d, &acting, &mine.owned, timeout(q.t)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /containers/{id}/restart?t=N`.
pub(crate) async fn restart(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    Query(q): Query<StopQuery>,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    ops::restart::restart(&d, &acting, &mine.owned, timeout(q.t)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn timeout(t: Option<i64>) -> u32 {
    t.map_or(10, |t| t.clamp(0, 3600) as u32)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RemoveQuery {
    #[serde(default, deserialize_with = "flag")]
    force: bool,
    #[serde(default, deserialize_with = "flag")]
    v: bool,
}

fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(truthy(&String::deserialize(d)?))
}

/// `DELETE /containers/{id}?force=&v=`: ds01's remove (GPU release, events, the mount
/// points), refusing a running container without `force` as Docker does.
pub(crate) async fn remove(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    if !q.force && mine.summary["State"].as_str() == Some("running") {
        return Err(DockerError::new(
            StatusCode::CONFLICT,
            format!(
                "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                mine.id
            ),
        ));
    }
    let query = ds01_api::RemoveQuery {
        force: q.force,
        volumes: q.v,
        dry_run: false,
    };
    ops::remove::remove(&d, &acting, &mine.owned, query).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /containers/{id}/kill?signal=S`.
pub(crate) async fn kill(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    on_engine(&d, &ctx, &id, "POST", "kill", &uri).await
}

/// `POST /containers/{id}/resize?h=&w=`.
pub(crate) async fn resize(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    on_engine(&d, &ctx, &id, "POST", "resize", &uri).await
}

/// `POST /containers/{id}/wait?condition=`.
pub(crate) async fn wait(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    on_engine(&d, &ctx, &id, "POST", "wait", &uri).await
}

/// `GET /containers/{id}/logs?follow=&stdout=&stderr=&tail=...`.
pub(crate) async fn logs(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    uri: Uri,
) -> Answer {
    on_engine(&d, &ctx, &id, "GET", "logs", &uri).await
}

/// `POST /containers/{id}/attach?stream=&stdin=&stdout=&stderr=`: the engine's hijacked
/// connection, spliced to the client's.
pub(crate) async fn attach(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    let acting = acting(&ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), &id).await?;
    let path = format!(
        "/containers/{}/attach{}",
        mine.id,
        relay::query(request.uri())
    );
    relay::hijack(&d.engine, request, RawRequest::new("POST", path)).await
}

/// A verb the engine does as asked once the container is the caller's (signals, sizes,
/// streams of its output), relayed with the client's query.
async fn on_engine(
    d: &Daemon,
    ctx: &crate::server::Ctx,
    reference: &str,
    method: &str,
    verb: &str,
    uri: &Uri,
) -> Answer {
    let acting = acting(ctx)?;
    let mine = names::container(&d.engine, acting.who.uid(), reference).await?;
    let path = format!("/containers/{}/{verb}{}", mine.id, relay::query(uri));
    relay::forward(&d.engine, RawRequest::new(method, path)).await
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RenameQuery {
    name: String,
}

/// `POST /containers/{id}/rename?name=NEW` (Compose renames the container it replaces):
/// the new name is the caller's too. Only containers made through this door are renamed,
/// since ds01's own keep their name in their mounts, home volume and history.
pub(crate) async fn rename(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    Query(q): Query<RenameQuery>,
) -> Answer {
    let acting = acting(&ctx)?;
    let uid = acting.who.uid();
    let mine = names::container(&d.engine, uid, &id).await?;
    let made_here = mine.summary["Labels"][ds01_engine::labels::CONTAINER_TYPE]
        .as_str()
        .is_some_and(|t| t != ds01_api::ContainerType::Atomic.as_str());
    if !made_here {
        return Err(DockerError::new(
            StatusCode::FORBIDDEN,
            format!(
                "ds01: {} was made with ds01's own commands and keeps its name; use `ds01 container recreate`",
                mine.name()
            ),
        ));
    }
    let new = ds01_api::ContainerName::new(q.name.trim_start_matches('/'))
        .map_err(|e| DockerError::invalid(e.to_string()))?
        .owned_by(uid);
    let path = format!(
        "/containers/{}/rename?{}",
        mine.id,
        serde_urlencoded::to_string([("name", new.as_str())]).unwrap_or_default()
    );
    relay::forward(&d.engine, RawRequest::new("POST", path)).await
}
