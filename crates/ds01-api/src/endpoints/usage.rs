//! The usage ledger: a user's own usage, and the admin's tables and monthly report.

use crate::endpoint::{fill, query, NoBody};
use crate::{AdminUsageQuery, ReportQuery, UsageQuery, UsageReport, UsageSummary, UsageTable};

/// `GET /v1/usage`: the acting user's own usage since then.
#[derive(Debug, Clone, Default)]
pub struct Usage(pub UsageQuery);
endpoint!(Usage, Get "/v1/usage", Json, body: NoBody, answer: UsageSummary,
    |e, route| fill(route, &[], query(&e.0)));

/// `GET /v1/admin/usage` (admins): one month's usage by user, group or container.
#[derive(Debug, Clone, Default)]
pub struct AdminUsage(pub AdminUsageQuery);
endpoint!(AdminUsage, Get "/v1/admin/usage", Json, body: NoBody, answer: UsageTable,
    |e, route| fill(route, &[], query(&e.0)));

/// `POST /v1/admin/report` (admins): one month's report, posted to the configured webhook.
#[derive(Debug, Clone, Default)]
pub struct AdminReport(pub ReportQuery);
endpoint!(AdminReport, Post "/v1/admin/report", Json, body: NoBody, answer: UsageReport,
    |e, route| fill(route, &[], query(&e.0)));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, UsageBy};

    #[test]
    fn usage_paths_carry_their_queries() {
        assert_eq!(
            Usage(UsageQuery {
                since: Some("30d".into())
            })
            .path(),
            "/v1/usage?since=30d"
        );
        assert_eq!(Usage::default().path(), "/v1/usage");
        assert_eq!(
            AdminUsage(AdminUsageQuery {
                by: UsageBy::Group,
                month: Some("2026-11".into())
            })
            .path(),
            "/v1/admin/usage?by=group&month=2026-11"
        );
        assert_eq!(
            AdminReport(ReportQuery::default()).path(),
            "/v1/admin/report?unused_days=30&webhook=true"
        );
    }
}
