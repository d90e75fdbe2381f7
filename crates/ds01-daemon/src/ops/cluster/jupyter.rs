//! `POST /v1/containers/{name}/jupyter` in cluster mode: refused, with what works instead.
//! One server's JupyterLab is reached through a loopback forward ds01d keeps on the host;
//! a cluster container runs on one of Slurm's nodes, which ds01d does not forward to. The
//! refusal is the same for every name, so it says nothing of whose containers exist.

use ds01_api::{ApiError, OwnedContainer};

/// The refusal.
pub fn jupyter(container: &OwnedContainer) -> ApiError {
    ApiError::invalid(format!(
        "JupyterLab through ds01 is not available for containers on this cluster: they run on \
         Slurm's nodes, which ds01d does not forward to. Run commands in {0} with \
         `ds01 container exec {0} -- CMD`",
        container.name()
    ))
}
