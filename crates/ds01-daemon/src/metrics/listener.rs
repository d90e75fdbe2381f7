//! The metrics listener: TCP on the configured address, or a Unix socket that only root may
//! connect to. It answers `GET /metrics` and nothing else, to a few connections at a time,
//! each with a bound on its request head.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::MetricsListen;
use crate::Daemon;

/// Scrapers are few: more connections than this at once are closed on arrival.
const CONNECTIONS: usize = 8;
/// A request head must be complete within this.
const HEAD_LIMIT: Duration = Duration::from_secs(5);

/// Binds `listen` and serves metrics there from now on. `users_socket` is refused as a
/// place for them: the users' socket is never a way to the metrics.
pub(crate) async fn start(
    daemon: Arc<Daemon>,
    listen: &MetricsListen,
    users_socket: &Path,
) -> Result<(), String> {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS));
    match listen {
        MetricsListen::Tcp(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen for metrics on {address}: {e}"))?;
            tracing::info!("metrics on http://{address}/metrics");
            tokio::spawn(async move {
                loop {
                    if let Ok((stream, _)) = listener.accept().await {
                        serve(daemon.clone(), stream, &slots);
                    }
                }
            });
        }
        MetricsListen::Socket(path) => {
            if path == users_socket {
                return Err(format!(
                    "[metrics] listen = {:?} is the users' socket; give the metrics a socket of their own",
                    path.display().to_string()
                ));
            }
            let listener = bind_private(path)
                .map_err(|e| format!("cannot listen for metrics on {}: {e}", path.display()))?;
            tracing::info!("metrics on the root-only socket {}", path.display());
            tokio::spawn(async move {
                loop {
                    if let Ok((stream, _)) = listener.accept().await {
                        serve(daemon.clone(), stream, &slots);
                    }
                }
            });
        }
    }
    Ok(())
}

/// A Unix socket at `path` (a stale one replaced) that only its owner, root, may connect to.
fn bind_private(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "something answers there already",
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Connecting takes write permission on the socket: 0600 leaves it to root.
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn serve<S>(daemon: Arc<Daemon>, stream: S, slots: &Arc<tokio::sync::Semaphore>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(slot) = slots.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let service = hyper::service::service_fn(move |request| answer(daemon.clone(), request));
        let _ = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_LIMIT)
            .keep_alive(false)
            .serve_connection(TokioIo::new(stream), service)
            .await;
        drop(slot);
    });
}

async fn answer(
    daemon: Arc<Daemon>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let response = if request.method() == hyper::Method::GET && request.uri().path() == "/metrics" {
        let text = super::scrape::render(daemon).await;
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .body(Full::new(Bytes::from(text)))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"only GET /metrics here\n")))
    };
    Ok(response.unwrap_or_default())
}
