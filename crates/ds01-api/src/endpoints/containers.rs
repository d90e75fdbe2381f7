//! One user's containers: create, lifecycle, files, sessions, Jupyter.

use serde::{Deserialize, Serialize};

use crate::endpoint::{fill, query, NoBody};
use crate::{
    Acted, BulkOutcome, ContainerCreate, ContainerDetails, ContainerInfo, ContainerName,
    CopyRequest, CreatePlan, CreateQuery, CreatedContainer, ExecRequest, InstallRequest, Installed,
    JupyterRequest, JupyterServer, KeepAliveRequest, LogsRequest, RemoveQuery, Removed, Story,
};

/// `GET /v1/containers`: the caller's containers (everybody's with `all_users`, admins),
/// those passing every filter.
#[derive(Debug, Clone, Default)]
pub struct ListContainers {
    /// Every user's (admins).
    pub all_users: bool,
    /// `KEY=VALUE` filters ([`crate::FILTER_KEYS`]), all of which must pass.
    pub filters: Vec<String>,
}
endpoint!(ListContainers, Get "/v1/containers", Json, body: NoBody, answer: Vec<ContainerInfo>,
|e, route| {
    let mut pairs = vec![("all_users", e.all_users.to_string())];
    pairs.extend(e.filters.iter().map(|f| ("filter", f.clone())));
    fill(route, &[], query(&pairs))
});

/// `POST /v1/containers`: creates, streaming progress.
#[derive(Debug, Clone)]
pub struct CreateContainer(pub ContainerCreate);
endpoint!(CreateContainer, Post "/v1/containers", Progress, body: ContainerCreate, answer: CreatedContainer,
    |_e, route| fill(route, &[], None), body_of: |e| &e.0);

/// `POST /v1/containers?dry_run=true`: what a create would do, changing nothing.
#[derive(Debug, Clone)]
pub struct PlanContainer(pub ContainerCreate);
endpoint!(PlanContainer, Post "/v1/containers", Json, body: ContainerCreate, answer: CreatePlan,
    |_e, route| fill(route, &[], query(&CreateQuery { dry_run: true })), body_of: |e| &e.0);

/// The query of `DELETE /v1/containers`: only stopped containers are removed together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveStoppedQuery {
    /// Must be true: a bare "remove all" is never meant.
    #[serde(default)]
    pub stopped: bool,
    /// Remove their home volumes too.
    #[serde(default)]
    pub volumes: bool,
    /// Answer with what would be removed, removing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// `DELETE /v1/containers?stopped=true`: every stopped container of the caller's.
#[derive(Debug, Clone, Default)]
pub struct RemoveStopped {
    /// Remove their home volumes too.
    pub volumes: bool,
    /// Remove nothing; say what would go.
    pub dry_run: bool,
}
endpoint!(RemoveStopped, Delete "/v1/containers", Json, body: NoBody, answer: Vec<Removed>,
    |e, route| fill(route, &[], query(&RemoveStoppedQuery { stopped: true, volumes: e.volumes, dry_run: e.dry_run })));

/// What `--all` does to every container of the caller's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkVerb {
    /// Start the stopped ones.
    Start,
    /// Stop the running ones.
    Stop,
    /// Restart the running ones.
    Restart,
}

impl BulkVerb {
    /// The verb as the path spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkVerb::Start => "start",
            BulkVerb::Stop => "stop",
            BulkVerb::Restart => "restart",
        }
    }
}

/// The query of stop and restart: seconds between SIGTERM and SIGKILL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutQuery {
    /// The grace period (default 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
}

/// `POST /v1/containers/_all/{verb}`.
#[derive(Debug, Clone)]
pub struct BulkAction {
    /// What to do.
    pub verb: BulkVerb,
    /// The grace period of stops.
    pub query: TimeoutQuery,
}
endpoint!(BulkAction, Post "/v1/containers/_all/{verb}", Json, body: NoBody, answer: Vec<BulkOutcome>,
    |e, route| fill(route, &[("verb", e.verb.as_str())], query(&e.query)));

/// The container a request is about.
macro_rules! on_container {
    ($(#[$doc:meta])* $ty:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $ty {
            /// The caller's name for it (ds01d adds `._.<uid>`).
            pub name: ContainerName,
        }
        impl $ty {
            /// The request for container `name`.
            pub fn new(name: ContainerName) -> Self {
                Self { name }
            }
        }
    };
    ($(#[$doc:meta])* $ty:ident, $body:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $ty {
            /// The caller's name for it (ds01d adds `._.<uid>`).
            pub name: ContainerName,
            /// What the request carries.
            pub body: $body,
        }
        impl $ty {
            /// The request for container `name`.
            pub fn new(name: ContainerName, body: $body) -> Self {
                Self { name, body }
            }
        }
    };
}

on_container!(
    /// `GET /v1/containers/{name}`: one engine inspect of it.
    ShowContainer
);
endpoint!(ShowContainer, Get "/v1/containers/{name}", Json, body: NoBody, answer: ContainerDetails,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

/// `DELETE /v1/containers/{name}`.
#[derive(Debug, Clone)]
pub struct RemoveContainer {
    /// The caller's name for it.
    pub name: ContainerName,
    /// Force, volumes, dry run.
    pub query: RemoveQuery,
}
endpoint!(RemoveContainer, Delete "/v1/containers/{name}", Json, body: NoBody, answer: Removed,
    |e, route| fill(route, &[("name", e.name.as_str())], query(&e.query)));

on_container!(
    /// `POST /v1/containers/{name}/recreate`: from its image again, streaming progress.
    RecreateContainer
);
endpoint!(RecreateContainer, Post "/v1/containers/{name}/recreate", Progress, body: NoBody, answer: CreatedContainer,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

on_container!(
    /// `POST /v1/containers/{name}/start`: its GPUs bound again if free.
    StartContainer
);
endpoint!(StartContainer, Post "/v1/containers/{name}/start", Json, body: NoBody, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

/// `POST /v1/containers/{name}/stop`.
#[derive(Debug, Clone)]
pub struct StopContainer {
    /// The caller's name for it.
    pub name: ContainerName,
    /// The grace period.
    pub query: TimeoutQuery,
}
impl StopContainer {
    /// Stops `name`, killing it after `timeout` seconds (default 10).
    pub fn new(name: ContainerName, timeout: Option<u32>) -> Self {
        Self {
            name,
            query: TimeoutQuery { timeout },
        }
    }
}
endpoint!(StopContainer, Post "/v1/containers/{name}/stop", Json, body: NoBody, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], query(&e.query)));

/// `POST /v1/containers/{name}/restart`.
#[derive(Debug, Clone)]
pub struct RestartContainer {
    /// The caller's name for it.
    pub name: ContainerName,
    /// The grace period.
    pub query: TimeoutQuery,
}
impl RestartContainer {
    /// Restarts `name`, killing it after `timeout` seconds (default 10).
    pub fn new(name: ContainerName, timeout: Option<u32>) -> Self {
        Self {
            name,
            query: TimeoutQuery { timeout },
        }
    }
}
endpoint!(RestartContainer, Post "/v1/containers/{name}/restart", Json, body: NoBody, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], query(&e.query)));

on_container!(
    /// `POST /v1/containers/{name}/pause`.
    PauseContainer
);
endpoint!(PauseContainer, Post "/v1/containers/{name}/pause", Json, body: NoBody, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

on_container!(
    /// `POST /v1/containers/{name}/unpause`.
    UnpauseContainer
);
endpoint!(UnpauseContainer, Post "/v1/containers/{name}/unpause", Json, body: NoBody, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

on_container!(
    /// `POST /v1/containers/{name}/keep-alive`: postpones an idle stop.
    KeepAlive, KeepAliveRequest
);
endpoint!(KeepAlive, Post "/v1/containers/{name}/keep-alive", Json, body: KeepAliveRequest, answer: Acted,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `GET /v1/containers/{name}/why`: its events as sentences.
    Why
);
endpoint!(Why, Get "/v1/containers/{name}/why", Json, body: NoBody, answer: Story,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

on_container!(
    /// `POST /v1/containers/{name}/install`: pip packages, as root, in the running container.
    Install, InstallRequest
);
endpoint!(Install, Post "/v1/containers/{name}/install", Json, body: InstallRequest, answer: Installed,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `POST /v1/containers/{name}/jupyter`: JupyterLab as the caller, behind ds01d's forward.
    Jupyter, JupyterRequest
);
endpoint!(Jupyter, Post "/v1/containers/{name}/jupyter", Json, body: JupyterRequest, answer: JupyterServer,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `POST /v1/containers/{name}/exec`: a session, as frames after the upgrade.
    Exec, ExecRequest
);
endpoint!(Exec, Post "/v1/containers/{name}/exec", Frames, body: ExecRequest, answer: NoBody,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `POST /v1/containers/{name}/logs`: its output, as frames after the upgrade.
    Logs, LogsRequest
);
endpoint!(Logs, Post "/v1/containers/{name}/logs", Frames, body: LogsRequest, answer: NoBody,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `POST /v1/containers/{name}/copy-out`: a tar of a path in it, as frames.
    CopyOut, CopyRequest
);
endpoint!(CopyOut, Post "/v1/containers/{name}/copy-out", Frames, body: CopyRequest, answer: NoBody,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

on_container!(
    /// `POST /v1/containers/{name}/copy-in`: the client's tar into it, as frames.
    CopyIn, CopyRequest
);
endpoint!(CopyIn, Post "/v1/containers/{name}/copy-in", Frames, body: CopyRequest, answer: NoBody,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endpoint;

    fn name() -> ContainerName {
        "thesis".parse().unwrap()
    }

    #[test]
    fn paths_are_filled_from_their_routes() {
        assert_eq!(
            ListContainers {
                all_users: false,
                filters: vec!["state=running".into()]
            }
            .path(),
            "/v1/containers?all_users=false&filter=state%3Drunning"
        );
        assert_eq!(
            RemoveContainer {
                name: name(),
                query: RemoveQuery {
                    force: true,
                    ..Default::default()
                }
            }
            .path(),
            "/v1/containers/thesis?force=true&volumes=false&dry_run=false"
        );
        assert_eq!(
            RemoveStopped::default().path(),
            "/v1/containers?stopped=true&volumes=false&dry_run=false"
        );
        assert_eq!(
            BulkAction {
                verb: BulkVerb::Restart,
                query: TimeoutQuery { timeout: Some(3) }
            }
            .path(),
            "/v1/containers/_all/restart?timeout=3"
        );
        assert_eq!(
            StopContainer::new(name(), None).path(),
            "/v1/containers/thesis/stop"
        );
        assert_eq!(
            PlanContainer(ContainerCreate::named(name())).path(),
            "/v1/containers?dry_run=true"
        );
        let keep = KeepAlive::new(name(), KeepAliveRequest { span: "2h".into() });
        assert_eq!(
            serde_json::to_string(keep.body().unwrap()).unwrap(),
            r#"{"for":"2h"}"#
        );
    }
}
