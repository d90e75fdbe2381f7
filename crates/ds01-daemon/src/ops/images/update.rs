//! `POST /v1/images/{name}/update`: the stored spec changed (packages added or removed)
//! and built again when it changed or when asked; the answer names the user's containers
//! made from the image, which keep the old one until they are recreated.

use ds01_api::{ApiError, ImageBuilt, ImageUpdate};
use ds01_dockerfile::{build_context, labels, ImageName};

use super::base;
use crate::authz::Authz;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::stream::Reporter;
use crate::Daemon;

/// Updates and rebuilds the acting user's image `name`.
pub async fn update(
    d: &Daemon,
    acting: &Acting,
    name: &ImageName,
    request: ImageUpdate,
    reporter: Reporter,
) -> Result<ImageBuilt, ApiError> {
    let who = &acting.who;
    let store = SpecStore::of(&d.state_dir, who.uid());
    let mut spec = store.load(name)?;
    for package in &request.remove {
        if spec.remove_package(package) == 0 {
            reporter.report(ds01_api::Progress::Stage(format!(
                "{} is not in the spec of {name}",
                ds01_api::shown(package)
            )));
        }
    }
    for package in request.add_apt {
        spec.add_apt(package);
    }
    for requirement in request.add {
        spec.add_pip(requirement);
    }
    store.save(&spec)?;
    // Checked at every build: what a short ID or a name resolves to may have changed.
    spec.base = base::authorized(&Authz::new(&d.engine, &d.config), who.uid(), &spec.base).await?;
    let reference = name.image_ref(who.uid());
    let wanted = build_context(&spec).dockerfile_sha256().to_owned();
    let current = d
        .engine
        .image_info(&reference.to_string())
        .await
        .map_err(from_engine)?;
    // Up to date only if the image is still the one ds01d built: a label alone can be
    // written by anyone who builds an image.
    let up_to_date = current.as_ref().is_some_and(|image| {
        image.labels.get(labels::SPEC_SHA256) == Some(&wanted)
            && store.built_id(name).as_deref() == Some(image.id.as_str())
    });
    if up_to_date && !request.rebuild && !request.no_cache {
        return Ok(ImageBuilt {
            image: reference.to_string(),
            id: current.map(|c| c.id),
            spec_sha256: Some(wanted),
            built: false,
            containers: Vec::new(),
            note: None,
        });
    }
    let slot = d.builds.take(who.uid(), &acting.policy(&d.config))?;
    let mut built = super::build::build(d, acting, slot, &spec, request.no_cache, reporter).await?;
    built.containers = super::made_from(d, acting, name)
        .await?
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    Ok(built)
}
