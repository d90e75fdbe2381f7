//! Running a command in a user's container, as the user or as root.

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use bollard::exec::{CreateExecOptions, StartExecResults};
use ds01_api::ContainerName;
use ds01_dockerfile::Identity;
use futures_util::StreamExt;

/// What a command run in a container printed and returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecOutput {
    /// Exit status.
    pub status: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Engine {
    /// Runs `command` (no shell) in the running container as `who`, or as root with
    /// `as_root`, and collects its output.
    pub async fn exec(
        &self,
        who: &Identity,
        name: &ContainerName,
        command: &[String],
        as_root: bool,
    ) -> Result<ExecOutput> {
        let docker_name = name.owned_by(who.uid());
        let found = self.owned_container(&docker_name).await?;
        if !found.state.is_live() {
            return Err(EngineError::NotRunning { name: docker_name });
        }
        let user = if as_root {
            "0:0".to_owned()
        } else {
            format!("{}:{}", who.uid(), who.gid())
        };
        let exec = self
            .docker()
            .create_exec(
                &docker_name,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    user: Some(user),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .context(|| format!("running a command in {docker_name}"))?;
        let mut out = ExecOutput {
            status: -1,
            stdout: String::new(),
            stderr: String::new(),
        };
        if let StartExecResults::Attached { mut output, .. } = self
            .docker()
            .start_exec(&exec.id, None)
            .await
            .context(|| format!("running a command in {docker_name}"))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.context(|| format!("reading output from {docker_name}"))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        out.stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => out
                        .stdout
                        .push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        let inspected = self
            .docker()
            .inspect_exec(&exec.id)
            .await
            .context(|| format!("reading the exit status in {docker_name}"))?;
        out.status = inspected.exit_code.unwrap_or(-1);
        Ok(out)
    }
}
