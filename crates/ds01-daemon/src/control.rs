//! Restart, pause, unpause, `--all` actions and `container show`.
//!
//! GPUs follow the rule of `start`: a container holds its devices while it runs *or is
//! paused* (its processes keep their GPU memory); a restart re-binds the devices its labels
//! name only if no other running container holds them, and holds them for it across the
//! restart, so nobody takes them in between.

use ds01_api::{ApiError, BulkOutcome, ContainerDetails, ContainerFilter, ContainerName};
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// What `--all` does: start the stopped ones, stop or restart the running (and paused)
/// ones; stopped ones stay stopped on a restart.
pub use ds01_api::endpoints::BulkVerb as Bulk;

impl Daemon {
    /// `POST /v1/containers/{name}/restart`.
    pub async fn restart(
        &self,
        acting: &Acting,
        name: &ContainerName,
        grace_secs: u32,
    ) -> Result<(), ApiError> {
        let who = &acting.who;
        let key = name.docker_name(who.uid());
        // A restart starts a stopped container: its devices are counted like a start's,
        // inside the section. The reservation then counts them for its owner until the
        // container runs, so the section is left before the engine's restart (whose stop
        // may take the whole grace period; `restart --all` runs them side by side).
        let section = self.user_locks.enter(who.uid()).await;
        // Held across the restart (its own holding does not count against it).
        let reservation = self
            .rebind_gpus(acting, name, "restart", false, &section)
            .await?;
        drop(section);
        // A restart is a start: the engine resolves the binds again.
        let bound = self.bind_for_start(who, name, true).await?;
        self.engine
            .restart_container_within(who, name, grace_secs)
            .await
            .map_err(from_engine)?;
        drop(bound);
        drop(reservation);
        self.event(acting, &key, "restart", "restarted by its owner".into());
        Ok(())
    }

    /// `POST /v1/containers/{name}/pause`.
    pub async fn pause(&self, acting: &Acting, name: &ContainerName) -> Result<(), ApiError> {
        self.engine
            .pause_container(&acting.who, name)
            .await
            .map_err(from_engine)?;
        self.event(
            acting,
            &name.docker_name(acting.who.uid()),
            "pause",
            "paused by its owner (its GPUs stay held; the idle timer goes on)".into(),
        );
        Ok(())
    }

    /// `POST /v1/containers/{name}/unpause`.
    pub async fn unpause(&self, acting: &Acting, name: &ContainerName) -> Result<(), ApiError> {
        // A paused container holds its devices already (they count for its owner), so an
        // unpause adds none; it still waits for a count in flight to finish.
        let _section = self.user_locks.enter(acting.who.uid()).await;
        self.engine
            .unpause_container(&acting.who, name)
            .await
            .map_err(from_engine)?;
        self.event(
            acting,
            &name.docker_name(acting.who.uid()),
            "unpause",
            "unpaused by its owner".into(),
        );
        Ok(())
    }

    /// `POST /v1/containers/_all/{verb}`: the action on each of the acting user's
    /// containers it applies to; one failure does not stop the others.
    pub async fn bulk(
        &self,
        acting: &Acting,
        verb: Bulk,
        grace_secs: u32,
    ) -> Result<Vec<BulkOutcome>, ApiError> {
        let mine = self
            .engine
            .list_containers(Scope::User(&acting.who))
            .await
            .map_err(from_engine)?;
        let live = |state: &str| matches!(state, "running" | "paused" | "restarting");
        let chosen: Vec<(ContainerName, String)> = mine
            .into_iter()
            .filter(|c| match verb {
                Bulk::Start => !live(&c.state),
                Bulk::Stop | Bulk::Restart => live(&c.state),
            })
            .filter_map(|c| {
                Some((
                    ContainerName::from_docker_name(&c.docker_name)?,
                    c.docker_name,
                ))
            })
            .collect();
        let outcome = |docker_name: String, done: &str, r: Result<(), ApiError>| BulkOutcome {
            name: docker_name,
            action: if r.is_ok() { done } else { "failed" }.to_owned(),
            error: r.err(),
        };
        let mut outcomes = Vec::new();
        match verb {
            // One after the other: each start may re-bind GPUs, in order.
            Bulk::Start => {
                for (name, docker_name) in chosen {
                    let r = self.start(acting, &name).await;
                    outcomes.push(outcome(docker_name, "started", r));
                }
            }
            Bulk::Stop | Bulk::Restart => {
                let runs = chosen.into_iter().map(|(name, docker_name)| async move {
                    let r = match verb {
                        Bulk::Stop => self.stop(acting, &name, grace_secs).await,
                        _ => self.restart(acting, &name, grace_secs).await,
                    };
                    (docker_name, r)
                });
                let done = if verb == Bulk::Stop {
                    "stopped"
                } else {
                    "restarted"
                };
                for (docker_name, r) in futures_util::future::join_all(runs).await {
                    outcomes.push(outcome(docker_name, done, r));
                }
            }
        }
        Ok(outcomes)
    }

    /// `GET /v1/containers/{name}`.
    pub async fn show(
        &self,
        acting: &Acting,
        name: &ContainerName,
    ) -> Result<ContainerDetails, ApiError> {
        let mut details = self
            .engine
            .container_details(&acting.who, name)
            .await
            .map_err(from_engine)?;
        details.stops_at = self.watches.stops_at(&details.id);
        let labels = details.labels.clone().into_iter().collect();
        details.gpus = ds01_policy::gpus_from_labels(&labels, self.gpus.devices()).uuids;
        Ok(details)
    }
}

/// The list filters of `GET /v1/containers?filter=KEY=VALUE&...`, checked.
pub fn filters(pairs: &[(String, String)]) -> Result<Vec<ContainerFilter>, ApiError> {
    pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| v.parse().map_err(ApiError::invalid))
        .collect()
}
