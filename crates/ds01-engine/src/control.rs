//! Restart, pause and unpause of a user's container, by its `<name>._.<uid>` name only.

use bollard::query_parameters::RestartContainerOptionsBuilder;
use ds01_api::ContainerName;

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use crate::identity::Identity;

impl Engine {
    /// Restarts the container (starts it when stopped): SIGTERM, then SIGKILL after
    /// `grace_secs`, then start.
    pub async fn restart_container_within(
        &self,
        who: &Identity,
        name: &ContainerName,
        grace_secs: u32,
    ) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        let id = found.id.unwrap_or_default();
        let options = RestartContainerOptionsBuilder::default()
            .t(grace_secs.min(3600) as i32)
            .build();
        self.docker()
            .restart_container(&id, Some(options))
            .await
            .context(|| format!("restarting {}", name.docker_name(who.uid())))
    }

    /// Freezes every process of the running container (its memory and devices stay held).
    pub async fn pause_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        let docker_name = name.docker_name(who.uid());
        match state(&found).as_str() {
            "running" => {}
            "paused" => {
                return Err(EngineError::InvalidOption(format!(
                    "container {docker_name} is paused already"
                )))
            }
            _ => return Err(EngineError::NotRunning { name: docker_name }),
        }
        self.docker()
            .pause_container(&found.id.unwrap_or_default())
            .await
            .context(|| format!("pausing {docker_name}"))
    }

    /// Lets a paused container's processes run again.
    pub async fn unpause_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        let docker_name = name.docker_name(who.uid());
        if state(&found) != "paused" {
            return Err(EngineError::InvalidOption(format!(
                "container {docker_name} is not paused"
            )));
        }
        self.docker()
            .unpause_container(&found.id.unwrap_or_default())
            .await
            .context(|| format!("unpausing {docker_name}"))
    }
}

/// Docker's state word: `running`, `paused`, `exited`, ...
pub(crate) fn state(found: &bollard::models::ContainerInspectResponse) -> String {
    found
        .state
        .as_ref()
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_default()
}
