//! Disk boundaries, as throwaway users through ds01d: a container that writes past the
//! policy's `disk` into its own layer is warned, then stopped, and `ds01 why` says so,
//! while one under the limit keeps running; `image_storage` refuses a build while the
//! user's images are over it; a refused or failed create leaves no `~/workspace/NAME`
//! behind and touches none that was there; a `sudo = false` user's images carry no
//! sudoers rule, a `sudo = true` user's do.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use ds01_tests::check::{docker, inspect, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

fn refused(out: Output, what: &str, needles: &[&str]) {
    ds01_tests::check::refused_saying(&out, Some(1), what, needles)
}

fn events(user: &TestUser, daemon: &TestDaemon) -> Vec<serde_json::Value> {
    let out = daemon.ok(daemon.ds01(user, &["events", "--json"]), "events");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits (polling, up to `limit`) until `done` holds; false if it never did.
fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    done()
}

fn running(name: &str) -> bool {
    inspect(name, "{{.State.Running}}") == "true"
}

fn kinds_for(events: &[serde_json::Value], container: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["container"] == container)
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_container_writing_past_disk_is_warned_then_stopped_and_one_under_it_runs_on() {
    let sweeper = Sweeper::new("disk-reaper");
    let alice = TestUser::ldap("disk");
    let config = config_with_labels(
        &sweeper.label().1,
        "[lifecycle]\ncheck_interval = \"1s\"\nstop_grace = \"1s\"\n\
         [policy.default]\ndisk = \"20m\"\n",
    );
    let daemon = TestDaemon::start(&config);
    let uid = alice.uid();
    for name in ["fill", "calm"] {
        let out = daemon.ds01(
            &alice,
            &["container", "create", name, "--image", DEBIAN12, "--start"],
        );
        daemon.ok(out, "create");
    }
    let fill = format!("fill._.{uid}");
    let calm = format!("calm._.{uid}");

    // `ds01 doctor` names the mechanism. What follows needs the sampled one (a driver with
    // a quota makes the writes fail instead): fuse-overlayfs, as on this machine, has none.
    let doctor = daemon.ds01(&alice, &["doctor"]);
    let doctor = text(&doctor.stdout) + &text(&doctor.stderr);
    let driver = docker(&["info", "-f", "{{.Driver}}"]);
    assert!(
        doctor.contains("disk limits")
            && doctor.contains(&format!(
                "storage driver {driver} has no per-container quota"
            )),
        "{doctor}"
    );

    // `ds01 limits` shows the key and where it comes from.
    let limits = daemon.ok(daemon.ds01(&alice, &["limits"]), "limits");
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("disk ") && l.contains("20m") && l.contains("[policy.default]")),
        "{limits}"
    );

    // 19 MiB into the container's own layer (not /workspace, not the home volume): over
    // the 90% share of 20 MiB, within the limit. A small file in `calm`.
    let write = |name: &str, file: &str, mib: u32| {
        let script =
            format!("dd if=/dev/zero of=/var/tmp/{file} bs=1M count={mib} status=none && sync");
        let out = daemon.ds01(
            &alice,
            &["container", "exec", name, "--", "sh", "-c", &script],
        );
        daemon.ok(out, "writing into the layer");
    };
    write("fill", "ballast", 19);
    write("calm", "small", 2);
    assert!(
        eventually(Duration::from_secs(30), || kinds_for(
            &events(&alice, &daemon),
            &fill
        )
        .contains(&"disk_warning".to_owned())),
        "no disk warning for {fill}: {:?}\n{}",
        events(&alice, &daemon),
        daemon.log()
    );
    assert!(running(&fill), "a warning is not a stop");

    // 50 MiB more: over the limit, so the reaper stops it.
    write("fill", "more", 50);
    assert!(
        eventually(Duration::from_secs(40), || !running(&fill)),
        "{fill} still runs over its disk limit: {:?}",
        events(&alice, &daemon)
    );
    let all = events(&alice, &daemon);
    let kinds = kinds_for(&all, &fill);
    let warned = kinds.iter().position(|k| k == "disk_warning").unwrap();
    let stopped = kinds.iter().position(|k| k == "disk_stop").unwrap();
    assert!(warned < stopped, "{kinds:?}");
    assert!(kinds.contains(&"stop".to_owned()), "{kinds:?}");
    let why = daemon.ok(daemon.ds01(&alice, &["why", "fill"]), "why");
    assert!(
        why.contains("over its disk limit of 20m") && why.contains("own layer"),
        "{why}"
    );
    assert!(
        why.contains("of its disk limit of 20m"),
        "the warning is told too: {why}"
    );

    // The container under the limit runs on, unwarned.
    assert!(running(&calm));
    let calm_kinds = kinds_for(&all, &calm);
    assert!(
        !calm_kinds.iter().any(|k| k.starts_with("disk")),
        "{calm_kinds:?}"
    );

    // Started again, it is still over its limit (the files are in its layer): stopped again.
    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "fill"]),
        "start",
    );
    assert!(
        eventually(Duration::from_secs(40), || !running(&fill)),
        "{fill} restarted over its limit keeps running"
    );
}

#[test]
fn image_storage_refuses_the_next_build_once_the_user_is_over() {
    let sweeper = Sweeper::new("disk-images");
    let bob = TestUser::plain("imgcap");
    let config = config_with_labels(
        &sweeper.label().1,
        "[policy.default]\nimage_storage = \"1m\"\n",
    );
    let daemon = TestDaemon::start(&config);
    // Nothing yet: the first build may start, and crosses the cap (any image is > 1 MiB).
    let out = daemon.ds01(&bob, &["image", "create", "first", "--base", DEBIAN12]);
    let stderr = text(&out.stderr);
    daemon.ok(out, "first build");
    assert!(
        stderr.contains("over your image_storage of 1m"),
        "the user is told the build crossed the cap: {stderr}"
    );
    let limits = daemon.ok(daemon.ds01(&bob, &["limits", "--json"]), "limits");
    let limits: serde_json::Value = serde_json::from_str(&limits).unwrap();
    assert!(
        limits["image_storage"].as_u64().unwrap() > 1 << 20,
        "{limits}"
    );
    assert_eq!(limits["effective"]["image_storage"]["value"], "1m");

    let out = daemon.ds01(&bob, &["image", "create", "second", "--base", DEBIAN12]);
    refused(
        out,
        "a build while over image_storage",
        &["image_storage", "1m", "[policy.default]"],
    );
    assert_eq!(
        docker(&["image", "ls", "-q", &format!("ds01-{}/second", bob.uid())]),
        "",
        "the refused build made no image"
    );

    // A create by the commit flow would commit an image: refused too, leaving no
    // workspace; one from bob's own image (which carries his account) makes only a tag.
    let out = daemon.ds01(&bob, &["container", "create", "box", "--image", DEBIAN12]);
    refused(
        out,
        "a commit while over image_storage",
        &["image_storage", "commit"],
    );
    assert!(!bob.home().join("workspace/box").exists());
    let out = daemon.ds01(&bob, &["container", "create", "first"]);
    daemon.ok(out, "a baked create while over image_storage");
}

/// `ls /etc/sudoers.d` in `image`, as root, as an admin would look.
fn sudoers(image: &str, sweeper: &Sweeper) -> String {
    let (key, value) = sweeper.label();
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none", "--entrypoint", "ls"])
        .args(["--label", &format!("{key}={value}")])
        .args([image, "-1", "/etc/sudoers.d"])
        .output()
        .unwrap();
    text(&out.stdout)
}

#[test]
fn only_a_sudo_user_gets_a_sudoers_rule_baked_or_committed() {
    let sweeper = Sweeper::new("disk-sudo");
    let carol = TestUser::plain("nosudo");
    let dave = TestUser::plain("sudo");
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "[policy.default]\nsudo = false\n[policy.users.\"{}\"]\nsudo = true\n",
            dave.login()
        ),
    );
    let daemon = TestDaemon::start(&config);
    let username = |u: &TestUser| {
        ds01_username::Username::from_login(u.login())
            .unwrap()
            .to_string()
    };
    for (user, expect) in [(&carol, false), (&dave, true)] {
        let out = daemon.ds01(user, &["image", "create", "tools", "--base", DEBIAN12]);
        daemon.ok(out, "build");
        let listed = sudoers(&format!("ds01-{}/tools:latest", user.uid()), &sweeper);
        assert_eq!(
            listed.lines().any(|l| l == username(user)),
            expect,
            "{}: /etc/sudoers.d holds {listed:?}",
            user.login()
        );
    }
    // The commit flow: carol's container on the plain base gets a committed image of its
    // own, which must carry no rule either.
    let out = daemon.ds01(&carol, &["container", "create", "box", "--image", DEBIAN12]);
    daemon.ok(out, "create");
    let committed = inspect(&format!("box._.{}", carol.uid()), "{{.Config.Image}}");
    assert!(
        committed.ends_with(&format!("box._.{}", carol.uid())),
        "{committed}"
    );
    let listed = sudoers(&committed, &sweeper);
    assert!(
        !listed.lines().any(|l| l == username(&carol)),
        "the committed image holds a rule: {listed:?}"
    );
}

fn assert_no_workspace(home: &Path, name: &str, what: &str) {
    let dir = home.join("workspace").join(name);
    assert!(
        std::fs::symlink_metadata(&dir).is_err(),
        "{what} left {} behind",
        dir.display()
    );
}

#[test]
fn refused_and_failed_creates_leave_no_workspace_and_keep_one_that_was_there() {
    let sweeper = Sweeper::new("disk-leftovers");
    let erin = TestUser::ldap("leftover");
    let config = config_with_labels(
        &sweeper.label().1,
        "[policy.default]\nmemory = \"1g\"\nmax_containers = 5\n",
    );
    let daemon = TestDaemon::start(&config);
    let home = erin.home().to_owned();
    let missing = format!("ds01-{}/missing:latest", erin.uid());

    // Each refusal or failure, on a home without `~/workspace` (the harness makes one: it
    // goes first), so neither level may appear.
    std::fs::remove_dir(home.join("workspace")).unwrap();
    let cases: [(&str, Vec<&str>, &[&str]); 4] = [
        (
            "limit",
            vec!["--image", DEBIAN12, "--memory", "2g"],
            &["memory"],
        ),
        ("gpus", vec!["--image", DEBIAN12, "--gpus", "1"], &["GPU"]),
        (
            "data",
            vec!["--image", DEBIAN12, "--data", "/etc"],
            &["data"],
        ),
        ("noimage", vec!["--image", &missing], &["missing"]),
    ];
    for (name, extra, needles) in &cases {
        let mut args = vec!["container", "create", name];
        args.extend(extra.iter().copied());
        let out = daemon.ds01(&erin, &args);
        assert_ne!(out.status.code(), Some(0), "{name} was not refused");
        let stderr = text(&out.stderr);
        for n in *needles {
            assert!(stderr.contains(n), "{name}: no `{n}` in {stderr}");
        }
        assert_no_workspace(&home, name, name);
        assert!(
            std::fs::symlink_metadata(home.join("workspace")).is_err(),
            "{name} left ~/workspace behind"
        );
    }

    // With `~/workspace` already there, the engine's failure takes back only the new leaf.
    erin.write_file("workspace/keep/notes.txt", "mine\n");
    let out = daemon.ds01(
        &erin,
        &["container", "create", "fresh", "--image", &missing],
    );
    assert_ne!(out.status.code(), Some(0));
    assert_no_workspace(&home, "fresh", "a failed create");
    assert!(home.join("workspace").is_dir());

    // A directory that existed stays, with its files, when the create for it fails.
    let out = daemon.ds01(&erin, &["container", "create", "keep", "--image", &missing]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(home.join("workspace/keep/notes.txt")).unwrap(),
        "mine\n"
    );

    // And a create that succeeds still gets its workspace.
    let out = daemon.ds01(
        &erin,
        &["container", "create", "works", "--image", DEBIAN12],
    );
    daemon.ok(out, "create");
    assert!(home.join("workspace/works").is_dir());
}
