//! The labels ds01 puts on containers. The keys are DS01's and AIME MLC's own, so that
//! containers made by either tool show up in the other; they are spelt in the one catalogue,
//! `ds01-labels`.

use crate::error::{shown, EngineError, Result};
use std::collections::HashMap;

pub use ds01_labels::container::*;
pub use ds01_labels::ops::{
    ROLE, ROLE_COMMITTED_IMAGE, ROLE_CONTAINER, ROLE_HOME, ROLE_NETWORK, ROLE_SETUP,
};

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
    if ds01_labels::reserved(key) || DS01_OWN.contains(&key) {
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
