//! The fair queue, with a policy of seconds and a file inventory of one GPU: alice used
//! the GPU a moment ago (the usage ledger says so), bob never did. While carol holds it,
//! alice queues first and bob second; bob is still served first, alice's progress says why,
//! and `ds01 admin gpus` shows the line; each grant is posted to the `[notify] webhook`.
//! Served by arrival, alice would go first.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::loopback::Recorder;
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

/// Slot 7, not 0: the engine is shared, and other suites' containers made like DS01's
/// scripts hold slot labels (`0`, `1`) that would name this GPU too.
const INVENTORY: &str = r#"
[[gpu]]
index = 7
uuid = "GPU-77777777-fairq"
name = "NVIDIA H100 80GB HBM3"
"#;

fn create(daemon: &TestDaemon, user: &TestUser, name: &str) -> String {
    daemon.ok(
        daemon.ds01(
            user,
            &[
                "container",
                "create",
                name,
                "--image",
                DEBIAN12,
                "--gpus",
                "1",
                "--start",
            ],
        ),
        &format!("create {name}"),
    )
}

/// `ds01 container create NAME --gpus 1 --wait --start` as `user`, in the background;
/// without `--json` its progress (the place in line) is on stderr.
fn wait_for_gpu(daemon: &TestDaemon, user: &TestUser, name: &str, json: bool) -> Child {
    let mut cmd = user.command(user_visible_binary("ds01"));
    cmd.envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args([
            "container",
            "create",
            name,
            "--image",
            DEBIAN12,
            "--gpus",
            "1",
            "--wait",
            "--start",
        ])
        .args(json.then_some("--json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn stop(daemon: &TestDaemon, user: &TestUser, name: &str) {
    daemon.ok(
        daemon.ds01(user, &["container", "stop", name, "-t", "1"]),
        &format!("stop {name}"),
    );
}

fn admin_gpus(daemon: &TestDaemon) -> serde_json::Value {
    let out = daemon.ok(
        daemon.ds01_as_root(&["admin", "gpus", "--json"]),
        "admin gpus",
    );
    serde_json::from_str(&out).unwrap()
}

/// The line of `ds01 admin gpus --json`: `(user, position, decayed GPU-seconds)`.
fn line(daemon: &TestDaemon) -> Vec<(String, u64, f64)> {
    admin_gpus(daemon)["queue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["user"].as_str().unwrap().to_owned(),
                q["position"].as_u64().unwrap(),
                q["decayed_gpu_seconds"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Polls the line until it holds `n` requests (30 s at most).
fn line_of(daemon: &TestDaemon, n: usize) -> Vec<(String, u64, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let l = line(daemon);
        if l.len() == n || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The finished request's stdout and stderr.
fn served(daemon: &TestDaemon, child: Child, what: &str) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    (daemon.ok(out, what), stderr)
}

#[test]
fn the_user_with_less_recent_gpu_use_is_served_first() {
    let sweeper = Sweeper::new("fair-queue");
    let alice = TestUser::plain("fairal");
    let bob = TestUser::ldap("fairbo");
    let carol = TestUser::plain("fairca");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let hook = Recorder::start();
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "[gpus]\ninventory = \"{}\"\nfair_share_half_life = \"1h\"\n\
             [lifecycle]\ncheck_interval = \"1s\"\n\
             [usage]\nrecord_every = \"10s\"\n\
             [notify]\nwebhook = \"http://{}/grants\"\n\
             [policy.default]\nmemory = \"256m\"\ncpus = 1\nmax_gpus = 1\n",
            inventory.display(),
            hook.address()
        ),
    );
    let daemon = TestDaemon::start(&config);

    // Alice's recent use: the GPU for a few of the reaper's rounds.
    create(&daemon, &alice, "used");
    std::thread::sleep(Duration::from_secs(4));
    stop(&daemon, &alice, "used");
    let usage: serde_json::Value = serde_json::from_str(
        &daemon.ok(daemon.ds01(&alice, &["usage", "--json"]), "alice's usage"),
    )
    .unwrap();
    assert!(
        usage["gpu_seconds"].as_f64().unwrap() >= 1.0,
        "alice's use is not in the ledger: {usage}"
    );

    // Carol holds the GPU; alice queues, then bob.
    create(&daemon, &carol, "holds");
    let a = wait_for_gpu(&daemon, &alice, "again", false);
    let first = line_of(&daemon, 1);
    assert_eq!(first.len(), 1, "alice is not in line: {first:?}");
    let b = wait_for_gpu(&daemon, &bob, "first", true);
    let both = line_of(&daemon, 2);
    let users: Vec<(&str, u64)> = both.iter().map(|(u, p, _)| (u.as_str(), *p)).collect();
    assert_eq!(
        users,
        [(bob.login(), 1), (alice.login(), 2)],
        "the line puts bob (no use) ahead of alice (recent use): {both:?}"
    );
    assert_eq!(both[0].2, 0.0, "bob has no use: {both:?}");
    assert!(both[1].2 >= 1.0, "alice's decayed use: {both:?}");

    // The GPU comes free: bob's, though alice came first.
    stop(&daemon, &carol, "holds");
    let (bob_got, _) = served(&daemon, b, "bob's waiting create");
    let bob_got: serde_json::Value = serde_json::from_str(&bob_got).unwrap();
    assert_eq!(bob_got["gpus"], serde_json::json!(["GPU-77777777-fairq"]));
    let left = line(&daemon);
    assert_eq!(
        left.iter().map(|(u, _, _)| u.as_str()).collect::<Vec<_>>(),
        [alice.login()],
        "alice still waits while bob holds the GPU"
    );

    // Then alice's, and her progress said why she waited.
    stop(&daemon, &bob, "first");
    let (_, progress) = served(&daemon, a, "alice's waiting create");
    let holder = &admin_gpus(&daemon)["devices"][0];
    assert_eq!(holder["user"], alice.login(), "{holder}");
    assert!(
        progress
            .contains("2nd in line: 1 request from users with less recent GPU use ahead of you"),
        "alice's progress: {progress}"
    );
    stop(&daemon, &alice, "again");

    // Both grants reached the webhook, bob's first.
    let grants: Vec<String> = std::iter::from_fn(|| hook.next(Duration::from_secs(3)))
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            body["text"].as_str().unwrap().to_owned()
        })
        .collect();
    let bob_first = format!("first._.{}", bob.uid());
    let alice_again = format!("again._.{}", alice.uid());
    assert_eq!(grants.len(), 2, "{grants:?}");
    assert!(
        grants[0].contains("granted") && grants[0].contains(&bob_first),
        "{grants:?}"
    );
    assert!(grants[1].contains(&alice_again), "{grants:?}");
}
