//! Mounts bound as checked, tried as the users would: throwaway unprivileged accounts (one
//! with an LDAP-style login and a 10-digit UID) run `ds01` against a ds01d on a temporary
//! socket. The engine resolves a bind's source when a container starts; a user who swaps
//! their workspace (or `--workspace`, `--data`, `--models` directory) for a link after the
//! create must not get another user's home or another container's home volume mounted. The
//! start is refused; the engine itself only ever sees ds01d's root-owned mount point, empty
//! unless ds01d bound the checked directory onto it; the everyday case works across stop,
//! start, restart, recreate and a ds01d restart; remove takes the mount points away.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

/// `docker ARGS`: its status and trimmed stdout.
fn docker(args: &[&str]) -> (bool, String) {
    ds01_tests::check::docker_status(args)
}

fn running(container: &str) -> bool {
    docker(&["inspect", "-f", "{{.State.Running}}", container]).1 == "true"
}

/// Asserts a refusal whose message says `needle`.
fn refused(out: Output, what: &str, needle: &str) {
    ds01_tests::check::refused_saying(&out, None, what, &[needle])
}

/// The mounts of the host's namespace at or below `dir`.
fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&dir))
        .map(str::to_owned)
        .collect()
}

/// Runs `script` with `sh -c` as `user`, asserting it succeeds.
fn as_user(user: &TestUser, script: &str) {
    let out = user.run_as("sh", ["-c", script]);
    assert!(
        out.status.success(),
        "`{script}` as {}: {}",
        user.login(),
        text(&out.stderr)
    );
}

/// Bob: a home only he may enter with a secret in it, and a container whose home volume
/// holds another secret. Returns the volume's directory on the host.
fn bob_with_secrets(daemon: &TestDaemon, bob: &TestUser) -> String {
    bob.write_file("secret.txt", "bob's home\n");
    std::fs::set_permissions(bob.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = daemon.ds01(bob, &["container", "create", "vault", "--image", DEBIAN12]);
    daemon.ok(out, "bob's create");
    let volume = format!("ds01-home-vault._.{}", bob.uid());
    let (ok, data) = docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", &volume]);
    assert!(ok, "bob's home volume {volume} exists");
    std::fs::write(Path::new(&data).join("secret.txt"), "bob's volume\n").unwrap();
    data
}

/// Asserts that container `name` of `user` runs and its `target` holds `file` with
/// `contents`, owned by the user.
fn sees(daemon: &TestDaemon, user: &TestUser, name: &str, path: &str, contents: &str) {
    let out = daemon.ds01(
        user,
        &[
            "container",
            "exec",
            name,
            "--",
            "sh",
            "-c",
            &format!("stat -c %u {path} && cat {path}"),
        ],
    );
    let seen = daemon.ok(out, &format!("reading {path} in {name}"));
    assert_eq!(
        seen,
        format!("{}\n{contents}", user.uid()),
        "{path} in {name}"
    );
}

#[test]
fn a_workspace_swapped_for_a_link_after_create_is_never_mounted() {
    let sweeper = Sweeper::new("boundary-mounts-ws");
    let mut daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("bmws");
    let bob = TestUser::plain("bmws");
    let volume_data = bob_with_secrets(&daemon, &bob);
    let docker_name = format!("thesis._.{}", alice.uid());
    let points = daemon.state_dir().join("mounts").join(&docker_name);

    let out = daemon.ds01(
        &alice,
        &["container", "create", "thesis", "--image", DEBIAN12],
    );
    daemon.ok(out, "alice's create");
    let ws = alice.home().join("workspace/thesis");
    assert!(
        points.join("workspace").is_dir(),
        "the mount point is made at create"
    );

    // The everyday case: both ways, with alice as the owner.
    alice.write_file("workspace/thesis/mine.txt", "alice's\n");
    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "thesis"]),
        "start",
    );
    sees(
        &daemon,
        &alice,
        "thesis",
        "/workspace/mine.txt",
        "alice's\n",
    );
    let out = daemon.ds01(
        &alice,
        &[
            "container",
            "exec",
            "thesis",
            "--",
            "sh",
            "-c",
            "echo in > /workspace/in.txt",
        ],
    );
    daemon.ok(out, "writing in the container");
    assert_eq!(
        std::fs::metadata(ws.join("in.txt")).unwrap().uid(),
        alice.uid()
    );
    // Nothing stays bound on the host once the engine has started it, yet a file written
    // on the host now is seen inside: the container holds the directory itself.
    assert_eq!(mounts_under(&points), Vec::<String>::new());
    alice.write_file("workspace/thesis/later.txt", "later\n");
    sees(&daemon, &alice, "thesis", "/workspace/later.txt", "later\n");
    daemon.ok(
        daemon.ds01(&alice, &["container", "stop", "thesis"]),
        "stop",
    );

    // Swapped for a link to bob's home, then to bob's container's home volume: refused.
    as_user(&alice, &format!("mv {0} {0}.real", ws.display()));
    for target in [bob.home().display().to_string(), volume_data.clone()] {
        as_user(
            &alice,
            &format!("rm -f {0} && ln -s {target} {0}", ws.display()),
        );
        let out = daemon.ds01(&alice, &["container", "start", "thesis"]);
        refused(
            out,
            &format!("a start with the workspace -> {target}"),
            "symbolic link",
        );
        assert!(!running(&docker_name));
        assert_eq!(mounts_under(&points), Vec::<String>::new());
        // Nor does `open`, which starts it for its shell, or a restart.
        let out = daemon.ds01(&alice, &["container", "open", "thesis"]);
        refused(out, "open", "symbolic link");
        let out = daemon.ds01(&alice, &["container", "restart", "thesis"]);
        refused(out, "restart", "symbolic link");
        assert!(!running(&docker_name));
    }
    // The engine, started behind ds01d's back, binds only the empty, root-owned point.
    assert!(docker(&["start", &docker_name]).0);
    let (ok, seen) = docker(&[
        "exec",
        &docker_name,
        "sh",
        "-c",
        "stat -c '%u %a' /workspace; ls -A /workspace; cat /workspace/secret.txt",
    ]);
    assert!(!ok, "bob's secret was readable: {seen}");
    assert_eq!(seen, "0 755");
    assert!(docker(&["stop", "-t", "0", &docker_name]).0);

    // Put back, it works again: start, restart, a ds01d restart, recreate.
    as_user(&alice, &format!("rm {0} && mv {0}.real {0}", ws.display()));
    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "thesis"]),
        "start again",
    );
    sees(
        &daemon,
        &alice,
        "thesis",
        "/workspace/mine.txt",
        "alice's\n",
    );
    daemon.ok(
        daemon.ds01(&alice, &["container", "restart", "thesis"]),
        "restart",
    );
    sees(&daemon, &alice, "thesis", "/workspace/in.txt", "in\n");
    daemon.restart();
    daemon.ok(
        daemon.ds01(&alice, &["container", "stop", "thesis"]),
        "stop",
    );
    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "thesis"]),
        "start after restart",
    );
    sees(&daemon, &alice, "thesis", "/workspace/later.txt", "later\n");
    daemon.ok(
        daemon.ds01(&alice, &["container", "recreate", "thesis"]),
        "recreate",
    );
    assert!(
        running(&docker_name),
        "recreate starts a running container again"
    );
    sees(
        &daemon,
        &alice,
        "thesis",
        "/workspace/mine.txt",
        "alice's\n",
    );
    assert_eq!(mounts_under(&points), Vec::<String>::new());

    // Remove takes the mount points; the workspace stays.
    let out = daemon.ds01(&alice, &["container", "remove", "thesis", "--force"]);
    daemon.ok(out, "remove");
    assert!(!points.exists(), "{} is left", points.display());
    assert!(ws.join("mine.txt").is_file());
}

#[test]
fn chosen_directories_swapped_for_links_are_never_mounted() {
    let sweeper = Sweeper::new("boundary-mounts-dirs");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::plain("bmdir");
    let bob = TestUser::ldap("bmdir");
    let volume_data = bob_with_secrets(&daemon, &bob);
    let docker_name = format!("proj._.{}", alice.uid());
    let points = daemon.state_dir().join("mounts").join(&docker_name);
    alice.write_file("proj/w.txt", "w\n");
    alice.write_file("ds/d.txt", "d\n");
    alice.write_file("models/m.txt", "m\n");

    let out = daemon.ds01(
        &alice,
        &[
            "container",
            "create",
            "proj",
            "--image",
            DEBIAN12,
            "--workspace",
            "~/proj",
            "--data",
            "~/ds",
            "--models",
            "~/models",
        ],
    );
    daemon.ok(out, "alice's create");
    let shown = daemon.ok(
        daemon.ds01(&alice, &["container", "show", "proj", "--json"]),
        "show",
    );
    assert!(
        shown.contains(&alice.home().join("ds").display().to_string()),
        "show names the chosen directory: {shown}"
    );

    let home = alice.home().display().to_string();
    for (dir, what) in [("proj", "workspace"), ("ds", "data"), ("models", "models")] {
        for target in [bob.home().display().to_string(), volume_data.clone()] {
            as_user(
                &alice,
                &format!("mv {home}/{dir} {home}/{dir}.real && ln -s {target} {home}/{dir}"),
            );
            let out = daemon.ds01(&alice, &["container", "start", "proj"]);
            refused(
                out,
                &format!("--{what} -> {target}"),
                &format!("{what} directory"),
            );
            assert!(!running(&docker_name));
            assert_eq!(mounts_under(&points), Vec::<String>::new());
            as_user(
                &alice,
                &format!("rm {home}/{dir} && mv {home}/{dir}.real {home}/{dir}"),
            );
        }
    }
    // A directory of someone else's in its place (not a link): refused as not hers.
    as_user(&alice, &format!("mv {home}/ds {home}/ds.real"));
    std::fs::create_dir(alice.home().join("ds")).unwrap();
    let out = daemon.ds01(&alice, &["container", "start", "proj"]);
    refused(out, "a root-owned data directory", "not yours");
    std::fs::remove_dir(alice.home().join("ds")).unwrap();
    as_user(&alice, &format!("mv {home}/ds.real {home}/ds"));

    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "proj"]),
        "start",
    );
    sees(&daemon, &alice, "proj", "/workspace/w.txt", "w\n");
    sees(&daemon, &alice, "proj", "/data/d.txt", "d\n");
    sees(&daemon, &alice, "proj", "/models/m.txt", "m\n");
    let out = daemon.ds01(&alice, &["container", "remove", "proj", "--force"]);
    daemon.ok(out, "remove");
    assert!(!points.exists(), "{} is left", points.display());
}

/// A container as DS01's scripts (or an older ds01) make it binds the user's path itself:
/// its path is checked again at every start.
#[test]
fn a_container_binding_the_users_path_itself_is_checked_at_start() {
    let sweeper = Sweeper::new("boundary-mounts-legacy");
    let daemon = TestDaemon::start(&config_with_labels(&sweeper.label().1, ""));
    let alice = TestUser::ldap("bmold");
    let bob = TestUser::plain("bmold");
    bob.write_file("secret.txt", "bob's home\n");
    std::fs::set_permissions(bob.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let ws = alice.write_file("workspace/old/mine.txt", "alice's\n");
    let ws = ws.parent().unwrap().display().to_string();
    let docker_name = format!("old._.{}", alice.uid());
    let (ok, _) = docker(&[
        "create",
        "--name",
        &docker_name,
        "--label",
        &format!("{}={}", sweeper.label().0, sweeper.label().1),
        "--label",
        &format!("ds01.user={}", alice.login()),
        "--label",
        "ds01.managed=true",
        "--user",
        &format!("{}:{}", alice.uid(), alice.gid()),
        "-v",
        &format!("{ws}:/workspace"),
        DEBIAN12,
        "sleep",
        "300",
    ]);
    assert!(ok, "docker create {docker_name}");

    daemon.ok(daemon.ds01(&alice, &["container", "start", "old"]), "start");
    sees(&daemon, &alice, "old", "/workspace/mine.txt", "alice's\n");
    daemon.ok(daemon.ds01(&alice, &["container", "stop", "old"]), "stop");

    as_user(
        &alice,
        &format!("mv {ws} {ws}.real && ln -s {} {ws}", bob.home().display()),
    );
    let out = daemon.ds01(&alice, &["container", "start", "old"]);
    refused(
        out,
        "a start with the workspace -> bob's home",
        "symbolic link",
    );
    assert!(!running(&docker_name));
    as_user(&alice, &format!("rm {ws} && mv {ws}.real {ws}"));
    daemon.ok(
        daemon.ds01(&alice, &["container", "start", "old"]),
        "start again",
    );
    sees(&daemon, &alice, "old", "/workspace/mine.txt", "alice's\n");
    let out = daemon.ds01(&alice, &["container", "remove", "old", "--force"]);
    daemon.ok(out, "remove");
}
