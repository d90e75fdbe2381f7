//! The HTTP side: the socket, peer-credential authentication, the audit line of every
//! request, and the routes (documented in `docs/api.md`).

use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::serve::IncomingStream;
use axum::{Extension, Json, Router};
use ds01_api::{
    ApiError, ContainerCreate, ContainerName, ErrorCode, ExecRequest, ImageCreate, ImageUpdate,
    ListQuery, ACT_AS_HEADER,
};
use ds01_dockerfile::ImageName;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tokio::net::UnixListener;

use crate::audit::{self, Entry};
use crate::caller::{Acting, Caller};
use crate::Daemon;

/// The kernel's word on who is at the other end of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        Peer {
            uid: stream.io().peer_cred().ok().map(|c| c.uid()),
        }
    }
}

/// An authenticated request's caller and whom it acts for.
#[derive(Debug, Clone)]
pub struct Ctx {
    caller: Caller,
    act_as: Option<String>,
}

impl Ctx {
    fn acting(&self) -> Result<Acting, Failure> {
        self.caller.acting(self.act_as.as_deref()).map_err(Failure)
    }
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

/// Binds the socket: the one systemd passed (socket activation), else `path`, made
/// reachable by every local user (authentication is by peer credentials, not by mode).
pub fn listen(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(listener) = activated()? {
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

/// The listening socket systemd handed over (`LISTEN_FDS`, first descriptor 3).
fn activated() -> std::io::Result<Option<UnixListener>> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !for_us || count == 0 {
        return Ok(None);
    }
    // SAFETY: systemd passes the listening socket as descriptor 3 and nothing else owns it.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    std_listener.set_nonblocking(true)?;
    UnixListener::from_std(std_listener).map(Some)
}

/// Serves requests on `listener` until the future completes.
pub async fn serve(
    daemon: Arc<Daemon>,
    listener: UnixListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(daemon);
    axum::serve(listener, app.into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(shutdown)
        .await
}

fn router(daemon: Arc<Daemon>) -> Router {
    Router::new()
        .route("/v1/version", get(version))
        .route("/v1/whoami", get(whoami))
        .route("/v1/doctor", get(doctor))
        .route(
            "/v1/containers",
            get(list_containers)
                .post(create_container)
                .delete(remove_stopped),
        )
        .route("/v1/containers/{name}", delete(remove_container))
        .route("/v1/containers/{name}/recreate", post(recreate_container))
        .route("/v1/containers/{name}/start", post(start_container))
        .route("/v1/containers/{name}/stop", post(stop_container))
        .route("/v1/containers/{name}/exec", post(exec))
        .route("/v1/containers/{name}/install", post(install))
        .route("/v1/stats", get(stats))
        .route("/v1/limits", get(limits))
        .route("/v1/events", get(events))
        .route("/v1/containers/{name}/why", get(why))
        .route("/v1/containers/{name}/keep-alive", post(keep_alive))
        .route("/v1/containers/{name}/jupyter", post(jupyter))
        .route("/v1/admin/gpus", get(admin_gpus))
        .route("/v1/admin/gc", post(admin_gc))
        .route("/v1/operations/{id}/cancel", post(cancel))
        // Everyday basics: show, restart, pause, `--all`, logs, cp.
        .route("/v1/containers/{name}", get(show_container))
        .route("/v1/containers/{name}/restart", post(restart_container))
        .route("/v1/containers/{name}/pause", post(pause_container))
        .route("/v1/containers/{name}/unpause", post(unpause_container))
        .route("/v1/containers/_all/{verb}", post(bulk_containers))
        .route("/v1/containers/{name}/logs", post(container_logs))
        .route("/v1/containers/{name}/copy-out", post(copy_out))
        .route("/v1/containers/{name}/copy-in", post(copy_in))
        .route("/v1/images", get(list_images).post(create_image))
        .route("/v1/images/{name}", get(show_image).delete(delete_image))
        .route("/v1/images/{name}/update", post(update_image))
        .fallback(|| async {
            Failure(ApiError::new(
                ErrorCode::NotFound,
                "no such API path; see docs/api.md",
            ))
        })
        .layer(middleware::from_fn_with_state(daemon.clone(), authenticate))
        .with_state(daemon)
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
            let login = caller.login.clone();
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

async fn version() -> Json<serde_json::Value> {
    Json(json!({"api": ds01_api::API_VERSION, "version": env!("CARGO_PKG_VERSION")}))
}

async fn whoami(Extension(ctx): Extension<Ctx>) -> Json<ds01_api::Whoami> {
    Json(ctx.caller.whoami())
}

async fn doctor(State(d): State<Arc<Daemon>>) -> Json<Vec<ds01_api::Check>> {
    Json(d.doctor().await)
}

async fn list_containers(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListQuery>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Answer<Vec<ds01_api::ContainerInfo>> {
    let filters = crate::control::filters(&pairs)?;
    // Root without `--as` owns nothing: it sees everybody's, as an admin.
    let acting = match ctx.acting() {
        Ok(a) => Some(a),
        Err(_) if ctx.caller.admin && ctx.act_as.is_none() => None,
        Err(e) => return Err(e),
    };
    let mut list = d
        .list_containers(&ctx.caller, acting.as_ref(), q.all_users)
        .await?;
    list.retain(|c| filters.iter().all(|f| f.matches(c)));
    Ok(Json(list))
}

async fn create_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ds01_api::CreateQuery>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let acting = ctx.acting()?;
    let request: ContainerCreate = body(&bytes)?;
    if q.dry_run {
        return Ok(Json(d.plan_container(&acting, request).await?).into_response());
    }
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { d.create_container(&acting, request, reporter).await },
    ))
}

async fn start_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    d.start(&acting, &name).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": "started"}),
    ))
}

#[derive(Deserialize)]
struct StopQuery {
    #[serde(default)]
    timeout: Option<u32>,
}

async fn stop_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<StopQuery>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    d.stop(&acting, &name, q.timeout.unwrap_or(10)).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": "stopped"}),
    ))
}

#[derive(Deserialize)]
struct ForceQuery {
    #[serde(default)]
    force: bool,
}

async fn remove_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<ds01_api::RemoveQuery>,
) -> Answer<ds01_api::Removed> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    Ok(Json(d.remove(&acting, &name, q).await?))
}

/// No `#[serde(flatten)]`: query strings carry only text, which flattening cannot read as
/// booleans.
#[derive(Deserialize)]
struct RemoveStoppedQuery {
    #[serde(default)]
    stopped: bool,
    #[serde(default)]
    volumes: bool,
    #[serde(default)]
    dry_run: bool,
}

/// `DELETE /v1/containers?stopped=true`: only the stopped ones, never a bare "all".
async fn remove_stopped(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<RemoveStoppedQuery>,
) -> Answer<Vec<ds01_api::Removed>> {
    let acting = ctx.acting()?;
    if !q.stopped {
        return Err(ApiError::invalid(
            "say `stopped=true`: only stopped containers are removed together",
        )
        .into());
    }
    let query = ds01_api::RemoveQuery {
        force: false,
        volumes: q.volumes,
        dry_run: q.dry_run,
    };
    Ok(Json(d.remove_stopped(&acting, query).await?))
}

async fn recreate_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { d.recreate(&acting, &name, reporter).await },
    ))
}

async fn exec(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    mut request: Request,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return Err(Failure(ApiError::invalid(
            "exec needs an HTTP/1.1 upgrade (`Connection: Upgrade`, `Upgrade: ds01-exec`)",
        )));
    };
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map_err(|e| Failure(ApiError::invalid(format!("cannot read the request: {e}"))))?;
    let exec: ExecRequest = body(&bytes)?;
    Ok(d.exec(acting, name, exec, on_upgrade).await?)
}

/// `POST /v1/containers/{name}/jupyter`.
async fn jupyter(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    bytes: Bytes,
) -> Answer<ds01_api::JupyterServer> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let request: ds01_api::JupyterRequest = body(&bytes)?;
    Ok(Json(d.jupyter(&acting, &name, request.port).await?))
}

#[derive(Deserialize)]
struct InstallBody {
    packages: Vec<ds01_dockerfile::PipRequirement>,
    #[serde(default)]
    commit: bool,
}

async fn install(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    bytes: Bytes,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let request: InstallBody = body(&bytes)?;
    let committed = d
        .install(&acting, &name, &request.packages, request.commit)
        .await?;
    Ok(Json(json!({
        "name": name.docker_name(acting.who.uid()),
        "action": "installed",
        "packages": request.packages,
        "committed": committed,
    })))
}

async fn cancel(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(id): UrlPath<String>,
) -> Answer<serde_json::Value> {
    if d.operations.cancel(&id, ctx.caller.uid, ctx.caller.admin) {
        Ok(Json(json!({"operation": id, "cancelled": true})))
    } else {
        Err(Failure(ApiError::new(
            ErrorCode::NotFound,
            format!("no operation {} of yours is running", ds01_api::shown(&id)),
        )))
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    /// Unix seconds, RFC 3339, or a span back from now (`10m`, `2h`).
    since: Option<String>,
    container: Option<String>,
    #[serde(default)]
    follow: bool,
    #[serde(default)]
    all_users: bool,
}

/// `GET /v1/events`: the caller's own events (an admin's `all_users`: everybody's).
async fn events(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<EventsQuery>,
) -> Result<axum::response::Response, Failure> {
    let everybody =
        ctx.caller.admin && (q.all_users || ctx.act_as.is_none() && ctx.caller.uid == 0);
    let uid = if everybody {
        None
    } else {
        Some(ctx.acting()?.who.uid())
    };
    let since = match q.since.as_deref() {
        None => i64::MIN,
        Some(s) => since(s).ok_or_else(|| {
            Failure(ApiError::invalid(format!(
                "`{}` is not a time: give Unix seconds, an RFC 3339 time, or a span back from now such as 10m or 2h",
                ds01_api::shown(s)
            )))
        })?,
    };
    let container = match (&q.container, uid) {
        (Some(name), Some(uid)) => Some(container(name)?.docker_name(uid)),
        (Some(name), None) => Some(name.clone()),
        (None, _) => None,
    };
    let keep = move |e: &ds01_api::Event| {
        uid.is_none_or(|u| e.uid == u)
            && e.ts >= since
            && container.as_ref().is_none_or(|c| {
                e.container == *c || e.container.rsplit_once("._.").map(|(n, _)| n) == Some(c)
            })
    };
    let past = d.events.read(&keep);
    if !q.follow {
        return Ok(Json(past).into_response());
    }
    let live = d.events.follow();
    let lines = futures_util::stream::iter(past.into_iter().map(Ok::<_, std::convert::Infallible>))
        .chain(futures_util::stream::unfold(live, move |mut live| {
            let keep = keep.clone();
            async move {
                loop {
                    match live.recv().await {
                        Ok(e) if keep(&e) => return Some((Ok(e), live)),
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return None,
                    }
                }
            }
        }))
        .map(|e: Result<ds01_api::Event, std::convert::Infallible>| {
            e.map(|e| {
                let mut line = serde_json::to_vec(&e).unwrap_or_default();
                line.push(b'\n');
                axum::body::Bytes::from(line)
            })
        });
    Ok(axum::response::Response::builder()
        .header(axum::http::header::CONTENT_TYPE, "application/x-ndjson")
        .body(axum::body::Body::from_stream(lines))
        .unwrap_or_default())
}

fn since(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Some(t.unix_timestamp());
    }
    let span: ds01_policy::Span = text.parse().ok()?;
    Some(time::OffsetDateTime::now_utc().unix_timestamp() - span.secs() as i64)
}

/// `GET /v1/containers/{name}/why`: the story of one container, in sentences.
async fn why(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let key = name.docker_name(acting.who.uid());
    let story: Vec<String> = d
        .events
        .read(|e| e.container == key && e.uid == acting.who.uid())
        .into_iter()
        .map(|e| format!("{}: {}", crate::reaper::clock(e.ts), e.detail))
        .collect();
    if story.is_empty() {
        return Err(Failure(
            ApiError::new(
                ErrorCode::NotFound,
                format!("no container {key} of yours in ds01d's records"),
            )
            .subject(name.as_str()),
        ));
    }
    Ok(Json(json!({"container": key, "story": story})))
}

#[derive(Deserialize)]
struct KeepAliveBody {
    #[serde(rename = "for")]
    span: String,
}

async fn keep_alive(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    bytes: Bytes,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let request: KeepAliveBody = body(&bytes)?;
    let detail = d.keep_alive(&acting, &name, &request.span).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": detail}),
    ))
}

async fn limits(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::LimitsReport> {
    let acting = ctx.acting()?;
    Ok(Json(d.limits(&acting).await?))
}

async fn admin_gpus(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::GpuRow>> {
    if !ctx.caller.admin {
        return Err(Failure(ApiError::forbidden(
            "only admins see who holds which GPU; `ds01 limits` shows yours",
        )));
    }
    Ok(Json(d.gpus.table(&d.engine).await?))
}

#[derive(Deserialize)]
struct GcQuery {
    #[serde(default)]
    dry_run: bool,
}

async fn admin_gc(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<GcQuery>,
) -> Answer<serde_json::Value> {
    if !ctx.caller.admin {
        return Err(Failure(ApiError::forbidden(
            "only admins collect other users' leftovers",
        )));
    }
    let collected = d.gc(q.dry_run).await?;
    Ok(Json(json!({"dry_run": q.dry_run, "collected": collected})))
}

async fn stats(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ContainerStats>> {
    let acting = ctx.acting()?;
    Ok(Json(d.stats(&acting).await?))
}

async fn list_images(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ImageRow>> {
    let acting = ctx.acting()?;
    Ok(Json(d.list_images(&acting).await?))
}

async fn create_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let acting = ctx.acting()?;
    let request: ImageCreate = body(&bytes)?;
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { d.create_image(&acting, request, reporter).await },
    ))
}

async fn update_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    let request: ImageUpdate = body(&bytes)?;
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { d.update_image(&acting, &name, request, reporter).await },
    ))
}

async fn show_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<ds01_api::ImageDetails> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(d.show_image(&acting, &name).await?))
}

async fn delete_image(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<ForceQuery>,
) -> Answer<ds01_api::Removed> {
    let (acting, name) = (ctx.acting()?, image(&name)?);
    Ok(Json(d.delete_image(&acting, &name, q.force).await?))
}

// ---- Everyday basics: show, restart, pause/unpause, `--all`, logs, cp ----

async fn show_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<ds01_api::ContainerDetails> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    Ok(Json(d.show(&acting, &name).await?))
}

async fn restart_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<StopQuery>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    d.restart(&acting, &name, q.timeout.unwrap_or(10)).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": "restarted"}),
    ))
}

async fn pause_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    d.pause(&acting, &name).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": "paused"}),
    ))
}

async fn unpause_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
) -> Answer<serde_json::Value> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    d.unpause(&acting, &name).await?;
    Ok(Json(
        json!({"name": name.docker_name(acting.who.uid()), "action": "unpaused"}),
    ))
}

async fn bulk_containers(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(verb): UrlPath<String>,
    Query(q): Query<StopQuery>,
) -> Answer<Vec<ds01_api::BulkOutcome>> {
    use crate::control::Bulk;
    let acting = ctx.acting()?;
    let verb = match verb.as_str() {
        "start" => Bulk::Start,
        "stop" => Bulk::Stop,
        "restart" => Bulk::Restart,
        other => {
            return Err(Failure(ApiError::invalid(format!(
                "`{}` is not an action for all containers; use start, stop or restart",
                ds01_api::shown(other)
            ))))
        }
    };
    Ok(Json(d.bulk(&acting, verb, q.timeout.unwrap_or(10)).await?))
}

/// The upgrade and the JSON body of a frame-stream request.
async fn upgrade_body<T: DeserializeOwned>(
    mut request: Request,
) -> Result<(hyper::upgrade::OnUpgrade, T), Failure> {
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return Err(Failure(ApiError::invalid(
            "this path needs an HTTP/1.1 upgrade (`Connection: Upgrade`, `Upgrade: ds01-exec`)",
        )));
    };
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map_err(|e| Failure(ApiError::invalid(format!("cannot read the request: {e}"))))?;
    Ok((on_upgrade, body(&bytes)?))
}

async fn container_logs(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    request: Request,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let (on_upgrade, logs) = upgrade_body(request).await?;
    Ok(d.logs(acting, name, logs, on_upgrade).await?)
}

async fn copy_out(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    request: Request,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let (on_upgrade, copy) = upgrade_body(request).await?;
    Ok(
        d.copy(acting, name, crate::copy::Direction::Out, copy, on_upgrade)
            .await?,
    )
}

async fn copy_in(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(name): UrlPath<String>,
    request: Request,
) -> Result<Response, Failure> {
    let (acting, name) = (ctx.acting()?, container(&name)?);
    let (on_upgrade, copy) = upgrade_body(request).await?;
    Ok(
        d.copy(acting, name, crate::copy::Direction::In, copy, on_upgrade)
            .await?,
    )
}
