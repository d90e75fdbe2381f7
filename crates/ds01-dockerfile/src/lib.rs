//! Image specs for ds01: the validated description of a user's image, rendered to a
//! Dockerfile and a build context that bake the user in. This crate talks to no daemon.
//!
//! - [`ImageSpec`] describes an image (name, base, packages, environment, user baking) and is
//!   stored as TOML. Every value in it was validated on the way in, so rendering cannot
//!   produce a Dockerfile that does something other than what the spec says.
//! - [`render`] turns a spec into a [`Dockerfile`]; [`build_context`] packs it into the
//!   deterministic tar.gz the engine sends.
//! - [`PYTHON_SETUP_SCRIPT`] gives an image a Python and the user's own virtual environment
//!   ([`VENV_PATH`]), where every pip package goes.
//! - [`parse_requirements`] reads a `requirements.txt`; [`UserDockerfile`] holds a user's own
//!   Dockerfile, to which ds01 appends its steps.
//! - [`USER_SETUP_SCRIPT`] is the single script that creates the container user, run by the
//!   Dockerfile at build time and by the engine in setup containers.
//! - [`Catalog`] reads the AIME image catalog; [`ImageRef`] and [`ImageName`] parse image
//!   references and ds01 image names.
//!
//! ```
//! use ds01_dockerfile::{build_context, render, Base, ImageName, ImageRef, ImageSpec, PipRequirement};
//!
//! let mut spec = ImageSpec::new(
//!     ImageName::parse("thesis")?,
//!     Base::Custom { image: ImageRef::parse("ubuntu:24.04")? },
//! );
//! spec.add_pip(PipRequirement::parse("transformers>=4.30")?);
//! assert!(PipRequirement::parse("x; rm -rf /").is_err());
//!
//! let dockerfile = render(&spec);
//! assert!(dockerfile.text().contains("'transformers>=4.30'"));
//! let context = build_context(&spec);
//! assert_eq!(context.dockerfile_sha256(), dockerfile.sha256());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod base;
mod catalog;
mod context;
pub mod defaults;
mod env;
mod identity;
pub mod labels;
mod name;
pub mod owner;
mod package;
mod python_setup;
mod quote;
mod reference;
mod render;
mod requirements;
mod spec;
mod user_dockerfile;
mod user_setup;
mod validated_text;

pub use base::{AimeBase, Base};
pub use catalog::{Catalog, CatalogEntry, CatalogError};
pub use context::{build_context, build_context_with_ca, BuildContext};
pub use defaults::{UseCase, UseCaseError};
pub use env::{EnvError, EnvName, EnvValue};
pub use identity::{
    Identity, IdentityError, Login, LoginError, ARG_GROUP_ID, ARG_SUDO, ARG_USERNAME, ARG_USER_ID,
};
pub use name::{ImageName, NameError};
pub use package::{AptPackage, PackageError, PipRequirement};
pub use python_setup::{
    PYTHON_CA_CONTEXT_PATH, PYTHON_CONTEXT_DIR, PYTHON_IMAGE_DIR, PYTHON_SETUP_CONTEXT_PATH,
    PYTHON_SETUP_IMAGE_PATH, PYTHON_SETUP_SCRIPT, VENV_PATH,
};
pub use reference::{ImageRef, ReferenceError, Tag};
pub use render::{render, Dockerfile};
pub use requirements::{parse_requirements, RequirementsError, MAX_REQUIREMENTS};
pub use spec::{ImageSpec, Packages, SpecError, UserSettings};
pub use user_dockerfile::{DockerfileError, UserDockerfile, MAX_DOCKERFILE_LEN};
pub use user_setup::{
    USER_SETUP_CONTEXT_PATH, USER_SETUP_DONE, USER_SETUP_IMAGE_PATH, USER_SETUP_SCRIPT,
};
