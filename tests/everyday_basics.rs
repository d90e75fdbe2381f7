//! The everyday basics through ds01d, run as throwaway unprivileged users (one with an
//! LDAP-style login and a 10-digit UID): `logs --tail` and `-f`, `restart`, `pause` and
//! `unpause`, `--all` acting on the caller's containers only, `show --json`,
//! `list --filter/--format`, and `cp` both ways with the user's rights on both sides.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Stdio;
use std::time::Duration;

use ds01_tests::check::{docker, inspect, refused, text};
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN11, DEBIAN12};

#[test]
fn logs_restart_pause_all_show_and_list_through_ds01d() {
    let sweeper = Sweeper::new("everyday-basics");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("basics");
    let bob = TestUser::plain("basics");
    let ok = |out, what: &str| daemon.ok(out, what);
    let run = |user: &TestUser, args: &[&str]| daemon.ds01(user, args);
    let mine = |name: &str| format!("{name}._.{}", alice.uid());

    for name in ["one", "two"] {
        ok(
            run(
                &alice,
                &[
                    "container",
                    "create",
                    name,
                    "--image",
                    DEBIAN12,
                    "--memory",
                    "512m",
                    "--pids-limit",
                    "300",
                    "--start",
                ],
            ),
            "create",
        );
    }
    ok(
        run(
            &bob,
            &[
                "container",
                "create",
                "bobs",
                "--image",
                DEBIAN12,
                "--start",
            ],
        ),
        "bob's create",
    );
    let bobs = format!("bobs._.{}", bob.uid());

    // logs --tail: two lines written to the container's output, the last one shown.
    ok(
        run(
            &alice,
            &[
                "container",
                "exec",
                "one",
                "--",
                "sh",
                "-c",
                "echo first-line > /proc/1/fd/1; echo second-line > /proc/1/fd/1",
            ],
        ),
        "writing to the container's output",
    );
    let tail = ok(
        run(&alice, &["container", "logs", "one", "--tail", "1"]),
        "logs --tail",
    );
    assert!(
        tail.contains("second-line") && !tail.contains("first-line"),
        "--tail 1 printed: {tail:?}"
    );
    let all = ok(run(&alice, &["container", "logs", "one"]), "logs");
    assert!(
        all.contains("first-line") && all.contains("second-line"),
        "{all:?}"
    );
    refused(
        run(&bob, &["container", "logs", "one"]),
        1,
        "bob reading alice's logs",
        "no container one",
    );

    // logs -f: a line written after following began arrives; stopping the container ends it.
    let mut follower = alice
        .command(user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args(["container", "logs", "-f", "one"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ds01 logs -f runs");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |needle: &str| loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("`logs -f` never printed {needle}"));
        if line.contains(needle) {
            break;
        }
    };
    wait_for("second-line");
    ok(
        run(
            &alice,
            &[
                "container",
                "exec",
                "one",
                "--",
                "sh",
                "-c",
                "echo followed-line > /proc/1/fd/1",
            ],
        ),
        "writing while following",
    );
    wait_for("followed-line");

    // restart: a new start, running again.
    let started = inspect(&mine("one"), "{{.State.StartedAt}}");
    ok(
        run(&alice, &["container", "restart", "one", "-t", "1"]),
        "restart",
    );
    assert_eq!(inspect(&mine("one"), "{{.State.Status}}"), "running");
    assert_ne!(inspect(&mine("one"), "{{.State.StartedAt}}"), started);
    // The container stopped for the restart, so `logs -f` ended, successfully.
    let followed = follower.wait().expect("logs -f ends");
    assert!(followed.success(), "logs -f ended with {followed}");

    // pause / unpause, as the engine sees it and as the list filters it.
    ok(run(&alice, &["container", "pause", "one"]), "pause");
    assert_eq!(inspect(&mine("one"), "{{.State.Status}}"), "paused");
    refused(
        run(&alice, &["container", "pause", "one"]),
        1,
        "pausing twice",
        "paused already",
    );
    let paused = ok(
        run(
            &alice,
            &[
                "container",
                "list",
                "--filter",
                "state=paused",
                "--format",
                "{{.Name}} {{.State}}",
            ],
        ),
        "list --filter state=paused",
    );
    assert_eq!(paused.trim(), "one paused");
    ok(run(&alice, &["container", "unpause", "one"]), "unpause");
    assert_eq!(inspect(&mine("one"), "{{.State.Status}}"), "running");
    refused(
        run(&alice, &["container", "unpause", "one"]),
        1,
        "unpausing a running container",
        "not paused",
    );

    // --all acts on alice's containers only.
    let bob_started = inspect(&bobs, "{{.State.StartedAt}}");
    ok(
        run(&alice, &["container", "stop", "--all", "-t", "1"]),
        "stop --all",
    );
    for name in ["one", "two"] {
        assert_eq!(
            inspect(&mine(name), "{{.State.Status}}"),
            "exited",
            "{name}"
        );
    }
    assert_eq!(inspect(&bobs, "{{.State.Status}}"), "running");
    let out = ok(
        run(&alice, &["container", "start", "--all", "--json"]),
        "start --all",
    );
    let started: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(started.len(), 2, "{out}");
    assert!(started.iter().all(|o| o["action"] == "started"), "{out}");
    let before_two = inspect(&mine("two"), "{{.State.StartedAt}}");
    ok(
        run(&alice, &["container", "restart", "--all", "-t", "1"]),
        "restart --all",
    );
    for name in ["one", "two"] {
        assert_eq!(
            inspect(&mine(name), "{{.State.Status}}"),
            "running",
            "{name}"
        );
    }
    assert_ne!(inspect(&mine("two"), "{{.State.StartedAt}}"), before_two);
    assert_eq!(inspect(&bobs, "{{.State.StartedAt}}"), bob_started);
    assert_eq!(inspect(&bobs, "{{.State.Status}}"), "running");
    refused(
        run(&alice, &["container", "stop"]),
        2,
        "stop without a name or --all",
        "--all",
    );

    // show --json: one inspect's worth.
    let shown: serde_json::Value = serde_json::from_str(&ok(
        run(&alice, &["container", "show", "one", "--json"]),
        "show --json",
    ))
    .unwrap();
    assert_eq!(shown["name"], "one");
    assert_eq!(shown["docker_name"], mine("one"));
    assert_eq!(shown["state"], "running");
    assert_eq!(shown["user_setup"], "committed");
    assert_eq!(
        shown["image"],
        format!("ds01-fixture/debian12:{}", mine("one"))
    );
    assert_eq!(shown["limits"]["memory_bytes"], 512 * 1024 * 1024);
    assert_eq!(shown["limits"]["pids"], 300);
    assert!(shown["limits"]["shm_bytes"].as_u64().is_some(), "{shown}");
    assert_eq!(shown["gpus"], serde_json::json!([]));
    assert!(shown["mounts"].is_array());
    assert_eq!(shown["labels"]["aime.mlc.USER"], alice.login());
    assert!(shown["started_at"].is_string());
    let human = ok(run(&alice, &["container", "show", "two"]), "show");
    assert!(
        human.contains("user setup:  committed") && human.contains("memory:"),
        "{human}"
    );
    refused(
        run(&bob, &["container", "show", "one"]),
        1,
        "bob showing alice's container",
        "no container one",
    );

    // list --filter / --format.
    let names = ok(
        run(
            &alice,
            &[
                "container",
                "list",
                "--filter",
                "name=t*",
                "--format",
                "{{.Name}}",
            ],
        ),
        "list --filter name=",
    );
    assert_eq!(names.trim(), "two");
    let by_image = ok(
        run(
            &alice,
            &[
                "container",
                "list",
                "--filter",
                "image=ds01-fixture/debian12:*",
                "--filter",
                "gpu=none",
                "--format",
                "{{.Name}}:{{.GPUs}}:{{.UID}}",
            ],
        ),
        "list --filter image= gpu=",
    );
    assert_eq!(
        by_image.lines().collect::<Vec<_>>(),
        [
            format!("one:none:{}", alice.uid()),
            format!("two:none:{}", alice.uid())
        ]
    );
    assert_eq!(
        ok(
            run(&alice, &["container", "list", "--filter", "gpu=any"]),
            "gpu=any"
        )
        .trim(),
        ""
    );
    let json = ok(
        run(&alice, &["container", "list", "--format", "json"]),
        "--format json",
    );
    assert_eq!(json.lines().count(), 2, "{json}");
    let table = ok(
        run(&alice, &["container", "list", "--format", "table"]),
        "table",
    );
    assert!(
        table.starts_with("NAME") && table.contains("two"),
        "{table}"
    );
    refused(
        run(&alice, &["container", "list", "--format", "{{.Colour}}"]),
        2,
        "an unknown template field",
        "unknown field `.Colour`",
    );
    refused(
        run(&alice, &["container", "list", "--filter", "colour=red"]),
        2,
        "an unknown filter key",
        "unknown filter key `colour`",
    );
    drop(daemon);
}

#[test]
fn cp_both_ways_as_the_user_and_refused_where_the_account_may_not_write() {
    let sweeper = Sweeper::new("everyday-cp");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("cp");
    let bob = TestUser::plain("cp");
    let ok = |out, what: &str| daemon.ok(out, what);
    let run = |user: &TestUser, args: &[&str]| daemon.ds01(user, args);
    let box_name = format!("files._.{}", alice.uid());
    let inside = |script: &str| docker(&["exec", &box_name, "sh", "-c", script]);
    ok(
        run(
            &alice,
            &[
                "container",
                "create",
                "files",
                "--image",
                DEBIAN12,
                "--start",
            ],
        ),
        "create",
    );

    // The user's own files: a 0640 file, a tree with a 0755 script, a 24 MiB file.
    let home = alice.home().to_path_buf();
    let made = alice.run_as(
        "sh",
        [
            "-c",
            "cd \"$HOME\" && printf 'secret data\\n' > data.txt && chmod 640 data.txt \
             && mkdir -p tree/sub && printf '#!/bin/sh\\necho hi\\n' > tree/sub/x.sh \
             && chmod 755 tree/sub/x.sh && head -c 25165824 /dev/urandom > big.bin \
             && mkdir outdir",
        ],
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let h = |p: &str| home.join(p).display().to_string();

    // In: into an existing directory, and under a new name.
    ok(
        run(&alice, &["container", "cp", &h("data.txt"), "files:/tmp/"]),
        "cp file in",
    );
    assert_eq!(
        inside("stat -c '%u %a' /tmp/data.txt"),
        format!("{} 640", alice.uid())
    );
    assert_eq!(inside("cat /tmp/data.txt"), "secret data");
    ok(
        run(
            &alice,
            &["container", "cp", &h("tree"), "files:/tmp/newtree"],
        ),
        "cp dir in",
    );
    assert_eq!(
        inside("stat -c '%u %a' /tmp/newtree /tmp/newtree/sub/x.sh"),
        format!("{0} 755\n{0} 755", alice.uid())
    );
    ok(
        run(
            &alice,
            &["container", "cp", &h("big.bin"), "files:/tmp/big.bin"],
        ),
        "cp big in",
    );

    // Out: into an existing directory, and under a new name; the copies are the user's.
    ok(
        run(
            &alice,
            &["container", "cp", "files:/tmp/newtree", &h("back")],
        ),
        "cp dir out",
    );
    let script = home.join("back/sub/x.sh");
    let meta = std::fs::metadata(&script).expect("the tree came back");
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o7777),
        (alice.uid(), 0o755)
    );
    ok(
        run(
            &alice,
            &["container", "cp", "files:/tmp/data.txt", &h("outdir")],
        ),
        "cp file out",
    );
    let meta = std::fs::metadata(home.join("outdir/data.txt")).unwrap();
    assert_eq!(
        (meta.uid(), meta.permissions().mode() & 0o7777),
        (alice.uid(), 0o640)
    );
    ok(
        run(
            &alice,
            &["container", "cp", "files:/tmp/big.bin", &h("big.back")],
        ),
        "cp big out",
    );
    assert!(
        std::fs::read(home.join("big.bin")).unwrap()
            == std::fs::read(home.join("big.back")).unwrap(),
        "the 24 MiB file changed on its way in and out"
    );

    // Refused: where the account may not write or read inside, or here, or not its container.
    let passwd = inside("cat /etc/passwd");
    refused(
        run(
            &alice,
            &["container", "cp", &h("data.txt"), "files:/etc/passwd"],
        ),
        1,
        "writing /etc/passwd",
        "may not write /etc/passwd",
    );
    assert_eq!(inside("cat /etc/passwd"), passwd);
    refused(
        run(&alice, &["container", "cp", &h("data.txt"), "files:/etc/"]),
        1,
        "writing into /etc",
        "may not write /etc",
    );
    refused(
        run(
            &alice,
            &["container", "cp", "files:/etc/shadow", &h("shadow")],
        ),
        1,
        "reading /etc/shadow",
        "may not read /etc/shadow",
    );
    assert!(!home.join("shadow").exists());
    refused(
        run(&alice, &["container", "cp", "files:/nope", &h("nope")]),
        1,
        "copying a missing path",
        "no /nope in files",
    );
    refused(
        run(
            &alice,
            &["container", "cp", &h("data.txt"), "files:/nope/deeper"],
        ),
        1,
        "copying into a missing directory",
        "no directory /nope in files",
    );
    refused(
        run(&alice, &["container", "cp", "files:/tmp/data.txt", "/etc/"]),
        1,
        "writing the host's /etc",
        "cannot write /etc/data.txt",
    );
    assert!(!std::path::Path::new("/etc/data.txt").exists());
    refused(
        run(&alice, &["container", "cp", "files:relative", &h("x")]),
        1,
        "a relative container path",
        "must be absolute",
    );
    refused(
        run(&bob, &["container", "cp", "/etc/hostname", "files:/tmp/"]),
        1,
        "bob copying into alice's container",
        "no container files",
    );
    refused(
        run(&bob, &["container", "cp", "files:/tmp/data.txt", "/tmp/"]),
        1,
        "bob copying out of alice's container",
        "no container files",
    );
    drop(daemon);
}

#[test]
fn verbose_twice_shows_where_a_create_spends_its_time() {
    let sweeper = Sweeper::new("everyday-timings");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let user = TestUser::ldap("timings");
    let create = |verbose: &str, name: &str| {
        let args = [verbose, "container", "create", name, "--image", DEBIAN11];
        let out = daemon.ds01(&user, &[&args[..], &["--no-workspace"]].concat());
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let shown = create("-vv", "timed");
    for step in [
        "create: inspecting the image took",
        "create: running the setup container took",
        "commit: writing the layer took",
        "commit: loading the layer onto the base took",
        "create: removing the setup container and creating the container took",
    ] {
        assert!(shown.contains(step), "no `{step}` in:\n{shown}");
    }
    let shown = create("-v", "untimed");
    assert!(!shown.contains(" took "), "timings at -v:\n{shown}");
}
