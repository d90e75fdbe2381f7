//! The route table, built from the contract: each handler is registered at its endpoint's
//! route and method (`ds01_api::endpoints`), so a path ds01d serves is a path the client
//! can build, and a test checks that the two sets are the same.

use std::sync::Arc;

use axum::handler::Handler;
use axum::middleware;
use axum::routing::{on, MethodFilter};
use axum::Router;
use ds01_api::endpoints::*;
use ds01_api::{Answering, Endpoint, Method};

use super::limits::Gate;
use super::*;

/// A router under construction, and what it serves so far.
struct Routes {
    router: Router<Arc<Daemon>>,
    gate: Arc<Gate>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    /// Serves `E` with `handler`. An endpoint that answers for long (progress, lines,
    /// frames) holds one of its caller's stream slots while it does.
    fn at<E: Endpoint, H, T>(mut self, handler: H) -> Self
    where
        H: Handler<T, Arc<Daemon>>,
        T: 'static,
    {
        let method = match E::METHOD {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Delete => MethodFilter::DELETE,
        };
        let mut route = on(method, handler);
        if E::ANSWERING != Answering::Json {
            route = route.route_layer(middleware::from_fn_with_state(
                self.gate.clone(),
                stream_slot,
            ));
        }
        self.router = self.router.route(E::ROUTE, route);
        self.served.push((E::METHOD, E::ROUTE));
        self
    }
}

/// Every route of the API, and the (method, route) pairs it serves.
fn table(gate: Arc<Gate>) -> (Router<Arc<Daemon>>, Vec<(Method, &'static str)>) {
    let routes = Routes {
        router: Router::new(),
        gate,
        served: Vec::new(),
    }
    .at::<Version, _, _>(version)
    .at::<WhoAmI, _, _>(whoami)
    .at::<Doctor, _, _>(doctor)
    .at::<Limits, _, _>(limits)
    .at::<Stats, _, _>(stats)
    // The listing and the followed stream are one handler, told apart by `follow`.
    .at::<FollowEvents, _, _>(events)
    .at::<Status, _, _>(status)
    .at::<AdminTopView, _, _>(admin_top)
    .at::<AdminGpus, _, _>(admin_gpus)
    .at::<AdminGc, _, _>(admin_gc)
    .at::<CancelOperation, _, _>(cancel)
    .at::<ListContainers, _, _>(list_containers)
    // The create and its dry run are one handler, told apart by `dry_run`.
    .at::<CreateContainer, _, _>(create_container)
    .at::<RemoveStopped, _, _>(remove_stopped)
    .at::<BulkAction, _, _>(bulk_containers)
    .at::<ShowContainer, _, _>(show_container)
    .at::<RemoveContainer, _, _>(remove_container)
    .at::<RecreateContainer, _, _>(recreate_container)
    .at::<StartContainer, _, _>(start_container)
    .at::<StopContainer, _, _>(stop_container)
    .at::<RestartContainer, _, _>(restart_container)
    .at::<PauseContainer, _, _>(pause_container)
    .at::<UnpauseContainer, _, _>(unpause_container)
    .at::<KeepAlive, _, _>(keep_alive)
    .at::<Why, _, _>(why)
    .at::<Install, _, _>(install)
    .at::<Jupyter, _, _>(jupyter)
    .at::<Exec, _, _>(exec)
    .at::<Logs, _, _>(container_logs)
    .at::<CopyOut, _, _>(copy_out)
    .at::<CopyIn, _, _>(copy_in)
    .at::<ListImages, _, _>(list_images)
    .at::<CreateImage, _, _>(create_image)
    .at::<ShowImage, _, _>(show_image)
    .at::<UpdateImage, _, _>(update_image)
    .at::<RecreateFromImage, _, _>(recreate_from_image)
    .at::<DeleteImage, _, _>(delete_image)
    .at::<Usage, _, _>(usage)
    .at::<AdminUsage, _, _>(admin_usage)
    .at::<AdminReport, _, _>(admin_report);
    (routes.router, routes.served)
}

/// The service's router: the table, a JSON answer for any other path, and authentication
/// (with the audit line) around every request.
pub(super) fn router(daemon: Arc<Daemon>, gate: Arc<Gate>) -> Router {
    table(gate)
        .0
        .fallback(|| async {
            Failure(ApiError::new(
                ErrorCode::NotFound,
                "no such API path; see docs/api.md",
            ))
        })
        .layer(middleware::from_fn(crate::metrics::track))
        .layer(middleware::from_fn_with_state(daemon.clone(), authenticate))
        .with_state(daemon)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn ds01d_serves_exactly_the_contracts_routes() {
        let gate = Gate::new(&crate::config::ServerLimits::default(), 1024);
        let (_, served) = table(gate);
        let served: BTreeSet<_> = served.iter().map(|(m, r)| (m.as_str(), *r)).collect();
        let contract: BTreeSet<_> = ALL.iter().map(|r| (r.method.as_str(), r.route)).collect();
        assert_eq!(served, contract);
    }
}
