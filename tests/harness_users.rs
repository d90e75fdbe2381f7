//! The test-user harness itself, against the real host: accounts are created, used as
//! unprivileged users, and gone afterwards. Needs root, like every test of this package.

use ds01_tests::users::{user_visible_binary, TestUser};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn getent(login: &str) -> Option<String> {
    let out = Command::new("getent")
        .args(["passwd", login])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Everything a test may rely on for one user; returns what must be gone after drop.
fn check_user(user: &TestUser) -> (String, PathBuf) {
    let entry = getent(user.login()).expect("getent knows the user");
    assert!(
        entry.starts_with(&format!(
            "{}:x:{}:{}:",
            user.login(),
            user.uid(),
            user.gid()
        )),
        "{entry}"
    );

    let id_u = user.run_as("id", ["-u"]);
    assert!(id_u.status.success(), "{id_u:?}");
    assert_eq!(stdout(&id_u), user.uid().to_string());
    let id_g = user.run_as("id", ["-g"]);
    assert_eq!(stdout(&id_g), user.gid().to_string());
    let groups = user.run_as("id", ["-Gn"]);
    assert!(groups.status.success(), "{groups:?}");
    assert!(
        !stdout(&groups).split_whitespace().any(|g| g == "docker"),
        "{} is in the docker group: {}",
        user.login(),
        stdout(&groups)
    );
    // Root's supplementary groups must not leak through the privilege drop.
    let ids = user.run_as("id", ["-G"]);
    assert_eq!(stdout(&ids), user.gid().to_string());

    let env = user.run_as("sh", ["-c", "echo \"$HOME|$USER|$LOGNAME|$PATH|$(pwd)\""]);
    let home = user.home().display().to_string();
    assert_eq!(
        stdout(&env),
        format!(
            "{home}|{0}|{0}|/usr/local/bin:/usr/bin:/bin|{home}",
            user.login()
        )
    );

    let meta = std::fs::metadata(user.home()).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (user.uid(), user.gid()));
    assert_eq!(meta.mode() & 0o7777, 0o755);
    let ws = std::fs::metadata(user.home().join("workspace")).unwrap();
    assert!(ws.is_dir());
    assert_eq!((ws.uid(), ws.gid()), (user.uid(), user.gid()));
    let touch = user.run_as("touch", ["workspace/mine"]);
    assert!(touch.status.success(), "{touch:?}");

    // Unprivileged for real: no root files, no Docker socket.
    let root = user.run_as("ls", ["/root"]);
    assert!(!root.status.success(), "user could list /root: {root:?}");
    let sock = user.run_as("test", ["-w", "/var/run/docker.sock"]);
    assert!(!sock.status.success(), "user can write the docker socket");
    if PathBuf::from("/usr/local/bin/docker").exists() || PathBuf::from("/usr/bin/docker").exists()
    {
        let info = user.run_as("docker", ["info"]);
        assert!(!info.status.success(), "user reached Docker: {info:?}");
    }
    (user.login().to_owned(), user.home().to_path_buf())
}

fn assert_gone((login, home): (String, PathBuf)) {
    assert_eq!(getent(&login), None, "{login} survived drop");
    assert!(!home.exists(), "{} survived drop", home.display());
}

#[test]
fn plain_user_is_real_unprivileged_and_removed() {
    let user = TestUser::plain("plain");
    assert!(user.login().starts_with("ds01t-plain-"), "{}", user.login());
    assert!((61_000..=64_999).contains(&user.uid()));
    assert_eq!(user.uid(), user.gid());
    let gone = check_user(&user);
    drop(user);
    assert_gone(gone);
}

#[test]
fn ldap_user_is_real_unprivileged_and_removed() {
    let user = TestUser::ldap("ldap");
    assert!(
        user.login().contains('.') && user.login().ends_with("@ds01-test.lan"),
        "{}",
        user.login()
    );
    assert!(user.login().len() <= 32);
    assert_eq!(user.uid().to_string().len(), 10);
    assert_eq!(user.gid().to_string().len(), 10);
    assert_ne!(user.uid(), user.gid());
    let whoami = user.run_as("whoami", [] as [&str; 0]);
    assert_eq!(stdout(&whoami), user.login());
    let gone = check_user(&user);
    drop(user);
    assert_gone(gone);
}

#[test]
fn ldap_user_above_i32_is_real_unprivileged_and_removed() {
    let user = TestUser::ldap_above_i32("high");
    assert!(user.login().ends_with("@ds01-test.lan"), "{}", user.login());
    assert!(user.uid() > i32::MAX as u32, "{}", user.uid());
    assert!(user.gid() > i32::MAX as u32, "{}", user.gid());
    assert_ne!(user.uid(), user.gid());
    let gone = check_user(&user);
    drop(user);
    assert_gone(gone);
}

#[test]
fn env_added_to_command_reaches_the_program() {
    let user = TestUser::plain("env");
    let out = user
        .command("sh")
        .args(["-c", "echo \"$DS01_SOCKET\""])
        .env("DS01_SOCKET", "/tmp/some.sock")
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "/tmp/some.sock");
}

#[test]
fn user_and_processes_are_removed_when_the_test_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::thread::spawn(move || {
        let user = TestUser::ldap("panic");
        // A lingering process of the user must not stop userdel.
        let sleeper = user.command("sleep").arg("300").spawn().unwrap();
        tx.send((
            user.login().to_owned(),
            user.home().to_path_buf(),
            user.uid(),
            sleeper,
        ))
        .unwrap();
        panic!("deliberate");
    })
    .join();
    assert!(result.is_err());
    let (login, home, uid, mut sleeper) = rx.recv().unwrap();
    assert_gone((login, home));
    let status = sleeper.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    // A zombie is dead already, waiting only for its parent to reap it.
    let ps = Command::new("ps")
        .args(["-o", "pid=,stat=,args=", "-U", &uid.to_string()])
        .output()
        .unwrap();
    let alive: Vec<&str> = std::str::from_utf8(&ps.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|s| !s.starts_with('Z'))
        })
        .collect();
    assert!(
        alive.is_empty(),
        "processes of uid {uid} survived: {alive:?}"
    );
}

#[test]
fn tmux_session_runs_as_the_user() {
    let user = TestUser::plain("tmux");
    let tmux = user.tmux_session("echo hi; id -u; sleep 5");
    let pane = tmux.wait_for("hi", Duration::from_secs(10));
    let pane = if pane.contains(&user.uid().to_string()) {
        pane
    } else {
        tmux.wait_for(&user.uid().to_string(), Duration::from_secs(10))
    };
    assert!(pane.contains("hi"), "{pane}");
    let meta = std::fs::metadata(tmux.socket()).unwrap();
    assert_eq!(meta.uid(), user.uid());
    assert_eq!(tmux.exit_status(), None);
    tmux.send_keys(&["C-c"]);
    assert_ne!(tmux.wait_exit(Duration::from_secs(10)), 0);
}

#[test]
fn tmux_session_keeps_output_after_exit() {
    let user = TestUser::ldap("tmuxexit");
    let tmux = user.tmux_session("read line; echo \"got $line\"; exit 3");
    tmux.send_text("hello");
    tmux.send_keys(&["Enter"]);
    assert_eq!(tmux.wait_exit(Duration::from_secs(10)), 3);
    assert!(tmux.capture_pane().contains("got hello"));
}

#[test]
#[should_panic(expected = "was not built")]
fn missing_binary_is_reported() {
    user_visible_binary("ds01-no-such-binary");
}

/// Needs `ds01` built into the same target directory (`cargo test --workspace` does that).
#[test]
fn user_can_run_the_copied_cli() {
    let ds01 = user_visible_binary("ds01");
    assert_eq!(user_visible_binary("ds01"), ds01, "copied once per process");
    let dir = ds01.parent().unwrap();
    assert_eq!(
        std::fs::metadata(dir).unwrap().mode() & 0o777,
        0o755,
        "{}",
        dir.display()
    );
    let user = TestUser::ldap("cli");
    let help = user.run_as(&ds01, ["--help"]);
    assert!(help.status.success(), "{help:?}");
    assert!(stdout(&help).contains("Usage"), "{}", stdout(&help));
}
