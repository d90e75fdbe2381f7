//! The usage ledger, with a policy of seconds and a file GPU inventory: the GPU seconds it
//! records for a full GPU, a MIG slice and a container made by DS01's scripts (labels only)
//! match the engine's own start and end times within one check interval, across a ds01d
//! restart and a ds01d killed outright, with no interval counted twice; idle GPU time is
//! the sleeping container's; the files are root's alone; each user sees only their own
//! usage and only root the admin's tables; the monthly report's numbers are the ledger's,
//! and it is posted to a webhook on loopback.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ds01_tests::check::{docker_ok, json, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::loopback::Recorder;
use ds01_tests::users::{workspace_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-00000000-ledger"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 1
uuid = "GPU-11111111-ledger"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 2
uuid = "GPU-22222222-ledger"
name = "NVIDIA A100-SXM4-80GB"
[[gpu.mig]]
uuid = "MIG-2a-ledger"
profile = "3g.40gb"
[[gpu.mig]]
uuid = "MIG-2b-ledger"
profile = "3g.40gb"
"#;

/// The check interval, seconds: every tolerance below is one of these.
const INTERVAL: f64 = 3.0;
const MIB_256: f64 = 268_435_456.0;

/// One ledger record, as the test reads the files.
#[derive(Debug, Clone)]
struct Line {
    container: String,
    user: String,
    group: String,
    start_ms: i64,
    end_ms: i64,
    gpu: f64,
    idle: f64,
    cpu: f64,
    memory: f64,
}

impl Line {
    fn of(v: &serde_json::Value) -> Line {
        Line {
            container: v["container"].as_str().unwrap().to_owned(),
            user: v["user"].as_str().unwrap().to_owned(),
            group: v["group"].as_str().unwrap().to_owned(),
            start_ms: v["start_ms"].as_i64().unwrap(),
            end_ms: v["end_ms"].as_i64().unwrap(),
            gpu: v["gpu_seconds"].as_f64().unwrap(),
            idle: v["idle_gpu_seconds"].as_f64().unwrap(),
            cpu: v["cpu_seconds"].as_f64().unwrap(),
            memory: v["memory_byte_seconds"].as_f64().unwrap(),
        }
    }
}

/// Every record: the month files, then the open records of `open.json` (its `pending` are
/// in the files already once the daemon has committed).
fn ledger(state: &Path) -> Vec<Line> {
    let dir = state.join("ledger");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            out.push(Line::of(&serde_json::from_str(line).unwrap()));
        }
    }
    let open: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("open.json")).unwrap()).unwrap();
    for o in open["open"].as_object().unwrap().values() {
        let r = Line::of(&o["record"]);
        if r.end_ms > r.start_ms {
            out.push(r);
        }
    }
    out
}

fn sum(lines: &[Line], keep: impl Fn(&Line) -> bool, of: impl Fn(&Line) -> f64) -> f64 {
    lines.iter().filter(|l| keep(l)).map(of).sum()
}

/// The engine's start and end of a stopped container, Unix seconds.
fn ran(name: &str) -> (f64, f64) {
    let times = docker_ok(&[
        "inspect",
        "-f",
        "{{.State.StartedAt}} {{.State.FinishedAt}}",
        name,
    ]);
    let unix = |t: &str| -> f64 {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", t, "+%s.%N"])
            .output()
            .unwrap();
        text(&out.stdout).trim().parse().unwrap()
    };
    let (start, end) = times.trim().split_once(' ').unwrap();
    (unix(start), unix(end))
}

fn ds01(daemon: &TestDaemon, user: &TestUser, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

/// `ds01 ARGS` as root (an admin) against `daemon`.
fn as_root(daemon: &TestDaemon, args: &[&str]) -> Output {
    std::process::Command::new(workspace_binary("ds01"))
        .envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .unwrap()
}

/// `(key, gpu_seconds)` of each row of a table in an answer.
fn table_rows(table: &serde_json::Value) -> Vec<(String, f64)> {
    table
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["gpu_seconds"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn close(what: &str, got: f64, want: f64, within: f64) {
    assert!(
        (got - want).abs() <= within,
        "{what}: the ledger has {got:.3}, the engine's times give {want:.3} (allowed: {within:.3})"
    );
}

#[test]
fn gpu_seconds_match_the_engine_across_a_restart_and_a_crash_and_the_report_is_the_ledger() {
    let sweeper = Sweeper::new("usage-ledger");
    let alice = TestUser::ldap("ledger");
    let bob = TestUser::plain("ledger");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let hook = Recorder::start();
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "[gpus]\ninventory = \"{}\"\n\
             [lifecycle]\ncheck_interval = \"{INTERVAL}s\"\nidle_cpu_percent = 5\n\
             [usage]\nrecord_every = \"10s\"\nwebhook = \"http://{}/hook\"\n\
             [policy.default]\nmemory = \"256m\"\ncpus = 1\nmax_gpus = 1\n\
             [policy.groups.\"{}\"]\nmax_gpus = 1\n",
            inventory.display(),
            hook.address(),
            bob.login()
        ),
    );
    let mut daemon = TestDaemon::start(&config);
    let create = |user: &TestUser, name: &str, gpus: &str| {
        daemon.ok(
            ds01(
                &daemon,
                user,
                &[
                    "container",
                    "create",
                    name,
                    "--image",
                    DEBIAN12,
                    "--gpus",
                    gpus,
                    "--start",
                ],
            ),
            &format!("create {name}"),
        )
    };
    create(&alice, "a", "1");
    create(&bob, "b", "mig:3g.40gb");
    // DS01's scripts: a slot label on a container named like ds01's, no ds01d involved.
    let legacy = format!("legacy._.{}", bob.uid());
    docker_ok(&[
        "run",
        "-d",
        "--name",
        &legacy,
        "--label",
        &format!("ds01.test={}", sweeper.label().1),
        "--label",
        "ds01.gpu.slots=1",
        DEBIAN12,
        "sleep",
        "600",
    ]);
    let a = format!("a._.{}", alice.uid());
    let b = format!("b._.{}", bob.uid());
    // `a` works for 8 s; `b` and the legacy container only sleep.
    daemon.ok(
        ds01(
            &daemon,
            &alice,
            &[
                "container",
                "exec",
                "a",
                "--",
                "sh",
                "-c",
                "nohup timeout 8 sh -c 'while :; do :; done' >/dev/null 2>&1 &",
            ],
        ),
        "the CPU loop",
    );

    // A restart, then a crash (no chance to save anything), in the middle of it all.
    std::thread::sleep(Duration::from_secs(5));
    daemon.restart();
    std::thread::sleep(Duration::from_secs(5));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    daemon.restart();
    std::thread::sleep(Duration::from_secs(4));
    daemon.ok(
        ds01(&daemon, &alice, &["container", "stop", "a", "-t", "1"]),
        "stop a",
    );
    std::thread::sleep(Duration::from_secs(2));
    daemon.ok(
        ds01(&daemon, &bob, &["container", "stop", "b", "-t", "1"]),
        "stop b",
    );
    docker_ok(&["stop", "-t", "1", &legacy]);
    // Two rounds to see the stops.
    std::thread::sleep(Duration::from_secs_f64(2.0 * INTERVAL + 1.0));

    let lines = ledger(&daemon.state_dir());
    let of = |name: &str| {
        let name = name.to_owned();
        move |l: &Line| l.container == name
    };
    // No interval twice: a container's records never overlap.
    for name in [&a, &b, &legacy] {
        let mut spans: Vec<(i64, i64)> = lines
            .iter()
            .filter(|l| &l.container == name)
            .map(|l| (l.start_ms, l.end_ms))
            .collect();
        spans.sort();
        assert!(!spans.is_empty(), "no record of {name}:\n{}", daemon.log());
        for pair in spans.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "{name}: {:?} and {:?} overlap",
                pair[0],
                pair[1]
            );
        }
    }
    // GPU seconds against the engine's own times, within one check interval.
    let third = 3.0 / 7.0;
    for (name, equivalents) in [(&a, 1.0), (&b, third), (&legacy, 1.0)] {
        let (start, end) = ran(name);
        close(
            &format!("GPU seconds of {name}"),
            sum(&lines, of(name), |l| l.gpu),
            (end - start) * equivalents,
            INTERVAL * equivalents,
        );
    }
    let (a_start, a_end) = ran(&a);
    close(
        "memory-limit byte-seconds of a",
        sum(&lines, of(&a), |l| l.memory),
        (a_end - a_start) * MIB_256,
        INTERVAL * MIB_256,
    );
    // The 8 s loop under a 1-CPU limit: CPU seconds, and busy time that is not idle.
    // (Two shared cores: the loop may get less than its one CPU, never more.)
    let a_cpu = sum(&lines, of(&a), |l| l.cpu);
    assert!((2.0..=10.0).contains(&a_cpu), "a used {a_cpu} CPU seconds");
    let a_idle = sum(&lines, of(&a), |l| l.idle);
    let a_gpu = sum(&lines, of(&a), |l| l.gpu);
    assert!(a_idle <= a_gpu - 3.0, "a: {a_idle} idle of {a_gpu}");
    close(
        "idle GPU seconds of the sleeping b",
        sum(&lines, of(&b), |l| l.idle),
        sum(&lines, of(&b), |l| l.gpu),
        INTERVAL * third,
    );
    assert!(lines
        .iter()
        .filter(|l| l.container == b || l.container == legacy)
        .all(|l| l.user == bob.login() && l.group == bob.login()));
    assert!(lines
        .iter()
        .filter(|l| l.container == a)
        .all(|l| l.user == alice.login() && l.group == "default"));

    // Root's alone: the directory and every file.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir_meta = std::fs::metadata(daemon.state_dir().join("ledger")).unwrap();
    assert_eq!(
        (dir_meta.uid(), dir_meta.permissions().mode() & 0o777),
        (0, 0o700)
    );
    for entry in std::fs::read_dir(daemon.state_dir().join("ledger")).unwrap() {
        let meta = entry.unwrap().metadata().unwrap();
        assert_eq!((meta.uid(), meta.permissions().mode() & 0o777), (0, 0o600));
    }
    let peek = bob.run_as(
        "cat",
        [daemon.state_dir().join("ledger/open.json").as_os_str()],
    );
    assert!(!peek.status.success(), "bob read the ledger");

    // Each user sees their own, and only that.
    let mine = json(
        &daemon
            .ok(
                ds01(&daemon, &bob, &["usage", "--since", "1h", "--json"]),
                "bob's usage",
            )
            .into_bytes(),
    );
    let containers: Vec<&str> = mine["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["container"].as_str().unwrap())
        .collect();
    let mut expected = vec![b.as_str(), legacy.as_str()];
    expected.sort_by_key(|n| if *n == legacy { 0 } else { 1 });
    assert_eq!(containers, expected, "{mine}");
    let bob_gpu = sum(&lines, |l| l.user == bob.login(), |l| l.gpu);
    close(
        "bob's gpu_seconds",
        mine["gpu_seconds"].as_f64().unwrap(),
        bob_gpu,
        1e-6,
    );
    assert!(mine["cpu_seconds"].as_f64().is_some());
    let hers = json(
        &daemon
            .ok(ds01(&daemon, &alice, &["usage", "--json"]), "alice's usage")
            .into_bytes(),
    );
    assert_eq!(hers["containers"].as_array().unwrap().len(), 1, "{hers}");
    assert_eq!(hers["containers"][0]["container"], a.as_str());
    let plain = daemon.ok(ds01(&daemon, &alice, &["usage"]), "alice's usage as text");
    assert!(plain.contains(&a) && plain.contains("GPU-H"), "{plain}");
    let refused = ds01(&daemon, &bob, &["admin", "usage", "--format", "json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty(), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains("only admins") && !text(&refused.stderr).contains(&a),
        "{}",
        text(&refused.stderr)
    );
    let refused = ds01(&daemon, &bob, &["admin", "report", "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(hook.next(Duration::from_millis(500)).is_none());

    // The admin's table by user, and as CSV by container.
    let month = {
        let out = std::process::Command::new("date")
            .args(["-u", "+%Y-%m"])
            .output()
            .unwrap();
        text(&out.stdout).trim().to_owned()
    };
    let by_user = json(
        &daemon
            .ok(
                as_root(
                    &daemon,
                    &[
                        "admin", "usage", "--by", "user", "--month", &month, "--format", "json",
                    ],
                ),
                "admin usage",
            )
            .into_bytes(),
    );
    let rows: BTreeMap<String, f64> = table_rows(&by_user["rows"]).into_iter().collect();
    assert_eq!(rows.len(), 2, "{by_user}");
    close("alice's row", rows[alice.login()], a_gpu, 1e-6);
    close("bob's row", rows[bob.login()], bob_gpu, 1e-6);
    let csv = daemon.ok(
        as_root(
            &daemon,
            &["admin", "usage", "--by", "container", "--format", "csv"],
        ),
        "admin usage as CSV",
    );
    assert!(
        csv.starts_with("container,user,group,containers,gpu_seconds"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");

    // The report: last month and an account unused since then, from files the admin kept.
    let previous = {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("{month}-01 -1 day"), "+%Y-%m %s"])
            .output()
            .unwrap();
        let line = text(&out.stdout);
        let (m, end) = line.trim().split_once(' ').unwrap();
        (m.to_owned(), end.parse::<i64>().unwrap() * 1000)
    };
    let old = |user: &str, uid: u32, container: &str, gpu: f64| {
        serde_json::json!({
            "v": 1, "start_ms": previous.1 - 7_200_000, "end_ms": previous.1 - 3_600_000,
            "container": container, "id": container, "uid": uid, "user": user,
            "group": "default", "gpus": ["GPU-00000000-ledger"], "gpu_equivalents": 1.0,
            "gpu_seconds": gpu, "idle_gpu_seconds": 0.0, "cpu_seconds": 1.0,
            "memory_byte_seconds": 0.0
        })
        .to_string()
    };
    std::fs::write(
        daemon
            .state_dir()
            .join(format!("ledger/{}.jsonl", previous.0)),
        format!(
            "{}\n{}\n",
            old(alice.login(), alice.uid(), "old._.x", 7200.0),
            old("gone.user", 1_999_999_999, "g._.1999999999", 1800.0)
        ),
    )
    .unwrap();
    let report_with = |last: &str| {
        as_root(
            &daemon,
            &[
                "admin",
                "report",
                "--month",
                &month,
                "--unused-days",
                "1",
                last,
            ],
        )
    };
    let out = report_with("--json");
    let report = json(&daemon.ok(out, "admin report").into_bytes());
    let month_total = sum(&lines, |_| true, |l| l.gpu);
    close(
        "the report's GPU seconds",
        report["totals"]["gpu_seconds"].as_f64().unwrap(),
        month_total,
        1e-6,
    );
    close(
        "the report's idle GPU seconds",
        report["totals"]["idle_gpu_seconds"].as_f64().unwrap(),
        sum(&lines, |_| true, |l| l.idle),
        1e-6,
    );
    close(
        "the report's CPU seconds",
        report["totals"]["cpu_seconds"].as_f64().unwrap(),
        sum(&lines, |_| true, |l| l.cpu),
        1e-6,
    );
    let users: BTreeMap<String, f64> = table_rows(&report["by_user"]).into_iter().collect();
    close("alice in the report", users[alice.login()], a_gpu, 1e-6);
    close("bob in the report", users[bob.login()], bob_gpu, 1e-6);
    let groups: Vec<String> = table_rows(&report["by_group"])
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().any(|g| g == "default") && groups.iter().any(|g| g == bob.login()));
    let holders = table_rows(&report["top_holders"]);
    assert_eq!(holders.len(), 3, "{report}");
    assert!(holders.windows(2).all(|w| w[0].1 >= w[1].1), "{holders:?}");
    assert_eq!(report["previous_month"], previous.0.as_str());
    assert_eq!(
        report["previous_totals"]["gpu_seconds"].as_f64(),
        Some(9000.0)
    );
    let alice_change = report["change"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"] == alice.login())
        .unwrap();
    assert_eq!(alice_change["previous_gpu_seconds"].as_f64(), Some(7200.0));
    let unused: Vec<&str> = report["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["gone.user"], "{report}");
    assert_eq!(report["webhook"]["status"], 204);

    // What the webhook got is the same report.
    let posted = hook
        .next(Duration::from_secs(5))
        .expect("the webhook got the report");
    assert_eq!(posted.request_line, "POST /hook HTTP/1.1");
    assert!(posted
        .headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-type: application/json")));
    let mut sent: serde_json::Value = serde_json::from_slice(&posted.body).unwrap();
    let mut shown = report.clone();
    shown.as_object_mut().unwrap().remove("webhook");
    sent.as_object_mut().unwrap().remove("webhook");
    assert_eq!(sent, shown);

    // The Markdown, without posting again.
    let markdown = daemon.ok(report_with("--no-webhook"), "the report as Markdown");
    assert!(
        markdown.starts_with(&format!("# GPU and CPU usage, {month}")),
        "{markdown}"
    );
    let alice_row = format!(
        "| {} | default | 1 | {:.2} |",
        alice.login(),
        a_gpu / 3600.0
    );
    assert!(
        markdown.contains(&alice_row),
        "no `{alice_row}` in\n{markdown}"
    );
    assert!(
        markdown.contains("| gone.user | 1999999999 |"),
        "{markdown}"
    );
    assert!(
        hook.next(Duration::from_secs(1)).is_none(),
        "posted with --no-webhook"
    );
}
