//! Caps at the boundary, tried by throwaway unprivileged users through ds01d: what a user
//! holds is counted and acted on inside one critical section of theirs, so requests sent
//! side by side cannot all pass one count. `max_containers` against parallel creates,
//! `max_gpus` against starting (or restarting) stopped GPU containers one after the other
//! and side by side, `start --all`, a paused container's GPU, and a ds01d restart or kill
//! in the middle (the counts come from the engine's containers, not from ds01d's memory).
//! The GPUs are a file inventory, as in `tests/policy_gpus.rs`.

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use ds01_tests::check::{docker, refused, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

/// Three full GPUs of a test: devices are held engine-wide (by the labels of every
/// container, UUIDs and DS01's slots, which are indices), so each test has UUIDs named after
/// it and indices from `base` no other test (of this suite or another) uses.
fn gpus(tag: &str, base: u32) -> [(u32, String); 3] {
    [0, 1, 2].map(|i| (base + i, format!("GPU-{i}{i}{i}{i}{i}{i}{i}{i}-{tag}")))
}

/// A daemon with the GPUs `gpus(tag, base)` and `policy` (the body of `[policy.default]`).
fn daemon(
    sweeper: &Sweeper,
    dir: &tempfile::TempDir,
    (tag, base): (&str, u32),
    policy: &str,
) -> TestDaemon {
    let inventory = dir.path().join("gpus.toml");
    let gpus: String = gpus(tag, base)
        .iter()
        .map(|(i, u)| {
            format!("[[gpu]]\nindex = {i}\nuuid = \"{u}\"\nname = \"NVIDIA H100 80GB HBM3\"\n")
        })
        .collect();
    std::fs::write(&inventory, gpus).unwrap();
    let config = format!(
        "[gpus]\ninventory = \"{}\"\n[policy.default]\n{policy}\n",
        inventory.display()
    );
    TestDaemon::start(&config_with_labels(&sweeper.label().1, &config))
}

fn create(user: &TestUser, daemon: &TestDaemon, name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["container", "create", name, "--image", DEBIAN12, "--json"];
    args.extend_from_slice(extra);
    daemon.ds01(user, &args)
}

/// The engine's containers of `user` that ds01d lets them reach (named `<name>._.<uid>`):
/// `(name, state)`, as root sees them.
fn engine_containers(user: &TestUser) -> Vec<(String, String)> {
    let suffix = format!("._.{}", user.uid());
    docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("name={suffix}"),
        "--format",
        "{{.Names}} {{.State}}",
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .filter(|(n, _)| n.ends_with(&suffix))
    .map(|(n, s)| (n.to_owned(), s.to_owned()))
    .collect()
}

/// The GPUs `user`'s running (or paused) containers hold, by the engine's labels.
fn gpus_held(user: &TestUser) -> Vec<String> {
    engine_containers(user)
        .into_iter()
        .filter(|(_, s)| s == "running" || s == "paused")
        .flat_map(|(n, _)| {
            docker(&[
                "inspect",
                "-f",
                "{{index .Config.Labels \"ds01.gpu.uuids\"}}",
                &n,
            ])
            .split(',')
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
        })
        .collect()
}

/// `ds01 ARGS` for each of `names` (in ARGS, `{}` is the name), all at once.
fn side_by_side(
    user: &TestUser,
    daemon: &TestDaemon,
    names: &[String],
    args: &[&str],
) -> Vec<Output> {
    std::thread::scope(|s| {
        let runs: Vec<_> = names
            .iter()
            .map(|name| {
                let args: Vec<String> = args.iter().map(|a| a.replace("{}", name)).collect();
                s.spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    daemon.ds01(user, &args)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Splits outputs into successes and refusals naming `needles`; anything else fails.
fn tally(outputs: Vec<Output>, what: &str, needles: &[&str]) -> (usize, usize) {
    let (mut ok, mut refused) = (0, 0);
    for out in outputs {
        if out.status.success() {
            ok += 1;
            continue;
        }
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{what}: no `{n}` in: {stderr}");
        }
        refused += 1;
    }
    (ok, refused)
}

#[test]
fn parallel_creates_stop_at_max_containers_and_a_restarted_ds01d_counts_them() {
    let sweeper = Sweeper::new("caps-containers");
    let dir = tempfile::tempdir().unwrap();
    let alice = TestUser::ldap("capsc");
    let mut daemon = daemon(
        &sweeper,
        &dir,
        ("capsc", 40),
        "max_containers = 2\nmax_gpus = 1",
    );

    let names: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let outputs = side_by_side(
        &alice,
        &daemon,
        &names,
        &[
            "container",
            "create",
            "{}",
            "--image",
            DEBIAN12,
            "--cpu-only",
        ],
    );
    let (ok, no) = tally(
        outputs,
        "8 creates side by side",
        &["max_containers", "[policy.default]"],
    );
    assert_eq!((ok, no), (2, 6), "{}", daemon.log());
    assert_eq!(
        engine_containers(&alice).len(),
        2,
        "{:?}",
        engine_containers(&alice)
    );

    // The count is the engine's: a restarted ds01d refuses the third just the same.
    daemon.restart();
    refused(
        create(&alice, &daemon, "after", &["--cpu-only"]),
        1,
        "a third container after a restart",
        "max_containers",
    );
    assert_eq!(engine_containers(&alice).len(), 2);

    // A recreate frees its slot only for itself: creates sent one after the other for as
    // long as it runs (so some land between its removal and the new container) are all
    // refused, and the container is made again.
    let first = engine_containers(&alice)[0].0.clone();
    let first = first.split("._.").next().unwrap().to_owned();
    let done = std::sync::atomic::AtomicBool::new(false);
    let (recreated, creates) = std::thread::scope(|s| {
        let recreate = s.spawn(|| {
            let out = daemon.ds01(&alice, &["container", "recreate", &first]);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            out
        });
        let mut creates = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let name = format!("beside{}", creates.len());
            creates.push(create(&alice, &daemon, &name, &["--cpu-only"]));
        }
        (recreate.join().unwrap(), creates)
    });
    daemon.ok(recreated, "the recreate beside creates");
    let sent = creates.len();
    let (ok, no) = tally(creates, "creates beside a recreate", &["max_containers"]);
    assert_eq!((ok, no), (0, sent));
    let left = engine_containers(&alice);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left
        .iter()
        .any(|(n, _)| n.starts_with(&format!("{first}._."))));
}

#[test]
fn a_create_cut_short_by_killing_ds01d_leaves_nothing_outside_the_count() {
    let sweeper = Sweeper::new("caps-kill");
    let dir = tempfile::tempdir().unwrap();
    // A plain account: no image has it baked in, so the create runs the commit flow, whose
    // setup container already holds the final name.
    let bob = TestUser::plain("capsk");
    let mut daemon = daemon(
        &sweeper,
        &dir,
        ("capsk", 43),
        "max_containers = 2\nmax_gpus = 1",
    );
    let key = format!("k._.{}", bob.uid());
    let mut cut = bob
        .command(user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .args([
            "container",
            "create",
            "k",
            "--image",
            DEBIAN12,
            "--cpu-only",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Killed once the engine has a container under the name, i.e. in the middle.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !engine_containers(&bob).iter().any(|(n, _)| *n == key) {
        assert!(
            Instant::now() < deadline,
            "the create never reached the engine"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = cut.wait();
    daemon.restart();

    // Whatever the kill left that the user can reach is in the count; anything else of
    // theirs (a renamed setup container) is not running.
    let reachable = engine_containers(&bob);
    let limits: serde_json::Value =
        serde_json::from_str(&daemon.ok(daemon.ds01(&bob, &["limits", "--json"]), "limits"))
            .unwrap();
    assert_eq!(
        limits["containers"].as_u64(),
        Some(reachable.len() as u64),
        "{reachable:?}"
    );
    let prefix = format!("k._.{}.", bob.uid());
    for line in docker(&["ps", "--format", "{{.Names}}"]).lines() {
        assert!(!line.starts_with(&prefix), "{line} runs outside the count");
    }
    // And the cap holds with it: creates until refused never pass 2 in the engine.
    for name in ["k2", "k3", "k4"] {
        let _ = create(&bob, &daemon, name, &["--cpu-only"]);
    }
    let after = engine_containers(&bob);
    assert_eq!(after.len(), 2, "{after:?}");
}

#[test]
fn a_stopped_gpu_container_starts_only_within_max_gpus() {
    let sweeper = Sweeper::new("caps-start");
    let dir = tempfile::tempdir().unwrap();
    let carol = TestUser::ldap("capss");
    let mut daemon = daemon(
        &sweeper,
        &dir,
        ("capss", 46),
        "max_containers = 5\nmax_gpus = 1",
    );
    let ok = |d: &TestDaemon, out, what: &str| {
        d.ok(out, what);
    };

    // A with a GPU, stopped; B with another GPU (A's was someone else's for a while, a
    // DS01-made container's), running: until now, starting A gave her two.
    ok(
        &daemon,
        create(&carol, &daemon, "a", &["--gpus", "1", "--start"]),
        "A",
    );
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "stop", "a", "-t", "1"]),
        "stop A",
    );
    let other = format!("other._.{}", carol.uid() + 1);
    docker(&[
        "run",
        "-d",
        "--name",
        &other,
        "--label",
        &format!("ds01.test={}", sweeper.label().1),
        "--label",
        &format!("ds01.gpu.uuids={}", gpus("capss", 46)[0].1),
        DEBIAN12,
        "sleep",
        "300",
    ]);
    ok(
        &daemon,
        create(&carol, &daemon, "b", &["--gpus", "1", "--start"]),
        "B",
    );
    docker(&["rm", "-f", &other]);
    refused(
        daemon.ds01(&carol, &["container", "start", "a"]),
        1,
        "starting A while B holds her one GPU",
        "max_gpus is 1 for you (from [policy.default])",
    );
    // `open` starts a stopped container too (and so may a raw exec request): the same
    // count, not the engine's start behind it.
    refused(
        daemon.ds01(&carol, &["container", "open", "a"]),
        1,
        "opening the stopped A",
        "max_gpus",
    );
    // `restart` of a stopped container starts it: the same count.
    refused(
        daemon.ds01(&carol, &["container", "restart", "a", "-t", "1"]),
        1,
        "restarting the stopped A",
        "max_gpus",
    );
    // And `start --all` starts what fits (nothing more).
    let _ = daemon.ds01(&carol, &["container", "start", "--all"]);
    assert_eq!(
        gpus_held(&carol).len(),
        1,
        "{:?}",
        engine_containers(&carol)
    );

    // A restarted ds01d counts B from its labels.
    daemon.restart();
    refused(
        daemon.ds01(&carol, &["container", "start", "a"]),
        1,
        "starting A after a restart",
        "max_gpus",
    );

    // A paused container still holds its GPU: B paused, A still may not start; B's
    // unpause adds nothing and goes through; a running restart of B too.
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "pause", "b"]),
        "pause B",
    );
    refused(
        daemon.ds01(&carol, &["container", "start", "a"]),
        1,
        "starting A while B is paused",
        "max_gpus",
    );
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "unpause", "b"]),
        "unpause B",
    );
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "restart", "b", "-t", "1"]),
        "restart the running B",
    );
    assert_eq!(gpus_held(&carol).len(), 1);

    // Once B stops, A starts.
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "stop", "b", "-t", "1"]),
        "stop B",
    );
    ok(
        &daemon,
        daemon.ds01(&carol, &["container", "start", "a"]),
        "start A",
    );
    assert_eq!(gpus_held(&carol).len(), 1);
}

#[test]
fn parallel_starts_and_restarts_of_stopped_gpu_containers_hold_at_most_max_gpus() {
    let sweeper = Sweeper::new("caps-parallel");
    let dir = tempfile::tempdir().unwrap();
    let dave = TestUser::ldap("capsp");
    // Devices picked by UUID, so the three stopped containers name three different GPUs
    // and only the cap (not a taken device) can stop a start.
    let daemon = daemon(
        &sweeper,
        &dir,
        ("capsp", 49),
        "max_containers = 5\nmax_gpus = 1\nallow_device_pick = true",
    );
    let names: Vec<String> = (0..3).map(|i| format!("p{i}")).collect();
    let uuids = gpus("capsp", 49).map(|(_, u)| u);
    for (name, uuid) in names.iter().zip(&uuids) {
        daemon.ok(
            create(&dave, &daemon, name, &["--gpus", &format!("device={uuid}")]),
            name,
        );
    }
    let mut seen = Vec::new();
    for (what, args) in [
        (
            "3 starts side by side",
            ["container", "start", "{}"].as_slice(),
        ),
        (
            "3 restarts of stopped containers side by side",
            ["container", "restart", "{}", "-t", "1"].as_slice(),
        ),
    ] {
        let (ok, no) = tally(
            side_by_side(&dave, &daemon, &names, args),
            what,
            &["max_gpus"],
        );
        let held = gpus_held(&dave);
        assert_eq!((ok, no, held.len()), (1, 2, 1), "{what}: {held:?}");
        seen.extend(held);
        // Back to three stopped containers.
        daemon.ok(
            daemon.ds01(&dave, &["container", "stop", "--all", "-t", "1"]),
            "stop --all",
        );
        assert!(gpus_held(&dave).is_empty());
    }
    assert!(seen.iter().all(|u| uuids.contains(u)), "{seen:?}");

    // `start --all` (the bulk route): one started, two refused in its answer.
    let out = daemon.ds01(&dave, &["container", "start", "--all"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("max_gpus"), "{all}");
    assert_eq!(gpus_held(&dave).len(), 1, "{all}");
}

#[test]
fn a_wait_grant_is_counted_again_inside_the_section() {
    let sweeper = Sweeper::new("caps-wait");
    let dir = tempfile::tempdir().unwrap();
    let erin = TestUser::ldap("capsw");
    let daemon = daemon(
        &sweeper,
        &dir,
        ("capsw", 52),
        "max_containers = 1\nmax_gpus = 1",
    );
    // Every GPU held by somebody else (a DS01-made container: its labels alone).
    let holder = format!("holder._.{}", erin.uid() + 1);
    let all: Vec<String> = gpus("capsw", 52).into_iter().map(|(_, u)| u).collect();
    docker(&[
        "run",
        "-d",
        "--name",
        &holder,
        "--label",
        &format!("ds01.test={}", sweeper.label().1),
        "--label",
        &format!("ds01.gpu.uuids={}", all.join(",")),
        DEBIAN12,
        "sleep",
        "300",
    ]);
    // Her --wait create queues with no container of hers yet...
    let mut waiting = erin
        .command(user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args([
            "container",
            "create",
            "w",
            "--image",
            DEBIAN12,
            "--gpus",
            "1",
            "--wait",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(waiting.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for a GPU") {
        let mut line = String::new();
        let n = std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(n > 0, "the create ended without waiting: {said}");
        said.push_str(&line);
    }
    // ...meanwhile her one container is made...
    daemon.ok(
        create(&erin, &daemon, "c", &["--cpu-only"]),
        "her one container",
    );
    // ...so once the GPUs are free, the grant is refused by her count, not served.
    docker(&["rm", "-f", &holder]);
    let out = waiting.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(out.status.code(), Some(1), "{said}{rest}");
    assert!(rest.contains("max_containers"), "{said}{rest}");
    let mine = engine_containers(&erin);
    assert_eq!(mine.len(), 1, "{mine:?}");
}
