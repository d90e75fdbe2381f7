//! Operations on the acting user's images, `ds01-<uid>/<name>:latest`, one a file; the
//! specs ds01d keeps for them are in `crate::store`.

pub(crate) mod base;
mod build;
pub mod create;
pub mod delete;
pub mod list;
pub mod recreate;
pub mod show;
pub mod update;

use ds01_api::{ApiError, OwnedContainer};
use ds01_dockerfile::{ImageName, ImageRef};
use ds01_engine::{labels, Scope};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// The acting user's containers made from their image `name`, as the containers' labels
/// record it.
async fn made_from(
    d: &Daemon,
    acting: &Acting,
    name: &ImageName,
) -> Result<Vec<OwnedContainer>, ApiError> {
    let reference = name.image_ref(acting.who.uid());
    let mine = d
        .engine
        .list_containers(Scope::User(&acting.who))
        .await
        .map_err(from_engine)?;
    Ok(mine
        .into_iter()
        .filter(|c| {
            c.label(labels::CUSTOM_IMAGE)
                .and_then(|i| i.parse::<ImageRef>().ok())
                .is_some_and(|i| i.tagged_or_latest() == reference)
        })
        .filter_map(|c| c.owned())
        .collect())
}
