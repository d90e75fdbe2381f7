//! Load: 20 users, low and high (LDAP) UIDs, each creating, starting, listing, stopping and
//! removing a container through `ds01 --as`, all at once against one engine. Every step must
//! succeed or fail with a clear message, each user must see only their own container, and
//! nothing may be left behind. The throughput is printed (run with `--nocapture` to see it).

use ds01_tests::check::{docker_ok as docker, json, json_lines};
use ds01_tests::cli::{test_uid, RootCli};
use ds01_tests::DEBIAN11;
use std::time::Instant;

const USERS: u32 = 20;

struct Outcome {
    user: String,
    failures: Vec<String>,
}

fn user_session(env: &RootCli, login: String, uid: u32) -> Outcome {
    let who = format!("{login}:{uid}:{uid}");
    let mut failures = Vec::new();
    let mut step = |args: &[&str]| -> Option<Vec<u8>> {
        let out = env
            .ds01()
            .args(["--as", &who])
            .args(args)
            .output()
            .expect("ds01 runs");
        if out.status.success() {
            return Some(out.stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // A failure is acceptable only as a clear, one-line-or-more message, never a panic.
        assert!(
            !stderr.contains("panicked"),
            "{who} {args:?} panicked: {stderr}"
        );
        assert!(
            stderr.starts_with("error:"),
            "{who} {args:?} failed unclearly: {stderr:?}"
        );
        failures.push(format!("{args:?}: {}", stderr.trim()));
        None
    };
    let created = step(&[
        "container",
        "create",
        "load",
        "--image",
        DEBIAN11,
        "--cpu-only",
        "--start",
        "--json",
    ]);
    if let Some(stdout) = created {
        let created = json(&stdout);
        assert_eq!(created["name"], format!("load._.{uid}"));
        let listed = step(&["container", "list", "--json"])
            .map(|o| json_lines(&o))
            .unwrap_or_default();
        let names: Vec<&str> = listed
            .iter()
            .filter_map(|c| c["docker_name"].as_str())
            .collect();
        assert_eq!(
            names,
            [format!("load._.{uid}")],
            "{who} must see exactly their own container"
        );
        step(&["container", "stop", "load"]);
        step(&["container", "remove", "load", "--force"]);
    }
    Outcome {
        user: who,
        failures,
    }
}

#[test]
fn twenty_users_at_once() {
    let env = RootCli::new("load");
    env.system_config("memlock = \"8m\"\n");
    let users: Vec<(String, u32)> = (0..USERS)
        .map(|i| {
            if i % 2 == 0 {
                (format!("load.user{i}@example.lan"), test_uid(90) + i)
            } else {
                // High LDAP-style UIDs, like 1722830498.
                (format!("ldap.user{i}@hertie-school.lan"), 1_722_830_000 + i)
            }
        })
        .collect();
    let start = Instant::now();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .iter()
            .map(|(login, uid)| {
                let env = &env;
                scope.spawn(move || user_session(env, login.clone(), *uid))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let elapsed = start.elapsed();
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.failures.is_empty()).collect();
    for o in &failed {
        eprintln!("{}: {:?}", o.user, o.failures);
    }
    let operations = USERS as f64 * 5.0;
    println!(
        "load: {USERS} users x 5 operations in {:.1} s = {:.2} operations/s, {} users with failures",
        elapsed.as_secs_f64(),
        operations / elapsed.as_secs_f64(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "every user's session should succeed on an idle engine"
    );
    let leftovers = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=ds01.test={}", env.label()),
    ]);
    assert_eq!(leftovers, "", "containers left behind");
    let images = docker(&[
        "images",
        "-q",
        "--filter",
        &format!("label=ds01.test={}", env.label()),
    ]);
    assert_eq!(images, "", "images left behind");
}
