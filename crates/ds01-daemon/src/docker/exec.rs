//! Exec through the Docker API: the command runs as the container's owner (the caller),
//! never privileged, and the exec's ID is the caller's alone: ds01d remembers whose each
//! one is, so another user's exec ID reads as one that does not exist.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_engine::RawRequest;
use serde_json::Value;

use super::{acting, names, relay, Answer, Caller, DockerError};
use crate::Daemon;

/// The most exec IDs remembered; the oldest are forgotten first (Docker itself forgets an
/// exec once its container is gone).
const REMEMBERED: usize = 10_000;

/// Whose each exec ID is.
#[derive(Debug, Default)]
pub(crate) struct Execs {
    owners: Mutex<(HashMap<String, u32>, VecDeque<String>)>,
}

impl Execs {
    fn remember(&self, id: &str, uid: u32) {
        let mut guard = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        let (owners, order) = &mut *guard;
        if owners.insert(id.to_owned(), uid).is_none() {
            order.push_back(id.to_owned());
        }
        while order.len() > REMEMBERED {
            if let Some(old) = order.pop_front() {
                owners.remove(&old);
            }
        }
    }

    /// The exec, when it is `uid`'s; otherwise Docker's answer for an unknown one.
    fn check(&self, id: &str, uid: u32) -> Result<(), DockerError> {
        let guard = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        match guard.0.get(id) {
            Some(owner) if *owner == uid => Ok(()),
            _ => Err(DockerError::new(
                StatusCode::NOT_FOUND,
                format!("No such exec instance: {}", ds01_api::shown(id)),
            )),
        }
    }
}

/// `POST /containers/{id}/exec`.
pub(crate) async fn create(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let who = &acting.who;
    let mine = names::container(&d.engine, who.uid(), &id).await?;
    let mut body: Value = super::json_body(&body, "exec")?;
    if body["Privileged"].as_bool() == Some(true) {
        return Err(DockerError::refused(
            "Privileged",
            "commands run as you, never privileged",
        ));
    }
    super::check_user(body["User"].as_str().unwrap_or(""), who)?;
    body["User"] = Value::from(format!("{}:{}", who.uid(), who.gid()));
    body["Privileged"] = Value::Bool(false);
    let made = relay::json(
        &d.engine,
        RawRequest::json("POST", format!("/containers/{}/exec", mine.id), &body),
    )
    .await?;
    let exec_id = made["Id"].as_str().unwrap_or_default().to_owned();
    d.docker.execs.remember(&exec_id, who.uid());
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// Refuses an exec ID that is not the caller's, as one that does not exist.
fn own_exec(d: &Daemon, ctx: &crate::server::Ctx, id: &str) -> Result<(), DockerError> {
    d.docker.execs.check(id, acting(ctx)?.who.uid())
}

/// `POST /exec/{id}/start`: the engine's hijacked stream, or, detached, its answer.
pub(crate) async fn start(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    own_exec(&d, &ctx, &id)?;
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .map_err(|e| DockerError::invalid(format!("cannot read the request: {e}")))?;
    let engine_request = RawRequest {
        body: bytes.clone(),
        content_type: Some("application/json".to_owned()),
        ..RawRequest::new("POST", format!("/exec/{id}/start"))
    };
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    relay::hijack(&d.engine, request, engine_request).await
}

/// `GET /exec/{id}/json`.
pub(crate) async fn inspect(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
) -> Answer {
    own_exec(&d, &ctx, &id)?;
    relay::forward(
        &d.engine,
        RawRequest::new("GET", format!("/exec/{id}/json")),
    )
    .await
}

/// `POST /exec/{id}/resize?h=&w=`.
pub(crate) async fn resize(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Path(id): Path<String>,
    request: Request,
) -> Answer {
    own_exec(&d, &ctx, &id)?;
    let path = format!("/exec/{id}/resize{}", relay::query(request.uri()));
    relay::forward(&d.engine, RawRequest::new("POST", path)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_is_its_creators_alone() {
        let execs = Execs::default();
        execs.remember("e1", 1000);
        assert!(execs.check("e1", 1000).is_ok());
        let other = execs.check("e1", 1001).unwrap_err();
        assert_eq!(
            other.message,
            execs
                .check("nope", 1000)
                .unwrap_err()
                .message
                .replace("nope", "e1")
        );
    }
}
