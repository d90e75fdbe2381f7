//! The reaper inside ds01d, with a policy of seconds: an idle container is warned, then
//! stopped (its on-stop hook first); a busy one is not stopped for idleness but at its
//! maximum runtime; keep-alive holds one past the idle timeout and is refused beyond
//! `keep_alive_max`; an open session keeps a container alive; a restart of ds01d in the
//! middle loses no timer; `ds01 events` and `ds01 why` tell all of it to the owner only.

use std::process::Output;
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

fn ds01(user: &TestUser, daemon: &TestDaemon, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

fn ok(out: Output, what: &str, daemon: &TestDaemon) -> String {
    daemon.ok(out, what)
}

fn running(name: &str) -> bool {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", name])
        .output()
        .unwrap();
    text(&out.stdout).trim() == "true"
}

fn events(user: &TestUser, daemon: &TestDaemon) -> Vec<serde_json::Value> {
    let out = ok(ds01(user, daemon, &["events", "--json"]), "events", daemon);
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn idle_and_overlong_containers_are_stopped_with_warning_and_reason() {
    let sweeper = Sweeper::new("lifecycle");
    let alice = TestUser::ldap("reap");
    let bob = TestUser::plain("reap");
    let config = config_with_labels(
        &sweeper.label().1,
        "workspace = \"~/workspace\"\n\
         [lifecycle]\ncheck_interval = \"2s\"\nidle_cpu_percent = 5\nstop_grace = \"1s\"\n\
         [policy.default]\nidle_timeout = \"10s\"\nmax_runtime = \"40s\"\nkeep_alive_max = \"20s\"\nmax_containers = 5\n",
    );
    let mut daemon = TestDaemon::start(&config);

    // The hook a training job would use to checkpoint: it leaves a file per container.
    let hook_dir = alice.home().join("workspace/.ds01");
    std::fs::create_dir_all(&hook_dir).unwrap();
    std::fs::write(
        hook_dir.join("on-stop"),
        "#!/bin/sh\nhostname > /workspace/hook-$(hostname)\n",
    )
    .unwrap();
    std::process::Command::new("chown")
        .args(["-R", &format!("{}:{}", alice.uid(), alice.gid())])
        .arg(alice.home().join("workspace"))
        .status()
        .unwrap();
    std::process::Command::new("chmod")
        .args(["755"])
        .arg(hook_dir.join("on-stop"))
        .status()
        .unwrap();

    for name in ["idle", "busy", "keep", "sess"] {
        ok(
            ds01(
                &alice,
                &daemon,
                &["container", "create", name, "--image", DEBIAN12],
            ),
            "create",
            &daemon,
        );
    }
    let t0 = now();
    for name in ["idle", "busy", "keep", "sess"] {
        ok(
            ds01(&alice, &daemon, &["container", "start", name]),
            "start",
            &daemon,
        );
    }
    let docker = |name: &str| format!("{name}._.{}", alice.uid());
    // A CPU loop keeps `busy` busy.
    ok(
        ds01(
            &alice,
            &daemon,
            &[
                "container",
                "exec",
                "busy",
                "--",
                "sh",
                "-c",
                "nohup sh -c 'while :; do :; done' >/dev/null 2>&1 &",
            ],
        ),
        "cpu loop",
        &daemon,
    );
    // Keep-alive: beyond the policy's 20 s refused, within it held.
    let refused = ds01(
        &alice,
        &daemon,
        &["container", "keep-alive", "keep", "--for", "1h"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("keep_alive_max"),
        "{}",
        text(&refused.stderr)
    );
    ok(
        ds01(
            &alice,
            &daemon,
            &["container", "keep-alive", "keep", "--for", "18s"],
        ),
        "keep-alive",
        &daemon,
    );

    // A restart in the middle: the timers are in the state directory.
    std::thread::sleep(Duration::from_secs(4));
    let restarted_at = now();
    daemon.restart();
    // The idle container's timer came back from the state directory: it still counts from
    // before the restart.
    let idle_id = String::from_utf8_lossy(
        &std::process::Command::new("docker")
            .args(["inspect", "-f", "{{.Id}}", &docker("idle")])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_owned();
    let saved: serde_json::Value = serde_json::from_slice(
        &std::fs::read(daemon.state_dir().join("watches.json")).expect("the timers are saved"),
    )
    .unwrap();
    let watch = &saved["watches"][&idle_id];
    assert!(
        watch["started_at"]
            .as_i64()
            .is_some_and(|t| t < restarted_at),
        "no timer from before the restart: {saved}"
    );
    // Sessions live in the running ds01d, so this one opens after the restart.
    let mut session = {
        let mut cmd = alice.command(user_visible_binary("ds01"));
        for (k, v) in daemon.env_for() {
            cmd.env(k, v);
        }
        cmd.args(["container", "exec", "sess", "--", "sleep", "26"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };

    // The warning shows in `container list` before the stop.
    let mut saw_warning = false;
    let deadline = Instant::now() + Duration::from_secs(40);
    while running(&docker("idle")) && Instant::now() < deadline {
        let list = text(&ds01(&alice, &daemon, &["container", "list"]).stdout);
        saw_warning |= list
            .lines()
            .any(|l| l.starts_with("idle ") && l.contains("(idle)"));
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !running(&docker("idle")),
        "the idle container still runs\n{}",
        daemon.log()
    );
    let stopped_after = now() - t0;
    assert!(
        saw_warning,
        "no `stops at ... (idle)` in container list before the stop"
    );
    // 10 s idle from the start, plus sampling, the hook and a 1 s grace, on a loaded machine
    assert!(
        stopped_after <= 40,
        "stopped {stopped_after} s after the start"
    );
    assert!(running(&docker("keep")), "keep-alive did not hold");
    assert!(
        running(&docker("sess")),
        "an open session did not keep the container"
    );
    assert!(
        running(&docker("busy")),
        "a busy container was stopped as idle"
    );

    // The hook ran, as the user, before the stop.
    let host = text(
        &std::process::Command::new("docker")
            .args(["inspect", "-f", "{{.Config.Hostname}}", &docker("idle")])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_owned();
    let hook_file = alice.home().join(format!("workspace/hook-{host}"));
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&hook_file).expect("the on-stop hook left its file");
    assert_eq!(meta.uid(), alice.uid());

    // The busy one is stopped at max_runtime (40 s).
    let deadline = Instant::now() + Duration::from_secs(45);
    while running(&docker("busy")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        !running(&docker("busy")),
        "max_runtime did not stop the busy container"
    );
    let _ = session.wait();

    // The owner sees the story; nobody else does.
    let all = events(&alice, &daemon);
    let of = |name: &str, kind: &str| {
        all.iter()
            .filter(|e| e["container"] == docker(name) && e["kind"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let warn = of("idle", "warn");
    let stop = of("idle", "stop");
    assert!(!warn.is_empty() && !stop.is_empty(), "{all:#?}");
    assert!(warn[0]["ts"].as_i64() <= stop[0]["ts"].as_i64());
    assert!(
        stop[0]["detail"].as_str().unwrap().contains("idle for"),
        "{}",
        stop[0]
    );
    assert!(!of("idle", "on_stop").is_empty(), "no on-stop event");
    let busy_stop = of("busy", "stop");
    assert!(
        busy_stop[0]["detail"]
            .as_str()
            .unwrap()
            .contains("max_runtime"),
        "{}",
        busy_stop[0]
    );
    assert!(!of("keep", "keep_alive").is_empty());

    let why = ok(ds01(&alice, &daemon, &["why", "idle"]), "why", &daemon);
    assert!(why.contains("because it was idle for"), "{why}");
    assert!(why.contains("will be stopped at"), "{why}");
    assert!(events(&bob, &daemon).is_empty(), "bob sees alice's events");
    let bob_why = ds01(&bob, &daemon, &["why", "idle"]);
    assert_eq!(bob_why.status.code(), Some(1));
}

/// `ds01 admin gc` removes what an account that no longer exists left behind, and a dry
/// run only lists it.
#[test]
fn admin_gc_collects_what_deleted_accounts_left() {
    let sweeper = Sweeper::new("gc");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let gone = TestUser::plain("gc");
    let out = ds01(
        &gone,
        &daemon,
        &["container", "create", "left", "--image", DEBIAN12, "--json"],
    );
    let created: serde_json::Value = serde_json::from_str(&ok(out, "create", &daemon)).unwrap();
    let name = format!("left._.{}", gone.uid());
    let image = created["image"].as_str().unwrap().to_owned();
    assert!(std::process::Command::new("userdel")
        .arg(gone.login())
        .status()
        .unwrap()
        .success());

    let admin = |args: &[&str]| {
        let out = std::process::Command::new(ds01_tests::users::workspace_binary("ds01"))
            .envs(daemon.env_for())
            .args(args)
            .output()
            .unwrap();
        ok(out, "admin gc", &daemon)
    };
    let dry: serde_json::Value =
        serde_json::from_str(&admin(&["admin", "gc", "--dry-run", "--json"])).unwrap();
    let listed = dry["collected"].as_array().unwrap();
    assert!(listed.iter().any(|c| c["name"] == name.as_str()), "{dry}");
    let exists = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(
        exists(&["container", "inspect", &name]),
        "a dry run removed the container"
    );

    let done = admin(&["admin", "gc"]);
    assert!(done.contains(&name), "{done}");
    assert!(
        !exists(&["container", "inspect", &name]),
        "gc left the container"
    );
    assert!(
        !exists(&["image", "inspect", &image]),
        "gc left the per-container image"
    );
    assert!(
        !exists(&["volume", "inspect", &format!("ds01-home-{name}")]),
        "gc left the home volume"
    );
}
