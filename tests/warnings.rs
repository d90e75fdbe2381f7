//! Warnings that reach people, with a policy of seconds: an idle container's owner is
//! warned at both of the admin's lead times (`warn_before`) and in the final interval, on
//! her login terminal (a tmux pane of hers), in `/workspace/.ds01-alerts` (her file), in
//! her events and at the admin's webhook on loopback; another user's terminal gets nothing.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use ds01_tests::check::running;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::loopback::Recorder;
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

/// The lead times, seconds, and the idle timeout they come before.
const LEADS: [u64; 2] = [16, 8];
const IDLE_TIMEOUT: u64 = 26;

/// The seconds of each "(in about N s)" in `text`, in order.
fn leads_in(text: &str) -> Vec<u64> {
    text.split("(in about ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

/// Two lead warnings (each within its lead and over the next one), then the final one.
fn both_leads_then_final(what: &str, seen: &[u64]) {
    assert!(seen.len() >= 3, "{what}: {seen:?}");
    assert!(
        seen[0] <= LEADS[0] && seen[0] > LEADS[1],
        "{what}: the first lead: {seen:?}"
    );
    assert!(
        seen[1] <= LEADS[1] && seen[1] > 2,
        "{what}: the second lead: {seen:?}"
    );
    assert!(seen[2] <= 2, "{what}: the final warning: {seen:?}");
}

#[test]
fn both_lead_times_reach_the_terminal_the_alerts_file_the_events_and_the_webhook() {
    let sweeper = Sweeper::new("warnings");
    let alice = TestUser::plain("warned");
    let bob = TestUser::plain("bystand");
    let hook = Recorder::start();
    let config = config_with_labels(
        &sweeper.label().1,
        &format!(
            "workspace = \"~/workspace\"\n\
             [lifecycle]\ncheck_interval = \"1s\"\nidle_cpu_percent = 5\nstop_grace = \"1s\"\n\
             warn_before = [\"{}s\", \"{}s\"]\n\
             [notify]\nwebhook = \"http://{}/alerts\"\n\
             [policy.default]\nidle_timeout = \"{IDLE_TIMEOUT}s\"\nmemory = \"256m\"\ncpus = 1\n",
            LEADS[0],
            LEADS[1],
            hook.address()
        ),
    );
    let daemon = TestDaemon::start(&config);
    let alice_term = alice.tmux_session("sh");
    let bob_term = bob.tmux_session("sh");

    daemon.ok(
        daemon.ds01(
            &alice,
            &[
                "container",
                "create",
                "idle",
                "--image",
                DEBIAN12,
                "--start",
            ],
        ),
        "create idle",
    );
    let name = format!("idle._.{}", alice.uid());
    let deadline = Instant::now() + Duration::from_secs(IDLE_TIMEOUT + 40);
    while running(&name) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(!running(&name), "not stopped\n{}", daemon.log());

    // The webhook: one post per warning, JSON with a `text`.
    let mut posted = Vec::new();
    while let Some(r) = hook.next(Duration::from_secs(3)) {
        assert!(r.request_line.starts_with("POST /alerts "), "{r:?}");
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let t = body["text"].as_str().unwrap().to_owned();
        assert!(t.contains(&name), "{t}");
        posted.push(t);
    }
    both_leads_then_final("the webhook", &leads_in(&posted.join("\n")));

    // Her terminal.
    let pane = alice_term.capture_pane();
    both_leads_then_final("alice's terminal", &leads_in(&pane));
    assert!(
        pane.contains(&format!("ds01: {name} will be stopped at")),
        "{pane}"
    );

    // Her alerts file, hers.
    let alerts = alice.home().join("workspace/.ds01-alerts");
    let meta = std::fs::symlink_metadata(&alerts).expect("the alerts file");
    assert_eq!(meta.uid(), alice.uid(), "the alerts file is not alice's");
    let written = std::fs::read_to_string(&alerts).unwrap();
    both_leads_then_final("the alerts file", &leads_in(&written));

    // Her events.
    let events = daemon.ok(daemon.ds01(&alice, &["events", "--json"]), "events");
    let warns: Vec<String> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["kind"] == "warn")
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    both_leads_then_final("the events", &leads_in(&warns.join("\n")));

    // Nothing on bob's terminal.
    let other = bob_term.capture_pane();
    assert!(!other.contains("ds01:"), "bob's terminal got: {other}");
}
