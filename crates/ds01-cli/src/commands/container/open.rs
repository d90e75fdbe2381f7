//! `ds01 container open`: an interactive login shell as the user, on a real TTY that
//! follows the size of the user's terminal.

use std::io::{IsTerminal, Read, Write};

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use ds01_engine::ContainerName;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, SignalKind};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

/// Prefer bash, as the user's account is set up for it; images without bash still get a shell.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

/// Puts the terminal back to how it was, however `open` ends.
struct RawMode;

impl RawMode {
    fn enable() -> Option<RawMode> {
        crossterm::terminal::enable_raw_mode()
            .ok()
            .map(|()| RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Opens the shell; the exit status follows the shell's (0 or 1).
pub async fn open(name: &ContainerName, ctx: &Context) -> Result<ExitStatus, CliError> {
    ctx.engine.start_container(&ctx.who, name).await?;
    let docker = ctx.engine.docker();
    let docker_name = name.docker_name(ctx.who.uid());
    let interactive = std::io::stdin().is_terminal();
    let exec = docker
        .create_exec(
            &docker_name,
            CreateExecOptions {
                cmd: Some(vec!["sh".into(), "-c".into(), SHELL.into()]),
                user: Some(format!("{}:{}", ctx.who.uid(), ctx.who.gid())),
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(interactive),
                env: Some(vec![format!(
                    "TERM={}",
                    std::env::var("TERM").unwrap_or_else(|_| "xterm".into())
                )]),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| CliError::failure(format!("opening a shell in {docker_name}"), e))?;
    let started = docker
        .start_exec(
            &exec.id,
            Some(StartExecOptions {
                detach: false,
                tty: interactive,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|e| CliError::failure(format!("opening a shell in {docker_name}"), e))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(CliError::msg(format!(
            "the engine did not attach to the shell in {docker_name}"
        )));
    };
    let _raw = if interactive { RawMode::enable() } else { None };
    let resize = |docker: bollard::Docker, id: String| async move {
        if let Ok((width, height)) = crossterm::terminal::size() {
            let _ = docker
                .resize_exec(&id, ResizeExecOptions { height, width })
                .await;
        }
    };
    if interactive {
        resize(docker.clone(), exec.id.clone()).await;
    }

    // stdin is read on a plain thread: a blocked read must not keep the runtime alive
    // once the shell has ended.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut winch = signal(SignalKind::window_change())
        .map_err(|e| CliError::failure("watching terminal size changes", e))?;
    let mut stdout = std::io::stdout();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(out)) => {
                    stdout.write_all(&out.into_bytes()).map_err(CliError::write)?;
                    stdout.flush().map_err(CliError::write)?;
                }
                Some(Err(e)) => {
                    return Err(CliError::failure(format!("reading from {docker_name}"), e))
                }
                None => break,
            },
            data = rx.recv(), if stdin_open => match data {
                Some(bytes) => {
                    if input.write_all(&bytes).await.is_err() {
                        stdin_open = false;
                    }
                }
                None => {
                    stdin_open = false;
                    let _ = input.shutdown().await;
                }
            },
            _ = winch.recv() => resize(docker.clone(), exec.id.clone()).await,
        }
    }
    drop(_raw);
    let status = docker
        .inspect_exec(&exec.id)
        .await
        .ok()
        .and_then(|i| i.exit_code)
        .unwrap_or(0);
    Ok(if status == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
