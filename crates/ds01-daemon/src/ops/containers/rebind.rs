//! The GPUs of a container that starts again: a stopped container holds no GPU, so the
//! devices its labels name are its own again only if no running container took them, and
//! only within its owner's `max_gpus` with what they hold now.

use ds01_api::{ApiError, ErrorCode, OwnedContainer};
use ds01_engine::Scope;
use ds01_policy::{AllocRequest, GpuAsk};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::gpus::Reservation;
use crate::user_lock::Section;
use crate::Daemon;

/// Reserves again the devices `container`'s labels name, for `verb` (`start`, `restart`).
/// With `only_stopped`, a running container needs none. The caller is inside the owner's
/// critical section (`section`) until the container runs.
pub(crate) async fn rebind<'d>(
    d: &'d Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    verb: &str,
    only_stopped: bool,
    _section: &Section,
) -> Result<Option<Reservation<'d>>, ApiError> {
    let mine = d
        .engine
        .list_containers(Scope::User(&acting.who))
        .await
        .map_err(from_engine)?;
    let Some(found) = mine
        .iter()
        .find(|c| c.name.as_str() == container.as_str() && !(only_stopped && c.state.is_live()))
    else {
        return Ok(None);
    };
    let labels = found.labels.clone().into_iter().collect();
    let wanted = ds01_policy::gpus_from_labels(&labels, d.gpus.devices()).uuids;
    if wanted.is_empty() {
        return Ok(None);
    }
    let effective = acting.policy(&d.config);
    // A live (running or paused) container already holds its devices and is counted in
    // what its owner holds: restarting it adds nothing, so only a stopped one is held to
    // the cap (a cap lowered since does not stop a restart).
    let max_gpus = if found.state.is_live() {
        f64::INFINITY
    } else {
        effective.max_gpus.value.value().unwrap_or(f64::INFINITY)
    };
    let request = AllocRequest {
        uid: acting.who.uid(),
        ask: GpuAsk::Devices(wanted),
        max_gpus,
        allow_device_pick: true,
    };
    let reserved = d
        .gpus
        .reserve(&d.engine, container, request, None)
        .await
        .map_err(|e| {
            let (code, why) = if e.code == ErrorCode::Limit {
                (ErrorCode::Limit, effective.max_gpus.to_string())
            } else {
                (
                    ErrorCode::Busy,
                    "a stopped container holds no GPU, and its GPU is now used by another container"
                        .to_owned(),
                )
            };
            let mut refusal = ApiError::new(
                code,
                format!("{container} cannot {verb}: {}; {why}", e.message),
            )
            .subject(container.name().as_str());
            if code == ErrorCode::Limit {
                refusal.reason = e.reason;
            }
            refusal
        })?;
    Ok(Some(reserved))
}
