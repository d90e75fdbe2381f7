//! `POST /v1/containers/{name}/unpause`.

use ds01_api::{ApiError, OwnedContainer};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Lets the acting user's paused container run again.
pub async fn unpause(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<(), ApiError> {
    // A paused container holds its devices already (they count for its owner), so an
    // unpause adds none; it still waits for a count in flight to finish.
    let _section = d.user_locks.enter(acting.who.uid()).await;
    d.engine
        .unpause_container(container)
        .await
        .map_err(from_engine)?;
    d.events
        .record_for(acting, container, "unpause", "unpaused by its owner".into());
    Ok(())
}
