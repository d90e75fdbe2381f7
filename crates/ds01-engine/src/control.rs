//! Restart, pause and unpause of a user's container, by its `<name>._.<uid>` name only.

use bollard::query_parameters::RestartContainerOptionsBuilder;
use ds01_api::OwnedContainer;

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use crate::view::ContainerState;

impl Engine {
    /// Restarts the container (starts it when stopped): SIGTERM, then SIGKILL after
    /// `grace_secs`, then start.
    pub async fn restart_container_within(
        &self,
        container: &OwnedContainer,
        grace_secs: u32,
    ) -> Result<()> {
        let found = self.owned_container(container).await?;
        let options = RestartContainerOptionsBuilder::default()
            .t(grace_secs.min(3600) as i32)
            .build();
        self.docker()
            .restart_container(&found.id, Some(options))
            .await
            .context(|| format!("restarting {}", container))
    }

    /// Freezes every process of the running container (its memory and devices stay held).
    pub async fn pause_container(&self, container: &OwnedContainer) -> Result<()> {
        let found = self.owned_container(container).await?;
        let docker_name = container;
        match found.state {
            ContainerState::Running => {}
            ContainerState::Paused => {
                return Err(EngineError::InvalidOption(format!(
                    "container {docker_name} is paused already"
                )))
            }
            _ => {
                return Err(EngineError::NotRunning {
                    name: docker_name.clone(),
                })
            }
        }
        self.docker()
            .pause_container(&found.id)
            .await
            .context(|| format!("pausing {docker_name}"))
    }

    /// Lets a paused container's processes run again.
    pub async fn unpause_container(&self, container: &OwnedContainer) -> Result<()> {
        let found = self.owned_container(container).await?;
        let docker_name = container;
        if found.state != ContainerState::Paused {
            return Err(EngineError::InvalidOption(format!(
                "container {docker_name} is not paused"
            )));
        }
        self.docker()
            .unpause_container(&found.id)
            .await
            .context(|| format!("unpausing {docker_name}"))
    }
}
