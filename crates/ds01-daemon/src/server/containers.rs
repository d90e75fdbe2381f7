//! Routes of one user's containers: create, lifecycle, exec, files, Jupyter.

use ds01_api::endpoints::{BulkVerb, RemoveStoppedQuery, TimeoutQuery};

use super::*;

pub(super) async fn list_containers(
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

pub(super) async fn create_container(
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

pub(super) async fn start_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    d.start(&acting, &name).await?;
    Ok(acted(&acting, &name, "started"))
}

pub(super) async fn stop_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    Query(q): Query<TimeoutQuery>,
) -> Answer<ds01_api::Acted> {
    d.stop(&acting, &name, q.timeout.unwrap_or(10)).await?;
    Ok(acted(&acting, &name, "stopped"))
}

pub(super) async fn remove_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    Query(q): Query<ds01_api::RemoveQuery>,
) -> Answer<ds01_api::Removed> {
    Ok(Json(d.remove(&acting, &name, q).await?))
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
    Ok(Json(d.remove_stopped(&acting, query).await?))
}

pub(super) async fn recreate_container(
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

pub(super) async fn exec(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    mut request: Request,
) -> Result<Response, Failure> {
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
pub(super) async fn jupyter(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::JupyterServer> {
    let request: ds01_api::JupyterRequest = body(&bytes)?;
    Ok(Json(d.jupyter(&acting, &name, request.port).await?))
}

pub(super) async fn install(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::Installed> {
    let request: ds01_api::InstallRequest = body(&bytes)?;
    let committed = d
        .install(&acting, &name, &request.packages, request.commit)
        .await?;
    Ok(Json(ds01_api::Installed {
        name: name.docker_name(acting.who.uid()),
        action: "installed".into(),
        packages: request.packages,
        committed,
    }))
}

// ---- Everyday basics: show, restart, pause/unpause, `--all`, logs, cp ----

pub(super) async fn show_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
) -> Answer<ds01_api::ContainerDetails> {
    Ok(Json(d.show(&acting, &name).await?))
}

pub(super) async fn restart_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    Query(q): Query<TimeoutQuery>,
) -> Answer<ds01_api::Acted> {
    d.restart(&acting, &name, q.timeout.unwrap_or(10)).await?;
    Ok(acted(&acting, &name, "restarted"))
}

pub(super) async fn pause_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    d.pause(&acting, &name).await?;
    Ok(acted(&acting, &name, "paused"))
}

pub(super) async fn unpause_container(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
) -> Answer<ds01_api::Acted> {
    d.unpause(&acting, &name).await?;
    Ok(acted(&acting, &name, "unpaused"))
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
    Ok(Json(d.bulk(&acting, verb, q.timeout.unwrap_or(10)).await?))
}

/// The upgrade and the JSON body of a frame-stream request.
pub(super) async fn upgrade_body<T: DeserializeOwned>(
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
    OwnContainer { acting, name }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, logs) = upgrade_body(request).await?;
    Ok(d.logs(acting, name, logs, on_upgrade).await?)
}

pub(super) async fn copy_out(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, copy) = upgrade_body(request).await?;
    Ok(
        d.copy(acting, name, crate::copy::Direction::Out, copy, on_upgrade)
            .await?,
    )
}

pub(super) async fn copy_in(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    request: Request,
) -> Result<Response, Failure> {
    let (on_upgrade, copy) = upgrade_body(request).await?;
    Ok(
        d.copy(acting, name, crate::copy::Direction::In, copy, on_upgrade)
            .await?,
    )
}
