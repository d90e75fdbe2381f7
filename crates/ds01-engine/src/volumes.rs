//! The named volumes that hold containers' home directories: found and removed by the
//! name derived from the container's, so a user can reach only their own.

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::RemoveVolumeOptionsBuilder;

use crate::client::Engine;
use crate::error::{is_not_found, Context, Result};
use crate::options::{HomeVolume, VolumeMount};
use ds01_api::OwnedContainer;

impl Engine {
    /// The name of `who`'s container's home volume, when it exists.
    pub async fn home_volume(&self, container: &OwnedContainer) -> Result<Option<String>> {
        let volume = HomeVolume::name_for(container);
        match self.docker().inspect_volume(&volume).await {
            Ok(_) => Ok(Some(volume)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).context(|| format!("inspecting volume {volume}")),
        }
    }

    /// Removes the home volume of `who`'s container `name` (which must be gone: the engine
    /// refuses to remove a volume in use). Returns its name if there was one.
    pub async fn remove_home_volume(&self, container: &OwnedContainer) -> Result<Option<String>> {
        let Some(volume) = self.home_volume(container).await? else {
            return Ok(None);
        };
        let options = RemoveVolumeOptionsBuilder::default().build();
        match self.docker().remove_volume(&volume, Some(options)).await {
            Ok(()) => Ok(Some(volume)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e).context(|| format!("removing volume {volume}")),
        }
    }

    /// Makes `volume` if it is not there (the engine answers an existing one as it is) and,
    /// while it is still empty and root's, gives its top directory to `uid:gid`: the
    /// container runs as the user, who could otherwise write nothing into a new volume. A
    /// volume over a directory of the image gets that directory's owner from the engine's
    /// copy on first mount instead.
    pub async fn user_volume(&self, volume: &VolumeMount, uid: u32, gid: u32) -> Result<()> {
        let request = VolumeCreateRequest {
            name: Some(volume.name.clone()),
            driver: Some("local".to_owned()),
            labels: Some(volume.labels.iter().cloned().collect()),
            ..Default::default()
        };
        let made = self
            .docker()
            .create_volume(request)
            .await
            .context(|| format!("making volume {}", volume.name))?;
        if !self.storage_access() || made.mountpoint.is_empty() {
            return Ok(());
        }
        let top = std::path::Path::new(&made.mountpoint);
        use std::os::unix::fs::MetadataExt;
        let fresh = std::fs::symlink_metadata(top).is_ok_and(|m| m.is_dir() && m.uid() == 0)
            && std::fs::read_dir(top).is_ok_and(|mut d| d.next().is_none());
        if fresh {
            std::os::unix::fs::lchown(top, Some(uid), Some(gid)).map_err(|e| {
                crate::EngineError::InvalidOption(format!(
                    "giving volume {} to its owner: {e}",
                    volume.name
                ))
            })?;
        }
        Ok(())
    }
}
