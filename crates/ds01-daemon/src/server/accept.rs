//! The accept loop: each connection is admitted by its kernel UID against the caps of
//! [`super::limits`], served by hyper's HTTP/1 with upgrades, and closed when its request
//! head is too slow or it sits idle; a request body too slow is refused. A response that
//! streams, and an upgraded connection (exec, logs, cp), is never idle.

use std::convert::Infallible;
use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use ds01_api::{ApiError, ErrorCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tower_service::Service;

use super::limits::{ConnectionSlot, Gate, Refusal, StreamSlot};
use super::Peer;

/// How long the loop waits after a failed `accept` (out of descriptors, mostly): the
/// pending connection stays queued, and retrying at once would only spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Between two warnings about refused connections.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The two timeouts of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From a head's first byte to its end.
    pub header: Duration,
    /// With no request in flight and no byte of a new one.
    pub idle: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets every connection
/// finish its request (an idle one closes at once) and returns when all have.
pub async fn serve(
    app: Router,
    listener: UnixListener,
    gate: Arc<Gate>,
    timeouts: Timeouts,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a sender; `recv` answers `None` once all have ended.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut last_warning: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let peer = Peer {
            uid: stream.peer_cred().ok().map(|c| c.uid()),
        };
        let Some(uid) = peer.uid else {
            refuse(
                stream,
                403,
                ApiError::forbidden("the kernel gave no credentials for this connection"),
            );
            continue;
        };
        let slot = match gate.admit(uid) {
            Ok(slot) => slot,
            Err(refusal) => {
                if last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    last_warning = Some(Instant::now());
                    tracing::warn!("refusing connections (first: UID {uid}, {refusal:?} cap)");
                }
                refuse(stream, 429, refusal_error(refusal, &gate));
                continue;
            }
        };
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            app.clone(),
            timeouts,
            stop_rx.clone(),
            done_tx.clone(),
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    let _ = done_rx.recv().await;
    Ok(())
}

fn refusal_error(refusal: Refusal, gate: &Gate) -> ApiError {
    match refusal {
        Refusal::User => ApiError::new(
            ErrorCode::Limit,
            format!(
                "you have {} connections to ds01d open, the most one user may; close some and try again",
                gate.connections_per_user()
            ),
        )
        .because(ds01_api::Reason::OverLimit {
            key: "connections_per_user".into(),
        }),
        Refusal::Global => ApiError::new(
            ErrorCode::Busy,
            format!(
                "ds01d holds its most connections ({}); try again shortly",
                gate.max_connections()
            ),
        ),
    }
}

/// Answers a connection that is not admitted with `status` and `error`, without waiting,
/// and closes it. What the client sent already is read first: closing a Unix socket with
/// unread data resets it, and the client would see the reset instead of the answer.
fn refuse(stream: UnixStream, status: u16, error: ApiError) {
    let Ok(mut stream) = stream.into_std() else {
        return;
    };
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        match stream.read(&mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    let body = serde_json::to_vec(&error).unwrap_or_default();
    let reason = if status == 429 {
        "Too Many Requests"
    } else {
        "Forbidden"
    };
    let mut answer = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    // The socket is non-blocking and fresh: the answer fits its buffer, or is dropped.
    let _ = stream.write(&answer);
}

/// Serves one admitted connection until it ends, is upgraded, or times out.
async fn connection(
    stream: UnixStream,
    peer: Peer,
    slot: ConnectionSlot,
    app: Router,
    timeouts: Timeouts,
    mut stop: watch::Receiver<bool>,
    _done: mpsc::Sender<()>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
        _slot: slot,
    });
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: hyper::Request<Incoming>| {
            let busy = Busy::begin(&activity);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
                .extensions_mut()
                .insert(Connection(activity.clone()));
            let mut app = app.clone();
            let body_by = Instant::now() + timeouts.header;
            async move {
                let request = request.map(|body| Body::new(Timely::new(body, body_by)));
                let response = match app.call(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                // The request is in flight until its body has been sent or dropped.
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _in_flight = &busy;
                        frame
                    }))
                }))
            }
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head's timeout is ours (from its first byte, not from the end of the last answer).
    builder.keep_alive(true).header_read_timeout(None);
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        let deadline = activity.deadline(timeouts);
        tokio::select! {
            ended = conn.as_mut() => {
                if let Err(e) = ended {
                    tracing::debug!("connection of UID {:?} ended: {e}", peer.uid);
                }
                return;
            }
            _ = sleep_until(deadline) => {
                if activity.deadline(timeouts).is_some_and(|d| d <= Instant::now()) {
                    // Nothing in flight: dropping the connection closes the socket.
                    return;
                }
            }
            _ = activity.changed.notified() => {}
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A request body that must have arrived by a deadline (the head's timeout again, after
/// the head): the bodies of this API are small JSON, and one that trickles in would hold
/// its connection for as long as its sender likes.
struct Timely {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Timely {
    fn new(body: Incoming, by: Instant) -> Timely {
        Timely {
            body,
            deadline: Box::pin(tokio::time::sleep_until(by)),
        }
    }
}

impl hyper::body::Body for Timely {
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err("the request body did not arrive in time".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// The connection a request came on, for routes that keep something alive as long as
/// the connection (a stream slot of an upgraded request).
#[derive(Clone)]
pub struct Connection(Arc<Activity>);

impl Connection {
    /// Keeps `slot` until the connection's socket closes (also after an upgrade).
    pub fn hold(&self, slot: StreamSlot) {
        self.0
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(slot);
    }
}

/// What a connection is doing, for its timeouts.
struct Activity {
    state: Mutex<State>,
    changed: Notify,
    held: Mutex<Vec<StreamSlot>>,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// Requests whose answer is not yet sent.
    in_flight: usize,
    /// Since when nothing has been in flight.
    idle_since: Instant,
    /// When the first byte of the next head came, if it has.
    head_since: Option<Instant>,
}

impl State {
    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        if self.in_flight > 0 {
            return None;
        }
        Some(match self.head_since {
            Some(since) => since + t.header,
            None => self.idle_since + t.idle,
        })
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            state: Mutex::new(State {
                in_flight: 0,
                idle_since: Instant::now(),
                head_since: None,
            }),
            changed: Notify::new(),
            held: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deadline(&self, t: Timeouts) -> Option<Instant> {
        self.lock().deadline(t)
    }

    /// Bytes came in: with nothing in flight, they start a head.
    fn bytes_in(&self) {
        let mut state = self.lock();
        if state.in_flight == 0 && state.head_since.is_none() {
            state.head_since = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// One request in flight, from its head to the end (or drop) of its answer.
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Busy {
        let mut state = activity.lock();
        state.in_flight += 1;
        state.head_since = None;
        drop(state);
        activity.changed.notify_one();
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
        drop(state);
        self.0.changed.notify_one();
    }
}

/// The socket, with the connection's slot (released when the socket closes, which may be
/// long after an upgrade) and a note of every read for the head timeout.
struct Watched {
    stream: UnixStream,
    activity: Arc<Activity>,
    _slot: ConnectionSlot,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_in();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(30),
    };

    #[tokio::test(start_paused = true)]
    async fn idle_then_head_then_in_flight_then_idle_again() {
        let a = Arc::new(Activity::new());
        let t0 = Instant::now();
        assert_eq!(a.deadline(T), Some(t0 + T.idle));
        tokio::time::advance(Duration::from_secs(5)).await;
        a.bytes_in();
        let head = t0 + Duration::from_secs(5) + T.header;
        assert_eq!(a.deadline(T), Some(head));
        // More bytes of the same head do not push the deadline.
        tokio::time::advance(Duration::from_secs(5)).await;
        a.bytes_in();
        assert_eq!(a.deadline(T), Some(head));
        let busy = Busy::begin(&a);
        // A request in flight (a stream) has no deadline, however long it takes.
        tokio::time::advance(Duration::from_secs(3600)).await;
        a.bytes_in();
        assert_eq!(a.deadline(T), None);
        drop(busy);
        assert_eq!(a.deadline(T), Some(Instant::now() + T.idle));
    }
}
