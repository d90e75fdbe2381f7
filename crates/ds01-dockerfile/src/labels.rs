//! Image label keys, exactly as DS01's scripts write them, so that images built by DS01 and by
//! ds01 are read the same way by both. The keys live in the one catalogue, `ds01-labels`.
//!
//! Rendered Dockerfiles write the `aime.mlc.*` and maintainer keys; [`SPEC_SHA256`] cannot
//! be part of the text it hashes, so the engine adds it at build time.
//!
//! ```
//! use ds01_dockerfile::labels;
//! assert_eq!(labels::HAS_USER_SETUP, "aime.mlc.DS01_HAS_USER_SETUP");
//! ```

pub use ds01_labels::image::*;
