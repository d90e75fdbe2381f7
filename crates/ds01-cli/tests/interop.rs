//! Containers made by DS01's `mlc-patched.py` (same names and labels, no ds01 involved) are
//! listed, started, used, opened and removed by `ds01 container ...`.

use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use ds01_tests::check::{docker_ok as docker, json, json_lines};
use ds01_tests::cli::{test_uid, RootCli};
use ds01_tests::DEBIAN12;
use predicates::str::contains;

/// Creates what `mlc create` makes: `<name>._.<uid>` with the `aime.mlc.*` labels.
fn mlc_create(env: &RootCli, name: &str, login: &str, uid: u32, image: &str) {
    docker(&[
        "create",
        "-it",
        "--name",
        &format!("{name}._.{uid}"),
        "--label",
        &format!("aime.mlc={login}"),
        "--label",
        &format!("aime.mlc.USER={login}"),
        "--label",
        &format!("aime.mlc.NAME={name}"),
        "--label",
        "aime.mlc.MLC_VERSION=4",
        "--label",
        "aime.mlc.DS01_MANAGED=true",
        "--label",
        &format!("ds01.test={}", env.label()),
        // MLC's network mode; it needs no bridge on the test host either.
        "--network",
        "host",
        "--user",
        &format!("{uid}:{uid}"),
        image,
        "bash",
    ]);
}

/// A tmux server of its own, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        StdCommand::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let out = self.cmd(&["capture-pane", "-p", "-t", "ds01"]);
            let screen = String::from_utf8_lossy(&out.stdout).into_owned();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {needle:?} on the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn mlc_made_containers_are_handled_like_our_own() {
    let env = RootCli::new("interop");
    let uid = test_uid(4);
    let login = "cli.mlc@example.lan";
    let who = format!("{login}:{uid}:{uid}");
    env.ds01()
        .args([
            "--as", &who, "image", "create", "climlc", "--base", DEBIAN12, "-q",
        ])
        .assert()
        .success();
    mlc_create(
        &env,
        "climlc",
        login,
        uid,
        &format!("ds01-{uid}/climlc:latest"),
    );

    let listed = env
        .ds01()
        .args(["--as", &who, "container", "list", "--json"])
        .assert()
        .success();
    let listed = json_lines(&listed.get_output().stdout);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "climlc");
    assert_eq!(listed[0]["state"], "created");

    env.ds01()
        .args(["--as", &who, "container", "start", "climlc"])
        .assert()
        .success();

    let out = env
        .ds01()
        .args([
            "--as",
            &who,
            "container",
            "exec",
            "climlc",
            "--json",
            "--",
            "id",
            "-un",
        ])
        .assert()
        .success();
    let output = json(&out.get_output().stdout);
    assert_eq!(output["status"], 0);
    assert_eq!(output["stdout"], "cli-mlc\n");
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "exec",
            "climlc",
            "--",
            "sh",
            "-c",
            "echo out; exit 3",
        ])
        .assert()
        .code(3)
        .stdout("out\n");

    let stats = env
        .ds01()
        .args(["--as", &who, "container", "stats", "--json"])
        .assert()
        .success();
    let stats = json_lines(&stats.get_output().stdout);
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["name"], "climlc");
    assert!(stats[0]["pids"].as_u64().unwrap() >= 1);

    // `open` in a real terminal: a login shell as the user, on a TTY of the terminal's size.
    let tmux = Tmux {
        socket: format!("ds01-{}", env.label()),
    };
    let command = format!(
        "env DS01_STATE_DIR={state} NO_COLOR=1 {bin} --as {who} container open climlc; echo OPEN-ENDED=$?; sleep 60",
        state = env.path().join("state").display(),
        bin = env!("CARGO_BIN_EXE_ds01"),
    );
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "ds01",
        "-x",
        "132",
        "-y",
        "40",
        &command,
    ]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    tmux.cmd(&[
        "send-keys",
        "-t",
        "ds01",
        "echo WHO=$(id -un) TTY=$(stty size)",
        "Enter",
    ]);
    let screen = tmux.wait_for("WHO=cli-mlc TTY=");
    assert!(screen.contains("WHO=cli-mlc TTY=40 132"), "{screen}");
    tmux.cmd(&["send-keys", "-t", "ds01", "exit 0", "Enter"]);
    tmux.wait_for("OPEN-ENDED=0");

    // The fixture has no pip: the install fails and says which command failed.
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "install",
            "climlc",
            "requests>=2",
        ])
        .assert()
        .code(1)
        .stderr(contains("pip install --no-cache-dir -- requests>=2"));

    env.ds01()
        .args(["--as", &who, "container", "stop", "climlc"])
        .assert()
        .success();
    env.ds01()
        .args(["--as", &who, "container", "remove", "climlc", "--json"])
        .assert()
        .success()
        .stdout(contains("\"removed\""));
    let left = docker(&["ps", "-aq", "--filter", &format!("name=climlc._.{uid}")]);
    assert!(left.is_empty());
}

#[test]
fn other_users_containers_are_refused() {
    let env = RootCli::new("notyours");
    let uid = test_uid(5);
    // Ownership is the UID in the name: another UID's container cannot even be named,
    // whatever its labels say.
    mlc_create(&env, "cliother", "cli.me@example.lan", uid + 1, DEBIAN12);
    env.ds01()
        .args([
            "--as",
            &format!("cli.me@example.lan:{uid}:{uid}"),
            "container",
            "remove",
            "cliother",
        ])
        .assert()
        .code(1)
        .stderr(contains("no container cliother"));
    let all = env
        .ds01()
        .args([
            "--as",
            &format!("cli.me@example.lan:{uid}:{uid}"),
            "container",
            "list",
            "--all-users",
            "--json",
        ])
        .assert()
        .success();
    let all = json_lines(&all.get_output().stdout);
    assert!(all
        .iter()
        .any(|c| c["docker_name"] == format!("cliother._.{}", uid + 1)));
}

/// On a terminal, `image create` without a base asks for one (and for packages).
#[test]
fn image_create_asks_on_a_terminal() {
    let env = RootCli::new("prompt");
    let uid = test_uid(8);
    let tmux = Tmux {
        socket: format!("ds01-{}", env.label()),
    };
    let command = format!(
        "env DS01_STATE_DIR={state} DS01_SYSTEM_CONFIG=/nonexistent NO_COLOR=1 {bin} --as cli.ask@example.lan:{uid}:{uid} image create cliask --no-build; echo ASK-ENDED=$?; sleep 60",
        state = env.path().join("state").display(),
        bin = env!("CARGO_BIN_EXE_ds01"),
    );
    let started = tmux.cmd(&[
        "new-session",
        "-d",
        "-s",
        "ds01",
        "-x",
        "132",
        "-y",
        "40",
        &command,
    ]);
    assert!(started.status.success());
    tmux.wait_for("Base image to build on");
    tmux.cmd(&["send-keys", "-t", "ds01", "not a reference", "Enter"]);
    tmux.cmd(&["send-keys", "-t", "ds01", DEBIAN12, "Enter"]);
    tmux.wait_for("pip packages to install");
    tmux.cmd(&["send-keys", "-t", "ds01", "requests>=2 tqdm", "Enter"]);
    tmux.wait_for("ASK-ENDED=0");
    let spec = std::fs::read_to_string(
        env.path()
            .join(format!("state/users/{uid}/images/cliask.toml")),
    )
    .expect("spec written");
    assert!(spec.contains(DEBIAN12), "{spec}");
    assert!(
        spec.contains("requests>=2") && spec.contains("tqdm"),
        "{spec}"
    );
}
