//! The engine's `POST /build`, sent directly over its Unix socket.
//!
//! bollard 0.21's build options cannot say what confines a build: they have no
//! `cgroupparent` (the only way to bound a build step's processes, as the legacy builder
//! has no pids option) and take `memory` as an `i32`, which cannot hold more than 2 GiB.
//! The query bollard would send is kept as it is and these two are added to it; the
//! answer is the same stream of JSON messages bollard reads. Dropping the stream closes
//! the connection, which the engine takes as a cancel, as it does for bollard's.

use bollard::models::BuildInfo;
use bollard::query_parameters::BuildImageOptions;
use futures_util::{Stream, StreamExt};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use bollard::errors::Error;

/// What bollard's options cannot carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Confinement {
    /// Memory of each step's container, in bytes; swap is refused with it.
    pub memory: Option<u64>,
    /// The cgroup under which the engine puts each step's container.
    pub cgroup_parent: Option<String>,
}

/// Starts a build on the engine at `host` (`unix://...`), speaking API `version`. Errors
/// are bollard's, so that they read as those of every other engine call.
pub(crate) async fn post_build(
    host: &str,
    version: &str,
    options: &BuildImageOptions,
    confinement: &Confinement,
    context: Vec<u8>,
) -> Result<impl Stream<Item = Result<BuildInfo, Error>>, Error> {
    let Some(socket) = host.strip_prefix("unix://") else {
        return Err(Error::UnsupportedURISchemeError {
            uri: host.to_owned(),
        });
    };
    let encode = |err| Error::URLEncodedError { err };
    let mut query = serde_urlencoded::to_string(options).map_err(encode)?;
    let mut extra: Vec<(&str, String)> = Vec::new();
    if let Some(memory) = confinement.memory {
        extra.push(("memory", memory.to_string()));
        extra.push(("memswap", memory.to_string()));
    }
    if let Some(parent) = &confinement.cgroup_parent {
        extra.push(("cgroupparent", parent.clone()));
    }
    if !extra.is_empty() {
        query.push('&');
        query.push_str(&serde_urlencoded::to_string(&extra).map_err(encode)?);
    }
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|err| Error::IOError { err })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| Error::HyperResponseError { err })?;
    // The connection lives as long as the answer is read; dropping it cancels the build.
    let driver = AbortOnDrop(tokio::spawn(connection));
    let request = hyper::Request::post(format!("/v{version}/build?{query}"))
        .header("Host", "docker")
        .header("Content-Type", "application/x-tar")
        .body(Full::new(Bytes::from(context)))
        .map_err(|err| Error::HttpClientError { err })?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|err| Error::HyperResponseError { err })?;
    let status = response.status();
    if !status.is_success() {
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(Error::DockerResponseServerError {
            status_code: status.as_u16(),
            message,
        });
    }
    Ok(json_lines(BodyStream::new(response.into_body()), driver))
}

/// Aborts the connection's task when the stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Result<(), hyper::Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The engine's messages, one JSON object per line, cut from body frames that need not end
/// at a line break.
fn json_lines(
    frames: BodyStream<hyper::body::Incoming>,
    guard: AbortOnDrop,
) -> impl Stream<Item = Result<BuildInfo, Error>> {
    let state = (frames, Vec::<u8>::new(), guard, false);
    futures_util::stream::unfold(
        state,
        |(mut frames, mut buffer, guard, mut ended)| async move {
            loop {
                if let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=end).collect();
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let item = serde_json::from_slice::<BuildInfo>(&line)
                        .map_err(|err| Error::JsonSerdeError { err });
                    return Some((item, (frames, buffer, guard, ended)));
                }
                if ended {
                    if buffer.iter().all(u8::is_ascii_whitespace) {
                        return None;
                    }
                    buffer.push(b'\n');
                    continue;
                }
                match frames.next().await {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            buffer.extend_from_slice(&data);
                        }
                    }
                    Some(Err(err)) => {
                        buffer.clear();
                        let state = (frames, buffer, guard, true);
                        return Some((Err(Error::HyperResponseError { err }), state));
                    }
                    None => ended = true,
                }
            }
        },
    )
}
