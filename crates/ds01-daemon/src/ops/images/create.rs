//! `POST /v1/images`: a user's image `ds01-<uid>/<name>:latest` from a base image, a
//! catalog framework or their own Dockerfile, with their account baked in. The spec is
//! kept (for `image update`), then built unless `no_build`.

use ds01_api::{ApiError, ErrorCode, ImageBuilt, ImageCreate};
use ds01_dockerfile::{
    defaults, parse_requirements, AimeBase, Base, ImageSpec, Login, PipRequirement, UserDockerfile,
};

use super::base;
use crate::authz::Authz;
use crate::caller::Acting;
use crate::errors::from_engine;
use crate::store::SpecStore;
use crate::stream::Reporter;
use crate::Daemon;

/// Describes and (unless `no_build`) builds the acting user's new image.
pub async fn create(
    d: &Daemon,
    acting: &Acting,
    request: ImageCreate,
    reporter: Reporter,
) -> Result<ImageBuilt, ApiError> {
    let who = &acting.who;
    let reference = request.name.image_ref(who.uid());
    if d.engine
        .image_info(&reference.to_string())
        .await
        .map_err(from_engine)?
        .is_some()
    {
        return Err(ApiError::new(
            ErrorCode::ImageExists,
            format!("image {reference} exists already"),
        )
        .subject(request.name.as_str()));
    }
    let base = match (&request.dockerfile, &request.base, &request.framework) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::invalid(
                "give either a Dockerfile or a base image (or catalog framework), not both",
            ))
        }
        (Some(text), None, None) => {
            let dockerfile =
                UserDockerfile::parse(text).map_err(|e| ApiError::invalid(e.to_string()))?;
            Base::Dockerfile {
                dockerfile,
                ds01_legacy: request.ds01_legacy,
            }
        }
        (None, Some(image), _) => Base::Custom {
            image: image.clone(),
        },
        (None, None, Some(framework)) => {
            let (entry, arch) = base::catalog_entry(
                &d.config,
                request.catalog.as_deref(),
                framework,
                request.framework_version.as_deref(),
                request.arch.as_deref(),
            )?;
            Base::Aime(
                AimeBase::from_catalog(&entry, &arch)
                    .map_err(|e| ApiError::invalid(e.to_string()))?,
            )
        }
        (None, None, None) => {
            return Err(ApiError::invalid(
                "no base image: give a base image, a catalog framework or a Dockerfile",
            ))
        }
    };
    // Checked before anything is saved, so a refused image or a bad file leaves nothing
    // behind. The spec keeps the user's text; what is built uses the checked references.
    let checked_base =
        base::authorized(&Authz::new(&d.engine, &d.config), who.uid(), &base).await?;
    let requirements = match &request.requirements {
        Some(text) => parse_requirements(text).map_err(|e| ApiError::invalid(e.to_string()))?,
        None => Vec::new(),
    };
    let mut spec = ImageSpec::with_ds01_defaults(request.name.clone(), base, None);
    spec.owner = Login::parse(who.login()).ok();
    match request.jupyter {
        Some(true) => {
            spec.configure_jupyter = true;
            if spec.packages.jupyter.is_empty() {
                spec.packages.jupyter = defaults::JUPYTER
                    .iter()
                    .filter_map(|p| PipRequirement::parse(p).ok())
                    .collect();
            }
        }
        Some(false) => {
            spec.configure_jupyter = false;
            spec.packages.jupyter.clear();
        }
        None => {}
    }
    if let Some(preset) = request.preset {
        spec.apply_preset(preset);
    }
    for package in request.apt {
        spec.add_apt(package);
    }
    spec.add_requirements(requirements);
    for requirement in request.pip {
        spec.add_pip(requirement);
    }
    // Refused before the spec is saved: one build too many leaves nothing either.
    let slot = if request.no_build {
        None
    } else {
        Some(d.builds.take(who.uid(), &acting.policy(&d.config))?)
    };
    SpecStore::of(&d.state_dir, who.uid()).save(&spec)?;
    spec.base = checked_base;
    let Some(slot) = slot else {
        return Ok(ImageBuilt {
            image: reference.to_string(),
            id: None,
            spec_sha256: None,
            built: false,
            containers: Vec::new(),
            note: None,
        });
    };
    super::build::build(d, acting, slot, &spec, request.no_cache, reporter).await
}
