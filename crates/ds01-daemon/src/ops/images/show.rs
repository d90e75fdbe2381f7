//! `GET /v1/images/{name}`: one of the user's images, with its spec and Dockerfile when
//! ds01d keeps them.

use ds01_api::{ApiError, ErrorCode, ImageDetails};
use ds01_dockerfile::ImageName;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::Daemon;

/// The image as the engine has it and as its spec describes it.
pub async fn show(d: &Daemon, acting: &Acting, name: &ImageName) -> Result<ImageDetails, ApiError> {
    let uid = acting.who.uid();
    let reference = name.image_ref(uid).to_string();
    let store = SpecStore::of(&d.state_dir, uid);
    let spec = store.exists(name).then(|| store.load(name)).transpose()?;
    let image = d.engine.image_info(&reference).await.map_err(from_engine)?;
    if spec.is_none() && image.is_none() {
        return Err(
            ApiError::new(ErrorCode::NotFound, format!("image {reference} not found"))
                .subject(name.as_str())
                .because(ds01_api::Reason::NoImage),
        );
    }
    Ok(ImageDetails {
        name: name.to_string(),
        image: reference,
        id: image.as_ref().map(|i| i.id.clone()),
        size: image.as_ref().and_then(|i| i.size),
        created: image.as_ref().and_then(|i| i.created.clone()),
        labels: image.map(|i| i.labels).unwrap_or_default(),
        dockerfile: spec
            .as_ref()
            .map(|s| ds01_dockerfile::render(s).text().to_owned()),
        spec,
    })
}
