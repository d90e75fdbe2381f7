//! `GET /v1/admin/usage`: a month of the ledger by user, group or container.

use std::sync::Arc;

use ds01_api::{AdminUsageQuery, ApiError, UsageTable};

use crate::Daemon;

/// The month's table.
pub async fn usage(d: Arc<Daemon>, query: AdminUsageQuery) -> Result<UsageTable, ApiError> {
    crate::usage::read::table(d, query).await
}
