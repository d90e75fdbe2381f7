//! `POST /v1/admin/report`: the monthly report, posted to the admin's webhook when one is
//! configured and the query asks for it.

use std::sync::Arc;

use ds01_api::{ApiError, ReportQuery, UsageReport, WebhookOutcome};

use crate::Daemon;

/// The report of the query's month, and what became of its post.
pub async fn report(d: Arc<Daemon>, query: ReportQuery) -> Result<UsageReport, ApiError> {
    let mut built = crate::usage::read::monthly(d.clone(), &query).await?;
    if let (Some(hook), true) = (&d.usage.config.webhook, query.webhook) {
        let body = serde_json::to_vec(&built).unwrap_or_default();
        let outcome = crate::usage::webhook::post(hook, &body).await;
        if let Err(e) = &outcome {
            tracing::warn!("posting the {} report to {}: {e}", built.month, hook.url);
        }
        built.webhook = Some(WebhookOutcome {
            url: hook.url.clone(),
            status: outcome.as_ref().ok().copied(),
            error: outcome.err(),
        });
    }
    Ok(built)
}
