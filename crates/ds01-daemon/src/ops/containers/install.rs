//! `POST /v1/containers/{name}/install`: pip packages installed by the service as root in
//! the user's running container, so users need no sudo for them; with `commit`, the
//! container is committed to a new image (within `image_storage`).

use ds01_api::{ApiError, InstallRequest, Installed, OwnedContainer};

use crate::caller::Acting;
use crate::disk::ImageStorage;
use crate::errors::from_engine;
use crate::Daemon;

/// Installs the packages; the answer names the committed image, if any.
pub async fn install(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    request: InstallRequest,
) -> Result<Installed, ApiError> {
    if request.commit {
        ImageStorage::of(&d.engine, &d.config, acting)
            .check()
            .await?;
    }
    let committed = d
        .engine
        .install_packages(
            &acting.who,
            container.name(),
            &request.packages,
            request.commit,
        )
        .await
        .map_err(from_engine)?;
    Ok(Installed {
        name: container.to_string(),
        action: "installed".into(),
        packages: request.packages,
        committed,
    })
}
