//! Images through the Docker API: those the caller may use (their own repository and the
//! bases the admin allows), under the tags that allow them; nothing else is listed, and
//! any other reference is "No such image", as on ds01's own API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_dockerfile::ImageRef;
use ds01_engine::RawRequest;
use serde_json::Value;

use super::{acting, relay, Answer, Caller, DockerError};
use crate::authz::{Authz, IfMissing};
use crate::Daemon;

/// `GET /images/json`.
pub(crate) async fn list(State(d): State<Arc<Daemon>>, Extension(ctx): Caller) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let all = relay::json(&d.engine, RawRequest::new("GET", "/images/json")).await?;
    let authz = Authz::new(&d.engine, &d.config);
    let usable: Vec<Value> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|image| {
            let tags: Vec<Value> = image["RepoTags"]
                .as_array()?
                .iter()
                .filter(|t| t.as_str().is_some_and(|t| authz.grants(uid, t)))
                .cloned()
                .collect();
            if tags.is_empty() {
                return None;
            }
            let mut shown = image.clone();
            shown["RepoTags"] = Value::from(tags);
            // Digests name images in a registry this server does not have.
            shown["RepoDigests"] = Value::from(Vec::<Value>::new());
            Some(shown)
        })
        .collect();
    Ok(Json(usable).into_response())
}

/// `GET /images/{name}/json`: the image, when the caller may use it.
pub(crate) async fn inspect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(rest): Path<String>,
) -> Answer {
    let uid = acting(&ctx)?.who.uid();
    let Some(name) = rest.strip_suffix("/json") else {
        return Err(DockerError::new(
            StatusCode::NOT_FOUND,
            "ds01: only an image's inspect (`GET /images/NAME/json`) is offered through ds01's Docker socket",
        ));
    };
    let no_such = || {
        DockerError::new(
            StatusCode::NOT_FOUND,
            format!("No such image: {}", ds01_api::shown(name)),
        )
    };
    let reference = ImageRef::parse(name).map_err(|_| no_such())?;
    let allowed = Authz::new(&d.engine, &d.config)
        .image(uid, &reference, IfMissing::Refuse)
        .await
        .map_err(|_| no_such())?;
    relay::forward(
        &d.engine,
        RawRequest::new("GET", format!("/images/{}/json", allowed.reference)),
    )
    .await
}

/// `POST /images/create` (a pull, which `docker run` tries for an image it was not given):
/// no registry is reachable from the server, and which images exist is not for the
/// caller to learn this way.
pub(crate) async fn pull(Extension(ctx): Caller) -> Answer {
    acting(&ctx)?;
    Err(DockerError::new(
        StatusCode::NOT_FOUND,
        "ds01: images are not pulled on this server; build one with `docker build -t NAME .` or `ds01 image create`, and `docker images` lists those you may use",
    ))
}
