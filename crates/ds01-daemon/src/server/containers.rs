//! Routes of one user's containers: each reads its request's parts and calls its
//! operation in `crate::ops::containers`.

use ds01_api::endpoints::{BulkVerb, RemoveStoppedQuery, TimeoutQuery};
use ds01_api::{InstallRequest, JupyterRequest, KeepAliveRequest};

use super::*;
use crate::ops::containers as ops;

pub(super) async fn list_containers(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListQuery>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Answer<Vec<ds01_api::ContainerInfo>> {
    let filters = ops::list::filters(&pairs)?;
    // Root without `--as` owns nothing: it sees everybody's, as an admin.
    let acting = match ctx.acting() {
        Ok(a) => Some(a),
        Err(_) if ctx.caller.admin && ctx.act_as.is_none() => None,
        Err(e) => return Err(e),
    };
    Ok(Json(
        ops::list::list(&d, &ctx.caller, acting.as_ref(), q.all_users, &filters).await?,
    ))
}

pub(super) async fn create_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ds01_api::CreateQuery>,
    bytes: Bytes,
) -> Result<Response, Failure> {
    let acting = ctx.acting()?;
    let request: ContainerCreate = body(&bytes)?;
    if q.dry_run {
        return Ok(Json(ops::dry_run::dry_run(&d, &acting, request).await?).into_response());
    }
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { ops::create::create(&d, &acting, request, reporter, None).await },
    ))
}

pub(super) async fn start_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    ops::start::start(&d, &acting, &container).await?;
    Ok(acted(&container, "started"))
}

pub(super) async fn stop_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    Query(q): Query<TimeoutQuery>,
) -> Answer<ds01_api::Acted> {
    ops::stop::stop(&d, &acting, &container, q.timeout.unwrap_or(10)).await?;
    Ok(acted(&container, "stopped"))
}

pub(super) async fn remove_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    Query(q): Query<ds01_api::RemoveQuery>,
) -> Answer<ds01_api::Removed> {
    Ok(Json(ops::remove::remove(&d, &acting, &container, q).await?))
}

/// `DELETE /v1/containers?stopped=true`: only the stopped ones, never a bare "all".
pub(super) async fn remove_stopped(
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
    Ok(Json(
        ops::remove_stopped::remove_stopped(&d, &acting, query).await?,
    ))
}

pub(super) async fn recreate_container(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    OwnContainer { acting, container }: OwnContainer,
) -> Result<Response, Failure> {
    Ok(crate::stream::respond(
        d.clone(),
        ctx.caller.uid,
        move |reporter| async move { ops::recreate::recreate(&d, &acting, &container, reporter).await },
    ))
}

pub(super) async fn exec(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, exec) = upgrade_body(request).await?;
    Ok(ops::exec::exec(d, acting, container, exec, on_upgrade).await?)
}

pub(super) async fn jupyter(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::JupyterServer> {
    let request: JupyterRequest = body(&bytes)?;
    Ok(Json(
        ops::jupyter::jupyter(d, &acting, &container, request.port).await?,
    ))
}

pub(super) async fn install(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::Installed> {
    let request: InstallRequest = body(&bytes)?;
    Ok(Json(
        ops::install::install(&d, &acting, &container, request).await?,
    ))
}

pub(super) async fn show_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
) -> Answer<ds01_api::ContainerDetails> {
    Ok(Json(ops::show::show(&d, &acting, &container).await?))
}

pub(super) async fn restart_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    Query(q): Query<TimeoutQuery>,
) -> Answer<ds01_api::Acted> {
    ops::restart::restart(&d, &acting, &container, q.timeout.unwrap_or(10)).await?;
    Ok(acted(&container, "restarted"))
}

pub(super) async fn pause_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    ops::pause::pause(&d, &acting, &container).await?;
    Ok(acted(&container, "paused"))
}

pub(super) async fn unpause_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    ops::unpause::unpause(&d, &acting, &container).await?;
    Ok(acted(&container, "unpaused"))
}

pub(super) async fn keep_alive(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::Acted> {
    let request: KeepAliveRequest = body(&bytes)?;
    let detail = ops::keep_alive::keep_alive(&d, &acting, &container, &request.span).await?;
    Ok(acted(&container, &detail))
}

/// `GET /v1/containers/{name}/why`.
pub(super) async fn why(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
) -> Answer<ds01_api::Story> {
    Ok(Json(ops::why::why(&d, &acting, &container).await?))
}

pub(super) async fn bulk_containers(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(verb): UrlPath<String>,
    Query(q): Query<TimeoutQuery>,
) -> Answer<Vec<ds01_api::BulkOutcome>> {
    let acting = ctx.acting()?;
    let verb = match verb.as_str() {
        "start" => BulkVerb::Start,
        "stop" => BulkVerb::Stop,
        "restart" => BulkVerb::Restart,
        other => {
            return Err(Failure(ApiError::invalid(format!(
                "`{}` is not an action for all containers; use start, stop or restart",
                ds01_api::shown(other)
            ))))
        }
    };
    Ok(Json(
        ops::bulk::bulk(&d, &acting, verb, q.timeout.unwrap_or(10)).await?,
    ))
}

pub(super) async fn stats(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ContainerStats>> {
    let acting = ctx.acting()?;
    Ok(Json(ops::stats::stats(&d, &acting).await?))
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

pub(super) async fn container_logs(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, logs) = upgrade_body(request).await?;
    Ok(ops::logs::logs(d, acting, container, logs, on_upgrade).await?)
}

pub(super) async fn copy_out(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, copy) = upgrade_body(request).await?;
    let out = ops::copy::Direction::Out;
    Ok(ops::copy::copy(d, acting, container, out, copy, on_upgrade).await?)
}

pub(super) async fn copy_in(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, container }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, copy) = upgrade_body(request).await?;
    let into = ops::copy::Direction::In;
    Ok(ops::copy::copy(d, acting, container, into, copy, on_upgrade).await?)
}
