//! The base image of a spec: an AIME catalog row or any other image reference.

use serde::{Deserialize, Serialize};

use crate::catalog::{validate_field, CatalogEntry};
use crate::reference::ImageRef;
use crate::spec::SpecError;
use crate::user_dockerfile::UserDockerfile;

/// The image to build on.
///
/// ```
/// use ds01_dockerfile::{Base, ImageRef};
///
/// let base = Base::Custom { image: ImageRef::parse("ubuntu:24.04").unwrap() };
/// assert_eq!(base.image().to_string(), "ubuntu:24.04");
/// assert_eq!(base.framework_label(), "custom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Base {
    /// An AIME catalog image, recorded together with the catalog row it came from.
    Aime(AimeBase),
    /// Any other image reference.
    Custom {
        /// The image.
        image: ImageRef,
    },
    /// The user's own Dockerfile, to which ds01 appends its steps (packages, the user).
    ///
    /// ```
    /// use ds01_dockerfile::{Base, UserDockerfile};
    ///
    /// let base = Base::Dockerfile {
    ///     dockerfile: UserDockerfile::parse("FROM debian:12\nRUN echo hi\n").unwrap(),
    ///     ds01_legacy: false,
    /// };
    /// assert_eq!(base.image().to_string(), "debian:12");
    /// ```
    Dockerfile {
        /// The Dockerfile's text.
        dockerfile: UserDockerfile,
        /// A DS01 `~/dockerfiles/NAME.Dockerfile` (`ds01 image import`): its own user setup
        /// is left out, as ds01's replaces it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ds01_legacy: bool,
    },
}

impl Base {
    /// The image `FROM` names (for a Dockerfile, its last stage's).
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageRef};
    /// let base = Base::Custom { image: ImageRef::parse("debian:12").unwrap() };
    /// assert_eq!(base.image().tag(), Some("12"));
    /// ```
    pub fn image(&self) -> &ImageRef {
        match self {
            Base::Aime(aime) => aime.image(),
            Base::Custom { image } => image,
            Base::Dockerfile { dockerfile, .. } => dockerfile.final_image(),
        }
    }

    /// The framework as DS01's `aime.mlc.DS01_FRAMEWORK` label has it: the lowercase
    /// catalog framework (`pytorch`), or `custom`.
    ///
    /// ```
    /// # use ds01_dockerfile::{Base, ImageRef};
    /// let base = Base::Custom { image: ImageRef::parse("debian:12").unwrap() };
    /// assert_eq!(base.framework_label(), "custom");
    /// ```
    pub fn framework_label(&self) -> String {
        match self {
            Base::Aime(aime) => aime.framework().to_ascii_lowercase(),
            Base::Custom { .. } | Base::Dockerfile { .. } => "custom".to_owned(),
        }
    }
}

/// A base image chosen from the AIME catalog: the row's framework and version, the
/// architecture it was chosen for, and the image it resolved to.
///
/// The image is stored rather than looked up at render time, so a catalog update never
/// silently changes what an existing spec builds.
///
/// ```
/// use ds01_dockerfile::{AimeBase, Catalog};
///
/// let catalog = Catalog::parse("Pytorch, 2.7.1, [CUDA_ADA;CUDA_AMPERE], aimehub/pytorch-2.7.1\n").unwrap();
/// let entry = catalog.resolve("pytorch", None, "CUDA_AMPERE").unwrap();
/// let base = AimeBase::from_catalog(entry, "CUDA_AMPERE").unwrap();
/// assert_eq!(base.framework(), "Pytorch");
/// assert_eq!(base.architecture(), "CUDA_AMPERE");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AimeBaseFields", into = "AimeBaseFields")]
pub struct AimeBase {
    framework: String,
    version: String,
    architecture: String,
    image: ImageRef,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AimeBaseFields {
    framework: String,
    version: String,
    architecture: String,
    image: ImageRef,
}

impl TryFrom<AimeBaseFields> for AimeBase {
    type Error = SpecError;
    fn try_from(f: AimeBaseFields) -> Result<AimeBase, SpecError> {
        AimeBase::new(&f.framework, &f.version, &f.architecture, f.image)
    }
}

impl From<AimeBase> for AimeBaseFields {
    fn from(b: AimeBase) -> AimeBaseFields {
        AimeBaseFields {
            framework: b.framework,
            version: b.version,
            architecture: b.architecture,
            image: b.image,
        }
    }
}

impl AimeBase {
    /// Builds a catalog base from its parts, checking each has the catalog's form.
    ///
    /// ```
    /// use ds01_dockerfile::{AimeBase, ImageRef};
    /// let image = ImageRef::parse("aimehub/pytorch-2.8.0-cuda12.6.3").unwrap();
    /// assert!(AimeBase::new("Pytorch", "2.8.0", "CUDA_ADA", image.clone()).is_ok());
    /// assert!(AimeBase::new("Py torch", "2.8.0", "CUDA_ADA", image).is_err());
    /// ```
    pub fn new(
        framework: &str,
        version: &str,
        architecture: &str,
        image: ImageRef,
    ) -> Result<AimeBase, SpecError> {
        validate_field(framework, "framework").map_err(SpecError::Base)?;
        validate_field(version, "version").map_err(SpecError::Base)?;
        validate_field(architecture, "architecture").map_err(SpecError::Base)?;
        Ok(AimeBase {
            framework: framework.to_owned(),
            version: version.to_owned(),
            architecture: architecture.to_owned(),
            image,
        })
    }

    /// The base for a resolved catalog row and the architecture it was resolved for; the
    /// architecture is recorded as the row spells it.
    ///
    /// ```
    /// # use ds01_dockerfile::{AimeBase, Catalog};
    /// let c = Catalog::parse("Pytorch, 2.7.1, [CUDA_AMPERE], aimehub/p\n").unwrap();
    /// let base = AimeBase::from_catalog(c.resolve("pytorch", None, "cuda_ampere").unwrap(), "cuda_ampere").unwrap();
    /// assert_eq!(base.architecture(), "CUDA_AMPERE");
    /// ```
    pub fn from_catalog(entry: &CatalogEntry, architecture: &str) -> Result<AimeBase, SpecError> {
        let arch = entry
            .architectures
            .iter()
            .find(|a| a.eq_ignore_ascii_case(architecture))
            .ok_or_else(|| {
                SpecError::Base(format!(
                    "{} {} has no image for {architecture}",
                    entry.framework, entry.version
                ))
            })?;
        AimeBase::new(&entry.framework, &entry.version, arch, entry.image.clone())
    }

    /// Framework as the catalog spells it.
    ///
    /// ```
    /// # use ds01_dockerfile::{AimeBase, ImageRef};
    /// # let b = AimeBase::new("Pytorch", "2.8.0", "CUDA_ADA", ImageRef::parse("a/b").unwrap()).unwrap();
    /// assert_eq!(b.framework(), "Pytorch");
    /// ```
    pub fn framework(&self) -> &str {
        &self.framework
    }

    /// Catalog version.
    ///
    /// ```
    /// # use ds01_dockerfile::{AimeBase, ImageRef};
    /// # let b = AimeBase::new("Pytorch", "2.8.0", "CUDA_ADA", ImageRef::parse("a/b").unwrap()).unwrap();
    /// assert_eq!(b.version(), "2.8.0");
    /// ```
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The architecture the image was chosen for.
    ///
    /// ```
    /// # use ds01_dockerfile::{AimeBase, ImageRef};
    /// # let b = AimeBase::new("Pytorch", "2.8.0", "CUDA_ADA", ImageRef::parse("a/b").unwrap()).unwrap();
    /// assert_eq!(b.architecture(), "CUDA_ADA");
    /// ```
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// The image.
    ///
    /// ```
    /// # use ds01_dockerfile::{AimeBase, ImageRef};
    /// # let b = AimeBase::new("Pytorch", "2.8.0", "CUDA_ADA", ImageRef::parse("a/b").unwrap()).unwrap();
    /// assert_eq!(b.image().to_string(), "a/b");
    /// ```
    pub fn image(&self) -> &ImageRef {
        &self.image
    }
}
