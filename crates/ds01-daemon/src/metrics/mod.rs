//! Prometheus metrics of ds01d, on a listener of the admin's choosing (`[metrics] listen`),
//! never on the users' socket. Counters and histograms are counted where things happen,
//! through the small functions below (one line where they are called); what is held now
//! (GPUs, containers, the queue) is read when a scrape comes (`scrape.rs`).
//!
//! The metrics are process-wide by nature, so they live in one static.

mod listener;
mod scrape;
mod settings;

use std::sync::atomic::AtomicU64;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub(crate) use listener::start;
pub use settings::{MetricsListen, MetricsSettings};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Why {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UserGroup {
    user: String,
    group: String,
}

type FloatCounter = Counter<f64, AtomicU64>;
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Everything counted as it happens.
struct Metrics {
    requests: Family<Request, Counter>,
    request_seconds: Histograms<Route>,
    reaper_warnings: Family<Why, Counter>,
    reaper_stops: Family<Why, Counter>,
    reaper_rounds: Family<Outcome, Counter>,
    reaper_round_seconds: Histogram,
    reaper_last_round: Gauge<f64, AtomicU64>,
    queue_length: Gauge,
    queue_wait_seconds: Histogram,
    high_demand: Gauge,
    build_seconds: Histograms<Outcome>,
    user_gpu_seconds: Family<UserGroup, FloatCounter>,
    user_idle_gpu_seconds: Family<UserGroup, FloatCounter>,
    user_cpu_seconds: Family<UserGroup, FloatCounter>,
    ledger_errors: Counter,
}

fn request_buckets() -> Histogram {
    // 1 ms to about 4 s: a create's head comes at once, its stream is not timed.
    Histogram::new(exponential_buckets(0.001, 2.5, 10))
}

fn build_buckets() -> Histogram {
    // 1 s to about half an hour.
    Histogram::new(exponential_buckets(1.0, 2.0, 12))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    requests: Family::default(),
    request_seconds: Family::new_with_constructor(request_buckets),
    reaper_warnings: Family::default(),
    reaper_stops: Family::default(),
    reaper_rounds: Family::default(),
    reaper_round_seconds: Histogram::new(exponential_buckets(0.01, 3.0, 10)),
    reaper_last_round: Gauge::default(),
    queue_length: Gauge::default(),
    high_demand: Gauge::default(),
    queue_wait_seconds: Histogram::new(exponential_buckets(0.1, 3.0, 10)),
    build_seconds: Family::new_with_constructor(build_buckets),
    user_gpu_seconds: Family::default(),
    user_idle_gpu_seconds: Family::default(),
    user_cpu_seconds: Family::default(),
    ledger_errors: Counter::default(),
});

impl Metrics {
    /// Registers every metric (clones share their values) into `r`.
    fn register(&self, r: &mut Registry) {
        r.register(
            "ds01_http_requests",
            "Requests answered on the users' socket, by route template and status",
            self.requests.clone(),
        );
        r.register(
            "ds01_http_request_duration_seconds",
            "Time to the head of each answer, by route template (streams are not timed to their end)",
            self.request_seconds.clone(),
        );
        r.register(
            "ds01_reaper_warnings",
            "Warnings the reaper gave owners, by reason: idle, max_runtime, disk",
            self.reaper_warnings.clone(),
        );
        r.register(
            "ds01_reaper_stops",
            "Containers the reaper stopped, by reason: idle, max_runtime, disk",
            self.reaper_stops.clone(),
        );
        r.register(
            "ds01_reaper_rounds",
            "Reaper rounds, by outcome: ok, or failed when the engine could not list containers",
            self.reaper_rounds.clone(),
        );
        r.register(
            "ds01_reaper_round_duration_seconds",
            "How long each reaper round took, usage sampling included",
            self.reaper_round_seconds.clone(),
        );
        r.register(
            "ds01_reaper_last_round_timestamp_seconds",
            "When the last reaper round ended, Unix time",
            self.reaper_last_round.clone(),
        );
        r.register(
            "ds01_gpu_queue_length",
            "Create requests waiting in line for a GPU (--wait)",
            self.queue_length.clone(),
        );
        r.register(
            "ds01_high_demand",
            "1 while high-demand mode shortens idle timeouts ([lifecycle] high_demand_share), else 0",
            self.high_demand.clone(),
        );
        r.register(
            "ds01_gpu_queue_wait_seconds",
            "How long --wait requests stood in line for a GPU, whatever the outcome",
            self.queue_wait_seconds.clone(),
        );
        r.register(
            "ds01_build_duration_seconds",
            "Image builds from start to end, by outcome: built or failed",
            self.build_seconds.clone(),
        );
        r.register(
            "ds01_user_gpu_seconds",
            "GPU time held, in full-GPU-equivalent seconds, accounted since ds01d started",
            self.user_gpu_seconds.clone(),
        );
        r.register(
            "ds01_user_idle_gpu_seconds",
            "The part of ds01_user_gpu_seconds held while the holder was idle",
            self.user_idle_gpu_seconds.clone(),
        );
        r.register(
            "ds01_user_cpu_seconds",
            "CPU time used by users' containers, accounted since ds01d started",
            self.user_cpu_seconds.clone(),
        );
        r.register(
            "ds01_ledger_write_errors",
            "Rounds whose usage records could not be written (kept and tried again)",
            self.ledger_errors.clone(),
        );
    }
}

/// A request answered: `route` is the route template (`/v1/containers/{name}/start`).
pub(crate) fn request(method: &str, route: &str, status: u16, took: Duration) {
    let m = &*METRICS;
    m.requests
        .get_or_create(&Request {
            method: method.to_owned(),
            route: route.to_owned(),
            status: status.to_string(),
        })
        .inc();
    m.request_seconds
        .get_or_create(&Route {
            method: method.to_owned(),
            route: route.to_owned(),
        })
        .observe(took.as_secs_f64());
}

/// Counts every request on the users' socket by its route template (a path the table does
/// not serve is `unmatched`), so the labels stay few whatever users send.
pub(crate) async fn track(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    self::request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The reaper warned an owner; `reason` is `idle`, `max_runtime` or `disk`.
pub(crate) fn reaper_warned(reason: &str) {
    METRICS
        .reaper_warnings
        .get_or_create(&Why {
            reason: reason.to_owned(),
        })
        .inc();
}

/// The reaper stopped a container; `reason` as for [`reaper_warned`].
pub(crate) fn reaper_stopped(reason: &str) {
    METRICS
        .reaper_stops
        .get_or_create(&Why {
            reason: reason.to_owned(),
        })
        .inc();
}

/// The reason word of a reaper decision.
pub(crate) fn reason_of(reason: &ds01_policy::Reason) -> &'static str {
    reason.rule().as_str()
}

/// A reaper round ended.
pub(crate) fn reaper_round(took: Duration, ok: bool) {
    let m = &*METRICS;
    m.reaper_rounds
        .get_or_create(&Outcome {
            outcome: if ok { "ok" } else { "failed" }.to_owned(),
        })
        .inc();
    m.reaper_round_seconds.observe(took.as_secs_f64());
    m.reaper_last_round.set(unix_now());
}

/// High-demand mode turned on or off.
pub(crate) fn high_demand(on: bool) {
    METRICS.high_demand.set(i64::from(on));
}

/// A `--wait` request joined the line for a GPU.
pub(crate) fn queue_joined() {
    METRICS.queue_length.inc();
}

/// A `--wait` request left the line after `waited` (served, refused or gone).
pub(crate) fn queue_left(waited: Duration) {
    METRICS.queue_length.dec();
    METRICS.queue_wait_seconds.observe(waited.as_secs_f64());
}

/// Times one image build: `built()` when it succeeded; dropped without, it failed.
pub(crate) struct BuildTimer {
    started: Instant,
    built: bool,
}

/// A build starts.
pub(crate) fn build_started() -> BuildTimer {
    BuildTimer {
        started: Instant::now(),
        built: false,
    }
}

impl BuildTimer {
    /// The build succeeded.
    pub(crate) fn built(mut self) {
        self.built = true;
    }
}

impl Drop for BuildTimer {
    fn drop(&mut self) {
        METRICS
            .build_seconds
            .get_or_create(&Outcome {
                outcome: if self.built { "built" } else { "failed" }.to_owned(),
            })
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// An interval the ledger accounted for `holder`.
pub(crate) fn accounted(holder: &crate::usage::Holder, interval: &crate::usage::Interval) {
    let m = &*METRICS;
    let who = UserGroup {
        user: holder.user.clone(),
        group: holder.group.clone(),
    };
    let gpu = (interval.end_ms - interval.start_ms) as f64 / 1000.0 * holder.gpu_equivalents;
    m.user_gpu_seconds.get_or_create(&who).inc_by(gpu);
    if interval.idle {
        m.user_idle_gpu_seconds.get_or_create(&who).inc_by(gpu);
    }
    m.user_cpu_seconds
        .get_or_create(&who)
        .inc_by(interval.cpu_seconds);
}

/// A round's usage records could not be written.
pub(crate) fn ledger_error() {
    METRICS.ledger_errors.inc();
}

fn unix_now() -> f64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e9
}
