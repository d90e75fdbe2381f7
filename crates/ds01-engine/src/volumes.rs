//! The named volumes that hold containers' home directories: found and removed by the
//! name derived from the container's, so a user can reach only their own.

use bollard::query_parameters::RemoveVolumeOptionsBuilder;

use crate::client::Engine;
use crate::error::{is_not_found, Context, Result};
use crate::options::HomeVolume;
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
}
