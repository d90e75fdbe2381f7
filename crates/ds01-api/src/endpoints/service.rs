//! The service itself: who you are, what it sees, your limits and usage, events, the admin's
//! views, and cancelling a streamed request.

use serde::{Deserialize, Serialize};

use crate::endpoint::{fill, query, NoBody};
use crate::{
    AdminTop, Cancelled, Check, ContainerStats, Event, GcReport, GpuTable, LimitsReport,
    ServerStatus, VersionInfo, Whoami,
};

/// `GET /v1/version`.
#[derive(Debug, Clone, Default)]
pub struct Version;
endpoint!(Version, Get "/v1/version", Json, body: NoBody, answer: VersionInfo,
    |_e, route| fill(route, &[], None));

/// `GET /v1/whoami`: the caller as ds01d sees them.
#[derive(Debug, Clone, Default)]
pub struct WhoAmI;
endpoint!(WhoAmI, Get "/v1/whoami", Json, body: NoBody, answer: Whoami,
    |_e, route| fill(route, &[], None));

/// `GET /v1/doctor`: what the service sees of the engine and the server.
#[derive(Debug, Clone, Default)]
pub struct Doctor;
endpoint!(Doctor, Get "/v1/doctor", Json, body: NoBody, answer: Vec<Check>,
    |_e, route| fill(route, &[], None));

/// `GET /v1/limits`: the caller's effective policy and usage.
#[derive(Debug, Clone, Default)]
pub struct Limits;
endpoint!(Limits, Get "/v1/limits", Json, body: NoBody, answer: LimitsReport,
    |_e, route| fill(route, &[], None));

/// `GET /v1/stats`: the caller's running containers' usage.
#[derive(Debug, Clone, Default)]
pub struct Stats;
endpoint!(Stats, Get "/v1/stats", Json, body: NoBody, answer: Vec<ContainerStats>,
    |_e, route| fill(route, &[], None));

/// The query of `GET /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsQuery {
    /// Only events since then: Unix seconds, RFC 3339, or a span back from now (`2h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Only events of this container: the caller's name for it, or (admins, for everyone's)
    /// its Docker name `<name>._.<uid>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Keep the answer open and send events as they happen.
    #[serde(default)]
    pub follow: bool,
    /// Every user's events (admins).
    #[serde(default)]
    pub all_users: bool,
}

/// `GET /v1/events`: the events so far.
#[derive(Debug, Clone, Default)]
pub struct Events(pub EventsQuery);
endpoint!(Events, Get "/v1/events", Json, body: NoBody, answer: Vec<Event>,
    |e, route| fill(route, &[], query(&EventsQuery { follow: false, ..e.0.clone() })));

/// `GET /v1/events?follow=true`: the events so far, then each as it happens.
#[derive(Debug, Clone, Default)]
pub struct FollowEvents(pub EventsQuery);
endpoint!(FollowEvents, Get "/v1/events", Lines, body: NoBody, answer: Event,
    |e, route| fill(route, &[], query(&EventsQuery { follow: true, ..e.0.clone() })));

/// `GET /v1/status`: the server's GPUs, the line and the caller's containers.
#[derive(Debug, Clone, Default)]
pub struct Status;
endpoint!(Status, Get "/v1/status", Json, body: NoBody, answer: ServerStatus,
    |_e, route| fill(route, &[], None));

/// `GET /v1/admin/top` (admins): each GPU's holder and the reaper's next stops.
#[derive(Debug, Clone, Default)]
pub struct AdminTopView;
endpoint!(AdminTopView, Get "/v1/admin/top", Json, body: NoBody, answer: AdminTop,
    |_e, route| fill(route, &[], None));

/// `GET /v1/admin/gpus` (admins): every device and its holder.
#[derive(Debug, Clone, Default)]
pub struct AdminGpus;
endpoint!(AdminGpus, Get "/v1/admin/gpus", Json, body: NoBody, answer: GpuTable,
    |_e, route| fill(route, &[], None));

/// The query of `POST /v1/admin/gc`, and of other requests that can only say what they
/// would do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRunQuery {
    /// Change nothing; answer with what would be done.
    #[serde(default)]
    pub dry_run: bool,
}

/// `POST /v1/admin/gc` (admins): what nobody can use any more.
#[derive(Debug, Clone, Default)]
pub struct AdminGc(pub DryRunQuery);
endpoint!(AdminGc, Post "/v1/admin/gc", Json, body: NoBody, answer: GcReport,
    |e, route| fill(route, &[], query(&e.0)));

/// `POST /v1/operations/{id}/cancel`: cancels a streamed request of the caller's.
#[derive(Debug, Clone)]
pub struct CancelOperation {
    /// The operation's ID, from the stream's first line.
    pub id: String,
}
endpoint!(CancelOperation, Post "/v1/operations/{id}/cancel", Json, body: NoBody, answer: Cancelled,
    |e, route| fill(route, &[("id", &e.id)], None));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Endpoint;

    #[test]
    fn paths_carry_their_queries() {
        let q = EventsQuery {
            since: Some("2026-12-04T10:00:00+01:00".into()),
            container: Some("thesis".into()),
            follow: true,
            all_users: false,
        };
        assert_eq!(
            Events(q.clone()).path(),
            "/v1/events?since=2026-12-04T10%3A00%3A00%2B01%3A00&container=thesis&follow=false&all_users=false"
        );
        assert!(FollowEvents(q).path().contains("follow=true"));
        assert_eq!(
            AdminGc(DryRunQuery { dry_run: true }).path(),
            "/v1/admin/gc?dry_run=true"
        );
        assert_eq!(
            CancelOperation { id: "ab12".into() }.path(),
            "/v1/operations/ab12/cancel"
        );
        assert_eq!(WhoAmI.path(), "/v1/whoami");
    }
}
