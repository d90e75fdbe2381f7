//! Maps login names as LDAP/SSSD hands them over (`h.baker@hertie-school.lan`) to the names
//! DS01 gives them inside containers (`h-baker`) and in systemd (`ds01-student-h_baker.slice`).
//!
//! The mapping is byte-compatible with DS01's reference implementations, so containers and
//! images made by the old scripts keep their names. Where the reference produces a name no
//! account can have (empty, holding `:`, all digits), [`Username::from_login`] refuses with a
//! [`UsernameError`] that says why; [`sanitize_compat`] reproduces it anyway for tools that
//! must find old names.
//!
//! ```
//! use ds01_username::{sanitize, sanitize_compat, slice_name};
//!
//! let user = sanitize("h.baker@hertie-school.lan")?;
//! assert_eq!(user.as_str(), "h-baker");
//!
//! assert!(sanitize("al:ice").is_err());
//! assert_eq!(sanitize_compat("al:ice"), "al:ice");
//!
//! let slice = slice_name("student", "h.baker@hertie-school.lan")?;
//! assert_eq!(slice.as_str(), "ds01-student-h_baker.slice");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The crate has one optional feature, `serde`, which implements `Serialize` and `Deserialize`
//! for [`Username`] (deserializing validates like [`Username::parse`]).

#![warn(missing_docs)]

mod error;
mod rules;
mod slice;
mod username;

pub use error::{SliceError, UsernameError};
pub use slice::{slice_name, slice_user_compat, SliceGroup, SliceName};
pub use username::Username;

/// Maps a login name to its container account name; the same as [`Username::from_login`].
///
/// # Errors
///
/// See [`Username::from_login`].
///
/// ```
/// use ds01_username::sanitize;
///
/// assert_eq!(sanitize("john.doe")?.as_str(), "john-doe");
/// assert!(sanitize("@hertie-school.lan").is_err());
/// # Ok::<(), ds01_username::UsernameError>(())
/// ```
pub fn sanitize(login: &str) -> Result<Username, UsernameError> {
    Username::from_login(login)
}

/// Returns exactly what DS01's reference sanitizer returns, unusable names included: the empty
/// string, names holding `:`, all-digit names.
///
/// Meant for tools that must reproduce names the old scripts gave (to find an existing
/// container or image); anything that creates an account should use [`sanitize`].
///
/// ```
/// use ds01_username::sanitize_compat;
///
/// assert_eq!(sanitize_compat("h.baker@hertie-school.lan"), "h-baker");
/// assert_eq!(sanitize_compat("@x"), "");
/// assert_eq!(sanitize_compat("1234"), "1234");
/// ```
pub fn sanitize_compat(login: &str) -> String {
    rules::ACCOUNT.map(login)
}
