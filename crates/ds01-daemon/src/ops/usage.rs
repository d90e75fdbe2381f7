//! `GET /v1/usage`: the acting user's own usage from the ledger, whoever asks (an admin may
//! act for a user); in cluster mode with `[cluster] accounting = "slurm"`, from Slurm's
//! accounting instead (`sacct` as the user).

use std::sync::Arc;

use ds01_api::{ApiError, UsageSummary};

use crate::caller::Acting;
use crate::Daemon;

/// The span of `ds01 usage` without `--since`.
const DEFAULT_SINCE: &str = "30d";

/// The user's usage since `since` (a span back from now, Unix seconds or RFC 3339).
pub async fn usage(
    d: Arc<Daemon>,
    acting: &Acting,
    since: Option<&str>,
) -> Result<UsageSummary, ApiError> {
    let text = since.unwrap_or(DEFAULT_SINCE);
    let since = super::events::since(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "`{}` is not a time: give a span back from now such as 30d, Unix seconds, or an RFC 3339 time",
            ds01_api::shown(text)
        ))
    })?;
    let who = &acting.who;
    if let Some(cluster) = d.config.cluster.as_ref().filter(|c| c.accounting) {
        // Slurm's accounting, read as the user: their own jobs only.
        let until = crate::usage::now_ms() / 1000;
        let jobs = crate::cluster::accounting::jobs_used(cluster, who, since, until).await?;
        return Ok(crate::usage::read::own_from_slurm(
            &d,
            who.login(),
            who.uid(),
            since.saturating_mul(1000),
            until.saturating_mul(1000),
            jobs,
        ));
    }
    crate::usage::read::own(
        d,
        who.login().to_owned(),
        who.uid(),
        since.saturating_mul(1000),
    )
    .await
}
