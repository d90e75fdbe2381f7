//! The admin's policy and fair GPU allocation, enforced by ds01d, tried by unprivileged
//! users against a file inventory (this machine has no GPU): 3 GPUs, one split into MIG
//! slices. Containers bind their devices through `NVIDIA_VISIBLE_DEVICES` and DS01's labels,
//! which are the only record: a restarted ds01d knows every allocation.

use std::process::Output;
use std::time::Duration;

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-00000000-test"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 1
uuid = "GPU-11111111-test"
name = "NVIDIA H100 80GB HBM3"
[[gpu]]
index = 2
uuid = "GPU-22222222-test"
name = "NVIDIA A100-SXM4-80GB"
[[gpu.mig]]
uuid = "MIG-2a-test"
profile = "3g.40gb"
[[gpu.mig]]
uuid = "MIG-2b-test"
profile = "3g.40gb"
"#;

fn ds01(user: &TestUser, daemon: &TestDaemon, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

fn json(out: Output, what: &str, daemon: &TestDaemon) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what}: {}\n{}\n--- ds01d ---\n{}",
        text(&out.stdout),
        text(&out.stderr),
        daemon.log()
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn refused(out: Output, what: &str, needles: &[&str]) {
    ds01_tests::check::refused_saying(&out, Some(1), what, needles)
}

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap();
    text(&out.stdout).trim().to_owned()
}

fn gpus(created: &serde_json::Value) -> Vec<String> {
    created["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn create(user: &TestUser, daemon: &TestDaemon, name: &str, extra: &[&str]) -> Output {
    let mut args = vec!["container", "create", name, "--image", DEBIAN12, "--json"];
    args.extend_from_slice(extra);
    ds01(user, daemon, &args)
}

#[test]
fn gpus_are_exclusive_capped_released_and_survive_a_restart() {
    let sweeper = Sweeper::new("policy-gpus");
    let alice = TestUser::plain("gpua");
    let bob = TestUser::ldap("gpub");
    let carol = TestUser::plain("gpuc");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let policy = format!(
        "[gpus]\ninventory = \"{}\"\n[policy.default]\nmax_gpus = 1\nmax_containers = 2\nmemory = \"2g\"\ncpus = 1\nshm_size = \"256m\"\npids_limit = 500\n[policy.users.\"{}\"]\nmax_gpus = 2\n",
        inventory.display(),
        bob.login()
    );
    let mut daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, &policy));

    // Two users at once get two different devices: the least allocated, full GPUs first.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| create(&alice, &daemon, "a1", &["--gpus", "1", "--start"]));
        let b = s.spawn(|| create(&bob, &daemon, "b1", &["--gpus", "1", "--start"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    let (a, b) = (json(a, "alice a1", &daemon), json(b, "bob b1", &daemon));
    let (ga, gb) = (gpus(&a), gpus(&b));
    assert_eq!(ga.len(), 1);
    assert_eq!(gb.len(), 1);
    assert_ne!(ga, gb, "two containers got the same GPU");
    let full = ["GPU-00000000-test", "GPU-11111111-test"];
    assert!(full.contains(&ga[0].as_str()) && full.contains(&gb[0].as_str()));
    let env = docker(&[
        "inspect",
        "-f",
        "{{json .Config.Env}}",
        &format!("a1._.{}", alice.uid()),
    ]);
    assert!(
        env.contains(&format!("NVIDIA_VISIBLE_DEVICES={}", ga[0])),
        "{env}"
    );

    // Caps: alice may hold 1 GPU (the default), bob 2 (his own entry).
    refused(
        create(&alice, &daemon, "a2", &["--gpus", "mig:3g.40gb"]),
        "alice over her cap",
        &["your limit is 1", "[policy.default]"],
    );
    let b2 = json(
        create(&bob, &daemon, "b2", &["--gpus", "mig:3g.40gb", "--start"]),
        "bob's MIG slice",
        &daemon,
    );
    assert_eq!(gpus(&b2).len(), 1);
    assert!(gpus(&b2)[0].starts_with("MIG-2"));

    // Nothing free for carol: refused, or served in line once alice stops.
    refused(
        create(&carol, &daemon, "c1", &["--gpus", "1"]),
        "carol with no free GPU",
        &["only 0 free"],
    );
    let waiting = {
        let mut cmd = carol.command(user_visible_binary("ds01"));
        for (k, v) in daemon.env_for() {
            cmd.env(k, v);
        }
        cmd.args([
            "container",
            "create",
            "c1",
            "--image",
            DEBIAN12,
            "--gpus",
            "1",
            "--wait",
            "--start",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    std::thread::sleep(Duration::from_secs(3));
    let stop = ds01(&alice, &daemon, &["container", "stop", "a1", "-t", "1"]);
    assert!(stop.status.success(), "{}", text(&stop.stderr));
    let c1 = waiting.wait_with_output().unwrap();
    let c1 = json(c1, "carol waiting in line", &daemon);
    assert_eq!(gpus(&c1), ga, "carol got the GPU alice's stop released");

    // A stopped container holds nothing: alice's old GPU is carol's now.
    refused(
        ds01(&alice, &daemon, &["container", "start", "a1"]),
        "alice restarting onto a taken GPU",
        &["used by another container"],
    );

    // A DS01-made container (labels only, no ds01d) holds what its labels say: DS01's
    // scripts record slots (`GPU.MIG`), which only the inventory turns into devices.
    let legacy = format!("legacy._.{}", carol.uid());
    docker(&[
        "run",
        "-d",
        "--name",
        &legacy,
        "--label",
        &format!("ds01.test={}", sweeper.label().1),
        "--label",
        "ds01.gpu.slots=2.0,2.1",
        DEBIAN12,
        "sleep",
        "300",
    ]);

    // Restart: every allocation is still known (from the labels alone).
    daemon.restart();
    let root_view = daemon.get("/v1/admin/gpus").unwrap();
    assert_eq!(root_view.0, 200, "{}", root_view.1);
    let table: serde_json::Value = serde_json::from_str(&root_view.1).unwrap();
    let rows = table["devices"].as_array().unwrap();
    assert_eq!(table["queue"], serde_json::json!([]), "nobody waits");
    let holder = |uuid: &str| {
        rows.iter()
            .find(|r| r["uuid"] == uuid)
            .and_then(|r| r["container"].as_str().map(str::to_owned))
    };
    assert_eq!(holder(&gb[0]), Some(format!("b1._.{}", bob.uid())));
    assert_eq!(holder(&ga[0]), Some(format!("c1._.{}", carol.uid())));
    assert!(holder("MIG-2a-test").is_some() && holder("MIG-2b-test").is_some());
    let shown = json(
        ds01(&carol, &daemon, &["container", "show", "legacy", "--json"]),
        "carol's DS01-made container",
        &daemon,
    );
    assert_eq!(
        shown["gpus"],
        serde_json::json!(["MIG-2a-test", "MIG-2b-test"]),
        "container show names the devices of DS01's slot labels: {shown}"
    );
    let limits = json(
        ds01(&bob, &daemon, &["limits", "--json"]),
        "bob's limits",
        &daemon,
    );
    assert_eq!(limits["effective"]["max_gpus"]["value"], 2.0);
    assert!(
        (limits["gpus"].as_f64().unwrap() - (1.0 + 3.0 / 7.0)).abs() < 1e-6,
        "{limits}"
    );

    // Release on remove.
    let removed = ds01(&bob, &daemon, &["container", "remove", "b1", "--force"]);
    assert!(removed.status.success(), "{}", text(&removed.stderr));
    let table: serde_json::Value =
        serde_json::from_str(&daemon.get("/v1/admin/gpus").unwrap().1).unwrap();
    assert!(table["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["uuid"] == gb[0].as_str() && r["container"].is_null()));

    // Limits: defaults applied, ceilings refused with their source, container count capped.
    let a1 = format!("a1._.{}", alice.uid());
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.ShmSize}} {{.HostConfig.PidsLimit}}", &a1]),
        format!("{} 1000000000 {} 500", 2u64 << 30, 256u64 << 20)
    );
    refused(
        create(&alice, &daemon, "a3", &["--memory", "4g"]),
        "more memory than the ceiling",
        &["memory: you asked for 4g, but the most you may have is 2g (from [policy.default])"],
    );
    json(
        create(&alice, &daemon, "a4", &["--memory", "1g", "--cpu-only"]),
        "a second container",
        &daemon,
    );
    let a4 = format!("a4._.{}", alice.uid());
    assert_eq!(
        docker(&["inspect", "-f", "{{.HostConfig.Memory}}", &a4]),
        (1u64 << 30).to_string()
    );
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &a4]);
    assert!(
        env.contains("NVIDIA_VISIBLE_DEVICES=void"),
        "no GPU asked, none visible: {env}"
    );
    refused(
        create(&alice, &daemon, "a5", &["--cpu-only"]),
        "a third container",
        &["max_containers", "[policy.default]"],
    );
    docker(&["rm", "-f", &legacy]);
}

/// DS01's resource-limits.yaml becomes ds01d's policy, and ds01d enforces the same caps.
#[test]
fn imported_ds01_limits_enforce_the_same_caps() {
    let sweeper = Sweeper::new("policy-import");
    let yaml = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/ds01-policy/tests/fixtures/resource-limits.yaml"
    );
    let out = std::process::Command::new(ds01_tests::users::workspace_binary("ds01"))
        .args(["admin", "import-limits", yaml])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let policy = text(&out.stdout);
    assert!(policy.contains("[policy.default]"), "{policy}");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, &policy));
    let student = TestUser::plain("import");
    let limits = json(
        ds01(&student, &daemon, &["limits", "--json"]),
        "limits",
        &daemon,
    );
    // DS01 gave users in no group its default group, `student`.
    assert_eq!(limits["effective"]["max_gpus"]["value"], 2.0, "{limits}");
    assert_eq!(
        limits["effective"]["max_containers"]["value"], 3,
        "{limits}"
    );
    assert_eq!(limits["effective"]["memory"]["value"], "32g", "{limits}");
    refused(
        create(&student, &daemon, "big", &["--memory", "64g"]),
        "64g for a student",
        &["the most you may have is 32g"],
    );
    let text_out = ds01(&student, &daemon, &["limits"]);
    assert!(
        text(&text_out.stdout).contains("max_gpus"),
        "{}",
        text(&text_out.stdout)
    );
}
