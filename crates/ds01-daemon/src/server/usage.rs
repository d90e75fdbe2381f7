//! Routes of the usage ledger: a user's own usage, and the admin's table and report. The
//! admin's refuse everyone else with one sentence that reveals nothing.

use ds01_api::{AdminUsageQuery, ReportQuery, UsageQuery};

use super::*;
use crate::ops;

/// `GET /v1/usage`: the acting user's own, whoever asks (an admin may act for a user).
pub(super) async fn usage(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<UsageQuery>,
) -> Answer<ds01_api::UsageSummary> {
    let acting = ctx.acting()?;
    Ok(Json(
        ops::usage::usage(d, &acting, q.since.as_deref()).await?,
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
    Ok(Json(ops::admin::usage::usage(d, q).await?))
}

/// `POST /v1/admin/report` (admins).
pub(super) async fn admin_report(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ReportQuery>,
) -> Answer<ds01_api::UsageReport> {
    admins_only(&ctx)?;
    Ok(Json(ops::admin::report::report(d, q).await?))
}
