//! `POST /v1/containers/{name}/exec`: the command is started as the user, then the HTTP
//! connection is upgraded to the frame stream of `ds01_api::frames`, which carries stdin,
//! output, terminal resizes and finally the command's exit status. The client never holds
//! anything of the engine's.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONNECTION, UPGRADE};
use axum::http::StatusCode;
use axum::response::Response;
use ds01_api::frames::{encode, Decoder, Frame};
use ds01_api::{ApiError, ExecRequest, OwnedContainer};
use ds01_engine::{Chunk, SessionSpec};
use futures_util::StreamExt;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The protocol name of the upgrade.
pub const PROTOCOL: &str = "ds01-exec";

/// Starts the command and answers `101 Switching Protocols`; the session then runs on
/// its own task until the command ends or the client goes.
pub async fn exec(
    d: Arc<Daemon>,
    acting: Acting,
    container: OwnedContainer,
    request: ExecRequest,
    on_upgrade: OnUpgrade,
) -> Result<Response, ApiError> {
    if let Some(cluster) = d.config.cluster.clone() {
        return crate::ops::cluster::exec::exec(
            d, &cluster, acting, container, request, on_upgrade,
        )
        .await;
    }
    let who = &acting.who;
    // Through `start` (its GPUs counted in its owner's section), never the engine's
    // start directly: a stopped container's devices may be another's now, or over the
    // owner's `max_gpus`.
    if request.start && !super::is_live(&d, &container).await? {
        super::start::start(&d, &acting, &container).await?;
    }
    let spec = SessionSpec {
        command: request.command.clone(),
        tty: request.tty,
        stdin: request.stdin,
        env: request.env.clone(),
        workdir: request.workdir.clone(),
    };
    let session = d
        .engine
        .start_session(who, container.name(), &spec)
        .await
        .map_err(from_engine)?;
    if let (true, Some(w), Some(h)) = (request.tty, request.width, request.height) {
        let _ = d.engine.resize_session(&session.id, w, h).await;
    }
    let key = container;
    let daemon = d.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        daemon.sessions.open(&key);
        pump(&daemon, TokioIo::new(upgraded), session, &key).await;
        daemon.sessions.close(&key);
    });
    Ok(switching())
}

/// `101 Switching Protocols` to the frame stream (exec, logs and cp speak it).
pub(crate) fn switching() -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, PROTOCOL)
        .body(Body::empty())
        .unwrap_or_default()
}

pub(crate) async fn pump(
    d: &Daemon,
    io: TokioIo<hyper::upgrade::Upgraded>,
    mut session: ds01_engine::Session,
    key: &str,
) {
    let mut notices = d.sessions.notices();
    let (mut from_client, mut to_client) = tokio::io::split(io);
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut client_open = true;
    loop {
        tokio::select! {
            notice = notices.recv() => {
                if let Ok((name, text)) = notice {
                    if name == key && to_client.write_all(&encode(&Frame::Notice(text))).await.is_err() {
                        return;
                    }
                }
            }
            chunk = session.output.next() => {
                let frame = match chunk {
                    Some(Ok(Chunk::Stdout(b))) => Frame::Stdout(b),
                    Some(Ok(Chunk::Stderr(b))) => Frame::Stderr(b),
                    Some(Err(e)) => Frame::Error(from_engine(e)),
                    None => break,
                };
                let last = matches!(frame, Frame::Error(_));
                if to_client.write_all(&encode(&frame)).await.is_err() || last {
                    return;
                }
            }
            read = from_client.read(&mut buf), if client_open => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        // The client is gone: dropping the session closes the
                        // command's terminal, which hangs up its shell.
                        return;
                    }
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(Frame::Stdin(bytes))) => {
                            let _ = session.input.write_all(&bytes).await;
                        }
                        Ok(Some(Frame::StdinEof)) => {
                            let _ = session.input.shutdown().await;
                        }
                        Ok(Some(Frame::Resize { width, height })) => {
                            let _ = d.engine.resize_session(&session.id, width, height).await;
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            client_open = false;
                            break;
                        }
                    }
                }
            }
        }
    }
    let status = exit_status(d, &session.id).await;
    let _ = to_client.write_all(&encode(&status)).await;
    let _ = to_client.shutdown().await;
}

/// The exit status; the engine may report the exec as running for a moment after its
/// output has ended.
async fn exit_status(d: &Daemon, id: &str) -> Frame {
    for _ in 0..50 {
        match d.engine.session_status(id).await {
            Ok(Some(status)) => return Frame::Exit(status as i32),
            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => return Frame::Error(from_engine(e)),
        }
    }
    Frame::Error(ApiError::new(
        ds01_api::ErrorCode::Failed,
        "the command's output ended but the engine reports it still running",
    ))
}
