//! Files that survive, tried as the users would: throwaway unprivileged accounts (one with
//! an LDAP-style login and a 10-digit UID) run `ds01` against a ds01d on a temporary
//! socket. A container gets `~/workspace/<name>` and a home volume; both outlive
//! `recreate` (also after `image update`) and a `remove` without `--volumes`; a baked
//! container runs from a tag of its own, so untagging it (as MLC's remove does) leaves the
//! user's image; `--dry-run` makes nothing; `remove --all` takes only stopped containers.

use std::os::unix::fs::MetadataExt;
use std::process::Output;

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::{Sweeper, DEBIAN12};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// `docker ARGS`: its status and trimmed stdout.
fn docker(args: &[&str]) -> (bool, String) {
    ds01_tests::check::docker_status(args)
}

fn exists(kind: &str, name: &str) -> bool {
    docker(&[kind, "inspect", name]).0
}

/// The image ID a container runs from.
fn image_of(container: &str) -> String {
    docker(&["inspect", "-f", "{{.Image}}", container]).1
}

fn image_id(reference: &str) -> String {
    let (ok, id) = docker(&["image", "inspect", "-f", "{{.Id}}", reference]);
    assert!(ok, "image {reference} is missing");
    id
}

/// The daemon's configuration: the sweeper's label (its reaper then leaves other tests'
/// containers alone, and theirs leave these alone).
fn config(sweeper: &Sweeper) -> String {
    config_with_labels(&sweeper.label().1, "")
}

/// Asserts a refusal whose message says `needle`.
fn refused(out: Output, what: &str, needle: &str) {
    ds01_tests::check::refused_saying(&out, None, what, &[needle])
}

#[test]
fn files_in_workspace_and_home_survive_recreate_update_and_remove() {
    let sweeper = Sweeper::new("everyday-files");
    let daemon = TestDaemon::start(&config(&sweeper));
    let bob = TestUser::ldap("files");
    let alice = TestUser::plain("files");
    let uid = bob.uid();
    let docker_name = format!("notes._.{uid}");
    let volume = format!("ds01-home-{docker_name}");
    let own_tag = format!("ds01-{uid}/notes:{docker_name}");
    let latest = format!("ds01-{uid}/notes:latest");

    let out = daemon.ds01(
        &bob,
        &["image", "create", "notes", "--base", DEBIAN12, "--json"],
    );
    daemon.ok(out, "bob's image");
    let out = daemon.ds01(&bob, &["container", "create", "notes", "--start", "--json"]);
    let created = json(&daemon.ok(out, "bob's create"));
    assert_eq!(created["user_setup"], "baked");

    // The workspace: made on the host, inside bob's home, his.
    let workspace = bob.home().join("workspace").join("notes");
    let meta = std::fs::symlink_metadata(&workspace).expect("~/workspace/notes exists");
    assert!(meta.is_dir());
    assert_eq!((meta.uid(), meta.gid()), (uid, bob.gid()));
    let parent = std::fs::symlink_metadata(bob.home().join("workspace")).unwrap();
    assert_eq!(parent.uid(), uid);

    // The home volume: labelled with its owner and the configuration's labels, filled
    // from the image (the account's skeleton files are there) and writable by bob.
    let (_, labels) = docker(&["volume", "inspect", "-f", "{{json .Labels}}", &volume]);
    let labels = json(&labels);
    assert_eq!(labels["ds01.user"], bob.login());
    assert_eq!(labels["ds01.uid"], uid.to_string());
    assert_eq!(labels["ds01.test"], sweeper.label().1);
    let out = daemon.ds01(
        &bob,
        &[
            "container", "exec", "notes", "--", "sh", "-c",
            "test -f ~/.bashrc && echo ws > /workspace/a.txt && echo home > ~/b.txt && stat -c %u ~",
        ],
    );
    assert_eq!(daemon.ok(out, "writing files").trim(), uid.to_string());
    assert_eq!(
        std::fs::read_to_string(workspace.join("a.txt")).unwrap(),
        "ws\n"
    );

    // A baked container runs from its own tag; untagging it as MLC's remove would leaves
    // the user's image.
    let first = image_id(&latest);
    assert_eq!(image_id(&own_tag), first);
    assert_eq!(
        docker(&["inspect", "-f", "{{.Config.Image}}", &docker_name]).1,
        own_tag
    );
    // ... which `image list` leaves out: it is the container's, not one of bob's images.
    let out = daemon.ds01(&bob, &["image", "list", "--json"]);
    let listed = daemon.ok(out, "bob's image list");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert_eq!(json(&listed)["image"], latest);

    // Another user can neither recreate nor remove bob's container.
    let out = daemon.ds01(&alice, &["container", "recreate", "notes"]);
    refused(out, "alice recreating bob's notes", "no container notes");
    let out = daemon.ds01(
        &alice,
        &["container", "remove", "notes", "--force", "--volumes"],
    );
    refused(out, "alice removing bob's notes", "no container notes");
    assert!(exists("container", &docker_name) && exists("volume", &volume));

    // Update: a new build; outside a terminal, the hint to recreate.
    let out = daemon.ds01(&bob, &["image", "update", "notes", "--no-cache"]);
    let stderr = text(&out.stderr);
    daemon.ok(out, "bob's update");
    assert!(
        stderr.contains("ds01 container recreate notes"),
        "no recreate hint:\n{stderr}"
    );
    let second = image_id(&latest);
    assert_ne!(first, second, "the update built nothing new");
    assert_eq!(image_of(&docker_name), first);

    let out = daemon.ds01(&bob, &["container", "recreate", "notes", "--json"]);
    let recreated = json(&daemon.ok(out, "bob's recreate"));
    assert_eq!(recreated["started"], true, "it ran, so it runs again");
    assert_eq!(
        image_of(&docker_name),
        second,
        "recreate used the new image"
    );
    assert!(
        !docker(&["image", "inspect", &first]).0,
        "the old build was left behind"
    );
    let out = daemon.ds01(
        &bob,
        &[
            "container",
            "exec",
            "notes",
            "--",
            "sh",
            "-c",
            "cat /workspace/a.txt ~/b.txt",
        ],
    );
    assert_eq!(daemon.ok(out, "reading after recreate"), "ws\nhome\n");

    // MLC-style untag of the container's own tag: bob's image stays, and remove copes.
    assert!(docker(&["rmi", &own_tag]).0);
    assert_eq!(image_id(&latest), second);

    // Remove without --volumes (no terminal, no --yes: it goes ahead, as for scripts):
    // the home volume is kept and named; a container of the same name gets it back.
    let out = daemon.ds01(&bob, &["container", "remove", "notes", "--force", "--json"]);
    let removed = json(&daemon.ok(out, "bob's remove"));
    assert_eq!(removed["kept_volumes"], serde_json::json!([volume]));
    assert!(!exists("container", &docker_name));
    assert!(exists("volume", &volume));
    assert_eq!(image_id(&latest), second);
    let out = daemon.ds01(&bob, &["container", "create", "notes", "--json"]);
    daemon.ok(out, "bob's create again");
    let out = daemon.ds01(&bob, &["container", "start", "notes"]);
    daemon.ok(out, "bob's start");
    let out = daemon.ds01(
        &bob,
        &[
            "container",
            "exec",
            "notes",
            "--",
            "sh",
            "-c",
            "cat ~/b.txt",
        ],
    );
    assert_eq!(daemon.ok(out, "home after remove and create"), "home\n");

    // Update with --recreate: ds01d makes the container again from the new build, and
    // says so per container; alice's own update reaches nothing of bob's.
    let out = daemon.ds01(
        &bob,
        &[
            "image",
            "update",
            "notes",
            "--no-cache",
            "--recreate",
            "--json",
        ],
    );
    let lines = daemon.ok(out, "bob's update --recreate");
    let third = image_id(&latest);
    assert_ne!(third, second, "the update built nothing new");
    let outcome = json(lines.lines().last().unwrap_or_default());
    assert_eq!(
        (outcome["name"].as_str(), outcome["action"].as_str()),
        (Some(docker_name.as_str()), Some("recreated")),
        "{lines}"
    );
    assert_eq!(
        image_of(&docker_name),
        third,
        "recreated from the new build"
    );
    let out = daemon.ds01(&alice, &["image", "update", "notes", "--recreate"]);
    refused(out, "alice updating bob's notes", "notes");
    assert_eq!(image_of(&docker_name), third);

    // With --volumes the home volume goes too.
    let out = daemon.ds01(
        &bob,
        &[
            "container",
            "remove",
            "notes",
            "--force",
            "--volumes",
            "--json",
        ],
    );
    let removed = json(&daemon.ok(out, "bob's remove --volumes"));
    assert_eq!(removed["removed_volumes"], serde_json::json!([volume]));
    assert!(!exists("volume", &volume));
    assert!(!exists("container", &docker_name));
    // The workspace is the user's own directory: never removed.
    assert!(workspace.join("a.txt").is_file());
}

#[test]
fn dry_run_makes_nothing_and_remove_all_takes_only_stopped_containers() {
    let sweeper = Sweeper::new("everyday-remove-all");
    let daemon = TestDaemon::start(&config(&sweeper));
    let carol = TestUser::plain("rmall");
    let uid = carol.uid();

    let out = daemon.ds01(
        &carol,
        &[
            "container",
            "create",
            "plan",
            "--image",
            DEBIAN12,
            "--memory",
            "1g",
            "--dry-run",
        ],
    );
    let plan = json(&daemon.ok(out, "dry run"));
    let create = &plan["create"];
    assert_eq!(plan["name"], format!("plan._.{uid}"));
    assert_eq!(plan["user_setup"], "committed");
    assert_eq!(create["User"], format!("{uid}:{}", carol.gid()));
    assert_eq!(create["HostConfig"]["Memory"], 1 << 30);
    let workspace = carol.home().join("workspace").join("plan");
    // The engine binds ds01d's mount point, onto which ds01d binds the workspace (checked
    // again) at each start; the label names the workspace.
    let points = daemon.state_dir().join(format!("mounts/plan._.{uid}"));
    assert_eq!(
        create["HostConfig"]["Binds"],
        serde_json::json!([format!("{}/workspace:/workspace", points.display())])
    );
    assert_eq!(
        create["Labels"]["aime.mlc.WORK_MOUNT"],
        workspace.display().to_string()
    );
    let mount = &create["HostConfig"]["Mounts"][0];
    assert_eq!(mount["Source"], format!("ds01-home-plan._.{uid}"));
    assert_eq!(mount["Type"], "volume");
    assert_eq!(create["Labels"]["ds01.test"], sweeper.label().1);
    let stored: serde_json::Value =
        serde_json::from_str(create["Labels"]["ds01.create_options"].as_str().unwrap()).unwrap();
    assert_eq!(stored["image"], DEBIAN12);
    // Nothing was made: no container, no volume, no directory, no image.
    assert!(!exists("container", &format!("plan._.{uid}")));
    assert!(!exists("volume", &format!("ds01-home-plan._.{uid}")));
    assert!(!workspace.exists());
    assert!(!points.exists());
    assert!(
        !docker(&[
            "image",
            "inspect",
            &format!("ds01-fixture/debian12:plan._.{uid}")
        ])
        .0
    );

    for (name, start) in [("up", true), ("down", false)] {
        let mut args = vec![
            "container",
            "create",
            name,
            "--image",
            DEBIAN12,
            "--no-workspace",
        ];
        if start {
            args.push("--start");
        }
        let out = daemon.ds01(&carol, &args);
        daemon.ok(out, "carol's create");
    }
    // A committed container is recreated from its base through a new setup, still running.
    let out = daemon.ds01(&carol, &["container", "recreate", "up", "--json"]);
    let recreated = json(&daemon.ok(out, "carol's recreate"));
    assert_eq!(recreated["user_setup"], "committed");
    assert_eq!(recreated["started"], true);
    let (_, binds) = docker(&[
        "inspect",
        "-f",
        "{{json .HostConfig.Binds}}",
        &format!("up._.{uid}"),
    ]);
    assert_eq!(binds, "null", "--no-workspace mounted something");
    let out = daemon.ds01(
        &carol,
        &["container", "remove", "--all", "--volumes", "--json"],
    );
    let stdout = daemon.ok(out, "remove --all");
    let removed: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    assert_eq!(removed.len(), 1, "{stdout}");
    assert_eq!(removed[0]["name"], format!("down._.{uid}"));
    assert_eq!(
        removed[0]["removed_volumes"],
        serde_json::json!([format!("ds01-home-down._.{uid}")])
    );
    assert!(exists("container", &format!("up._.{uid}")));
    assert!(!exists("container", &format!("down._.{uid}")));
}

#[test]
fn remove_on_a_terminal_says_what_goes_and_asks_first() {
    let sweeper = Sweeper::new("everyday-ask");
    let daemon = TestDaemon::start(&config(&sweeper));
    let dave = TestUser::ldap("ask");
    let docker_name = format!("asked._.{}", dave.uid());
    let out = daemon.ds01(
        &dave,
        &[
            "container",
            "create",
            "asked",
            "--image",
            DEBIAN12,
            "--no-workspace",
        ],
    );
    daemon.ok(out, "dave's create");
    let remove = |answer: &str| {
        let tmux = dave.tmux_session(&format!(
            "DS01_SOCKET={} NO_COLOR=1 {} container remove asked",
            daemon.socket().display(),
            ds01_tests::users::user_visible_binary("ds01").display()
        ));
        tmux.wait_for("Remove it? [y/N]", std::time::Duration::from_secs(60));
        tmux.send_text(answer);
        tmux.send_keys(&["Enter"]);
        let status = tmux.wait_exit(std::time::Duration::from_secs(60));
        (status, tmux.capture_pane())
    };
    let (status, screen) = remove("n");
    assert_eq!(status, 1, "{screen}");
    assert!(
        screen.contains(&format!("will remove container {docker_name}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            "will keep its home volume ds01-home-{docker_name}"
        )),
        "{screen}"
    );
    assert!(screen.contains("nothing removed"), "{screen}");
    assert!(exists("container", &docker_name));
    let (status, screen) = remove("y");
    assert_eq!(status, 0, "{screen}");
    assert!(!exists("container", &docker_name), "{screen}");

    // Deleting an image asks too; "no" keeps it, and without a terminal nothing is asked.
    let out = daemon.ds01(&dave, &["image", "create", "kept", "--base", DEBIAN12]);
    daemon.ok(out, "dave's image");
    let image = format!("ds01-{}/kept:latest", dave.uid());
    let tmux = dave.tmux_session(&format!(
        "DS01_SOCKET={} NO_COLOR=1 {} image delete kept",
        daemon.socket().display(),
        ds01_tests::users::user_visible_binary("ds01").display()
    ));
    tmux.wait_for("[y/N]", std::time::Duration::from_secs(60));
    tmux.send_text("n");
    tmux.send_keys(&["Enter"]);
    let status = tmux.wait_exit(std::time::Duration::from_secs(60));
    assert_eq!(status, 1, "{}", tmux.capture_pane());
    assert!(exists("image", &image), "{}", tmux.capture_pane());
    let out = daemon.ds01(&dave, &["image", "delete", "kept"]);
    daemon.ok(out, "deleting without a terminal");
    assert!(!exists("image", &image));
}

/// A device of this test's own (a file inventory: this machine has no GPU), named so that
/// no other test's daemon counts it.
const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-everyday-files-test"
name = "NVIDIA H100 80GB HBM3"
"#;

#[test]
fn recreate_binds_the_gpus_again_and_keeps_every_option() {
    let sweeper = Sweeper::new("everyday-recreate-gpu");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let config = config_with_labels(
        &sweeper.label().1,
        &format!("[gpus]\ninventory = \"{}\"\n", inventory.display()),
    );
    let daemon = TestDaemon::start(&config);
    let erin = TestUser::ldap("regpu");
    let docker_name = format!("g._.{}", erin.uid());
    let out = daemon.ds01(
        &erin,
        &[
            "container",
            "create",
            "g",
            "--image",
            DEBIAN12,
            "--gpus",
            "1",
            "--memory",
            "1g",
            "--label",
            "project=x",
            "--no-workspace",
            "--start",
        ],
    );
    daemon.ok(out, "erin's create");
    let shape = || {
        let (_, config) = docker(&["inspect", "-f", "{{json .}}", &docker_name]);
        let c = json(&config);
        (
            c["Config"]["Labels"]["ds01.gpu.uuids"].clone(),
            c["Config"]["Env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "NVIDIA_VISIBLE_DEVICES=GPU-everyday-files-test"),
            c["HostConfig"]["Memory"].clone(),
            c["Config"]["Labels"]["project"].clone(),
            c["HostConfig"]["Binds"].clone(),
            c["Id"].clone(),
        )
    };
    let before = shape();
    assert_eq!(before.0, "GPU-everyday-files-test");
    let out = daemon.ds01(&erin, &["container", "recreate", "g", "--json"]);
    let recreated = json(&daemon.ok(out, "erin's recreate"));
    assert_eq!(
        recreated["gpus"],
        serde_json::json!(["GPU-everyday-files-test"])
    );
    let after = shape();
    assert_ne!(before.5, after.5, "not a new container");
    assert_eq!(
        (&before.0, before.1, &before.2, &before.3, &before.4),
        (&after.0, after.1, &after.2, &after.3, &after.4)
    );
    assert_eq!(after.2, 1 << 30);
    assert_eq!(after.3, "x");
}
