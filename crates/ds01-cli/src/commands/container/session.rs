//! `ds01 container open` and `exec`: a session through ds01d's exec upgrade. Output streams
//! as it comes, stdin and terminal resizes go the other way, and the command's exit status
//! becomes ds01's.

use std::io::{IsTerminal, Read, Write};

use ds01_api::endpoints::Exec;
use ds01_api::frames::{encode, Decoder, Frame};
use ds01_api::{ContainerName, ExecRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::signal::unix::{signal, SignalKind};

use super::ExecArgs;
use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

/// Puts the terminal back to how it was, however the session ends.
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

/// Opens a login shell, starting the container if needed.
pub async fn open(name: &ContainerName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let terminal = std::io::stdin().is_terminal();
    let request = ExecRequest {
        command: Vec::new(),
        tty: terminal,
        stdin: true,
        env: vec![term()],
        workdir: None,
        width: None,
        height: None,
        start: true,
    };
    run(name, request, ctx).await
}

/// Runs a command; the exit status is the command's. With `--json` (and no terminal) the
/// output is gathered and printed as one object `{"status", "stdout", "stderr"}`.
pub async fn exec(args: &ExecArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let mut env = args.env.clone();
    if args.tty {
        env.push(term());
    }
    let request = ExecRequest {
        command: args.command.clone(),
        tty: args.tty,
        stdin: args.interactive,
        env,
        workdir: args.workdir.clone(),
        width: None,
        height: None,
        start: false,
    };
    if ctx.out.json() && !args.tty {
        let mut out = Gathered::default();
        let status = run_into(&args.name, request, ctx, &mut out).await?;
        ctx.out.print_json(&serde_json::json!({
            "status": match status { ExitStatus::Success => 0, ExitStatus::Code(n) => i32::from(n), _ => 1 },
            "stdout": String::from_utf8_lossy(&out.stdout),
            "stderr": String::from_utf8_lossy(&out.stderr),
        }))?;
        return Ok(status);
    }
    run(&args.name, request, ctx).await
}

/// Where a session's output goes.
trait Sink {
    fn stdout(&mut self, bytes: &[u8]) -> Result<(), CliError>;
    fn stderr(&mut self, bytes: &[u8]);
}

/// Straight to this process's stdout and stderr, as it comes.
struct Terminal;

impl Sink for Terminal {
    fn stdout(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).map_err(CliError::write)?;
        out.flush().map_err(CliError::write)
    }

    fn stderr(&mut self, bytes: &[u8]) {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.flush();
    }
}

/// Kept for one JSON answer.
#[derive(Default)]
struct Gathered {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Sink for Gathered {
    fn stdout(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.stdout.extend_from_slice(bytes);
        Ok(())
    }

    fn stderr(&mut self, bytes: &[u8]) {
        self.stderr.extend_from_slice(bytes);
    }
}

fn term() -> String {
    format!(
        "TERM={}",
        std::env::var("TERM").unwrap_or_else(|_| "xterm".into())
    )
}

async fn run(
    name: &ContainerName,
    request: ExecRequest,
    ctx: &Context,
) -> Result<ExitStatus, CliError> {
    run_into(name, request, ctx, &mut Terminal).await
}

async fn run_into(
    name: &ContainerName,
    mut request: ExecRequest,
    ctx: &Context,
    sink: &mut dyn Sink,
) -> Result<ExitStatus, CliError> {
    let raw_wanted = request.tty && std::io::stdin().is_terminal();
    if raw_wanted {
        if let Ok((w, h)) = crossterm::terminal::size() {
            request.width = Some(w);
            request.height = Some(h);
        }
    }
    let (io, _) = ctx
        .client
        .frames(&Exec::new(name.clone(), request.clone()))
        .await?;
    let (mut from_service, mut to_service) = tokio::io::split(io);
    let _raw = if raw_wanted { RawMode::enable() } else { None };

    // stdin is read on a plain thread: a blocked read must not keep the runtime alive once
    // the command has ended.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<Vec<u8>>>(16);
    if request.stdin {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.blocking_send(None);
                        break;
                    }
                    Ok(n) => {
                        if tx.blocking_send(Some(buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    } else {
        drop(tx);
    }
    let mut winch = signal(SignalKind::window_change())
        .map_err(|e| CliError::failure("watching terminal size changes", e))?;
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdin_open = request.stdin;
    let broken = |e: std::io::Error| CliError::failure("the session with ds01d broke off", e);
    loop {
        tokio::select! {
            read = from_service.read(&mut buf) => {
                let n = read.map_err(broken)?;
                if n == 0 {
                    return Err(CliError::msg("ds01d ended the session without an exit status"));
                }
                decoder.push(&buf[..n]);
                while let Some(frame) = decoder
                    .next_frame()
                    .map_err(|e| CliError::msg(e.to_string()))?
                {
                    match frame {
                        Frame::Stdout(bytes) => sink.stdout(&bytes)?,
                        Frame::Stderr(bytes) => sink.stderr(&bytes),
                        Frame::Notice(text) => ctx.out.warn(ds01_api::shown(&text)),
                        Frame::Exit(status) => {
                            return Ok(match status {
                                0 => ExitStatus::Success,
                                n => ExitStatus::Code(u8::try_from(n).unwrap_or(1).max(1)),
                            });
                        }
                        Frame::Error(e) => return Err(e.into()),
                        _ => {}
                    }
                }
            }
            data = rx.recv(), if stdin_open => {
                let frame = match data {
                    Some(Some(bytes)) => Frame::Stdin(bytes),
                    _ => {
                        stdin_open = false;
                        Frame::StdinEof
                    }
                };
                to_service.write_all(&encode(&frame)).await.map_err(broken)?;
            }
            _ = winch.recv() => {
                if let Ok((width, height)) = crossterm::terminal::size() {
                    to_service
                        .write_all(&encode(&Frame::Resize { width, height }))
                        .await
                        .map_err(broken)?;
                }
            }
        }
    }
}
