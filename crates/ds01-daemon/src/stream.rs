//! Long requests answer as a stream of JSON lines (`application/x-ndjson`): progress while
//! the work goes on, then one result or error. A client that goes away cancels the work,
//! which then removes what it had made.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use bytes::Bytes;
use ds01_api::{ApiError, Progress, StreamItem};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

/// Where a flow reports progress; also tells it when the client has gone.
#[derive(Clone)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<Bytes>,
    cancel: watch::Receiver<bool>,
}

impl Reporter {
    /// Sends one progress line (dropped when the client has gone).
    pub fn report(&self, event: Progress) {
        let _ = self.tx.send(line(&StreamItem::<()>::Progress(event)));
    }

    /// Resolves when the client has gone away or cancelled the operation.
    pub fn gone(&self) -> impl Future<Output = ()> + Send + 'static {
        let tx = self.tx.clone();
        let mut cancel = self.cancel.clone();
        async move {
            tokio::select! {
                _ = tx.closed() => {}
                _ = cancel.wait_for(|c| *c) => {}
            }
        }
    }
}

impl Reporter {
    /// A reporter nobody reads, for work whose client waits only for the outcome (the
    /// Docker-API door): it never reads as gone while the guard lives.
    pub fn quiet() -> (Reporter, impl Send) {
        let (reporter, rx, keep) = Reporter::channel();
        (reporter, (rx, keep))
    }

    /// A reporter whose lines (ds01's JSON lines, [`StreamItem`]) the caller reads, to
    /// render them for another kind of client; it never reads as gone while the guard lives.
    pub fn channel() -> (Reporter, mpsc::UnboundedReceiver<Bytes>, impl Send) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (cancel_tx, cancel) = watch::channel(false);
        (Reporter { tx, cancel }, rx, cancel_tx)
    }
}

fn line<T: Serialize>(item: &StreamItem<T>) -> Bytes {
    let mut text = serde_json::to_vec(item).unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

/// The operations under way, by ID, with their owner, so that the owner (or an admin) can
/// cancel one: a client's Ctrl-C then waits for the rollback instead of abandoning it.
#[derive(Debug, Default)]
pub struct Operations {
    next: AtomicU64,
    running: Mutex<HashMap<String, (u32, watch::Sender<bool>)>>,
}

impl Operations {
    fn start(&self, uid: u32) -> (String, watch::Receiver<bool>) {
        let id = format!(
            "{}-{}",
            std::process::id(),
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let (tx, rx) = watch::channel(false);
        self.lock().insert(id.clone(), (uid, tx));
        (id, rx)
    }

    fn finish(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Cancels operation `id` for `uid` (any operation for an admin); `false` when there is
    /// no such operation of theirs.
    pub fn cancel(&self, id: &str, uid: u32, admin: bool) -> bool {
        match self.lock().get(id) {
            Some((owner, tx)) if *owner == uid || admin => tx.send(true).is_ok(),
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, watch::Sender<bool>)>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs `work` in its own task and streams what it reports, then its outcome.
pub fn respond<T, F, Fut>(operations: Arc<crate::Daemon>, uid: u32, work: F) -> Response
where
    T: Serialize + Send + 'static,
    F: FnOnce(Reporter) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let (id, cancel) = operations.operations.start(uid);
    let _ = tx.send(line(&StreamItem::<()>::Operation(id.clone())));
    let reporter = Reporter {
        tx: tx.clone(),
        cancel,
    };
    tokio::spawn(async move {
        let outcome = work(reporter).await;
        operations.operations.finish(&id);
        let item = match outcome {
            Ok(value) => StreamItem::Result(value),
            Err(e) => StreamItem::Error(e),
        };
        let _ = tx.send(line(&item));
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    Response::builder()
        .header(CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .unwrap_or_default()
}
