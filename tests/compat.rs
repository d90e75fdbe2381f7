//! Compatibility with DS01 as it runs today, tried by an unprivileged user through ds01d:
//! containers made by DS01's current scripts (only `ds01.*` labels) are the user's to list,
//! use and remove, and an image DS01's scripts baked (account spelt `h_baker`) is baked for
//! ds01 too: no setup container, no commit.

use std::process::{Command, Output, Stdio};

use ds01_tests::daemon::{config_with_labels, TestDaemon};
use std::time::Duration;

use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

fn ds01(user: &TestUser, daemon: &TestDaemon, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

fn ok(out: Output, what: &str, daemon: &TestDaemon) -> String {
    daemon.ok(out, what)
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

#[test]
fn ds01_head_containers_and_images_are_the_users_own() {
    let sweeper = Sweeper::new("compat");
    let label = format!("ds01.test={}", sweeper.label().1);
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let user = TestUser::ldap("compat");

    // A container as DS01's current scripts make it: `ds01.*` labels only.
    let head = format!("head._.{}", user.uid());
    let run = docker(&[
        "run",
        "-d",
        "--name",
        &head,
        "--label",
        &label,
        "--label",
        &format!("ds01.user={}", user.login()),
        "--label",
        "ds01.managed=true",
        "--user",
        &format!("{}:{}", user.uid(), user.gid()),
        DEBIAN12,
        "sleep",
        "300",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let listed = ok(
        ds01(&user, &daemon, &["container", "list", "--json"]),
        "list",
        &daemon,
    );
    let row: serde_json::Value =
        serde_json::from_str(listed.lines().next().expect("listed")).unwrap();
    assert_eq!(row["name"], "head");
    assert_eq!(row["user"], user.login());
    let id = ok(
        ds01(
            &user,
            &daemon,
            &["container", "exec", "head", "--", "id", "-u"],
        ),
        "exec",
        &daemon,
    );
    assert_eq!(id.trim(), user.uid().to_string());
    // Opened through a real terminal: a shell as the user, whose exit status comes back.
    let tmux = user.tmux_session(&format!(
        "DS01_SOCKET={} NO_COLOR=1 {} container open head",
        daemon.socket().display(),
        user_visible_binary("ds01").display()
    ));
    tmux.wait_for("$ ", Duration::from_secs(60));
    tmux.send_text("echo opened-$((6*7)) as $(id -u); exit 3");
    tmux.send_keys(&["Enter"]);
    assert_eq!(tmux.wait_exit(Duration::from_secs(30)), 3);
    let screen = tmux.capture_pane();
    assert!(
        screen.contains(&format!("opened-42 as {}", user.uid())),
        "{screen}"
    );
    ok(
        ds01(&user, &daemon, &["container", "remove", "head", "--force"]),
        "remove",
        &daemon,
    );
    assert!(!docker(&["container", "inspect", &head]).status.success());

    // An image DS01 baked: the account under DS01's spelling, at the user's UID and GID.
    let theirs = ds01_username::slice_user_compat(user.login());
    let image = format!("ds01-{}/ds01-made:latest", user.uid());
    let dockerfile = format!(
        "FROM {DEBIAN12}\n\
         RUN groupadd -g {gid} {theirs} && useradd --no-log-init -u {uid} -g {gid} -m -d /home/{theirs} -s /bin/bash {theirs} \
             && : > /var/log/lastlog && : > /var/log/faillog\n\
         LABEL {label} ds01.has_user_setup=true ds01.user_id={uid} ds01.group_id={gid} ds01.username={theirs}\n",
        gid = user.gid(),
        uid = user.uid(),
    );
    let mut build = Command::new("docker")
        .args(["build", "-q", "-t", &image, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    build
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(build.wait().unwrap().success());
    let created = ok(
        ds01(
            &user,
            &daemon,
            &["container", "create", "old", "--image", &image, "--json"],
        ),
        "create from DS01's image",
        &daemon,
    );
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(created["user_setup"], "baked", "{created}");
    ok(
        ds01(&user, &daemon, &["container", "remove", "old"]),
        "remove",
        &daemon,
    );
}
