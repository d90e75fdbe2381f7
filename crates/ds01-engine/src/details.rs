//! `container show`: one user's container, from one engine inspect.

use ds01_api::{ContainerDetails, ContainerName, LimitsInfo, MountInfo};

use crate::client::Engine;
use crate::error::Result;
use crate::identity::Identity;
use crate::labels;

impl Engine {
    /// What the container is: image, user setup, GPUs, mounts, limits, labels and state.
    /// `stops_at` and `gpus` are left for ds01d, whose reaper and inventory know them.
    pub async fn container_details(
        &self,
        who: &Identity,
        name: &ContainerName,
    ) -> Result<ContainerDetails> {
        let found = self.owned_container(who, name).await?;
        let config = found.config.clone().unwrap_or_default();
        let host = found.host_config.clone().unwrap_or_default();
        let labels: std::collections::BTreeMap<String, String> = config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
        let positive = |v: Option<i64>| v.filter(|n| *n > 0);
        Ok(ContainerDetails {
            name: name.to_string(),
            docker_name: name.docker_name(who.uid()),
            id: found.id.clone().unwrap_or_default(),
            image: config.image.clone().unwrap_or_default(),
            user_setup: label(labels::USER_SETUP),
            state: crate::control::state(&found),
            started_at: found
                .state
                .as_ref()
                .and_then(|s| s.started_at.clone())
                .filter(|t| !t.starts_with("0001-")),
            // Which devices the labels name depends on the server's inventory (DS01's
            // scripts record slots, not UUIDs): ds01d fills this in.
            gpus: Vec::new(),
            mounts: found
                .mounts
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|m| MountInfo {
                    // The directory the user chose (its label), not the mount point ds01d
                    // binds it on.
                    source: chosen_dir(&labels, m.destination.as_deref())
                        .or(m.source)
                        .or(m.name)
                        .unwrap_or_default(),
                    destination: m.destination.unwrap_or_default(),
                    writable: m.rw.unwrap_or(false),
                })
                .collect(),
            limits: LimitsInfo {
                memory_bytes: positive(host.memory).map(|n| n as u64),
                cpus: positive(host.nano_cpus).map(|n| n as f64 / 1e9),
                shm_bytes: positive(host.shm_size).map(|n| n as u64),
                pids: positive(host.pids_limit),
            },
            labels,
            stops_at: None,
        })
    }
}

/// The host directory the labels name for mount `destination` (`/workspace`, `/data`,
/// `/models`), when they name one.
fn chosen_dir(
    labels: &std::collections::BTreeMap<String, String>,
    destination: Option<&str>,
) -> Option<String> {
    let key = match destination? {
        "/workspace" => labels::WORK_MOUNT,
        "/data" => labels::DATA_MOUNT,
        "/models" => labels::MODELS_MOUNT,
        _ => return None,
    };
    labels
        .get(key)
        .filter(|v| !v.is_empty() && *v != "-")
        .cloned()
}
