//! `DELETE /v1/containers?stopped=true`: every one of the user's containers that is not
//! running (nor paused); running ones are left alone. Never a bare "all".

use ds01_api::{ApiError, RemoveQuery, Removed};
use ds01_engine::Scope;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Removes the acting user's stopped containers, each as `remove` would.
pub async fn remove_stopped(
    d: &Daemon,
    acting: &Acting,
    query: RemoveQuery,
) -> Result<Vec<Removed>, ApiError> {
    let mine = d
        .engine
        .list_containers(Scope::User(&acting.who))
        .await
        .map_err(from_engine)?;
    let query = RemoveQuery {
        force: false,
        ..query
    };
    let mut removed = Vec::new();
    for c in mine {
        if c.state.is_live() {
            continue;
        }
        let Some(container) = c.owned() else {
            continue;
        };
        removed.push(super::remove::remove(d, acting, &container, query).await?);
    }
    Ok(removed)
}
