//! Operations on the acting user's containers, one a file: each takes the service and the
//! request's parts, and answers in the API's types. Ownership is the name: every
//! container here is an [`OwnedContainer`](ds01_api::OwnedContainer) of the acting user's
//! UID, so no operation can reach another user's.

pub mod bulk;
pub mod copy;
pub mod create;
pub mod dry_run;
pub mod exec;
pub mod install;
pub mod jupyter;
pub mod keep_alive;
pub mod list;
pub mod logs;
pub mod pause;
pub(crate) mod prepare;
mod rebind;
pub mod recreate;
pub mod remove;
pub mod remove_stopped;
pub mod restart;
pub mod show;
pub mod start;
pub mod stats;
pub mod stop;
pub(crate) mod stored;
pub mod unpause;
pub mod why;

use ds01_api::{ApiError, OwnedContainer};

use crate::errors::from_engine;
use crate::Daemon;

/// Whether the container runs (or is paused).
async fn is_live(d: &Daemon, container: &OwnedContainer) -> Result<bool, ApiError> {
    let found = d
        .engine
        .owned_container(container)
        .await
        .map_err(from_engine)?;
    Ok(found.state.is_live())
}
