//! Routes of the usage ledger: a user's own usage, and the admin's table and report. The
//! admin's refuse everyone else with one sentence that reveals nothing.

use ds01_api::{AdminUsageQuery, ReportQuery, UsageQuery};

use super::*;
use crate::usage::service;

/// The span of `ds01 usage` without `--since`.
const DEFAULT_SINCE: &str = "30d";

/// `GET /v1/usage`: the acting user's own, whoever asks (an admin may act for a user).
pub(super) async fn usage(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<UsageQuery>,
) -> Answer<ds01_api::UsageSummary> {
    let acting = ctx.acting()?;
    let text = q.since.as_deref().unwrap_or(DEFAULT_SINCE);
    let since = super::admin::since(text).ok_or_else(|| {
        Failure(ApiError::invalid(format!(
            "`{}` is not a time: give a span back from now such as 30d, Unix seconds, or an RFC 3339 time",
            ds01_api::shown(text)
        )))
    })?;
    let who = &acting.who;
    Ok(Json(
        service::own(
            d,
            who.login().to_owned(),
            who.uid(),
            since.saturating_mul(1000),
        )
        .await?,
    ))
}

fn admins_only(ctx: &Ctx) -> Result<(), Failure> {
    if ctx.caller.admin {
        Ok(())
    } else {
        Err(Failure(ApiError::forbidden(
            "only admins see everybody's usage; `ds01 usage` shows yours",
        )))
    }
}

/// `GET /v1/admin/usage` (admins).
pub(super) async fn admin_usage(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<AdminUsageQuery>,
) -> Answer<ds01_api::UsageTable> {
    admins_only(&ctx)?;
    Ok(Json(service::table(d, q).await?))
}

/// `POST /v1/admin/report` (admins).
pub(super) async fn admin_report(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ReportQuery>,
) -> Answer<ds01_api::UsageReport> {
    admins_only(&ctx)?;
    Ok(Json(service::monthly(d, q).await?))
}
