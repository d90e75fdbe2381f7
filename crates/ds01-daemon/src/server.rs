//! The HTTP side: the socket, peer-credential authentication, the audit line of every
//! request, and the routes (documented in `docs/api.md`).

use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ds01_api::{
    ApiError, ContainerCreate, ContainerName, ErrorCode, ImageCreate, ImageUpdate, ListQuery,
    OwnedContainer, ACT_AS_HEADER,
};
use ds01_dockerfile::ImageName;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::net::UnixListener;

use crate::audit::{self, Entry};
use crate::caller::{Acting, Caller};
use crate::Daemon;

mod accept;
mod admin;
mod containers;
mod images;
mod limits;
mod routes;
mod usage;

use admin::*;
use containers::*;
use images::*;
use usage::*;

/// The kernel's word on who is at the other end of a connection (`SO_PEERCRED`, read
/// once when it is accepted).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    uid: Option<u32>,
}

/// An authenticated request's caller and whom it acts for.
#[derive(Debug, Clone)]
pub struct Ctx {
    caller: Caller,
    act_as: Option<String>,
}

impl Ctx {
    /// The authenticated caller.
    pub(crate) fn caller(&self) -> &Caller {
        &self.caller
    }

    fn acting(&self) -> Result<Acting, Failure> {
        self.caller.acting(self.act_as.as_deref()).map_err(Failure)
    }
}

/// The acting user and the container named in the path (`/v1/containers/{name}/...`): what
/// every route on one of the caller's own containers starts from. The name is made the
/// acting user's here, `<name>._.<uid>`, so no route can name another user's container.
pub struct OwnContainer {
    acting: Acting,
    container: OwnedContainer,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OwnContainer {
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Failure> {
        let ctx = parts
            .extensions
            .get::<Ctx>()
            .ok_or_else(|| Failure(ApiError::new(ErrorCode::Failed, "no caller on the request")))?;
        let acting = ctx.acting()?;
        let UrlPath(name) = UrlPath::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| Failure(ApiError::invalid(e.body_text())))?;
        let container = container(&name)?.owned_by(acting.who.uid());
        Ok(OwnContainer { acting, container })
    }
}

/// The answer of a simple action on one of the caller's containers.
fn acted(container: &OwnedContainer, action: &str) -> Json<ds01_api::Acted> {
    Json(ds01_api::Acted {
        name: container.to_string(),
        action: action.to_owned(),
    })
}

/// An [`ApiError`] as an HTTP answer.
pub struct Failure(pub ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure(e)
    }
}

type Answer<T> = Result<Json<T>, Failure>;

/// The name of ds01's own socket among those systemd passes (`FileDescriptorName=`).
pub const MAIN_SOCKET_NAME: &str = "ds01d.socket";
/// The name of the Docker-API socket among those systemd passes.
pub const DOCKER_SOCKET_NAME: &str = "ds01d-docker.socket";

/// Binds the socket: the one systemd passed under `name` (socket activation), else
/// `path`, made reachable by every local user (authentication is by peer credentials, not
/// by mode).
pub fn listen(path: &Path, name: &str) -> std::io::Result<UnixListener> {
    if let Some(listener) = activated(name)? {
        return Ok(listener);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another ds01d answers on {} already", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    Ok(listener)
}

/// The listening socket systemd handed over under `name`. systemd passes descriptors from
/// 3 on and names them in `LISTEN_FDNAMES` (`FileDescriptorName=`, else the unit's name);
/// a single unnamed one is taken as ds01's own socket, as units before the Docker socket
/// passed it.
fn activated(name: &str) -> std::io::Result<Option<UnixListener>> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0);
    if !for_us || count <= 0 {
        return Ok(None);
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let Some(index) = pick_descriptor(&names, count, name) else {
        return Ok(None);
    };
    // SAFETY: systemd passes its listening sockets from descriptor 3 on; this one is
    // taken once, for the name it was passed under.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3 + index) };
    std_listener.set_nonblocking(true)?;
    UnixListener::from_std(std_listener).map(Some)
}

/// Which of `count` passed descriptors (named `names`, colon-separated) is `name`'s.
fn pick_descriptor(names: &str, count: i32, name: &str) -> Option<i32> {
    let listed: Vec<&str> = names.split(':').filter(|n| !n.is_empty()).collect();
    if let Some(i) = listed.iter().position(|n| *n == name) {
        return ((i as i32) < count).then_some(i as i32);
    }
    let named_ours = listed
        .iter()
        .any(|n| *n == MAIN_SOCKET_NAME || *n == DOCKER_SOCKET_NAME);
    (name == MAIN_SOCKET_NAME && count == 1 && !named_ours).then_some(0)
}

/// Serves requests on `listener` until the future completes. `fd_limit` is the
/// descriptor limit in force, which the global connection cap stays under.
pub async fn serve(
    daemon: Arc<Daemon>,
    listener: UnixListener,
    docker: Option<UnixListener>,
    fd_limit: u64,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = daemon.config.server;
    let gate = limits::Gate::new(&limits, limits::connection_budget(fd_limit));
    tracing::info!(
        "connections: at most {} in all (descriptor limit {fd_limit}), {} and {} streams per user; heads within {} s, idle ones closed after {} s",
        gate.max_connections(),
        limits.connections_per_user,
        limits.streams_per_user,
        limits.header_timeout.as_secs(),
        limits.idle_timeout.as_secs()
    );
    let timeouts = accept::Timeouts {
        header: limits.header_timeout,
        idle: limits.idle_timeout,
    };
    let app = routes::router(daemon.clone(), gate.clone());
    let Some(docker) = docker else {
        return accept::serve(app, listener, gate, timeouts, shutdown).await;
    };
    // One shutdown for both doors; one gate, so a user's caps span both.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let docker_app = docker_router(daemon, gate.clone());
    let second = tokio::spawn(accept::serve(
        docker_app,
        docker,
        gate.clone(),
        timeouts,
        until(),
    ));
    let first = accept::serve(app, listener, gate, timeouts, async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let outcome = first.await;
    let _ = second.await;
    outcome
}

/// The Docker-API door's router: its routes (with the version prefix taken off before
/// routing), behind the same authentication, audit line and stream caps as ds01's own.
fn docker_router(daemon: Arc<Daemon>, gate: Arc<limits::Gate>) -> axum::Router {
    use tower::Layer;
    let streams = {
        let gate = gate.clone();
        move |r: axum::Router<Arc<Daemon>>| {
            r.route_layer(axum::middleware::from_fn_with_state(
                gate.clone(),
                stream_slot,
            ))
        }
    };
    let routes = crate::docker::router(daemon.clone(), streams)
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(axum::middleware::from_fn_with_state(daemon, authenticate));
    let unversioned = tower::util::MapRequestLayer::new(crate::docker::strip_version).layer(routes);
    axum::Router::new().fallback_service(unversioned)
}

/// Raises the descriptor limit to its hard limit; the limit in force.
pub fn raise_fd_limit() -> u64 {
    limits::raise_fd_limit()
}

/// Holds one of the caller's stream slots for as long as the answer streams (or the
/// upgraded connection lives); over the cap, answers 429.
async fn stream_slot(
    State(gate): State<Arc<limits::Gate>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: Request,
    next: Next,
) -> Response {
    let Some(slot) = gate.stream(peer.uid.unwrap_or(u32::MAX)) else {
        let error = ApiError::new(
            ErrorCode::Limit,
            format!(
                "you have {} streams open already (builds, creates, exec, logs, cp, followed events); wait for one to end",
                gate.streams_per_user()
            ),
        )
        .because(ds01_api::Reason::OverLimit {
            key: "streams_per_user".into(),
        });
        return (StatusCode::TOO_MANY_REQUESTS, Json(error)).into_response();
    };
    let connection = request.extensions().get::<accept::Connection>().cloned();
    let response = next.run(request).await;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(connection) = connection {
            connection.hold(slot);
        }
        return response;
    }
    response.map(|body| {
        axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
            let _held = &slot;
            frame
        }))
    })
}

/// Authenticates by peer credentials, then writes the audit line once answered.
async fn authenticate(
    State(daemon): State<Arc<Daemon>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let act_as = header(request.headers(), ACT_AS_HEADER);
    let caller = match peer.uid {
        // NSS (SSSD, LDAP) may block for a while: off the async workers, so one slow look-up
        // does not stall every other user's request.
        Some(uid) => {
            let daemon = daemon.clone();
            tokio::task::spawn_blocking(move || Caller::from_uid(uid, &daemon.config))
                .await
                .unwrap_or_else(|e| {
                    Err(ApiError::new(
                        ErrorCode::Failed,
                        format!("looking up UID {uid}: {e}"),
                    ))
                })
        }
        None => Err(ApiError::forbidden(
            "the kernel gave no credentials for this connection",
        )),
    };
    let (response, login) = match caller {
        Ok(caller) => {
            let login = caller.login().to_owned();
            request.extensions_mut().insert(Ctx {
                caller,
                act_as: act_as.clone(),
            });
            (next.run(request).await, Some(login))
        }
        Err(e) => (Failure(e).into_response(), None),
    };
    daemon.audit.write(&Entry {
        time: audit::now(),
        uid: peer.uid.unwrap_or(u32::MAX),
        login: login.as_deref(),
        act_as: act_as.as_deref(),
        method: &method,
        path: &path,
        status: response.status().as_u16(),
    });
    response
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Failure> {
    serde_json::from_slice(bytes).map_err(|e| {
        Failure(ApiError::invalid(format!(
            "the request body is not valid: {e}"
        )))
    })
}

fn container(name: &str) -> Result<ContainerName, Failure> {
    name.parse()
        .map_err(|e: ds01_api::ContainerNameError| Failure(ApiError::invalid(e.to_string())))
}

fn image(name: &str) -> Result<ImageName, Failure> {
    ImageName::parse(name).map_err(|e| Failure(ApiError::invalid(e.to_string())))
}

async fn version(State(d): State<Arc<Daemon>>) -> Json<ds01_api::VersionInfo> {
    Json(ds01_api::VersionInfo {
        api: ds01_api::API_VERSION,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        docker_socket: d.docker_socket.as_ref().map(|p| p.display().to_string()),
    })
}

async fn whoami(Extension(ctx): Extension<Ctx>) -> Json<ds01_api::Whoami> {
    Json(ctx.caller.whoami())
}

async fn doctor(State(d): State<Arc<Daemon>>) -> Json<Vec<ds01_api::Check>> {
    Json(crate::ops::doctor::doctor(&d).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_sockets_are_told_apart_by_name() {
        let both = format!("{MAIN_SOCKET_NAME}:{DOCKER_SOCKET_NAME}");
        assert_eq!(pick_descriptor(&both, 2, MAIN_SOCKET_NAME), Some(0));
        assert_eq!(pick_descriptor(&both, 2, DOCKER_SOCKET_NAME), Some(1));
        // Units from before the Docker socket pass one unnamed (or unit-named) socket.
        assert_eq!(pick_descriptor("", 1, MAIN_SOCKET_NAME), Some(0));
        assert_eq!(pick_descriptor("ds01d.socket", 1, DOCKER_SOCKET_NAME), None);
        assert_eq!(pick_descriptor("other.socket", 1, DOCKER_SOCKET_NAME), None);
    }
}
