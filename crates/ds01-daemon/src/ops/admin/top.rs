//! `GET /v1/admin/top`: each GPU's holder, how long it has held it and whether it idles,
//! and the reaper's coming stops, soonest first.

use ds01_api::{AdminTop, ApiError, TopGpu, TopStop};
use ds01_engine::Scope;
use ds01_labels::container;

use crate::errors::from_engine;
use crate::Daemon;

/// The admin's view.
pub async fn top(d: &Daemon) -> Result<AdminTop, ApiError> {
    let all = d
        .engine
        .list_containers(Scope::AllUsers)
        .await
        .map_err(from_engine)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // The engine's list has no start times; the reaper's first sight of a running container
    // is within one check interval of its start.
    let held_for = |id: &str| {
        d.watches
            .running_since(id)
            .map(|t| now.saturating_sub(t).max(0) as u64)
    };
    let gpus = d
        .gpus
        .rows(&all)
        .into_iter()
        .map(|r| {
            let holder = r
                .container
                .as_deref()
                .and_then(|name| all.iter().find(|c| c.name.as_str() == name));
            TopGpu {
                slot: r.slot,
                name: r.name,
                held_secs: holder.and_then(|c| held_for(&c.id)),
                idle: holder.and_then(|c| d.watches.idle(&c.id)),
                // NVML is not read per request; the ledger's sampler holds no reading here.
                utilisation: None,
                container: r.container,
                user: r.user,
            }
        })
        .collect();
    let mut next_stops: Vec<TopStop> = all
        .iter()
        .filter(|c| c.state.is_live())
        .filter_map(|c| {
            let (at, rule) = d.watches.next_stop(&c.id)?;
            Some(TopStop {
                container: c.name.to_string(),
                user: container::owner_login(|k| c.labels.get(k))
                    .unwrap_or_default()
                    .to_owned(),
                at,
                in_secs: at.saturating_sub(now).max(0) as u64,
                rule: rule.as_str().to_owned(),
            })
        })
        .collect();
    next_stops.sort_by_key(|s| s.at);
    Ok(AdminTop {
        gpus,
        high_demand: d.watches.high_demand(),
        next_stops,
    })
}
