//! `ds01 image ...` and `ds01 container ...` against the real Docker engine: JSON shapes,
//! exit statuses, and what the engine ends up holding.

use ds01_tests::check::{docker_ok as docker, json, json_lines};
use ds01_tests::cli::{test_uid, RootCli};
use ds01_tests::{DEBIAN11, DEBIAN12};
use predicates::str::contains;

const LDAP: &str = "h.baker@hertie-school.lan:1722830498:1722800513";

/// The "done when": an image built for the LDAP user carries the account, so the
/// container is created without a setup commit, and the account really is `h-baker`.
#[test]
fn image_built_for_a_user_gives_a_baked_container() {
    let env = RootCli::new("baked");
    // Hosts whose engine may not lift the locked-memory limit (this CI's) say so in the
    // system configuration; labels there go on every container.
    env.system_config("memlock = \"8m\"\n[labels]\n\"ds01.cli-test.origin\" = \"system-config\"\n");
    let created = env
        .ds01()
        .args([
            "--as", LDAP, "image", "create", "clibaked", "--base", DEBIAN11, "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let image = json(&created);
    assert_eq!(image["image"], "ds01-1722830498/clibaked:latest");
    assert!(image["id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(image["built"], true);

    let out = env
        .ds01()
        .args([
            "--as",
            LDAP,
            "container",
            "create",
            "clibaked",
            "--cpu-only",
            "--start",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let container = json(&out);
    assert_eq!(container["name"], "clibaked._.1722830498");
    assert_eq!(container["image"], "ds01-1722830498/clibaked:latest");
    assert_eq!(container["user_setup"], "baked");
    assert_eq!(container["started"], true);

    let who = docker(&[
        "exec",
        "--user",
        "1722830498",
        "clibaked._.1722830498",
        "id",
        "-un",
    ]);
    assert_eq!(who, "h-baker");
    let origin = docker(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"ds01.cli-test.origin\"}}",
        "clibaked._.1722830498",
    ]);
    assert_eq!(origin, "system-config");

    let listed = env
        .ds01()
        .args(["--as", LDAP, "container", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = json_lines(&listed);
    let mine = listed
        .iter()
        .find(|c| c["docker_name"] == "clibaked._.1722830498")
        .expect("listed");
    assert_eq!(mine["name"], "clibaked");
    assert_eq!(mine["user"], "h.baker@hertie-school.lan");

    env.ds01()
        .args(["--as", LDAP, "image", "delete", "clibaked"])
        .assert()
        .code(1)
        .stderr(contains("is used by container(s) clibaked._.1722830498"));
    env.ds01()
        .args(["--as", LDAP, "container", "remove", "clibaked"])
        .assert()
        .code(1)
        .stderr(contains("is running"));

    let removed = env
        .ds01()
        .args([
            "--as",
            LDAP,
            "container",
            "remove",
            "clibaked",
            "--force",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&removed)["action"], "removed");

    let deleted = env
        .ds01()
        .args(["--as", LDAP, "image", "delete", "clibaked", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&deleted)["deleted"], true);
    let images = docker(&["images", "-q", "ds01-1722830498/clibaked"]);
    assert!(images.is_empty(), "image still there: {images}");
}

/// From a bare base the user is set up and committed, adding little to the base.
#[test]
fn bare_base_gives_a_committed_container_of_small_growth() {
    let env = RootCli::new("committed");
    // The LDAP UID on Debian 11 (shadow 4.8.1): where an untruncated lastlog would grow
    // by hundreds of gigabytes.
    let (uid, who) = (1722830498, LDAP.to_owned());
    let out = env
        .ds01()
        .args([
            "--as",
            &who,
            "container",
            "create",
            "clicommit",
            "--image",
            DEBIAN11,
            "--cpu-only",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let created = json(&out);
    assert_eq!(created["user_setup"], "committed");
    assert_eq!(created["name"], format!("clicommit._.{uid}"));
    let image = created["image"].as_str().unwrap().to_owned();
    assert_ne!(image, DEBIAN11);

    let size = |r: &str| {
        docker(&["image", "inspect", "-f", "{{.Size}}", r])
            .parse::<i64>()
            .unwrap()
    };
    let growth = size(&image) - size(DEBIAN11);
    assert!(
        growth < 5 << 20,
        "the committed image grew by {growth} bytes"
    );
    let account = docker(&[
        "run",
        "--rm",
        "--label",
        &format!("ds01.test={}", env.label()),
        "--user",
        &uid.to_string(),
        "--entrypoint",
        "id",
        &image,
        "-un",
    ]);
    assert_eq!(account, "h-baker");

    let removed = env
        .ds01()
        .args(["--as", &who, "container", "remove", "clicommit", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&removed)["removed_images"], serde_json::json!([image]));
}

/// `--no-build` writes spec and Dockerfile; `update` builds only when asked or changed.
#[test]
fn update_rebuilds_only_a_changed_spec() {
    let env = RootCli::new("update");
    let uid = test_uid(2);
    let who = format!("cli.update@example.lan:{uid}:{uid}");
    let out = env
        .ds01()
        .args([
            "--as",
            &who,
            "image",
            "create",
            "cliupd",
            "--base",
            DEBIAN12,
            "--no-build",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let spec_only = json(&out);
    assert_eq!(spec_only["built"], false);
    assert_eq!(spec_only["image"], format!("ds01-{uid}/cliupd:latest"));

    env.ds01()
        .args(["--as", &who, "image", "dockerfile", "cliupd"])
        .assert()
        .success()
        .stdout(contains(format!("FROM {DEBIAN12}")));

    let rebuild = env
        .ds01()
        .args([
            "--as",
            &who,
            "image",
            "update",
            "cliupd",
            "--rebuild",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let built = json(&rebuild);
    assert_eq!(built["built"], true);
    let id = built["id"].as_str().unwrap().to_owned();

    let again = env
        .ds01()
        .args(["--as", &who, "image", "update", "cliupd", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let unchanged = json(&again);
    assert_eq!(unchanged["built"], false);
    assert_eq!(unchanged["id"], id);

    // A changed spec is rebuilt; the package does not exist, so the build fails, saying
    // which step and why, and the image built before stays as it was.
    env.ds01()
        .args([
            "--as",
            &who,
            "image",
            "update",
            "cliupd",
            "--add-apt",
            "ds01-no-such-package",
        ])
        .assert()
        .code(1)
        .stderr(contains("building ds01-"))
        .stderr(contains(
            "installing apt packages: E: Unable to locate package ds01-no-such-package",
        ))
        .stderr(contains("last lines of the build log"));
    let still = docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Id}}",
        &format!("ds01-{uid}/cliupd:latest"),
    ]);
    assert_eq!(still, id);
    env.ds01()
        .args([
            "--as",
            &who,
            "image",
            "update",
            "cliupd",
            "--remove",
            "ds01-no-such-package",
            "--json",
        ])
        .assert()
        .success()
        .stdout(contains("\"built\":false"));

    let shown = env
        .ds01()
        .args(["--as", &who, "image", "show", "cliupd", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let shown = json(&shown);
    assert_eq!(shown["id"], id);
    assert!(shown["labels"]["ds01.spec.sha256"]
        .as_str()
        .is_some_and(|s| s.len() == 64));
    assert_eq!(shown["spec"]["base"]["image"], DEBIAN12);

    let listed = env
        .ds01()
        .args(["--as", &who, "image", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = json_lines(&listed);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "cliupd");
    assert_eq!(listed[0]["spec"], true);

    env.ds01()
        .args(["--as", &who, "image", "delete", "cliupd"])
        .assert()
        .success();
    env.ds01()
        .args(["--as", &who, "image", "show", "cliupd"])
        .assert()
        .code(1)
        .stderr(contains("ds01 image create cliupd"));
}

/// Errors say what to do, with exit status 1; nothing is left behind.
#[test]
fn missing_images_and_containers_fail_with_a_hint() {
    let env = RootCli::new("missing");
    let uid = test_uid(3);
    let who = format!("cli.missing@example.lan:{uid}:{uid}");
    env.ds01()
        .args(["--as", &who, "container", "create", "nothing", "--json"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains(format!(
            "image ds01-{uid}/nothing:latest not found"
        )))
        .stderr(contains("ds01 image create nothing"));
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "create",
            "x",
            "--image",
            "ds01-test/absent:v1",
        ])
        .assert()
        .code(1)
        .stderr(contains("no image `ds01-test/absent:v1` that you may use"));
    env.ds01()
        .args(["--as", &who, "container", "start", "nothing"])
        .assert()
        .code(1)
        .stderr(contains("ds01 container list"));
    let listed = env
        .ds01()
        .args(["--as", &who, "container", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(listed.is_empty());
}

/// `doctor` reports each check as one JSON object; a configured but missing catalog fails it.
#[test]
fn doctor_reports_every_check() {
    let env = RootCli::new("doctor");
    env.system_config("catalog = \"/nonexistent/ml_images.repo\"\n");
    let out = env.ds01().args(["doctor", "--json"]).assert().code(1);
    let checks = json_lines(&out.get_output().stdout);
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["check"] == name)
            .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
            .clone()
    };
    assert_eq!(check("service")["ok"], true);
    assert!(check("identity")["detail"]
        .as_str()
        .unwrap()
        .contains("peer credentials"));
    assert_eq!(check("engine")["ok"], true);
    assert!(check("engine")["detail"]
        .as_str()
        .unwrap()
        .contains("API 1."));
    assert!(check("disk")["detail"]
        .as_str()
        .unwrap()
        .contains("GiB free"));
    assert_eq!(check("catalog")["ok"], false);
    assert!(check("catalog")["detail"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/ml_images.repo"));
}
