//! Routes about the service and its accounting: operations, events, limits, GPUs and
//! garbage collection.

use ds01_api::endpoints::{DryRunQuery, EventsQuery};

use super::*;

pub(super) async fn cancel(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    UrlPath(id): UrlPath<String>,
) -> Answer<ds01_api::Cancelled> {
    Ok(Json(crate::ops::cancel::cancel(&d, &ctx.caller, id)?))
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
    let selection = crate::ops::events::Selection::of(&q, uid)?;
    let keep = move |e: &ds01_api::Event| selection.keeps(e);
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

pub(super) async fn limits(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::LimitsReport> {
    let acting = ctx.acting()?;
    Ok(Json(crate::ops::limits::limits(&d, &acting).await?))
}

pub(super) async fn status(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::ServerStatus> {
    let acting = ctx.acting()?;
    Ok(Json(crate::ops::status::status(&d, &acting).await?))
}

pub(super) async fn admin_top(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::AdminTop> {
    if !ctx.caller.admin {
        return Err(Failure(ApiError::forbidden(
            "only admins see who holds which GPU; `ds01 status` shows the server as you may see it",
        )));
    }
    Ok(Json(crate::ops::admin::top::top(&d).await?))
}

pub(super) async fn admin_gpus(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
) -> Answer<ds01_api::GpuTable> {
    if !ctx.caller.admin {
        return Err(Failure(ApiError::forbidden(
            "only admins see who holds which GPU; `ds01 limits` shows yours",
        )));
    }
    Ok(Json(crate::ops::admin::gpus::gpus(&d).await?))
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
    let collected = crate::ops::admin::gc::gc(&d, q.dry_run).await?;
    Ok(Json(ds01_api::GcReport {
        dry_run: q.dry_run,
        collected,
    }))
}
