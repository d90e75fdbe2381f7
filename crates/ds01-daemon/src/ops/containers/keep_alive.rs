//! `POST /v1/containers/{name}/keep-alive`: postpones an idle stop, within the policy's
//! `keep_alive_max`.

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Reason};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Keeps the acting user's container from an idle stop for `span`; the sentence says until
/// when.
pub async fn keep_alive(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
    span: &str,
) -> Result<String, ApiError> {
    let span: ds01_policy::Span = span
        .parse()
        .map_err(|e: ds01_policy::UnitError| ApiError::invalid(e.to_string()))?;
    let found = d
        .engine
        .owned_container(container)
        .await
        .map_err(from_engine)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let until = now + span.secs() as i64;
    let max = acting.policy(&d.config).keep_alive_max;
    d.watches
        .keep_alive(&found.id, now, until, max.value)
        .map_err(|e| {
            ApiError::new(ErrorCode::Limit, format!("{e} ({max})")).because(Reason::OverLimit {
                key: max.key.to_owned(),
            })
        })?;
    let detail = format!("kept alive until {}", crate::reaper::clock(until));
    d.events
        .record_for(acting, container, "keep_alive", detail.clone());
    Ok(detail)
}
