//! `POST /v1/containers/_all/{verb}`: `--all`. Start the stopped ones, stop or restart the
//! running (and paused) ones; stopped ones stay stopped on a restart. One failure does not
//! stop the others.

use ds01_api::endpoints::BulkVerb;
use ds01_api::{ApiError, BulkOutcome, OwnedContainer};
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The action on each of the acting user's containers it applies to.
pub async fn bulk(
    d: &Daemon,
    acting: &Acting,
    verb: BulkVerb,
    grace_secs: u32,
) -> Result<Vec<BulkOutcome>, ApiError> {
    // Each container, and whether it runs: the engine's, or on a cluster its newest job's.
    let mine: Vec<(OwnedContainer, bool)> = match &d.config.cluster {
        Some(cluster) => crate::ops::cluster::containers_live(cluster, acting).await?,
        None => d
            .engine
            .list_containers(Scope::User(&acting.who))
            .await
            .map_err(from_engine)?
            .into_iter()
            .filter_map(|c| Some((c.owned()?, c.state.is_live())))
            .collect(),
    };
    let chosen: Vec<OwnedContainer> = mine
        .into_iter()
        .filter(|(_, live)| match verb {
            BulkVerb::Start => !live,
            BulkVerb::Stop | BulkVerb::Restart => *live,
        })
        .map(|(c, _)| c)
        .collect();
    let outcome = |c: &OwnedContainer, done: &str, r: Result<(), ApiError>| BulkOutcome {
        name: c.to_string(),
        action: if r.is_ok() { done } else { "failed" }.to_owned(),
        error: r.err(),
    };
    let mut outcomes = Vec::new();
    match verb {
        // One after the other: each start may re-bind GPUs, in order.
        BulkVerb::Start => {
            for c in &chosen {
                let r = super::start::start(d, acting, c).await;
                outcomes.push(outcome(c, "started", r));
            }
        }
        BulkVerb::Stop | BulkVerb::Restart => {
            let runs = chosen.iter().map(|c| async move {
                match verb {
                    BulkVerb::Stop => super::stop::stop(d, acting, c, grace_secs).await,
                    _ => super::restart::restart(d, acting, c, grace_secs).await,
                }
            });
            let done = if verb == BulkVerb::Stop {
                "stopped"
            } else {
                "restarted"
            };
            let results = futures_util::future::join_all(runs).await;
            for (c, r) in chosen.iter().zip(results) {
                outcomes.push(outcome(c, done, r));
            }
        }
    }
    Ok(outcomes)
}
