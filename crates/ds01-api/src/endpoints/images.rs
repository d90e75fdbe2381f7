//! One user's images: `ds01-<uid>/<name>`, built from specs ds01d keeps.

use ds01_dockerfile::ImageName;
use serde::{Deserialize, Serialize};

use crate::endpoint::{fill, query, NoBody};
use crate::{BulkOutcome, ImageBuilt, ImageCreate, ImageDetails, ImageRow, ImageUpdate, Removed};

/// `GET /v1/images`: the caller's images and specs.
#[derive(Debug, Clone, Default)]
pub struct ListImages;
endpoint!(ListImages, Get "/v1/images", Json, body: NoBody, answer: Vec<ImageRow>,
    |_e, route| fill(route, &[], None));

/// `POST /v1/images`: saves the spec and builds, streaming progress.
#[derive(Debug, Clone)]
pub struct CreateImage(pub ImageCreate);
endpoint!(CreateImage, Post "/v1/images", Progress, body: ImageCreate, answer: ImageBuilt,
    |_e, route| fill(route, &[], None), body_of: |e| &e.0);

/// `GET /v1/images/{name}`: the spec, the rendered Dockerfile, the image's labels.
#[derive(Debug, Clone)]
pub struct ShowImage {
    /// The caller's name for it (ds01d adds `ds01-<uid>/`).
    pub name: ImageName,
}
endpoint!(ShowImage, Get "/v1/images/{name}", Json, body: NoBody, answer: ImageDetails,
    |e, route| fill(route, &[("name", e.name.as_str())], None));

/// `POST /v1/images/{name}/update`: changes the spec and rebuilds, streaming progress.
#[derive(Debug, Clone)]
pub struct UpdateImage {
    /// The caller's name for it.
    pub name: ImageName,
    /// What changes.
    pub body: ImageUpdate,
}
endpoint!(UpdateImage, Post "/v1/images/{name}/update", Progress, body: ImageUpdate, answer: ImageBuilt,
    |e, route| fill(route, &[("name", e.name.as_str())], None), body_of: |e| &e.body);

/// `POST /v1/images/{name}/recreate`: every one of the caller's containers made from the
/// image, made again from it as it is now, streaming progress; each answers for itself.
#[derive(Debug, Clone)]
pub struct RecreateFromImage {
    /// The caller's name for it.
    pub name: ImageName,
}
endpoint!(RecreateFromImage, Post "/v1/images/{name}/recreate", Progress, body: NoBody,
    answer: Vec<BulkOutcome>, |e, route| fill(route, &[("name", e.name.as_str())], None));

/// The query of removals that may go ahead although the thing is in use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceQuery {
    /// Remove even what is in use.
    #[serde(default)]
    pub force: bool,
}

/// `DELETE /v1/images/{name}`.
#[derive(Debug, Clone)]
pub struct DeleteImage {
    /// The caller's name for it.
    pub name: ImageName,
    /// Even if containers use it.
    pub query: ForceQuery,
}
endpoint!(DeleteImage, Delete "/v1/images/{name}", Json, body: NoBody, answer: Removed,
    |e, route| fill(route, &[("name", e.name.as_str())], query(&e.query)));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endpoint;

    #[test]
    fn image_paths() {
        let name = ImageName::parse("thesis").unwrap();
        assert_eq!(ShowImage { name: name.clone() }.path(), "/v1/images/thesis");
        assert_eq!(
            DeleteImage {
                name,
                query: ForceQuery { force: true }
            }
            .path(),
            "/v1/images/thesis?force=true"
        );
    }
}
