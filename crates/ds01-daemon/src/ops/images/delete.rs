//! `DELETE /v1/images/{name}`: the image and its kept spec; refused while a container
//! uses it, unless forced.

use ds01_api::{ApiError, ErrorCode, Removed};
use ds01_dockerfile::ImageName;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::Daemon;

/// Removes the acting user's image `name`.
pub async fn delete(
    d: &Daemon,
    acting: &Acting,
    name: &ImageName,
    force: bool,
) -> Result<Removed, ApiError> {
    let uid = acting.who.uid();
    let reference = name.image_ref(uid).to_string();
    let store = SpecStore::of(&d.state_dir, uid);
    let exists = d
        .engine
        .image_info(&reference)
        .await
        .map_err(from_engine)?
        .is_some();
    if !exists && !store.exists(name) {
        return Err(
            ApiError::new(ErrorCode::NotFound, format!("image {reference} not found"))
                .subject(name.as_str())
                .because(ds01_api::Reason::NoImage),
        );
    }
    if exists {
        let users = d
            .engine
            .containers_using(&reference)
            .await
            .map_err(from_engine)?;
        if !users.is_empty() && !force {
            return Err(ApiError::new(
                ErrorCode::ImageInUse,
                format!(
                    "image {reference} is used by container(s) {}",
                    users.join(", ")
                ),
            )
            .subject(name.as_str()));
        }
        d.engine
            .remove_image(&reference, force)
            .await
            .map_err(from_engine)?;
    }
    store.remove(name)?;
    Ok(Removed {
        name: reference,
        removed_images: Vec::new(),
        removed_volumes: Vec::new(),
        kept_volumes: Vec::new(),
    })
}
