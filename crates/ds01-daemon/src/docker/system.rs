//! `_ping`, `version` and `info`: what clients ask before anything else. `info` tells the
//! engine's facts but counts only the caller's containers and images.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ds01_engine::RawRequest;

use super::{acting, names, relay, Answer, Caller, API_VERSION};
use crate::Daemon;

/// `GET|HEAD /_ping`: `OK`, with the version clients negotiate down to.
pub(crate) async fn ping() -> Response {
    (
        [
            ("Api-Version", API_VERSION),
            ("Docker-Experimental", "false"),
            ("Ostype", "linux"),
            ("Cache-Control", "no-cache, no-store, must-revalidate"),
            (header::CONTENT_TYPE.as_str(), "text/plain; charset=utf-8"),
        ],
        "OK",
    )
        .into_response()
}

/// `GET /version`: the engine's, with this door's API version.
pub(crate) async fn version(State(d): State<Arc<Daemon>>, Extension(ctx): Caller) -> Answer {
    acting(&ctx)?;
    let mut version = relay::json(&d.engine, RawRequest::new("GET", "/version")).await?;
    version["ApiVersion"] = API_VERSION.into();
    Ok(Json(version).into_response())
}

/// `GET /info`: the engine's facts, with counts of the caller's own containers.
pub(crate) async fn info(State(d): State<Arc<Daemon>>, Extension(ctx): Caller) -> Answer {
    let acting = acting(&ctx)?;
    let engine = relay::json(&d.engine, RawRequest::new("GET", "/info")).await?;
    let mine = names::all(&d.engine, acting.who.uid(), "").await?;
    let state = |s: &str| {
        mine.iter()
            .filter(|m| m.summary["State"].as_str() == Some(s))
            .count()
    };
    let mut info = serde_json::Map::new();
    for key in [
        "ServerVersion",
        "OperatingSystem",
        "OSType",
        "Architecture",
        "NCPU",
        "MemTotal",
        "Driver",
        "CgroupDriver",
        "CgroupVersion",
        "KernelVersion",
        "Name",
        "Runtimes",
        "DefaultRuntime",
        "SecurityOptions",
    ] {
        info.insert(key.to_owned(), engine[key].clone());
    }
    info.insert("Containers".into(), mine.len().into());
    info.insert("ContainersRunning".into(), state("running").into());
    info.insert("ContainersPaused".into(), state("paused").into());
    info.insert("ContainersStopped".into(), state("exited").into());
    info.insert("ID".into(), "ds01".into());
    Ok(Json(info).into_response())
}
