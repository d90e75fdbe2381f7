//! `GET /v1/events`: the caller's own events (an admin's `all_users`: everybody's), past
//! and, with `follow`, as they come.

use ds01_api::endpoints::EventsQuery;
use ds01_api::{ApiError, Event};
use ds01_dockerfile::owner::OwnedName;

/// Which events a request reads: of one user or everybody's, since a time, of one
/// container.
#[derive(Debug, Clone)]
pub struct Selection {
    uid: Option<u32>,
    since: i64,
    /// A Docker name, or for everybody's a name as given.
    container: Option<String>,
}

impl Selection {
    /// The selection of `query`, for user `uid` (`None`: everybody's, for an admin).
    pub fn of(query: &EventsQuery, uid: Option<u32>) -> Result<Selection, ApiError> {
        let since = match query.since.as_deref() {
            None => i64::MIN,
            Some(s) => since(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "`{}` is not a time: give Unix seconds, an RFC 3339 time, or a span back from now such as 10m or 2h",
                    ds01_api::shown(s)
                ))
            })?,
        };
        let container = match (&query.container, uid) {
            (Some(name), Some(uid)) => {
                let name: ds01_api::ContainerName = name
                    .parse()
                    .map_err(|e: ds01_api::ContainerNameError| ApiError::invalid(e.to_string()))?;
                Some(name.owned_by(uid).to_string())
            }
            (Some(name), None) => Some(name.clone()),
            (None, _) => None,
        };
        Ok(Selection {
            uid,
            since,
            container,
        })
    }

    /// Whether the selection holds `e`.
    pub fn keeps(&self, e: &Event) -> bool {
        self.uid.is_none_or(|u| e.uid == u)
            && e.ts >= self.since
            && self.container.as_ref().is_none_or(|c| {
                e.container == *c || OwnedName::parse(&e.container).is_some_and(|o| o.name() == c)
            })
    }
}

/// Unix seconds, an RFC 3339 time, or a span back from now (`2h`), in Unix seconds.
pub(crate) fn since(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(t) = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
    {
        return Some(t.unix_timestamp());
    }
    let span: ds01_policy::Span = text.parse().ok()?;
    Some(time::OffsetDateTime::now_utc().unix_timestamp() - span.secs() as i64)
}
