//! `GET /v1/images`: the acting user's images, built or only described by a kept spec.

use std::collections::BTreeSet;

use ds01_api::{ApiError, ImageRow};
use ds01_dockerfile::owner::{OwnedImage, OwnedName};
use ds01_dockerfile::ImageRef;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::Daemon;

/// One row a tag of the user's repository, and one for each spec not built (yet).
pub async fn list(d: &Daemon, acting: &Acting) -> Result<Vec<ImageRow>, ApiError> {
    let uid = acting.who.uid();
    let tags = d
        .engine
        .image_tags(&OwnedImage::filter(Some(uid)))
        .await
        .map_err(from_engine)?;
    let store = SpecStore::of(&d.state_dir, uid);
    let specs: BTreeSet<String> = store.names().into_iter().collect();
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for t in tags {
        let Ok(reference) = t.tag.parse::<ImageRef>() else {
            continue;
        };
        let Some(image) = OwnedImage::parse(&reference).filter(|i| i.uid() == uid) else {
            continue;
        };
        // A baked container's own tag (`NAME:<container>._.<uid>`) belongs to the
        // container, not to the user's list of images.
        if OwnedName::of_tag(&reference).is_some() {
            continue;
        }
        let name = image.name().to_string();
        seen.insert(name.clone());
        rows.push(ImageRow {
            spec: specs.contains(&name),
            name,
            image: t.tag,
            id: Some(t.id),
            size: Some(t.size),
            created: Some(t.created),
        });
    }
    for name in specs.difference(&seen) {
        let Ok(parsed) = name.parse() else {
            continue;
        };
        rows.push(ImageRow {
            name: name.clone(),
            image: OwnedImage::new(uid, parsed).reference().to_string(),
            id: None,
            size: None,
            created: None,
            spec: true,
        });
    }
    rows.sort_by(|a, b| a.image.cmp(&b.image));
    Ok(rows)
}
