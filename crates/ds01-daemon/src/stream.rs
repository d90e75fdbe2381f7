//! Long requests answer as a stream of JSON lines (`application/x-ndjson`): progress while
//! the work goes on, then one result or error. A client that goes away cancels the work,
//! which then removes what it had made.

use std::convert::Infallible;
use std::future::Future;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use bytes::Bytes;
use ds01_api::{ApiError, Progress, StreamItem};
use serde::Serialize;
use tokio::sync::mpsc;

/// Where a flow reports progress; also tells it when the client has gone.
#[derive(Clone)]
pub struct Reporter {
    tx: mpsc::UnboundedSender<Bytes>,
}

impl Reporter {
    /// Sends one progress line (dropped when the client has gone).
    pub fn report(&self, event: Progress) {
        let _ = self.tx.send(line(&StreamItem::<()>::Progress(event)));
    }

    /// Resolves when the client has gone away.
    pub fn gone(&self) -> impl Future<Output = ()> + Send + 'static {
        let tx = self.tx.clone();
        async move { tx.closed().await }
    }
}

fn line<T: Serialize>(item: &StreamItem<T>) -> Bytes {
    let mut text = serde_json::to_vec(item).unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

/// Runs `work` in its own task and streams what it reports, then its outcome.
pub fn respond<T, F, Fut>(work: F) -> Response
where
    T: Serialize + Send + 'static,
    F: FnOnce(Reporter) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let reporter = Reporter { tx: tx.clone() };
    tokio::spawn(async move {
        let outcome = work(reporter).await;
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
