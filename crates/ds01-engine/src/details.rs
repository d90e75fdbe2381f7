//! `container show`: one user's container, from one engine inspect.

use ds01_api::{ContainerDetails, LimitsInfo, MountInfo, OwnedContainer};

use crate::client::Engine;
use crate::error::Result;
use crate::labels;
use crate::view::ContainerView;
use ds01_dockerfile::owner::OwnedName;

impl Engine {
    /// What the container is: image, user setup, GPUs, mounts, limits, labels and state.
    /// `stops_at` and `gpus` are left for ds01d, whose reaper and inventory know them.
    pub async fn container_details(&self, container: &OwnedContainer) -> Result<ContainerDetails> {
        let found = self.inspect_owned(container).await?;
        let host = found.host_config.clone().unwrap_or_default();
        let view = ContainerView::from_inspect(
            OwnedName::new(container.name().as_str(), container.uid()),
            &found,
        );
        let labels = view.labels.clone();
        let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
        let positive = |v: Option<i64>| v.filter(|n| *n > 0);
        Ok(ContainerDetails {
            name: container.name().to_string(),
            docker_name: container.to_string(),
            id: view.id,
            image: view.image,
            user_setup: label(labels::USER_SETUP),
            state: view.state.as_str().to_owned(),
            started_at: view.started_at,
            // Which devices the labels name depends on the server's inventory (DS01's
            // scripts record slots, not UUIDs): ds01d fills this in.
            gpus: Vec::new(),
            mounts: view
                .mounts
                .into_iter()
                .map(|m| MountInfo {
                    // The directory the user chose (its label), not the mount point ds01d
                    // binds it on.
                    source: chosen_dir(&labels, &m.destination).unwrap_or(m.source),
                    destination: m.destination,
                    writable: m.writable,
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
            account: String::new(),
        })
    }
}

/// The host directory the labels name for mount `destination` (`/workspace`, `/data`,
/// `/models`), when they name one.
fn chosen_dir(
    labels: &std::collections::BTreeMap<String, String>,
    destination: &str,
) -> Option<String> {
    let key = match destination {
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
