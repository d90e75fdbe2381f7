//! Handing the engine's answer back as it came: JSON, a stream (logs, wait), or a
//! hijacked connection (attach, exec start) spliced to the client's.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ds01_engine::{Engine, RawAnswer, RawBody, RawRequest};
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;

use super::{Answer, DockerError};

/// The engine's answer to `request`, relayed as it streams.
pub(crate) async fn forward(engine: &Engine, request: RawRequest) -> Answer {
    let answer = engine.raw(request).await?;
    Ok(streamed(answer))
}

/// An answer whose body streams through.
pub(crate) fn streamed(answer: RawAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match answer.body {
        RawBody::Stream(s) => Body::from_stream(s.map(|chunk| chunk.map_err(axum::Error::new))),
        RawBody::Upgraded(_) => Body::empty(),
    };
    let mut response = Response::builder().status(status);
    if let Some(kind) = answer.content_type {
        response = response.header(header::CONTENT_TYPE, kind);
    }
    response.body(body).unwrap_or_default()
}

/// The engine's JSON answer, to be rewritten before it is handed on; an error status is
/// handed on as the engine's message.
pub(crate) async fn json(
    engine: &Engine,
    request: RawRequest,
) -> Result<serde_json::Value, DockerError> {
    let answer = engine.raw(request).await?;
    let status = answer.status;
    let value = answer
        .json()
        .await
        .map_err(|e| DockerError::invalid(format!("reading the engine's answer: {e}")))?;
    if !(200..300).contains(&status) {
        let message = value["message"].as_str().unwrap_or("the engine refused");
        return Err(DockerError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            message,
        ));
    }
    Ok(value)
}

/// Asks the engine to hijack its connection for `engine_request` and, once it has, the
/// client's too, then copies bytes both ways until either side closes. A client that did
/// not ask for the upgrade gets the engine's answer as a plain body.
pub(crate) async fn hijack(
    engine: &Engine,
    client: Request,
    mut engine_request: RawRequest,
) -> Answer {
    let mut client = client;
    let asked = client
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| !v.is_empty());
    let on_upgrade = client
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>();
    engine_request.upgrade = asked && on_upgrade.is_some();
    let answer = engine.raw(engine_request).await?;
    let (Some(on_upgrade), true) = (on_upgrade, answer.status == 101) else {
        return Ok(streamed(answer));
    };
    let content_type = answer
        .content_type
        .clone()
        .unwrap_or_else(|| "application/vnd.docker.raw-stream".to_owned());
    let RawBody::Upgraded(mut engine_io) = answer.body else {
        return Ok(streamed(answer));
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut client_io = TokioIo::new(upgraded);
        let _ = tokio::io::copy_bidirectional(&mut client_io, &mut engine_io).await;
    });
    Ok((
        StatusCode::SWITCHING_PROTOCOLS,
        [
            (header::CONNECTION, "Upgrade".to_owned()),
            (header::UPGRADE, "tcp".to_owned()),
            (header::CONTENT_TYPE, content_type),
        ],
    )
        .into_response())
}

/// The query string of a request, as the client sent it.
pub(crate) fn query(request_uri: &axum::http::Uri) -> String {
    request_uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default()
}
