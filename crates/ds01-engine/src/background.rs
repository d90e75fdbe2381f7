//! Long-running commands in a user's container that outlive the request that started them
//! (JupyterLab): started detached as the user, found again by their exec ID, and the
//! container's address and end, so that the service can forward a port to it.

use std::net::IpAddr;

use bollard::exec::{CreateExecOptions, StartExecOptions};
use bollard::query_parameters::WaitContainerOptions;
use ds01_api::{ContainerName, OwnedContainer};
use futures_util::StreamExt;

use crate::client::Engine;
use crate::error::{Context, Result};
use ds01_dockerfile::Identity;

/// Where a container's servers can be reached from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// The container ID (a recreated container has a new one).
    pub id: String,
    /// Whether it runs.
    pub running: bool,
    /// The image reference it was created from.
    pub image: String,
    /// It shares the host's network: its servers listen on the host itself.
    pub host_network: bool,
    /// Its address on its own network (none while stopped, or with the host's network).
    pub address: Option<IpAddr>,
}

impl Engine {
    /// How the host reaches `who`'s container `name`.
    pub async fn reach(&self, container: &OwnedContainer) -> Result<Reach> {
        let found = self.inspect_owned(container).await?;
        let host_network = found
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        let address = found
            .network_settings
            .as_ref()
            .and_then(|s| s.networks.as_ref())
            .and_then(|networks| {
                networks
                    .values()
                    .filter_map(|n| n.ip_address.as_deref())
                    .find_map(|ip| ip.parse::<IpAddr>().ok())
            });
        Ok(Reach {
            id: found.id.clone().unwrap_or_default(),
            running: found
                .state
                .as_ref()
                .and_then(|s| s.running)
                .unwrap_or(false),
            image: found
                .config
                .as_ref()
                .and_then(|c| c.image.clone())
                .unwrap_or_default(),
            host_network,
            address,
        })
    }

    /// Starts `command` as `who` in their running container, detached: it runs on after
    /// this returns, its output wherever the command sends it. Returns the exec ID, for
    /// [`Engine::session_status`].
    pub async fn start_background(
        &self,
        who: &Identity,
        name: &ContainerName,
        command: Vec<String>,
        env: Vec<String>,
    ) -> Result<String> {
        let docker_name = name.owned_by(who.uid());
        let exec = self
            .docker()
            .create_exec(
                &docker_name,
                CreateExecOptions {
                    cmd: Some(command),
                    user: Some(format!("{}:{}", who.uid(), who.gid())),
                    env: Some(env),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await
            .context(|| format!("starting a background command in {docker_name}"))?;
        self.docker()
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: true,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .context(|| format!("starting a background command in {docker_name}"))?;
        Ok(exec.id)
    }

    /// Resolves once the container `id` no longer runs (stopped, killed or removed), or
    /// the engine can no longer tell.
    pub async fn stopped(&self, id: &str) {
        let options = WaitContainerOptions {
            condition: "not-running".to_owned(),
        };
        // The first answer, whatever it is, means the container is not running now: the
        // engine answers an error for a removed container or a nonzero exit status.
        let _ = self.docker().wait_container(id, Some(options)).next().await;
    }
}
