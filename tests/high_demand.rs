//! High-demand mode, with a policy of seconds and a file inventory of one GPU: while it is
//! held (over the set share of 50 %), idle timeouts shrink by the set factor, so an idle
//! container is stopped at a quarter of its 60 s timeout, and its stop says why; admins see
//! `high_demand_on` when it turns on and `high_demand_off` once the GPU is free again, and
//! the owner's own events hold neither.

use std::time::{Duration, Instant};

use ds01_tests::check::{json_lines, running};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

/// Slot 8: the engine is shared, and other suites' DS01-labelled containers hold slots 0
/// and 1, which would name this GPU too.
const INVENTORY: &str = r#"
[[gpu]]
index = 8
uuid = "GPU-88888888-demand"
name = "NVIDIA H100 80GB HBM3"
"#;

fn server_events(daemon: &TestDaemon) -> Vec<serde_json::Value> {
    let out = daemon.ok(
        daemon.ds01_as_root(&["events", "--all-users", "--json"]),
        "admin events",
    );
    json_lines(out.as_bytes())
        .into_iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("high_demand"))
        .collect()
}

#[test]
fn high_demand_shortens_idle_timeouts_and_says_when_it_turns() {
    let sweeper = Sweeper::new("high-demand");
    let alice = TestUser::plain("demand");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "[gpus]\ninventory = \"{}\"\n\
             [lifecycle]\ncheck_interval = \"1s\"\nidle_cpu_percent = 5\nstop_grace = \"1s\"\n\
             high_demand_share = 0.5\nhigh_demand_factor = 0.25\n\
             [policy.default]\nidle_timeout = \"60s\"\nmemory = \"256m\"\ncpus = 1\nmax_gpus = 1\n",
            inventory.display()
        ),
    );
    let daemon = TestDaemon::start(&config);
    assert!(server_events(&daemon).is_empty(), "no demand, no mode");

    daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "container",
                "create",
                "idle",
                "--image",
                DEBIAN12,
                "--gpus",
                "1",
                "--start",
            ],
        ),
        "create idle",
    );
    let name = format!("idle._.{}", alice.uid());
    // 60 s idle as set; 15 s in high-demand mode. Waiting at most 45 s tells them apart.
    let deadline = Instant::now() + Duration::from_secs(45);
    while running(&name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !running(&name),
        "the idle container still runs: its 60 s timeout was not shortened\n{}",
        daemon.log()
    );

    // Its stop says why, to its owner.
    let own = json_lines(
        daemon
            .ok(daemon.ds01(&alice, &["events", "--json"]), "events")
            .as_bytes(),
    );
    let stop = own
        .iter()
        .find(|e| e["kind"] == "stop" && e["container"] == name.as_str())
        .unwrap_or_else(|| panic!("no stop event: {own:#?}"));
    let detail = stop["detail"].as_str().unwrap();
    assert!(
        detail.contains("idle for") && detail.contains("high-demand mode"),
        "{detail}"
    );
    let why = daemon.ok(daemon.ds01(&alice, &["why", "idle"]), "why");
    assert!(why.contains("high-demand mode"), "{why}");
    assert!(
        own.iter()
            .all(|e| !e["kind"].as_str().unwrap().starts_with("high_demand")),
        "the server's mode is in a user's own events: {own:#?}"
    );

    // The mode turned on while the GPU was held, and off once it was free.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = server_events(&daemon);
    while seen.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        seen = server_events(&daemon);
    }
    let kinds: Vec<&str> = seen.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["high_demand_on", "high_demand_off"], "{seen:#?}");
    assert!(
        seen[0]["detail"]
            .as_str()
            .unwrap()
            .contains("1.00 of 1.00 GPUs"),
        "{}",
        seen[0]
    );
    assert!(seen[0]["ts"].as_i64() <= stop["ts"].as_i64());
}
