//! The trust boundary, tried as the users would: two throwaway unprivileged accounts (not
//! in the docker group; one with an LDAP-style login and a 10-digit UID) run `ds01` against
//! a ds01d on a temporary socket. Every hole that ds01 had while users needed the Docker
//! socket is tried again and must be refused with a clear message, leaving nothing behind;
//! the everyday flows must work for both users.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;
use std::time::Duration;

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN11, DEBIAN12};

/// Runs `ds01 ARGS` as `user` against `daemon`, with extra environment.
fn ds01_env(user: &TestUser, daemon: &TestDaemon, env: &[(&str, &str)], args: &[&str]) -> Output {
    daemon.ds01_env(user, env, args)
}

fn ds01(user: &TestUser, daemon: &TestDaemon, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

/// Asserts success and returns stdout.
fn ok(out: Output, what: &str, daemon: &TestDaemon) -> String {
    daemon.ok(out, what)
}

/// Asserts a refusal (exit status 1) whose message contains `needle`.
fn refused(out: Output, what: &str, needle: &str) {
    ds01_tests::check::refused(out, 1, what, needle)
}

fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    text(&out.stdout).trim().to_owned()
}

/// How many containers and images carry the sweeper's label right now.
fn labelled(sweeper: &Sweeper) -> (usize, usize) {
    let filter = format!("label=ds01.test={}", sweeper.label().1);
    let count = |args: &[&str]| docker(args).lines().filter(|l| !l.is_empty()).count();
    (
        count(&["ps", "-aq", "--filter", &filter]),
        count(&["images", "-q", "--filter", &filter]),
    )
}

#[test]
fn every_hole_of_the_socket_era_is_refused() {
    let sweeper = Sweeper::new("security-holes");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::plain("holes");
    let bob = TestUser::ldap("holes");
    let before = labelled(&sweeper);

    // Mounts: system directories, another user's home, a link out of one's own home.
    let bob_home = bob.home().display().to_string();
    for (dir, why) in [
        ("/", "system directories"),
        ("/etc", "system directories"),
        ("/root", "system directories"),
        (bob_home.as_str(), "not yours"),
    ] {
        let out = ds01(
            &alice,
            &daemon,
            &[
                "container",
                "create",
                "x",
                "--image",
                DEBIAN12,
                "--workspace",
                dir,
            ],
        );
        refused(out, &format!("--workspace {dir}"), why);
    }
    let link = alice.home().join("escape");
    std::os::unix::fs::symlink("/root", &link).unwrap();
    let out = ds01(
        &alice,
        &daemon,
        &[
            "container",
            "create",
            "x",
            "--image",
            DEBIAN12,
            "--workspace",
            "~/escape",
        ],
    );
    refused(out, "a symlink to /root", "symbolic link");

    // The user's own configuration and environment have no say.
    let config_dir = alice.home().join(".config/ds01");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.toml"), "privileged = true\n").unwrap();
    let out = ds01(
        &alice,
        &daemon,
        &["container", "create", "x", "--cgroup-parent", "/"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "--cgroup-parent is not a user's option"
    );

    // Another user's images cannot be used, tagged into or built upon.
    let other = format!("ds01-{}/thesis:latest", bob.uid());
    let out = ds01(
        &alice,
        &daemon,
        &["container", "create", "x", "--image", &other],
    );
    refused(out, "another user's image", "that you may use");
    let out = ds01(&alice, &daemon, &["image", "create", "x", "--base", &other]);
    refused(out, "building on another user's image", "that you may use");

    // Acting for others is for root and the admin group.
    let out = ds01(&alice, &daemon, &["--as", bob.login(), "container", "list"]);
    refused(out, "--as by a user", "only root and the admin group");

    assert_eq!(
        labelled(&sweeper),
        before,
        "a refusal left something behind"
    );
}

#[test]
fn containers_keep_users_apart_and_unprivileged() {
    let sweeper = Sweeper::new("security-flows");
    let config = config_with_labels(&sweeper.label().1, "workspace = \"~/workspace\"\n");
    let daemon = TestDaemon::start(&config);
    let alice = TestUser::plain("flows");
    let bob = TestUser::ldap("flows");

    // A planted lock directory in /tmp must not matter any more: nothing uses /tmp.
    let planted = std::path::PathBuf::from(format!("/tmp/ds01-locks-{}", alice.uid()));
    let victim = daemon.dir().join("root-owned-victim");
    std::fs::write(&victim, "keep me").unwrap();
    let _ = std::fs::remove_file(&planted);
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    // Committed flow for alice, on Debian 12 (which has sudo), with a hidden variable that
    // once let a user label a container as another's.
    let out = ds01_env(
        &alice,
        &daemon,
        &[
            (
                "DS01_RESOURCE_LABELS",
                &format!("aime.mlc.USER={}", bob.login()),
            ),
            ("DS01_SYSTEM_CONFIG", "/dev/null"),
        ],
        &[
            "container",
            "create",
            "box",
            "--image",
            DEBIAN12,
            "--start",
            "--json",
        ],
    );
    let created: serde_json::Value =
        serde_json::from_str(&ok(out, "alice's create", &daemon)).unwrap();
    assert_eq!(created["user_setup"], "committed");
    let alice_box = format!("box._.{}", alice.uid());
    let label = |name: &str, key: &str| {
        docker(&[
            "inspect",
            "-f",
            &format!("{{{{index .Config.Labels \"{key}\"}}}}"),
            name,
        ])
    };
    assert_eq!(label(&alice_box, "aime.mlc.USER"), alice.login());
    assert_eq!(
        label(&alice_box, "ds01.test"),
        sweeper.label().1,
        "the admin's labels still apply"
    );
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.HostConfig.Privileged}} {{.HostConfig.NetworkMode}}",
            &alice_box
        ]),
        format!("false ds01-net-{}", alice.uid()),
        "~/.config/ds01 asked for privileged; the container must not be"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    std::fs::remove_file(&planted).unwrap();

    // Inside: the user is themself, sudo gives nothing, and nothing setuid-root can be
    // planted in the workspace.
    let out = ds01(
        &alice,
        &daemon,
        &["container", "exec", "box", "--", "id", "-u"],
    );
    assert_eq!(ok(out, "exec id", &daemon).trim(), alice.uid().to_string());
    let out = ds01(
        &alice,
        &daemon,
        &["container", "exec", "box", "--", "sudo", "-n", "id", "-u"],
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "sudo worked: {}",
        text(&out.stdout)
    );
    let out = ds01(
        &alice,
        &daemon,
        &[
            "container", "exec", "box", "--", "sh", "-c",
            "cp /bin/sh /workspace/sh && chmod 4755 /workspace/sh; sudo -n chown root /workspace/sh; true",
        ],
    );
    ok(out, "planting a file", &daemon);
    let planted_sh = alice.home().join("workspace/sh");
    let meta = std::fs::metadata(&planted_sh).expect("the file reached the workspace");
    // Owned by alice, not root: whatever mode bits it kept, it gives nobody root.
    assert_eq!(meta.uid(), alice.uid(), "the planted file is not root's");

    // Exec streams and returns the command's own status.
    let out = ds01(
        &alice,
        &daemon,
        &[
            "container",
            "exec",
            "box",
            "--",
            "sh",
            "-c",
            "echo hi; exit 7",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "hi\n");

    // Bob sees nothing of alice's and cannot name her container.
    let out = ds01(&bob, &daemon, &["container", "list", "--json"]);
    assert_eq!(
        ok(out, "bob's list", &daemon).trim(),
        "",
        "bob sees alice's container"
    );
    let out = ds01(&bob, &daemon, &["container", "exec", "box", "--", "id"]);
    refused(out, "bob's exec into 'box'", "no container box");
    let out = ds01(&bob, &daemon, &["container", "remove", "box", "--force"]);
    refused(out, "bob removing 'box'", "no container box");
    let out = ds01(&bob, &daemon, &["container", "list", "--all-users"]);
    refused(out, "bob listing everybody", "only admins");

    // Bob, with his LDAP login and 10-digit UID: his own image on Debian 11 (the lastlog
    // trap), a baked container from it, a shell through a real terminal.
    let out = ds01(
        &bob,
        &daemon,
        &["image", "create", "thesis", "--base", DEBIAN11, "--json"],
    );
    let built: serde_json::Value = serde_json::from_str(&ok(out, "bob's image", &daemon)).unwrap();
    assert_eq!(built["image"], format!("ds01-{}/thesis:latest", bob.uid()));
    let out = ds01(&bob, &daemon, &["container", "create", "thesis", "--json"]);
    let created: serde_json::Value =
        serde_json::from_str(&ok(out, "bob's create", &daemon)).unwrap();
    assert_eq!(created["user_setup"], "baked");
    let out = ds01(
        &alice,
        &daemon,
        &[
            "container",
            "create",
            "y",
            "--image",
            built["image"].as_str().unwrap(),
        ],
    );
    refused(out, "alice using bob's image", "that you may use");

    let ds01_path = user_visible_binary("ds01");
    let socket = daemon.socket();
    let tmux = bob.tmux_session(&format!(
        "DS01_SOCKET={} NO_COLOR=1 {} container open thesis",
        socket.display(),
        ds01_path.display()
    ));
    tmux.wait_for("@ds01", Duration::from_secs(60));
    tmux.send_text("id -un; exit 3");
    tmux.send_keys(&["Enter"]);
    let status = tmux.wait_exit(Duration::from_secs(30));
    let screen = tmux.capture_pane();
    let account = ds01_username::Username::from_login(bob.login()).unwrap();
    assert!(
        screen.contains(account.as_str()),
        "no account name on screen:\n{screen}"
    );
    assert_eq!(status, 3, "open returns the shell's status:\n{screen}");

    for (user, name) in [(&alice, "box"), (&bob, "thesis")] {
        ok(
            ds01(user, &daemon, &["container", "stop", name]),
            "stop",
            &daemon,
        );
        ok(
            ds01(user, &daemon, &["container", "remove", name]),
            "remove",
            &daemon,
        );
    }
    ok(
        ds01(&bob, &daemon, &["image", "delete", "thesis"]),
        "image delete",
        &daemon,
    );
    assert_eq!(
        labelled(&sweeper),
        (0, 0),
        "the flows left something behind"
    );

    // Every request is in the audit log, which only root may read.
    let audit = daemon.state_dir().join("audit.log");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains(&format!("\"uid\":{}", bob.uid())));
    assert_eq!(
        std::fs::metadata(&audit).unwrap().permissions().mode() & 0o077,
        0
    );
}
