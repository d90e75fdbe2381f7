//! `POST /v1/containers/{name}/restart` in cluster mode: as a recreate (see
//! [`super::recreate`]), a new job from the bundle in place of the live one, if any. Slurm
//! ends the old job's processes with its own grace (`KillWait`), not the request's.

use ds01_api::{ApiError, OwnedContainer};

use crate::caller::Acting;
use crate::cluster::ClusterConfig;
use crate::Daemon;

/// Restarts the container (starts it when stopped, as on one server).
pub async fn restart(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<(), ApiError> {
    super::recreate::resubmit(d, cluster, acting, container, "restart", "restarted").await?;
    Ok(())
}
