//! Python on any base, and images from what users have (`--requirements`, `--preset`,
//! `--dockerfile`, `image import`), against the real engine through a private ds01d.

mod common;

use common::{json, test_uid, TestEnv, DEBIAN12};
use predicates::str::contains;

/// Debian 12 with an `ubuntu` 1000:1000 account, like `ubuntu:24.04`; its python3 (once
/// installed) is "externally managed" (PEP 668).
const UBUNTU_LIKE: &str = "ds01-fixture/ubuntu-account:latest";

/// This test's ds01d configuration: containers within this host's locked-memory limit, and
/// builds trusting the host's CA certificates (a network whose proxy intercepts TLS needs
/// them for pip; elsewhere they are just the usual public CAs).
fn python_env(test: &str) -> TestEnv {
    let env = TestEnv::new(test);
    let mut config = "memlock = \"8m\"\n".to_owned();
    let host_cas = "/etc/ssl/certs/ca-certificates.crt";
    if std::path::Path::new(host_cas).exists() {
        config.push_str(&format!("build_ca_certificates = \"{host_cas}\"\n"));
    }
    env.system_config(&config);
    env
}

fn run_json(env: &TestEnv, args: &[&str]) -> serde_json::Value {
    let out = env.ds01().args(args).assert().success();
    json(&out.get_output().stdout)
}

/// Builds `name` on `base` from a requirements file and `--pip`, then checks in a container
/// that the venv is the user's: `pip install` works as them, without sudo.
fn pip_as_the_user(env: &TestEnv, who: &str, uid: u32, name: &str, base: &str) {
    let requirements = env.path().join("requirements.txt");
    std::fs::write(
        &requirements,
        "# what the lab needs\nidna >= 3   # pinned low enough\n\n",
    )
    .unwrap();
    let built = run_json(
        env,
        &[
            "--as",
            who,
            "image",
            "create",
            name,
            "--base",
            base,
            "--requirements",
            requirements.to_str().unwrap(),
            "--pip",
            "certifi",
            "--json",
        ],
    );
    assert_eq!(built["built"], true, "{built}");

    let created = run_json(
        env,
        &[
            "--as",
            who,
            "container",
            "create",
            name,
            "--cpu-only",
            "--start",
            "--json",
        ],
    );
    assert_eq!(created["user_setup"], "baked");

    let exec = |command: &[&str]| {
        let mut args = vec!["--as", who, "container", "exec", name, "--"];
        args.extend_from_slice(command);
        env.ds01().args(args).assert()
    };
    // The venv is the user's and first on PATH, for exec and for login shells.
    exec(&[
        "sh",
        "-c",
        "command -v pip; stat -c %u /opt/ds01/venv /opt/ds01/venv/bin/pip",
    ])
    .success()
    .stdout(format!("/opt/ds01/venv/bin/pip\n{uid}\n{uid}\n"));
    exec(&["bash", "-lc", "command -v python"])
        .success()
        .stdout("/opt/ds01/venv/bin/python\n");
    exec(&["pip", "install", "--no-cache-dir", "six"]).success();
    exec(&[
        "python",
        "-c",
        "import six, idna, certifi; print('imported')",
    ])
    .success()
    .stdout("imported\n");
    // The system's Python was left alone: nothing of ours in its site-packages.
    exec(&["/usr/bin/python3", "-c", "import idna"]).failure();

    let removed = run_json(
        env,
        &[
            "--as",
            who,
            "container",
            "remove",
            name,
            "--force",
            "--json",
        ],
    );
    assert_eq!(removed["action"], "removed");
}

#[test]
fn requirements_and_pip_on_debian12_then_pip_install_as_the_user() {
    let env = python_env("pydeb");
    let uid = test_uid(21);
    let who = format!("cli.py@example.lan:{uid}:{uid}");
    pip_as_the_user(&env, &who, uid, "clipydeb", DEBIAN12);

    // A failing build says which step and why, in its error line, before the log tail.
    let failed = env
        .ds01()
        .args([
            "--as",
            &who,
            "image",
            "update",
            "clipydeb",
            "--add",
            "ds01-no-such-package-xyz",
        ])
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).into_owned();
    let first = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        first.contains("failed at step")
            && first.contains("installing pip packages")
            && first.contains("ds01-no-such-package-xyz"),
        "{stderr}"
    );
    assert!(stderr.contains("last lines of the build log"), "{stderr}");
}

#[test]
fn requirements_and_pip_on_an_externally_managed_ubuntu_like_base() {
    let env = python_env("pyubu");
    // UID 1000 is the base's `ubuntu` account, renamed to the user, as on ubuntu:24.04.
    let who = "cli.pyubu@example.lan:1000:1000";
    pip_as_the_user(&env, who, 1000, "clipyubu", UBUNTU_LIKE);
}

#[test]
fn own_dockerfile_and_imported_ds01_dockerfile_give_baked_containers() {
    let env = python_env("pyown");
    let uid = test_uid(22);
    let who = format!("cli.own@example.lan:{uid}:{uid}");

    let own = env.path().join("Dockerfile");
    std::fs::write(
        &own,
        format!("FROM {DEBIAN12}\nRUN echo made by my Dockerfile > /etc/my-marker\nUSER nobody\n"),
    )
    .unwrap();
    let built = run_json(
        &env,
        &[
            "--as",
            &who,
            "image",
            "create",
            "cliown",
            "--dockerfile",
            own.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(built["built"], true);
    let created = run_json(
        &env,
        &[
            "--as",
            &who,
            "container",
            "create",
            "cliown",
            "--cpu-only",
            "--start",
            "--json",
        ],
    );
    assert_eq!(created["user_setup"], "baked");
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "exec",
            "cliown",
            "--",
            "sh",
            "-c",
            "cat /etc/my-marker; id -u",
        ])
        .assert()
        .success()
        .stdout(format!("made by my Dockerfile\n{uid}\n"));

    // DS01's own file, from ~/dockerfiles/NAME.Dockerfile: its user setup (which needs
    // `adduser`, absent here) is replaced by ds01's.
    let home = env.path().join("home");
    std::fs::create_dir_all(home.join("dockerfiles")).unwrap();
    let legacy = include_str!("../../ds01-dockerfile/tests/fixtures/legacy.Dockerfile");
    std::fs::write(home.join("dockerfiles/clilegacy.Dockerfile"), legacy).unwrap();
    let out = env
        .ds01()
        .env("HOME", &home)
        .args(["--as", &who, "image", "import", "clilegacy", "--json"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["built"], true);
    let created = run_json(
        &env,
        &[
            "--as",
            &who,
            "container",
            "create",
            "clilegacy",
            "--cpu-only",
            "--start",
            "--json",
        ],
    );
    assert_eq!(created["user_setup"], "baked");
    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "exec",
            "clilegacy",
            "--",
            "cat",
            "/etc/ds01-legacy-marker",
        ])
        .assert()
        .success()
        .stdout("packages of the old image\n");
    let spec = run_json(
        &env,
        &["--as", &who, "image", "show", "clilegacy", "--json"],
    );
    assert_eq!(spec["spec"]["base"]["kind"], "dockerfile");
    assert_eq!(spec["spec"]["base"]["ds01_legacy"], true);

    for name in ["cliown", "clilegacy"] {
        env.ds01()
            .args(["--as", &who, "container", "remove", name, "--force"])
            .assert()
            .success();
    }
}

/// Refusals come before anything is saved or built, and name what is wrong.
#[test]
fn hostile_requirements_and_dockerfiles_are_refused() {
    let env = python_env("pyrefuse");
    let uid = test_uid(23);
    let who = format!("cli.refuse@example.lan:{uid}:{uid}");
    let file = env.path().join("input");
    let create = |extra: &[&str]| {
        let mut args = vec!["--as", who.as_str(), "image", "create", "clirefused"];
        args.extend_from_slice(extra);
        env.ds01().args(args).assert().code(1)
    };
    for (text, needle) in [
        ("six\n-e .\n", "requirements line 2 (\"-e .\")"),
        ("--index-url https://evil.example/simple\n", "--index-url"),
        ("-r other.txt\n", "options such as -r"),
        ("six; rm -rf /\n", "requirements line 1"),
    ] {
        std::fs::write(&file, text).unwrap();
        create(&["--base", DEBIAN12, "--requirements", file.to_str().unwrap()])
            .stderr(contains(needle));
    }
    for (text, needle) in [
        (
            "FROM ds01-1/someone-else:latest\n",
            "belongs to another user",
        ),
        (
            "FROM debian:12\nCOPY --from=ds01-1/x:latest / /\n",
            "belongs to another user",
        ),
        ("ARG B\nFROM $B\n", "uses a variable"),
        ("RUN echo no base\n", "no FROM"),
        ("FROM debian:12\nRUN echo \\\n", "ends inside"),
    ] {
        std::fs::write(&file, text).unwrap();
        create(&["--dockerfile", file.to_str().unwrap()]).stderr(contains(needle));
    }
    env.ds01()
        .args([
            "--as", &who, "image", "create", "x", "--base", DEBIAN12, "--preset", "vision",
        ])
        .assert()
        .code(2)
        .stderr(contains("cv"));
    let listed = env
        .ds01()
        .args(["--as", &who, "image", "list", "--json"])
        .assert()
        .success();
    assert!(listed.get_output().stdout.is_empty(), "nothing saved");
}
