//! The labels ds01 puts on containers. The keys are DS01's and AIME MLC's own, so that
//! containers made by either tool show up in the other.

use crate::error::{shown, EngineError, Result};
use std::collections::HashMap;

/// `aime.mlc`: the owner's raw login. MLC lists a user's containers by this label.
pub const MLC: &str = "aime.mlc";
/// `aime.mlc.NAME`: the display name of the container.
pub const NAME: &str = "aime.mlc.NAME";
/// `aime.mlc.USER`: the owner's raw login.
pub const USER: &str = "aime.mlc.USER";
/// `aime.mlc.ARCH`: the GPU architecture the image was chosen for.
pub const ARCH: &str = "aime.mlc.ARCH";
/// `aime.mlc.MLC_VERSION`: MLC's container format version, 4.
pub const MLC_VERSION: &str = "aime.mlc.MLC_VERSION";
/// `aime.mlc.WORK_MOUNT`: the host workspace directory.
pub const WORK_MOUNT: &str = "aime.mlc.WORK_MOUNT";
/// `aime.mlc.DATA_MOUNT`: the host data directory, or `-`.
pub const DATA_MOUNT: &str = "aime.mlc.DATA_MOUNT";
/// `aime.mlc.MODELS_MOUNT`: the host models directory, or `-`.
pub const MODELS_MOUNT: &str = "aime.mlc.MODELS_MOUNT";
/// `aime.mlc.FRAMEWORK`: `<framework>-<version>`.
pub const FRAMEWORK: &str = "aime.mlc.FRAMEWORK";
/// `aime.mlc.GPUS`: the GPU request (`all`, a count, `device=...`, or `none`).
pub const GPUS: &str = "aime.mlc.GPUS";
/// `aime.mlc.DS01_MANAGED`: `true` on every container DS01 or ds01 made.
pub const DS01_MANAGED: &str = "aime.mlc.DS01_MANAGED";
/// `aime.mlc.CUSTOM_IMAGE`: the custom image as given (empty for AIME catalog images).
pub const CUSTOM_IMAGE: &str = "aime.mlc.CUSTOM_IMAGE";
/// `ds01.managed`: `true`, as DS01's wrapper writes it.
pub const MANAGED: &str = "ds01.managed";
/// `ds01.user`: the raw login.
pub const DS01_USER: &str = "ds01.user";
/// `ds01.user.sanitized`: the container account name.
pub const DS01_USER_SANITIZED: &str = "ds01.user.sanitized";
/// `ds01.created_at`: creation time, UTC, ISO 8601.
pub const CREATED_AT: &str = "ds01.created_at";
/// `ds01.user_setup`: how the user got into the container: `baked` or `committed`.
pub const USER_SETUP: &str = "ds01.user_setup";

/// `ds01.role`: what a resource is to ds01: `setup`, `committed-image` or `container`.
pub const ROLE: &str = "ds01.role";
/// `ds01.role` of a setup container.
pub const ROLE_SETUP: &str = "setup";
/// `ds01.role` of a per-container image made by the commit flow.
pub const ROLE_COMMITTED_IMAGE: &str = "committed-image";
/// `ds01.role` of a user's container.
pub const ROLE_CONTAINER: &str = "container";

/// `ds01.role` of a container's home volume.
pub const ROLE_HOME: &str = "home";
/// `ds01.home_volume`: the named volume that holds the user's home inside the container.
pub const HOME_VOLUME: &str = "ds01.home_volume";
/// `ds01.create_options`: the create request as given (JSON), so that `recreate` can make
/// the container again with every option it had.
pub const CREATE_OPTIONS: &str = "ds01.create_options";
/// `ds01.uid`: the owner's UID, on volumes (which have no `<name>._.<uid>` name to read).
pub const OWNER_UID: &str = "ds01.uid";

/// The value of `aime.mlc.MLC_VERSION` that MLC 2.x writes.
pub const MLC_CONTAINER_VERSION: &str = "4";

/// Keys outside `aime.mlc.` that ds01 writes itself; extra labels may not override them.
const DS01_OWN: [&str; 10] = [
    HOME_VOLUME,
    CREATE_OPTIONS,
    OWNER_UID,
    MANAGED,
    DS01_USER,
    DS01_USER_SANITIZED,
    CREATED_AT,
    USER_SETUP,
    ROLE,
    crate::cleanup::OPERATION_LABEL,
];

/// Checks an extra `KEY=VALUE` label a user or admin tool passes: keys in ds01's and MLC's
/// namespaces are refused, since they decide ownership and what other tools believe.
///
/// ```
/// use ds01_engine::labels::parse_extra_label;
/// assert_eq!(parse_extra_label("project=thesis").unwrap(), ("project".into(), "thesis".into()));
/// assert!(parse_extra_label("ds01.gpu.allocated=1.1").is_err());
/// assert!(parse_extra_label("aime.mlc.USER=mallory").is_err());
/// assert!(parse_extra_label("no-equals-sign").is_err());
/// ```
pub fn parse_extra_label(pair: &str) -> Result<(String, String)> {
    let Some((key, value)) = pair.split_once('=') else {
        return Err(EngineError::InvalidOption(format!(
            "label `{}` has no `=`; write it as KEY=VALUE",
            shown(pair)
        )));
    };
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if !key_ok {
        return Err(EngineError::InvalidOption(format!(
            "label key `{}` may hold only letters, digits, `.`, `-`, `_` and `/`",
            shown(key)
        )));
    }
    // Both namespaces decide what other tools believe (owners, GPU holdings): only ds01
    // writes them.
    if key == MLC || key.starts_with("aime.") || key.starts_with("ds01.") || DS01_OWN.contains(&key)
    {
        return Err(EngineError::InvalidOption(format!(
            "label `{key}` is in ds01's or MLC's namespace, which only ds01 itself writes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(EngineError::InvalidOption(format!(
            "label `{key}` has a control character in its value"
        )));
    }
    Ok((key.to_owned(), value.to_owned()))
}

/// Reads a label from an optional label map.
pub(crate) fn get<'a>(labels: &'a Option<HashMap<String, String>>, key: &str) -> Option<&'a str> {
    labels.as_ref()?.get(key).map(String::as_str)
}
