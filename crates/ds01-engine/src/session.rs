//! Interactive and streaming commands in a user's container: the engine's exec, attached,
//! with stdin, a terminal that can be resized, and the command's own exit status. The
//! caller (ds01d) relays the bytes; it never hands out the engine's socket.

use std::pin::Pin;

use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWrite;

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use ds01_api::ContainerName;
use ds01_dockerfile::Identity;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct SessionSpec {
    /// The command; empty for a login shell (bash when the image has it).
    pub command: Vec<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Attach stdin.
    pub stdin: bool,
    /// Extra environment `NAME=VALUE`.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: Option<String>,
}

/// A chunk of the command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Standard output (all output, with a terminal).
    Stdout(Vec<u8>),
    /// Standard error.
    Stderr(Vec<u8>),
}

/// A running command.
pub struct Session {
    /// The exec ID, for [`Engine::resize_session`] and [`Engine::session_status`].
    pub id: String,
    /// Its output, until it ends.
    pub output: Pin<Box<dyn Stream<Item = Result<Chunk>> + Send>>,
    /// Its stdin.
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Prefer bash, as the user's account is set up for it; images without bash still get a shell.
const SHELL: &str = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";

impl Engine {
    /// Starts `spec` as `who` in their running container `name`.
    pub async fn start_session(
        &self,
        who: &Identity,
        name: &ContainerName,
        spec: &SessionSpec,
    ) -> Result<Session> {
        let docker_name = name.owned_by(who.uid());
        let found = self.owned_container(&docker_name).await?;
        if !found.state.is_live() {
            return Err(EngineError::NotRunning { name: docker_name });
        }
        let command = if spec.command.is_empty() {
            vec!["sh".into(), "-c".into(), SHELL.into()]
        } else {
            spec.command.clone()
        };
        let exec = self
            .docker()
            .create_exec(
                &docker_name,
                CreateExecOptions {
                    cmd: Some(command),
                    user: Some(format!("{}:{}", who.uid(), who.gid())),
                    attach_stdin: Some(spec.stdin),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(spec.tty),
                    env: Some(spec.env.clone()),
                    working_dir: spec.workdir.clone(),
                    ..Default::default()
                },
            )
            .await
            .context(|| format!("starting a command in {docker_name}"))?;
        let started = self
            .docker()
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: spec.tty,
                    output_capacity: None,
                }),
            )
            .await
            .context(|| format!("starting a command in {docker_name}"))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err(EngineError::InvalidOption(format!(
                "the engine did not attach to the command in {docker_name}"
            )));
        };
        let output = output.map(move |chunk| {
            chunk
                .map(|out| match out {
                    bollard::container::LogOutput::StdErr { message } => {
                        Chunk::Stderr(message.to_vec())
                    }
                    other => Chunk::Stdout(other.into_bytes().to_vec()),
                })
                .context(|| format!("reading from {docker_name}"))
        });
        Ok(Session {
            id: exec.id,
            output: Box::pin(output),
            input,
        })
    }

    /// Resizes the session's terminal.
    pub async fn resize_session(&self, id: &str, width: u16, height: u16) -> Result<()> {
        self.docker()
            .resize_exec(id, ResizeExecOptions { height, width })
            .await
            .context(|| "resizing the terminal".to_owned())
    }

    /// The command's exit status once it has ended (`None` while it runs).
    pub async fn session_status(&self, id: &str) -> Result<Option<i64>> {
        let inspected = self
            .docker()
            .inspect_exec(id)
            .await
            .context(|| "reading the command's exit status".to_owned())?;
        Ok(if inspected.running == Some(true) {
            None
        } else {
            inspected.exit_code
        })
    }
}
