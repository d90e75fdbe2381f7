//! Image label keys, exactly as DS01's scripts write them, so that images built by DS01 and by
//! ds01 are read the same way by both.
//!
//! Rendered Dockerfiles write all of these except [`SPEC_SHA256`], which cannot be part of
//! the text it hashes: the engine adds it at build time.
//!
//! ```
//! use ds01_dockerfile::labels;
//! assert_eq!(labels::HAS_USER_SETUP, "aime.mlc.DS01_HAS_USER_SETUP");
//! ```

/// Raw login of the owner (`whoami`). Written only when the spec names an owner.
pub const MAINTAINER: &str = "maintainer";
/// Numeric UID of the owner; filled from the `DS01_USER_ID` build argument.
pub const MAINTAINER_ID: &str = "maintainer.id";
/// The `FROM` image.
pub const BASE_IMAGE: &str = "aime.mlc.base_image";
/// The image name.
pub const PROJECT: &str = "aime.mlc.project";
/// Numeric UID of the owner (older key); filled from the `DS01_USER_ID` build argument.
pub const USER_ID_LEGACY: &str = "aime.mlc.user_id";
/// Raw login of the owner (older key). Written only when the spec names an owner.
pub const USERNAME_RAW: &str = "aime.mlc.username";
/// Always `true` on images ds01 builds.
pub const MANAGED: &str = "aime.mlc.DS01_MANAGED";
/// The image name.
pub const IMAGE: &str = "aime.mlc.DS01_IMAGE";
/// `pytorch`, `tensorflow`… (lowercase catalog framework) or `custom`.
pub const FRAMEWORK: &str = "aime.mlc.DS01_FRAMEWORK";

/// `true` when the image has the user baked in. Written after the setup step succeeded.
pub const HAS_USER_SETUP: &str = "aime.mlc.DS01_HAS_USER_SETUP";
/// UID of the baked-in user, from the `DS01_USER_ID` build argument.
pub const USER_ID: &str = "aime.mlc.DS01_USER_ID";
/// GID of the baked-in user, from the `DS01_GROUP_ID` build argument.
pub const GROUP_ID: &str = "aime.mlc.DS01_GROUP_ID";
/// Account name of the baked-in user, from the `DS01_USERNAME` build argument.
pub const USERNAME: &str = "aime.mlc.DS01_USERNAME";

/// SHA-256 of the rendered Dockerfile the image was built from
/// ([`Dockerfile::sha256`](crate::Dockerfile::sha256)); an image whose label equals the hash
/// of a fresh render (and whose user labels match the user) need not be rebuilt.
pub const SPEC_SHA256: &str = "ds01.spec.sha256";
