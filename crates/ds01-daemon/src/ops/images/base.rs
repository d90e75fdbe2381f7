//! What an image is built on: a catalog row, and every image a spec's base names checked
//! for the caller and written as the tag that was checked.

use ds01_api::ApiError;
use ds01_dockerfile::{AimeBase, Base, Catalog, CatalogEntry};

use crate::authz::{Authz, IfMissing};
use crate::config::Config;

/// The catalog row for `framework` on `arch` (the server's when absent), from the catalog
/// text the client sent, else the server's catalog; with the architecture chosen.
pub(crate) fn catalog_entry(
    config: &Config,
    catalog: Option<&str>,
    framework: &str,
    version: Option<&str>,
    arch: Option<&str>,
) -> Result<(CatalogEntry, String), ApiError> {
    let catalog = match catalog {
        Some(text) => Catalog::parse(text),
        None => Catalog::load(&config.catalog),
    }
    .map_err(|e| ApiError::invalid(e.to_string()))?;
    let arch = arch.unwrap_or(&config.architecture);
    let entry = catalog
        .resolve(framework, version, arch)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((entry.clone(), arch.to_owned()))
}

/// `base` with every image it names checked for `uid` and written as the tag that was
/// checked; refused as a whole if one of them may not be used.
pub(crate) async fn authorized(authz: &Authz<'_>, uid: u32, base: &Base) -> Result<Base, ApiError> {
    Ok(match base {
        Base::Aime(aime) => {
            let allowed = authz.image(uid, aime.image(), IfMissing::Pull).await?;
            Base::Aime(
                AimeBase::new(
                    aime.framework(),
                    aime.version(),
                    aime.architecture(),
                    allowed.reference,
                )
                .map_err(|e| ApiError::invalid(e.to_string()))?,
            )
        }
        Base::Custom { image } => Base::Custom {
            image: authz.image(uid, image, IfMissing::Pull).await?.reference,
        },
        Base::Dockerfile {
            dockerfile,
            ds01_legacy,
        } => {
            let mut checked = Vec::new();
            for image in dockerfile.images() {
                let allowed = authz.image(uid, image, IfMissing::Pull).await?;
                checked.push((image.clone(), allowed.reference));
            }
            let dockerfile = dockerfile
                .with_images(|i| {
                    checked
                        .iter()
                        .find(|(given, _)| given == i)
                        .map(|(_, c)| c.clone())
                })
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            Base::Dockerfile {
                dockerfile,
                ds01_legacy: *ds01_legacy,
            }
        }
    })
}
