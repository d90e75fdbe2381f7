//! `POST /v1/containers/{name}/logs`: the container's output over the frame stream of the
//! exec upgrade (stdout and stderr frames apart, then exit 0), so `-f` follows for as long
//! as the client stays or the container runs.

use std::sync::Arc;

use axum::response::Response;
use ds01_api::frames::{encode, Frame};
use ds01_api::{ApiError, LogsRequest, OwnedContainer};
use ds01_engine::Chunk;
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Checks the container is the caller's, then answers `101` and relays its output.
pub async fn logs(
    d: Arc<Daemon>,
    acting: Acting,
    container: OwnedContainer,
    request: LogsRequest,
    on_upgrade: OnUpgrade,
) -> Result<Response, ApiError> {
    if let Some(cluster) = d.config.cluster.clone() {
        return crate::ops::cluster::logs::logs(cluster, acting, container, request, on_upgrade)
            .await;
    }
    let mut output = d
        .engine
        .container_logs(&container, request.follow, request.tail)
        .await
        .map_err(from_engine)?;
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
        let mut buf = [0u8; 1024];
        let last = loop {
            tokio::select! {
                chunk = output.next() => {
                    let frame = match chunk {
                        Some(Ok(Chunk::Stdout(b))) => Frame::Stdout(b),
                        Some(Ok(Chunk::Stderr(b))) => Frame::Stderr(b),
                        Some(Err(e)) => break Frame::Error(from_engine(e)),
                        None => break Frame::Exit(0),
                    };
                    if to_client.write_all(&encode(&frame)).await.is_err() {
                        return;
                    }
                }
                // The client sends nothing; a read that ends means it has gone (Ctrl-C).
                read = from_client.read(&mut buf) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return;
                    }
                }
            }
        };
        let _ = to_client.write_all(&encode(&last)).await;
        let _ = to_client.shutdown().await;
    });
    Ok(super::exec::switching())
}
