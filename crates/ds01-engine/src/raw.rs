//! Requests to the engine in its own words, for ds01d's Docker-API door: the door has
//! already decided that the caller may make the request and rewritten what it must, and
//! needs the engine's answer as the engine gives it (its JSON, its multiplexed log
//! stream, its hijacked attach and exec connections), which bollard's typed calls would
//! reshape. Only a `unix://` engine is reachable this way.

use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use crate::client::Engine;
use crate::error::{EngineError, Result};

/// One request, its path already the engine's (`/containers/<id>/start?...`, no version).
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// `GET`, `POST`, `DELETE`, `HEAD`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The body (JSON unless `content_type` says otherwise).
    pub body: Bytes,
    /// Its content type, when it has a body.
    pub content_type: Option<String>,
    /// Ask the engine to hijack the connection (attach, exec start).
    pub upgrade: bool,
}

impl RawRequest {
    /// A request without a body.
    pub fn new(method: &str, path: impl Into<String>) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            path: path.into(),
            body: Bytes::new(),
            content_type: None,
            upgrade: false,
        }
    }

    /// A request with a JSON body.
    pub fn json(method: &str, path: impl Into<String>, body: &serde_json::Value) -> RawRequest {
        RawRequest {
            body: Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
            content_type: Some("application/json".to_owned()),
            ..RawRequest::new(method, path)
        }
    }
}

/// A connection the engine hijacked: raw bytes both ways.
pub type RawIo = TokioIo<hyper::upgrade::Upgraded>;

/// What the engine answered.
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The engine's content type, if any.
    pub content_type: Option<String>,
    /// The body, as it arrives (a stream: logs with follow, wait and events take long).
    pub body: RawBody,
}

/// An answer's body.
pub enum RawBody {
    /// Bytes as the engine sends them; the connection lives as long as the stream.
    Stream(std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>),
    /// The hijacked connection (status 101).
    Upgraded(RawIo),
}

impl RawAnswer {
    /// The whole body (empty for a hijacked connection).
    pub async fn bytes(self) -> std::io::Result<Bytes> {
        match self.body {
            RawBody::Upgraded(_) => Ok(Bytes::new()),
            RawBody::Stream(mut s) => {
                let mut all = Vec::new();
                while let Some(chunk) = s.next().await {
                    all.extend_from_slice(&chunk?);
                }
                Ok(Bytes::from(all))
            }
        }
    }

    /// The body as JSON (`null` when empty or not JSON).
    pub async fn json(self) -> std::io::Result<serde_json::Value> {
        let bytes = self.bytes().await?;
        Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

impl Engine {
    /// Sends `request` to the engine and answers with its status and body as they are.
    pub async fn raw(&self, request: RawRequest) -> Result<RawAnswer> {
        let failed = |e: &dyn std::fmt::Display| {
            EngineError::InvalidOption(format!(
                "the engine's {} {} failed: {e}",
                request.method, request.path
            ))
        };
        let Some(socket) = self.host().strip_prefix("unix://") else {
            return Err(failed(
                &"only a local engine (unix://) can be reached this way",
            ));
        };
        let stream = tokio::net::UnixStream::connect(socket)
            .await
            .map_err(|e| failed(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| failed(&e))?;
        let driver = tokio::spawn(connection.with_upgrades());
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(format!("/v{}{}", self.api_version(), request.path))
            .header("Host", "docker");
        if let Some(kind) = &request.content_type {
            builder = builder.header("Content-Type", kind);
        }
        if request.upgrade {
            builder = builder
                .header("Connection", "Upgrade")
                .header("Upgrade", "tcp");
        }
        let outgoing = builder
            .body(Full::new(request.body.clone()))
            .map_err(|e| failed(&e))?;
        let mut response = sender
            .send_request(outgoing)
            .await
            .map_err(|e| failed(&e))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status == 101 {
            let upgraded = hyper::upgrade::on(&mut response)
                .await
                .map_err(|e| failed(&e))?;
            return Ok(RawAnswer {
                status,
                content_type,
                body: RawBody::Upgraded(TokioIo::new(upgraded)),
            });
        }
        let guard = AbortOnDrop(driver);
        let frames = BodyStream::new(response.into_body().map_err(std::io::Error::other));
        let body =
            futures_util::stream::unfold((frames, guard), |(mut frames, guard)| async move {
                loop {
                    match frames.next().await? {
                        Ok(frame) => match frame.into_data() {
                            Ok(data) => return Some((Ok(data), (frames, guard))),
                            Err(_) => continue,
                        },
                        Err(e) => return Some((Err(e), (frames, guard))),
                    }
                }
            });
        Ok(RawAnswer {
            status,
            content_type,
            body: RawBody::Stream(Box::pin(body)),
        })
    }
}

/// Ends the connection's task when the body is dropped: the engine takes a closed
/// connection as the end of a followed stream.
struct AbortOnDrop(tokio::task::JoinHandle<std::result::Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
