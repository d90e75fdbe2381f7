//! What a scrape reads now: the engine's containers (one listing, bounded in time), the GPUs
//! they hold, the sampler's idle holders, and the counters; encoded in Prometheus' text
//! format 0.0.4, which every Prometheus reads and `promtool check metrics` checks.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use ds01_engine::ContainerView;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::METRICS;
use crate::usage::People;
use crate::Daemon;

/// How long a scrape waits for the engine before it says the engine is down.
const ENGINE_LIMIT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Device {
    device: String,
    slot: String,
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Held {
    device: String,
    slot: String,
    user: String,
    container: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UserState {
    user: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    version: String,
}

type FloatGauges<L> = Family<L, Gauge<f64, AtomicU64>>;

/// The metrics text.
pub(super) async fn render(daemon: Arc<Daemon>) -> String {
    let listed = tokio::time::timeout(
        ENGINE_LIMIT,
        daemon.engine.list_containers(ds01_engine::Scope::AllUsers),
    )
    .await;
    let containers = match listed {
        Ok(Ok(c)) => Some(c),
        _ => None,
    };
    tokio::task::spawn_blocking(move || encode(&daemon, containers.as_deref()))
        .await
        .unwrap_or_default()
}

fn encode(daemon: &Daemon, containers: Option<&[ContainerView]>) -> String {
    let mut r = Registry::default();
    METRICS.register(&mut r);
    let info = Family::<Version, Gauge>::default();
    info.get_or_create(&Version {
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
    .set(1);
    r.register(
        "ds01_build_info",
        "The running ds01d's version, as a label",
        info,
    );
    let up = Gauge::<i64>::default();
    up.set(i64::from(containers.is_some()));
    r.register(
        "ds01_engine_up",
        "Whether the Docker engine listed its containers within 5 s for this scrape",
        up,
    );
    let interval = Gauge::<f64, AtomicU64>::default();
    interval.set(daemon.config.lifecycle.check_interval.as_secs_f64());
    r.register(
        "ds01_reaper_check_interval_seconds",
        "How often the reaper runs a round ([lifecycle] check_interval)",
        interval,
    );
    let mut people = People::default();
    let containers = containers.unwrap_or_default();
    devices(daemon, containers, &mut people, &mut r);
    let states = Family::<UserState, Gauge>::default();
    for c in containers
        .iter()
        .filter(|c| crate::usage::in_scope(&daemon.config.file, c))
    {
        let state = match c.state {
            ds01_engine::ContainerState::Paused => "paused",
            s if s.is_live() => "running",
            _ => "stopped",
        };
        states
            .get_or_create(&UserState {
                user: people.owner(c).0,
                state: state.to_owned(),
            })
            .inc();
    }
    r.register(
        "ds01_containers",
        "Users' containers by owner and state: running, paused (both hold their GPUs) or stopped",
        states,
    );
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &r) {
        tracing::warn!("encoding the metrics: {e}");
    }
    text
}

/// Per device: its size, who holds it, and for how long its holder has been idle.
fn devices(daemon: &Daemon, containers: &[ContainerView], people: &mut People, r: &mut Registry) {
    let devices = daemon.gpus.devices();
    let held = crate::gpus::holdings(devices, containers, "");
    let by_name: BTreeMap<&str, &ContainerView> =
        containers.iter().map(|c| (c.name.as_str(), c)).collect();
    let capacity = FloatGauges::<Device>::default();
    let allocated = FloatGauges::<Held>::default();
    for d in devices {
        capacity
            .get_or_create(&Device {
                device: d.uuid.clone(),
                slot: d.slot(),
                profile: d.profile().unwrap_or_default().to_owned(),
            })
            .set(d.fraction());
        let holder = held.iter().find(|h| h.uuids.contains(&d.uuid));
        let (user, container) = holder
            .and_then(|h| by_name.get(h.container.as_str()))
            .map(|c| (people.owner(c).0, c.name.to_string()))
            .unwrap_or_default();
        allocated
            .get_or_create(&Held {
                device: d.uuid.clone(),
                slot: d.slot(),
                user,
                container,
            })
            .set(if holder.is_some() { d.fraction() } else { 0.0 });
    }
    r.register(
        "ds01_gpu_capacity",
        "Each device's size in full-GPU equivalents (a MIG slice counts its fraction)",
        capacity,
    );
    r.register(
        "ds01_gpu_allocated",
        "Each device's holding in full-GPU equivalents, with its holder; 0 when free",
        allocated,
    );
    let idle = FloatGauges::<Held>::default();
    let now = crate::usage::now_ms();
    for (holder, since) in daemon.usage.idle_holders() {
        for uuid in &holder.gpus {
            let slot = devices
                .iter()
                .find(|d| &d.uuid == uuid)
                .map(|d| d.slot())
                .unwrap_or_default();
            idle.get_or_create(&Held {
                device: uuid.clone(),
                slot,
                user: holder.user.clone(),
                container: holder.container.clone(),
            })
            .set(since.map_or(0.0, |s| (now - s).max(0) as f64 / 1000.0));
        }
    }
    r.register(
        "ds01_gpu_idle_seconds",
        "For each held device, how long its holder has been idle without a break (0: busy), as of the last reaper round",
        idle,
    );
}
