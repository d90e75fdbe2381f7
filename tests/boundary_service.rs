//! The service stays up for everyone: one user's flood of idle connections and half-sent
//! request heads on ds01d's socket is held to that user's cap, timed out, and answered 429
//! beyond it, while another user is still served and the reaper still stops idle
//! containers; streams beyond the per-user cap are refused with 429, and streams and exec
//! sessions that are legitimately open outlive both timeouts.
//!
//! The connections are made by a small Python program run as the test user, so the daemon
//! sees that user's peer credentials; it talks only to the daemon's Unix socket and every
//! loop in it is bounded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};
use serde_json::{json, Value};

const HELPER: &str = include_str!("boundary_service/flood.py");

/// Small settings, so that the caps and timeouts bind within a test.
const HEADER_SECS: u64 = 2;
const IDLE_SECS: u64 = 4;
const PER_USER: u64 = 8;
const STREAMS: u64 = 2;

fn server_table() -> String {
    format!(
        "[server]\nheader_timeout = \"{HEADER_SECS}s\"\nidle_timeout = \"{IDLE_SECS}s\"\n\
         connections_per_user = {PER_USER}\nstreams_per_user = {STREAMS}\nmax_connections = 256\n"
    )
}

/// The helper as `user`, with its JSON arguments.
fn helper(user: &TestUser, args: &Value) -> std::process::Command {
    let mut cmd = user.command("python3");
    cmd.arg("-c").arg(HELPER).arg(args.to_string());
    cmd
}

/// Runs the helper as `user` to its end and returns its last JSON line.
fn run_helper(user: &TestUser, args: &Value) -> Value {
    let out = helper(user, args)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the helper failed: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!("the helper printed no JSON ({e}): {stdout}");
    })
}

/// One `GET /v1/version` as `user`: its status and milliseconds.
fn probe(user: &TestUser, daemon: &TestDaemon) -> (u64, f64) {
    let out = run_helper(
        user,
        &json!({"mode": "probe", "socket": daemon.socket().display().to_string()}),
    );
    (
        out["status"].as_u64().unwrap_or(0),
        out["ms"].as_f64().unwrap_or(f64::NAN),
    )
}

fn running(name: &str) -> bool {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", "{{.State.Running}}", name])
        .output()
        .unwrap();
    text(&out.stdout).trim() == "true"
}

/// `ds01 ARGS` as `user`, which must succeed; its output and milliseconds.
fn timed_ok(daemon: &TestDaemon, user: &TestUser, args: &[&str]) -> (String, f64) {
    let start = Instant::now();
    let out: Output = daemon.ds01(user, args);
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    (daemon.ok(out, &format!("ds01 {}", args.join(" "))), ms)
}

/// The flooding helper: killed by its PID if the test ends before it does.
struct Flood {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Flood {
    fn start(user: &TestUser, args: &Value) -> Flood {
        let mut child = helper(user, args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Flood { child, lines }
    }

    fn next(&self, within: Duration, what: &str) -> Value {
        let line = self
            .lines
            .recv_timeout(within)
            .unwrap_or_else(|e| panic!("no {what} line from the flood helper: {e}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{what}: {e}: {line}"))
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if self.still_running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn span(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(0.0, f64::max);
    format!("{min:.1}–{max:.1} s")
}

#[test]
fn a_flood_of_idle_and_half_sent_connections_leaves_others_served_and_the_reaper_running() {
    let sweeper = Sweeper::new("boundary-service");
    let flooder = TestUser::plain("flood");
    let victim = TestUser::ldap("victim");
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "workspace = \"~/workspace\"\n{}[lifecycle]\ncheck_interval = \"1s\"\nstop_grace = \"1s\"\n\
             [policy.default]\nidle_timeout = \"6s\"\n",
            server_table()
        ),
    );
    let daemon = TestDaemon::start(&config);
    daemon.ok(
        daemon.ds01(
            &victim,
            &["container", "create", "quiet", "--image", DEBIAN12],
        ),
        "create",
    );
    let quiet = format!("quiet._.{}", victim.uid());
    let (status, quiet_ms) = probe(&victim, &daemon);
    assert_eq!(status, 200, "the victim's probe before the flood");

    // 40 connections at once, 3 of them sending a head that never ends, then 10 more every
    // quarter of a second for 45 s: far beyond the cap of 8.
    let (initial, loris, hammer, seconds) = (40u64, 3u64, 10u64, 45u64);
    let mut flood = Flood::start(
        &flooder,
        &json!({"mode": "flood", "socket": daemon.socket().display().to_string(),
                "initial": initial, "loris": loris, "hammer": hammer, "seconds": seconds}),
    );
    let ready = flood.next(Duration::from_secs(60), "ready");
    assert_eq!(ready["held"], PER_USER, "held at once: {ready}");
    assert_eq!(
        ready["refused"],
        initial - PER_USER,
        "refused at once: {ready}"
    );

    // The other user is served while the flood goes on.
    let (_, start_ms) = timed_ok(&daemon, &victim, &["container", "start", "quiet"]);
    let started = Instant::now();
    let mut probes = Vec::new();
    let mut lists = Vec::new();
    for _ in 0..3 {
        let (status, ms) = probe(&victim, &daemon);
        assert_eq!(status, 200, "the victim's probe during the flood");
        probes.push(ms);
        let (list, ms) = timed_ok(&daemon, &victim, &["container", "list"]);
        assert!(list.contains("quiet"), "{list}");
        lists.push(ms);
    }

    // The reaper keeps its rounds: the victim's idle container is stopped during the flood.
    let deadline = Instant::now() + Duration::from_secs(40);
    while running(&quiet) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        !running(&quiet),
        "the reaper did not stop the idle container during the flood\n{}",
        daemon.log()
    );
    let stopped_after = started.elapsed().as_secs_f64();
    assert!(
        flood.still_running(),
        "the flood ended before the reaper stopped the container: nothing was shown"
    );

    let summary = flood.next(Duration::from_secs(seconds + 60), "summary");
    assert_eq!(summary["unexpected"], 0, "{summary}");
    assert!(
        summary["max_held"].as_u64().unwrap_or(u64::MAX) <= PER_USER,
        "more than the cap held: {summary}"
    );
    let refused = summary["refused_429"].as_u64().unwrap_or(0);
    assert!(
        refused >= initial - PER_USER,
        "connections over the cap were not answered 429: {summary}"
    );
    // The server closed the idle ones, not before their timeout (a lower bound only, with
    // slack for when the client took its time after `connect`).
    let idle = floats(&summary["idle_closed_after"]);
    assert!(!idle.is_empty(), "no idle connection was closed: {summary}");
    assert!(
        idle.iter().all(|&s| s >= IDLE_SECS as f64 - 0.5),
        "{summary}"
    );
    let heads = floats(&summary["loris_closed_after"]);
    assert_eq!(
        heads.len() as u64,
        loris,
        "half-sent heads not closed: {summary}"
    );
    assert!(heads.iter().all(|&s| s >= HEADER_SECS as f64), "{summary}");

    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    println!(
        "service: settings {PER_USER} connections and {STREAMS} streams per user, head timeout {HEADER_SECS} s, idle timeout {IDLE_SECS} s; \
         user A made {} connection attempts over {seconds} s ({initial} at once, {loris} of them half-sent heads): at most {} held at a time, \
         {refused} answered 429; A's idle connections closed {} after opening, its half-sent heads {} after their first byte; \
         user B's GET /v1/version took {quiet_ms:.0} ms before the flood and at most {:.0} ms during it, `container list` at most {:.0} ms and `container start` {start_ms:.0} ms (whole CLI runs); \
         the reaper stopped B's idle container (idle_timeout 6 s) {stopped_after:.0} s after its start, while the flood went on",
        summary["attempts"],
        summary["max_held"],
        span(&idle),
        span(&heads),
        max(&probes),
        max(&lists),
    );
}

/// The soft and hard `Max open files` of process `pid`.
fn fd_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1])
}

#[test]
fn streams_beyond_the_cap_are_refused_and_open_ones_outlive_the_timeouts() {
    let sweeper = Sweeper::new("boundary-service-streams");
    let user = TestUser::plain("streams");
    let config = config_with_labels(
        &sweeper.label().1,
        &format!("workspace = \"~/workspace\"\n{}", server_table()),
    );
    // ds01d inherits a low soft descriptor limit and raises it to the hard one.
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, soft.min(1024).min(hard), hard).unwrap();
    let daemon = TestDaemon::start(&config);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    assert_eq!(
        fd_limits(daemon.pid()),
        (hard, hard),
        "ds01d did not raise its descriptor limit"
    );

    // Followed event streams, silent for twice the idle timeout.
    let hold = 2 * IDLE_SECS + 1;
    let out = run_helper(
        &user,
        &json!({"mode": "streams", "socket": daemon.socket().display().to_string(),
                "count": STREAMS + 1, "hold": hold}),
    );
    let mut expected = vec![json!(200); STREAMS as usize];
    expected.push(json!(429));
    assert_eq!(out["statuses"], json!(expected), "{out}");
    let refusal: Value = serde_json::from_str(out["refusal"].as_str().unwrap_or("")).unwrap();
    assert_eq!(refusal["code"], "limit", "{out}");
    assert_eq!(
        out["open_after_hold"], STREAMS,
        "a stream was cut by a timeout: {out}"
    );
    assert_eq!(
        out["after_release"], 200,
        "a closed stream's slot was not released: {out}"
    );

    // A body that never comes is refused after the head's timeout, the connection not held.
    let slow = run_helper(
        &user,
        &json!({"mode": "slowbody", "socket": daemon.socket().display().to_string()}),
    );
    assert_eq!(slow["status"], 400, "{slow}");
    assert!(
        slow["after"].as_f64().unwrap_or(0.0) >= HEADER_SECS as f64,
        "{slow}"
    );

    // An exec session quiet for longer than both timeouts is not cut either.
    daemon.ok(
        daemon.ds01(
            &user,
            &["container", "create", "s", "--image", DEBIAN12, "--start"],
        ),
        "create",
    );
    let session = {
        let mut cmd = user.command(ds01_tests::users::user_visible_binary("ds01"));
        cmd.envs(daemon.env_for())
            .args(["container", "exec", "s", "--", "sh", "-c"])
            .arg(format!("sleep {hold}; echo survived"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("ds01 starts")
    };
    // While it runs it holds one of the user's stream slots (bounded tries, while the
    // session is being set up).
    let mut seen = Value::Null;
    for _ in 0..20 {
        seen = run_helper(
            &user,
            &json!({"mode": "streams", "socket": daemon.socket().display().to_string(),
                    "count": STREAMS, "hold": 0}),
        );
        if seen["statuses"][STREAMS as usize - 1] == 429 {
            break;
        }
    }
    assert_eq!(
        seen["statuses"][STREAMS as usize - 1],
        429,
        "an exec session held no stream slot: {seen}"
    );
    let out = session.wait_with_output().expect("ds01 exec ends");
    let said = daemon.ok(out, "the quiet exec session");
    assert!(said.contains("survived"), "{said}");
    // The session's slot went with it: the user has every stream slot again.
    let again = run_helper(
        &user,
        &json!({"mode": "streams", "socket": daemon.socket().display().to_string(),
                "count": STREAMS, "hold": 0}),
    );
    assert_eq!(
        again["statuses"],
        json!(vec![200; STREAMS as usize]),
        "an ended exec session kept its stream slot: {again}"
    );
    daemon.ok(
        daemon.ds01(&user, &["container", "remove", "s", "--force"]),
        "remove",
    );
}
