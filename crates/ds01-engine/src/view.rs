//! The engine's view of a container, in ds01's own types: what ds01d reads of a container
//! without seeing the Docker client's models.

use std::collections::BTreeMap;

use ds01_api::OwnedContainer;
use ds01_dockerfile::owner::OwnedName;

/// Docker's state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Made, never started.
    Created,
    /// Its processes run.
    Running,
    /// Its processes are frozen; they keep their memory and devices.
    Paused,
    /// The engine is restarting it.
    Restarting,
    /// The engine is removing it.
    Removing,
    /// Its processes ended.
    Exited,
    /// The engine could not remove it cleanly.
    Dead,
}

impl ContainerState {
    /// Docker's word for the state (`running`, `exited`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }

    /// Reads Docker's word; an unknown one (none is documented) counts as exited, which
    /// holds nothing and runs nothing.
    pub fn from_docker(word: &str) -> ContainerState {
        match word {
            "created" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "dead" => ContainerState::Dead,
            _ => ContainerState::Exited,
        }
    }

    /// Whether its processes exist: running, paused or restarting. A paused container's
    /// processes still hold their memory and devices, so it counts as live for GPUs and for
    /// what `--all` stops.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ContainerState::Running | ContainerState::Paused | ContainerState::Restarting
        )
    }
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `<name>._.<uid>` container, as a listing or an inspect shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerView {
    /// Its Docker name, as written (DS01's scripts made names ds01 would refuse).
    pub name: OwnedName,
    /// The container ID.
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// The ID of the image it runs.
    pub image_id: String,
    /// Docker's state.
    pub state: ContainerState,
    /// Docker's human status (`Up 3 minutes`); empty from an inspect.
    pub status: String,
    /// When it last started (RFC 3339), if ever; only an inspect knows.
    pub started_at: Option<String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its mounts; only an inspect knows.
    pub mounts: Vec<ContainerMount>,
}

/// One mount of a container, as the engine made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerMount {
    /// A bind of a host path (else a volume or a tmpfs).
    pub bind: bool,
    /// The host path of a bind, the name of a volume.
    pub source: String,
    /// Where it is in the container.
    pub destination: String,
    /// Whether the container may write to it.
    pub writable: bool,
}

impl ContainerView {
    /// The owner's UID, from the name.
    pub fn uid(&self) -> u32 {
        self.name.uid()
    }

    /// The container under a name ds01's rules accept; `None` for DS01's odder names.
    pub fn owned(&self) -> Option<OwnedContainer> {
        OwnedContainer::parse(self.name.as_str())
    }

    /// The label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub(crate) fn from_summary(c: bollard::models::ContainerSummary) -> Option<ContainerView> {
        let name = OwnedName::parse(c.names.as_ref()?.first()?)?;
        Some(ContainerView {
            name,
            id: c.id.unwrap_or_default(),
            image: c.image.unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            state: ContainerState::from_docker(&c.state.map(|s| s.to_string()).unwrap_or_default()),
            status: c.status.unwrap_or_default(),
            started_at: None,
            labels: c.labels.unwrap_or_default().into_iter().collect(),
            mounts: Vec::new(),
        })
    }

    pub(crate) fn from_inspect(
        name: OwnedName,
        c: &bollard::models::ContainerInspectResponse,
    ) -> ContainerView {
        let config = c.config.as_ref();
        let state = c.state.as_ref();
        ContainerView {
            name,
            id: c.id.clone().unwrap_or_default(),
            image: config.and_then(|c| c.image.clone()).unwrap_or_default(),
            image_id: c.image.clone().unwrap_or_default(),
            state: ContainerState::from_docker(
                &state
                    .and_then(|s| s.status)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            status: String::new(),
            started_at: state
                .and_then(|s| s.started_at.clone())
                .filter(|t| !t.starts_with("0001-")),
            labels: config
                .and_then(|c| c.labels.clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
            mounts: c
                .mounts
                .iter()
                .flatten()
                .map(|m| ContainerMount {
                    bind: m.typ.as_deref() == Some("bind"),
                    source: m
                        .source
                        .clone()
                        .or_else(|| m.name.clone())
                        .unwrap_or_default(),
                    destination: m.destination.clone().unwrap_or_default(),
                    writable: m.rw.unwrap_or(false),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_and_write_dockers_words() {
        for word in [
            "created",
            "running",
            "paused",
            "restarting",
            "removing",
            "exited",
            "dead",
        ] {
            assert_eq!(ContainerState::from_docker(word).as_str(), word);
        }
        let live: Vec<_> = ["running", "paused", "restarting", "exited", "created"]
            .map(|w| ContainerState::from_docker(w).is_live())
            .into();
        assert_eq!(live, vec![true, true, true, false, false]);
    }
}
