//! ds01d's second door: a socket that speaks the Docker Engine API, so that users' own
//! tools (the `docker` CLI, docker-compose, the Python SDK) work on the shared engine.
//!
//! Each user sees a world of their own. Their `web` is the engine's `web._.<uid>`; lists,
//! inspects and logs show only their containers, under the names they chose; a reference
//! to anyone else's object, by name or by ID, is answered like one to nothing at all.
//! Every create goes through the same pipeline as `ds01 container create`
//! (`ops::containers::create`), after the fields no user may set are refused by name. An
//! endpoint outside the set here is refused, never passed through (`docs/api.md`).

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use ds01_api::ApiError;

use crate::caller::Acting;
use crate::server::Ctx;
use crate::Daemon;

mod build;
mod containers;
mod create;
mod exec;
mod images;
mod names;
mod networks;
mod relay;
mod system;
mod volumes;

/// What the door remembers for its users while ds01d runs.
#[derive(Debug, Default)]
pub(crate) struct Door {
    /// Whose each exec is.
    pub execs: exec::Execs,
    /// The network names each user made.
    pub networks: networks::Networks,
}

/// The highest API version this door speaks: the engine's own on the servers ds01 runs on
/// (Engine 20.10); newer clients negotiate down to it.
pub(crate) const API_VERSION: &str = "1.41";

/// An answer in Docker's error shape, `{"message": ...}`, which every Docker client prints.
#[derive(Debug)]
pub(crate) struct DockerError {
    status: StatusCode,
    message: String,
}

impl DockerError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> DockerError {
        DockerError {
            status,
            message: message.into(),
        }
    }

    /// A field of the request that the policy refuses, named as the client wrote it.
    pub(crate) fn refused(field: &str, why: &str) -> DockerError {
        DockerError::new(
            StatusCode::FORBIDDEN,
            format!("ds01: `{field}` is refused on this shared server: {why}"),
        )
    }

    pub(crate) fn no_such_container(reference: &str) -> DockerError {
        DockerError::new(
            StatusCode::NOT_FOUND,
            format!("No such container: {}", ds01_api::shown(reference)),
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> DockerError {
        DockerError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ApiError> for DockerError {
    fn from(e: ApiError) -> DockerError {
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        DockerError::new(status, format!("ds01: {}", e.message))
    }
}

impl From<ds01_engine::EngineError> for DockerError {
    fn from(e: ds01_engine::EngineError) -> DockerError {
        crate::errors::from_engine(e).into()
    }
}

impl IntoResponse for DockerError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "message": self.message })),
        )
            .into_response()
    }
}

pub(crate) type Answer = Result<Response, DockerError>;

/// The caller as a user who owns things: root and unknown accounts are refused here, as
/// on ds01's own API, and nobody acts for anyone else through this door.
pub(crate) fn acting(ctx: &Ctx) -> Result<Acting, DockerError> {
    ctx.caller().acting(None).map_err(DockerError::from)
}

/// A request's JSON body; `what` names the request in the error.
pub(crate) fn json_body(bytes: &[u8], what: &str) -> Result<serde_json::Value, DockerError> {
    serde_json::from_slice(bytes)
        .map_err(|e| DockerError::invalid(format!("the {what} request is not JSON: {e}")))
}

/// Only the caller's own account may run a container or a command (`User`): their UID,
/// login or in-container name, with their own group if one is given.
pub(crate) fn check_user(user: &str, who: &ds01_dockerfile::Identity) -> Result<(), DockerError> {
    if user.is_empty() {
        return Ok(());
    }
    let (account, group) = user.split_once(':').unwrap_or((user, ""));
    let account_ok =
        account == who.uid().to_string() || account == who.login() || *who.username() == *account;
    let group_ok = group.is_empty() || group == who.gid().to_string();
    if account_ok && group_ok {
        return Ok(());
    }
    Err(DockerError::refused(
        &format!("User={}", ds01_api::shown(user)),
        "your containers and commands run as your own account",
    ))
}

/// The door's routes, with the version prefix (`/v1.41/...`) taken off first, as Docker
/// serves every path with and without it.
pub(crate) fn router(
    daemon: Arc<Daemon>,
    streams: impl Fn(Router<Arc<Daemon>>) -> Router<Arc<Daemon>>,
) -> Router {
    if daemon.config.cluster.is_some() {
        return in_cluster_mode();
    }
    let quick = Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(create::create))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/resize", post(containers::resize))
        .route("/containers/{id}/rename", post(containers::rename))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .route("/containers/{id}/exec", post(exec::create))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/images/json", get(images::list))
        .route("/images/create", post(images::pull))
        .route("/images/{*name}", get(images::inspect))
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect));
    // What answers for long holds one of the caller's stream slots, as on ds01's API.
    let long = streams(
        Router::new()
            .route("/containers/{id}/wait", post(containers::wait))
            .route("/containers/{id}/logs", get(containers::logs))
            .route("/containers/{id}/attach", post(containers::attach))
            .route("/exec/{id}/start", post(exec::start))
            .route(
                "/build",
                post(build::build).layer(axum::extract::DefaultBodyLimit::max(build::MAX_CONTEXT)),
            ),
    );
    quick
        .merge(long)
        .fallback(|request: Request| async move {
            DockerError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "ds01: {} {} is not offered through ds01's Docker socket (docs/api.md lists what is)",
                    request.method(),
                    ds01_api::shown(request.uri().path())
                ),
            )
        })
        .with_state(daemon)
}

/// In cluster mode a user's containers are Slurm jobs, which Docker's API cannot show or
/// make: the door answers its ping (so that clients report the refusal, not a dead
/// socket) and refuses everything else, never reaching the login node's engine.
fn in_cluster_mode() -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .fallback(|request: Request| async move {
            // Read first (a bounded part of it): a client still writing its body would
            // otherwise see a broken pipe instead of the answer.
            let _ = axum::body::to_bytes(request.into_body(), 1 << 20).await;
            DockerError::new(
                StatusCode::NOT_IMPLEMENTED,
                "ds01: this ds01d runs containers as Slurm jobs: its Docker socket serves none \
                 (use `ds01 container`)"
                    .to_owned(),
            )
        })
}

/// Takes Docker's version prefix off a path: `/v1.41/containers/json` → `/containers/json`.
pub(crate) fn unversioned(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/')?;
    let version = &rest[..end];
    let numeric = !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
        && version.contains('.');
    numeric.then(|| &rest[end..])
}

/// The request with its version prefix taken off.
pub(crate) fn strip_version(mut request: Request) -> Request {
    let uri = request.uri();
    if let Some(rest) = unversioned(uri.path()) {
        let new = match uri.query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        if let Ok(parsed) = new.parse() {
            *request.uri_mut() = parsed;
        }
    }
    request
}

/// The caller of a request on this door.
pub(crate) type Caller = Extension<Ctx>;

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_api::ErrorCode;

    #[test]
    fn version_prefixes_come_off_and_nothing_else_does() {
        assert_eq!(
            unversioned("/v1.41/containers/json"),
            Some("/containers/json")
        );
        assert_eq!(unversioned("/v1.24/_ping"), Some("/_ping"));
        assert_eq!(unversioned("/volumes/x"), None);
        assert_eq!(unversioned("/v1/containers"), None);
        assert_eq!(unversioned("/vx.1/containers"), None);
        assert_eq!(unversioned("/containers/json"), None);
    }

    #[test]
    fn errors_read_as_dockers() {
        let e: DockerError = ApiError::new(ErrorCode::NotFound, "gone").into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "ds01: gone");
    }
}
