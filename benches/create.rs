//! Time to a created container on the real engine: the baked flow, the commit flow and a
//! bare create of the same image (the floor: the one engine call `docker create` makes,
//! sent in-process over the same connection by [`Engine::create_bare_container`]), and the
//! commit flow at UID 1000 vs the LDAP UID 1722830498 on Debian 11. Prints medians and the
//! ratios side by side.
//!
//! `cargo bench --bench create` (needs the engine and `scripts/fixture-images.sh`).

use ds01_dockerfile::{Base, ImageName, ImageRef, ImageSpec};
use ds01_engine::{
    BuildOptions, ContainerName, CreateRequest, Engine, Identity, Provenance, VerdictCache,
};
use ds01_tests::*;
use std::future::pending;
use std::time::{Duration, Instant};

const RUNS: usize = 7;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn flow(
    engine: &Engine,
    who: &Identity,
    image: &ImageRef,
    sweeper: &Sweeper,
    run: usize,
) -> Duration {
    let name = ContainerName::new(&format!("bench-{run}")).unwrap();
    let request = CreateRequest {
        name: name.clone(),
        image: image.clone(),
        provenance: Provenance::Custom(image.to_string()),
        pull_if_missing: false,
        options: host_options(),
        resource_labels: vec![sweeper.label()],
    };
    let start = Instant::now();
    engine
        .create_container(who, &request, &mut (), pending())
        .await
        .unwrap();
    let took = start.elapsed();
    engine
        .remove_container(&name.owned_by(who.uid()), true)
        .await
        .unwrap();
    took
}

async fn bare(engine: &Engine, image: &ImageRef, sweeper: &Sweeper, run: usize) -> Duration {
    let (name, image, labels) = (
        format!("bench-bare-{run}"),
        image.to_string(),
        [sweeper.label()],
    );
    let start = Instant::now();
    engine
        .create_bare_container(&name, &image, &labels)
        .await
        .unwrap();
    let took = start.elapsed();
    // Untimed, so the CLI's start-up does not count; removed at once, so that every run
    // meets the same engine.
    check::docker_ok(&["rm", "-f", &name]);
    took
}

async fn series<F, Fut>(label: &str, mut one: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    one(usize::MAX - 1).await; // warm-up, not counted
    let mut samples = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        samples.push(one(run).await);
    }
    let m = median(samples);
    println!("{label:<46} {:>9.1} ms", m.as_secs_f64() * 1e3);
    m
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; nothing to list here.
    }
    let sweeper = Sweeper::new("bench-create");
    let cache_dir =
        std::env::temp_dir().join(format!("ds01-bench-verdicts-{}", std::process::id()));
    let engine = engine()
        .await
        .with_verdict_cache(VerdictCache::new(&cache_dir));
    let base = fixture(&engine, DEBIAN11).await;
    let low = Identity::new("bench.user@example.lan", 1000, 1000).unwrap();
    let high = Identity::new(LDAP_LOGIN, LDAP_UID, LDAP_GID).unwrap();
    let spec = ImageSpec::new(
        ImageName::parse("bench").unwrap(),
        Base::Custom {
            image: base.clone(),
        },
    );
    let build = BuildOptions {
        no_cache: false,
        resource_labels: vec![sweeper.label()],
        ca_certificates: None,
        sudo: true,
        limits: Default::default(),
    };
    let baked: ImageRef = engine
        .build_image(&low, &spec, &build, &mut (), pending())
        .await
        .unwrap()
        .image
        .parse()
        .unwrap();

    println!(
        "ds01 create benchmark: median of {RUNS} runs after one warm-up, engine API {}",
        engine.api_version()
    );
    println!("(the baked flow's account check is cached by image ID after the warm-up)");
    let t_bare = series("bare docker create (floor)", |r| {
        bare(&engine, &baked, &sweeper, r)
    })
    .await;
    let uncached = ds01_tests::engine().await;
    series("baked flow, account read from /etc/passwd", |r| {
        flow(&uncached, &low, &baked, &sweeper, r)
    })
    .await;
    let t_baked = series("baked flow, UID 1000", |r| {
        flow(&engine, &low, &baked, &sweeper, r)
    })
    .await;
    let t_commit = series("commit flow, UID 1000, Debian 11", |r| {
        flow(&engine, &low, &base, &sweeper, r)
    })
    .await;
    let t_high = series("commit flow, UID 1722830498, Debian 11", |r| {
        flow(&engine, &high, &base, &sweeper, r)
    })
    .await;

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!();
    println!(
        "commit / baked            {:>6.2}x  (target >= 5)",
        ratio(t_commit, t_baked)
    );
    println!(
        "baked / bare create       {:>6.2}x  (target <= 1.5)",
        ratio(t_baked, t_bare)
    );
    println!(
        "commit UID 1722830498 / 1000 {:>4.2}x  (target <= 2)",
        ratio(t_high, t_commit)
    );
    let _ = std::fs::remove_dir_all(&cache_dir);
}
