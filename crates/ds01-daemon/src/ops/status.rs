//! `GET /v1/status`: what a user sees of the server: the GPUs (whose they are only where
//! the admin shows holders, and their own), the `--wait` line, and their own containers
//! with the reaper's coming stop.

use ds01_api::{ApiError, GpuStatus, OwnContainerStatus, ServerStatus};
use ds01_dockerfile::owner::OwnedName;
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The caller's view of the server.
pub async fn status(d: &Daemon, acting: &Acting) -> Result<ServerStatus, ApiError> {
    let uid = acting.who.uid();
    let all = d
        .engine
        .list_containers(Scope::AllUsers)
        .await
        .map_err(from_engine)?;
    let show = d.config.file.gpus.show_holders;
    let owner_of = |container: &str| OwnedName::parse(container).map(|n| n.uid());
    let gpus = d
        .gpus
        .rows(&all)
        .into_iter()
        .map(|r| {
            let mine = r.container.as_deref().and_then(owner_of) == Some(uid);
            GpuStatus {
                slot: r.slot,
                name: r.name,
                profile: r.profile,
                held: r.container.is_some(),
                mine,
                user: if mine || show { r.user } else { None },
            }
        })
        .collect();
    let line = d.gpus.line();
    let my_queue = line
        .iter()
        .filter(|q| q.uid == uid)
        .filter_map(|q| {
            Some((
                OwnedName::parse(&q.container)?.name().to_owned(),
                q.position,
            ))
        })
        .collect();
    let held = crate::gpus::holdings(d.gpus.devices(), &all, "");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let containers = all
        .iter()
        .filter(|c| c.uid() == uid)
        .map(|c| {
            let next = c
                .state
                .is_live()
                .then(|| d.watches.next_stop(&c.id))
                .flatten();
            OwnContainerStatus {
                name: c.name.name().to_owned(),
                state: c.state.to_string(),
                gpus: held
                    .iter()
                    .find(|h| h.container == c.name.as_str())
                    .map(|h| h.uuids.clone())
                    .unwrap_or_default(),
                stops_at: next.map(|(at, _)| at),
                stops_in_secs: next.map(|(at, _)| at.saturating_sub(now).max(0) as u64),
                stop_rule: next.map(|(_, rule)| rule.as_str().to_owned()),
            }
        })
        .collect();
    Ok(ServerStatus {
        gpus,
        queue_length: line.len(),
        my_queue,
        high_demand: d.watches.high_demand(),
        containers,
    })
}
