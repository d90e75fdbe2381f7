//! `POST /v1/containers/{name}/exec` in cluster mode: the command runs as the user in a
//! second step of the container's job, `srun --jobid=J --overlap --container=BUNDLE`,
//! started from the login node. The node's runtime starts it from the same bundle: the
//! same root file system (what one writes, the other reads), the same user mapping, the
//! job's node, GPUs and limits, but a container of its own (its own PID namespace: it
//! does not see the first step's processes). A terminal is made inside the container
//! ([`in_terminal`]); without one, output comes as pipes.
//! The frames are those of one server's exec: stdin, output, and the exit status last.

use std::process::Stdio;
use std::sync::Arc;

use ds01_api::frames::{encode, Decoder, Frame};
use ds01_api::{ApiError, ErrorCode, ExecRequest, OwnedContainer, Reason};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::caller::Acting;
use crate::cluster::{bundle, slurm, ClusterConfig};
use crate::Daemon;

/// Starts the step and answers `101 Switching Protocols`; the frames run on their own task.
pub async fn exec(
    d: Arc<Daemon>,
    cluster: &ClusterConfig,
    acting: Acting,
    container: OwnedContainer,
    request: ExecRequest,
    on_upgrade: OnUpgrade,
) -> Result<axum::response::Response, ApiError> {
    // The client's terminal type, for a terminal in the container; nothing else of the
    // environment is passed yet.
    let term = request
        .env
        .iter()
        .find_map(|e| e.strip_prefix("TERM="))
        .filter(|t| request.tty && !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned);
    let env: Vec<&String> = request
        .env
        .iter()
        .filter(|e| !e.starts_with("TERM="))
        .collect();
    if !env.is_empty() || request.workdir.is_some() {
        return Err(ApiError::invalid(
            "--env and --workdir are not available for containers on this cluster yet",
        ));
    }
    let job = super::newest_job(cluster, &acting, &container)
        .await?
        .filter(|j| j.state == "RUNNING")
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::Invalid,
                format!(
                    "container {} is not running (its job waits, or ended: see `ds01 container list`)",
                    container.name()
                ),
            )
            .subject(container.name().as_str())
            .because(Reason::NotRunning)
        })?;
    let mut args = vec![
        format!("--jobid={}", job.id),
        "--overlap".to_owned(),
        "--quiet".to_owned(),
        format!("--container={}", bundle::dir(cluster, &container).display()),
    ];
    match (request.tty, request.command.is_empty()) {
        (true, _) => args.extend(in_terminal(&request)),
        (false, true) => args.push("/bin/sh".to_owned()),
        (false, false) => args.extend(request.command.iter().cloned()),
    }
    let mut cmd = slurm::as_user(cluster, &acting.who, "srun", &args);
    if let Some(term) = term {
        cmd.env("TERM", term);
    }
    cmd.stdin(if request.stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| {
        ApiError::new(
            ErrorCode::Failed,
            format!("cannot run srun for {}: {e}", acting.who.login()),
        )
    })?;
    let key = container.to_string();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        d.sessions.open(&key);
        pump(TokioIo::new(upgraded), child).await;
        d.sessions.close(&key);
    });
    Ok(crate::ops::containers::exec::switching())
}

/// The step's command for a terminal. Slurm 22.05 starts a container step on pipes, even
/// under `srun --pty`, so the terminal is made inside the container: `script` (util-linux,
/// in every Debian and Ubuntu image) runs the command on a pseudo-terminal of the
/// container's own `/dev/pts`, set to the client's size when it started (a later resize
/// does not reach it). Without a command, a login shell: bash where the image has it.
fn in_terminal(request: &ExecRequest) -> Vec<String> {
    let command = if request.command.is_empty() {
        "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi".to_owned()
    } else {
        let quoted: Vec<String> = request.command.iter().map(|a| shell_quote(a)).collect();
        format!("exec {}", quoted.join(" "))
    };
    let size = match (request.height, request.width) {
        (Some(rows), Some(cols)) if rows > 0 && cols > 0 => {
            format!("stty rows {rows} cols {cols} 2>/dev/null; ")
        }
        _ => String::new(),
    };
    vec![
        "/bin/sh".to_owned(),
        "-c".to_owned(),
        "command -v script >/dev/null 2>&1 || { echo 'ds01: this image has no script(1) (util-linux) to make a terminal with; run `ds01 container exec -i NAME -- /bin/sh` instead' >&2; exit 127; }; exec script -qfec \"$1\" /dev/null".to_owned(),
        "ds01".to_owned(),
        format!("{size}{command}"),
    ]
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Relays frames to the step and its output back, then its exit status. A client that
/// goes kills the step's srun (and with it the step).
async fn pump(io: TokioIo<hyper::upgrade::Upgraded>, mut child: tokio::process::Child) {
    let (mut from_client, mut to_client) = tokio::io::split(io);
    let mut stdin = child.stdin.take();
    let (Some(mut out), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return;
    };
    let mut decoder = Decoder::default();
    let (mut buf, mut obuf, mut ebuf) = (
        vec![0u8; 16 * 1024],
        vec![0u8; 16 * 1024],
        vec![0u8; 16 * 1024],
    );
    let (mut out_open, mut err_open, mut client_open) = (true, true, true);
    while out_open || err_open {
        tokio::select! {
            n = out.read(&mut obuf), if out_open => match n {
                Ok(n) if n > 0 => {
                    if to_client.write_all(&encode(&Frame::Stdout(obuf[..n].to_vec()))).await.is_err() {
                        return;
                    }
                }
                _ => out_open = false,
            },
            n = err.read(&mut ebuf), if err_open => match n {
                Ok(n) if n > 0 => {
                    if to_client.write_all(&encode(&Frame::Stderr(ebuf[..n].to_vec()))).await.is_err() {
                        return;
                    }
                }
                _ => err_open = false,
            },
            read = from_client.read(&mut buf), if client_open => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(Frame::Stdin(bytes))) => {
                            if let Some(pipe) = stdin.as_mut() {
                                let _ = pipe.write_all(&bytes).await;
                            }
                        }
                        Ok(Some(Frame::StdinEof)) => {
                            // Dropping the pipe closes the step's stdin.
                            stdin = None;
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
    drop(stdin);
    let frame = match child.wait().await {
        Ok(status) => Frame::Exit(status.code().unwrap_or(128 + 9)),
        Err(e) => Frame::Error(ApiError::new(
            ErrorCode::Failed,
            format!("the step's srun: {e}"),
        )),
    };
    let _ = to_client.write_all(&encode(&frame)).await;
    let _ = to_client.shutdown().await;
}
