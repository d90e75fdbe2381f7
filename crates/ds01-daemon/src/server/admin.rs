//! Routes about the service and its accounting: operations, events, limits, stats,
//! GPUs and garbage collection.

use ds01_api::endpoints::{DryRunQuery, EventsQuery};

use super::*;

pub(super) async fn cancel(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(id): UrlPath<String>,
) -> Answer<ds01_api::Cancelled> {
    if d.operations.cancel(&id, ctx.caller.uid, ctx.caller.admin) {
        Ok(Json(ds01_api::Cancelled {
            operation: id,
            cancelled: true,
        }))
    } else {
        Err(Failure(ApiError::new(
            ErrorCode::NotFound,
            format!("no operation {} of yours is running", ds01_api::shown(&id)),
        )))
    }
}

/// `GET /v1/events`: the caller's own events (an admin's `all_users`: everybody's).
pub(super) async fn events(
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
                e.container == *c
                    || ds01_dockerfile::owner::split_owned_name(&e.container).map(|(n, _)| n)
                        == Some(c)
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

/// A time given as Unix seconds, RFC 3339, or a span back from now (`2h`), in Unix seconds.
pub(super) fn since(text: &str) -> Option<i64> {
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
pub(super) async fn why(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
) -> Answer<ds01_api::Story> {
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
    Ok(Json(ds01_api::Story {
        container: key,
        story,
    }))
}

pub(super) async fn keep_alive(
    State(d): State<Arc<Daemon>>,
    OwnContainer { acting, name }: OwnContainer,
    bytes: Bytes,
) -> Answer<ds01_api::Acted> {
    let request: ds01_api::KeepAliveRequest = body(&bytes)?;
    let detail = d.keep_alive(&acting, &name, &request.span).await?;
    Ok(acted(&acting, &name, &detail))
}

pub(super) async fn limits(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::LimitsReport> {
    let acting = ctx.acting()?;
    Ok(Json(d.limits(&acting).await?))
}

pub(super) async fn admin_gpus(
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

pub(super) async fn admin_gc(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<DryRunQuery>,
) -> Answer<ds01_api::GcReport> {
    if !ctx.caller.admin {
        return Err(Failure(ApiError::forbidden(
            "only admins collect other users' leftovers",
        )));
    }
    let collected = d.gc(q.dry_run).await?;
    Ok(Json(ds01_api::GcReport {
        dry_run: q.dry_run,
        collected,
    }))
}

pub(super) async fn stats(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<Vec<ds01_api::ContainerStats>> {
    let acting = ctx.acting()?;
    Ok(Json(d.stats(&acting).await?))
}
