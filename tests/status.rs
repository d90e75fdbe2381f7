//! What users and admins see of the server, through ds01d with a file inventory of two
//! GPUs (this machine has none): `ds01 status` names a GPU's holder only to the holder
//! unless the admin shows holders, lists the user's own containers with the reaper's coming
//! stop, and `ds01 admin top` (an admin by `admin_group`, not root) shows each GPU's holder
//! and the next stops, redrawn with `--watch` on a real terminal (tmux).

use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-00000000-status"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 1
uuid = "GPU-11111111-status"
name = "NVIDIA H100 80GB HBM3"
"#;

fn json(daemon: &TestDaemon, user: &TestUser, args: &[&str]) -> serde_json::Value {
    let out = daemon.ok(daemon.ds01(user, args), &args.join(" "));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// The devices of a status answer that a container holds.
fn held_gpus(status: &serde_json::Value) -> Vec<serde_json::Value> {
    status["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["held"] == true)
        .cloned()
        .collect()
}

fn config(
    sweeper: &Sweeper,
    dir: &std::path::Path,
    admin: &TestUser,
    alice: &TestUser,
    show: bool,
) -> String {
    config_with_labels(
        &sweeper.label().1,
        &format!(
            "admin_group = \"{}\"\n[gpus]\ninventory = \"{}\"\nshow_holders = {show}\n\
             [lifecycle]\ncheck_interval = \"1s\"\n\
             [policy.default]\nmax_gpus = 1\nmemory = \"256m\"\n\
             [policy.users.\"{}\"]\nidle_timeout = \"1h\"\n",
            admin.login(),
            dir.join("gpus.toml").display(),
            alice.login()
        ),
    )
}

#[test]
fn status_shows_each_user_their_own_and_admin_top_shows_holders_and_next_stops() {
    let sweeper = Sweeper::new("status");
    let alice = TestUser::plain("stat");
    let bob = TestUser::ldap("stat");
    let dave = TestUser::plain("stat");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gpus.toml"), INVENTORY).unwrap();
    let mut daemon = TestDaemon::start(&config(&sweeper, dir.path(), &dave, &alice, false));

    json(
        &daemon,
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
            "--json",
        ],
    );
    let holder = format!("g._.{}", alice.uid());

    // alice: her GPU, named hers, and the reaper's coming idle stop within her hour.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mine = loop {
        let s = json(&daemon, &alice, &["status", "--json"]);
        if s["containers"][0]["stop_rule"] == "idle" {
            break s;
        }
        assert!(Instant::now() < deadline, "no coming stop after 30 s: {s}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let c = &mine["containers"][0];
    assert_eq!(c["name"], "g", "{mine}");
    assert_eq!(c["state"], "running", "{mine}");
    let left = c["stops_in_secs"].as_u64().unwrap();
    assert!((3000..=3600).contains(&left), "{mine}");
    let gpus = mine["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 2, "{mine}");
    let held = held_gpus(&mine);
    assert_eq!(held.len(), 1, "{mine}");
    assert_eq!(held[0]["mine"], true);
    assert_eq!(held[0]["user"], alice.login());

    // bob: one GPU taken, by whom not said; none of alice's names anywhere.
    let out = daemon.ok(daemon.ds01(&bob, &["status", "--json"]), "bob's status");
    assert!(
        !out.contains(alice.login()) && !out.contains(&holder),
        "{out}"
    );
    let theirs: serde_json::Value = serde_json::from_str(&out).unwrap();
    let held = held_gpus(&theirs);
    assert_eq!(held.len(), 1, "{theirs}");
    assert_eq!(held[0]["mine"], false);
    assert!(held[0]["user"].is_null(), "{theirs}");
    assert_eq!(theirs["containers"], serde_json::json!([]));
    let words = daemon.ok(daemon.ds01(&bob, &["status"]), "bob's status as text");
    assert!(words.contains("GPUs: 1 of 2 free"), "{words}");
    assert!(words.contains(": held"), "{words}");

    // bob is no admin: refused, learning nothing.
    let refused = daemon.ds01(&bob, &["admin", "top"]);
    assert!(!refused.status.success(), "bob ran admin top");
    let said = format!("{}{}", text(&refused.stdout), text(&refused.stderr));
    assert!(said.contains("only admins"), "{said}");
    assert!(
        !said.contains(alice.login()) && !said.contains(&holder),
        "{said}"
    );

    // dave (admin_group): the holder, how long, idle or not, and the next stop.
    let top = json(&daemon, &dave, &["admin", "top", "--json"]);
    let row = top["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["container"] == holder.as_str())
        .unwrap_or_else(|| panic!("{top}"))
        .clone();
    assert_eq!(row["user"], alice.login(), "{top}");
    assert!(row["held_secs"].as_u64().is_some(), "{top}");
    assert!(!row["idle"].is_null(), "{top}");
    let stop = &top["next_stops"][0];
    assert_eq!(stop["container"], holder.as_str(), "{top}");
    assert_eq!(stop["rule"], "idle", "{top}");

    // On a terminal, --watch redraws until Ctrl-C.
    let tmux = dave.tmux_session(&format!(
        "DS01_SOCKET={} NO_COLOR=1 {} admin top --watch --interval 1",
        daemon.socket().display(),
        user_visible_binary("ds01").display()
    ));
    tmux.wait_for("Next stops:", Duration::from_secs(20));
    let first = tmux.capture_pane();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tmux.capture_pane() == first {
        assert!(
            Instant::now() < deadline,
            "admin top --watch never redrew:\n{first}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        tmux.exit_status().is_none(),
        "admin top --watch ended by itself"
    );
    tmux.send_keys(&["C-c"]);
    tmux.wait_exit(Duration::from_secs(10));

    // Where the admin shows holders, bob learns who holds the GPU (and nothing more).
    daemon.set_config(&config(&sweeper, dir.path(), &dave, &alice, true));
    daemon.restart();
    let theirs = json(&daemon, &bob, &["status", "--json"]);
    let held = held_gpus(&theirs);
    assert_eq!(held[0]["user"], alice.login(), "{theirs}");
    assert_eq!(theirs["containers"], serde_json::json!([]));
}
