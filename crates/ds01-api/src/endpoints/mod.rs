//! Every endpoint of ds01d's API, one type each (see [`crate::Endpoint`]), by noun:
//! the service itself, containers, images.

use crate::endpoint::{Answering, Method};

/// One route of the API, as [`ALL`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its route.
    pub route: &'static str,
    /// How it answers.
    pub answering: Answering,
}

macro_rules! routes {
    ($($endpoint:ty),* $(,)?) => {
        /// Every endpoint's route: what ds01d serves and `docs/api.md` describes.
        pub const ALL: &[Route] = &[$(Route {
            method: <$endpoint as crate::Endpoint>::METHOD,
            route: <$endpoint as crate::Endpoint>::ROUTE,
            answering: <$endpoint as crate::Endpoint>::ANSWERING,
        }),*];
    };
}

routes![
    Version,
    WhoAmI,
    Doctor,
    Limits,
    Stats,
    Events,
    FollowEvents,
    AdminGpus,
    Status,
    AdminTopView,
    AdminGc,
    CancelOperation,
    ListContainers,
    CreateContainer,
    PlanContainer,
    RemoveStopped,
    BulkAction,
    ShowContainer,
    RemoveContainer,
    RecreateContainer,
    StartContainer,
    StopContainer,
    RestartContainer,
    PauseContainer,
    UnpauseContainer,
    KeepAlive,
    Why,
    Install,
    Jupyter,
    Exec,
    Logs,
    CopyOut,
    CopyIn,
    ListImages,
    CreateImage,
    ShowImage,
    UpdateImage,
    RecreateFromImage,
    DeleteImage,
    Usage,
    AdminUsage,
    AdminReport,
];

/// Implements [`crate::Endpoint`] for an endpoint type: its method, route, answering style,
/// body and answer types, and how its path is made.
macro_rules! endpoint {
    (
        $ty:ty, $method:ident $route:literal, $answering:ident,
        body: $body:ty, answer: $answer:ty,
        |$this:pat_param, $r:ident| $path:expr $(, body_of: |$b:ident| $body_expr:expr)?
    ) => {
        impl crate::Endpoint for $ty {
            const METHOD: crate::Method = crate::Method::$method;
            const ROUTE: &'static str = $route;
            const ANSWERING: crate::Answering = crate::Answering::$answering;
            type Body = $body;
            type Answer = $answer;

            fn path(&self) -> String {
                let $this = self;
                let $r = $route;
                $path
            }

            $(fn body(&self) -> Option<&Self::Body> {
                let $b = self;
                Some($body_expr)
            })?
        }
    };
}

mod containers;
mod images;
mod service;
mod usage;

pub use containers::*;
pub use images::*;
pub use service::*;
pub use usage::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        // A dry run and a follow share their route with another endpoint; they differ in
        // their query, and so in how they answer.
        for r in ALL {
            assert!(
                seen.insert((r.method.as_str(), r.route, format!("{:?}", r.answering))),
                "{} {} twice",
                r.method.as_str(),
                r.route
            );
        }
    }
}
