//! Paused containers through ds01d, as throwaway unprivileged users: a paused container keeps
//! its GPU (its processes keep their memory), is idle to the reaper even with an open
//! session (frozen with it) and is unpaused for its stop; `restart` re-binds only a free GPU.

use std::process::Stdio;
use std::time::Duration;

use ds01_tests::check::{docker, inspect, refused};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

#[test]
fn a_paused_container_holds_its_gpu_is_reaped_when_idle_and_restart_rebinds_only_a_free_gpu() {
    let sweeper = Sweeper::new("everyday-paused");
    let alice = TestUser::ldap("paused");
    let bob = TestUser::plain("paused");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(
        &inventory,
        "[[gpu]]\nindex = 0\nuuid = \"GPU-00000000-test\"\nname = \"NVIDIA H100 80GB HBM3\"\n",
    )
    .unwrap();
    let config = format!(
        "[gpus]\ninventory = \"{}\"\n[lifecycle]\ncheck_interval = \"2s\"\nstop_grace = \"1s\"\n\
         [policy.default]\nmax_gpus = 1\nidle_timeout = \"12s\"\n",
        inventory.display()
    );
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, &config));
    let ok = |out, what: &str| daemon.ok(out, what);
    let run = |user: &TestUser, args: &[&str]| daemon.ds01(user, args);
    let g = format!("g._.{}", alice.uid());
    ok(
        run(
            &alice,
            &[
                "container",
                "create",
                "g",
                "--image",
                DEBIAN12,
                "--gpus",
                "1",
                "--start",
            ],
        ),
        "alice's GPU container",
    );
    // An open session, frozen with the container, must not keep it alive.
    let mut session = alice
        .command(user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .args(["container", "exec", "g", "--", "sleep", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ds01 exec runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !docker(&[
        "exec",
        &g,
        "sh",
        "-c",
        "cat /proc/[0-9]*/cmdline | tr '\\0' ' '",
    ])
    .contains("sleep 600 ")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // ds01d counts the session once it has answered the upgrade, just after the start.
    std::thread::sleep(Duration::from_secs(1));
    ok(run(&alice, &["container", "pause", "g"]), "pause");

    // Paused, it still holds the only GPU.
    let out = run(
        &bob,
        &[
            "container",
            "create",
            "b",
            "--image",
            DEBIAN12,
            "--gpus",
            "1",
            "--start",
        ],
    );
    refused(out, 1, "bob taking the paused container's GPU", "GPU");

    // Paused is idle: the reaper unpauses it for its stop instead of leaving it forever.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while inspect(&g, "{{.State.Status}}") != "exited" {
        assert!(
            std::time::Instant::now() < deadline,
            "the paused container was never reaped"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = session.wait();
    let events = ok(run(&alice, &["events", "--json"]), "events");
    let kinds: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string())
        .collect();
    for kind in ["\"pause\"", "\"unpause\"", "\"stop\""] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} event in {events}"
        );
    }

    // Stopped, it holds nothing: bob takes the GPU, and alice's restart is refused.
    ok(
        run(
            &bob,
            &[
                "container",
                "create",
                "b",
                "--image",
                DEBIAN12,
                "--gpus",
                "1",
                "--start",
            ],
        ),
        "bob's GPU container",
    );
    let out = run(&alice, &["container", "restart", "g", "-t", "1"]);
    refused(out, 1, "a restart onto a GPU in use", "cannot restart");
    assert_eq!(inspect(&g, "{{.State.Status}}"), "exited");
    ok(
        run(&bob, &["container", "stop", "b", "-t", "1"]),
        "bob's stop",
    );
    ok(
        run(&alice, &["container", "restart", "g", "-t", "1"]),
        "restart once free",
    );
    assert_eq!(inspect(&g, "{{.State.Status}}"), "running");
    drop(daemon);
}
