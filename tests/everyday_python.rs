//! Python on any base and images from what users have, tried by unprivileged users through a
//! ds01d on a temporary socket: `--requirements` and `--pip` on Debian 12 and on an
//! Ubuntu-24.04-like base whose Python is "externally managed" (PEP 668), a later
//! `pip install` as the user, a build failure that names its step, exec that streams and
//! takes stdin, the user's own Dockerfile, DS01's `~/dockerfiles`, and refusals.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12, UBUNTU_ACCOUNT};

/// How long a streamed first line may take before the test calls exec buffered (a bound
/// on a hang, not a speed requirement).
const STREAM_PATIENCE: Duration = Duration::from_secs(120);

/// A ds01d whose builds trust the host's CA certificates: this machine's egress re-signs
/// TLS, so pip needs them; elsewhere they are the usual public CAs.
fn python_daemon(sweeper: &Sweeper) -> TestDaemon {
    let host_cas = "/etc/ssl/certs/ca-certificates.crt";
    let extra = if std::path::Path::new(host_cas).exists() {
        format!("build_ca_certificates = \"{host_cas}\"\n")
    } else {
        String::new()
    };
    TestDaemon::start(&config_with_labels(&sweeper.label().1, &extra))
}

fn json(daemon: &TestDaemon, out: Output, what: &str) -> serde_json::Value {
    let text = daemon.ok(out, what);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Builds `name` on `base` from a requirements file and `--pip`, starts a container from it,
/// and checks that the venv is the user's: first on PATH, and `pip install` works as them.
fn pip_as_the_user(daemon: &TestDaemon, user: &TestUser, name: &str, base: &str) {
    let requirements = user.write_file(
        &format!("{name}/requirements.txt"),
        "# what the lab needs\nidna >= 3   # pinned low enough\n\n",
    );
    let built = json(
        daemon,
        daemon.ds01(
            user,
            &[
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
        ),
        "image create",
    );
    assert_eq!(built["built"], true, "{built}");
    let created = json(
        daemon,
        daemon.ds01(
            user,
            &[
                "container",
                "create",
                name,
                "--cpu-only",
                "--start",
                "--json",
            ],
        ),
        "container create",
    );
    assert_eq!(created["user_setup"], "baked");

    let exec = |command: &[&str]| {
        let mut args = vec!["container", "exec", name, "--"];
        args.extend_from_slice(command);
        daemon.ds01(user, &args)
    };
    let uid = user.uid();
    let out = exec(&[
        "sh",
        "-c",
        "command -v pip; stat -c %u /opt/ds01/venv /opt/ds01/venv/bin/pip",
    ]);
    assert_eq!(
        daemon.ok(out, "where pip is"),
        format!("/opt/ds01/venv/bin/pip\n{uid}\n{uid}\n")
    );
    let out = exec(&["bash", "-lc", "command -v python"]);
    assert_eq!(
        daemon.ok(out, "python on PATH"),
        "/opt/ds01/venv/bin/python\n"
    );
    daemon.ok(
        exec(&["pip", "install", "--no-cache-dir", "six"]),
        "pip install as the user",
    );
    let out = exec(&[
        "python",
        "-c",
        "import six, idna, certifi; print('imported')",
    ]);
    assert_eq!(daemon.ok(out, "imports"), "imported\n");
    // The system's Python was left alone: nothing of ours in its site-packages.
    let out = exec(&["/usr/bin/python3", "-c", "import idna"]);
    assert!(!out.status.success(), "idna reached the system Python");
}

/// `exec -i` streams: the command prints a line and then waits for stdin, so the first line
/// can only arrive if output is passed on while the command runs; the answer goes in
/// through stdin and the command's own status (7) comes back.
fn exec_streams_and_takes_stdin(daemon: &TestDaemon, user: &TestUser, name: &str) {
    let mut cmd = user.command(user_visible_binary("ds01"));
    cmd.envs(daemon.env_for())
        .env("NO_COLOR", "1")
        .args([
            "container",
            "exec",
            "-i",
            name,
            "--",
            "sh",
            "-c",
            "echo first; read answer; echo \"got $answer\"; exit 7",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("ds01 runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        tx.send(first).unwrap();
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        rest
    });
    let first = match rx.recv_timeout(STREAM_PATIENCE) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("no first line while the command waited for stdin: exec does not stream");
        }
    };
    assert_eq!(first, "first\n");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"yes\n").unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    assert_eq!(reader.join().unwrap(), "got yes\n");
    assert_eq!(status.code(), Some(7), "the command's own status");
}

#[test]
fn requirements_and_pip_on_debian12_and_a_pep668_base_for_an_ldap_user() {
    let sweeper = Sweeper::new("pyuser");
    let daemon = python_daemon(&sweeper);
    let user = TestUser::ldap("py");

    pip_as_the_user(&daemon, &user, "pydeb", DEBIAN12);
    exec_streams_and_takes_stdin(&daemon, &user, "pydeb");

    // A failing build says which step and why, in its error line, before the log tail.
    let failed = daemon.ds01(
        &user,
        &[
            "image",
            "update",
            "pydeb",
            "--add",
            "ds01-no-such-package-xyz",
        ],
    );
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    let first = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        first.contains("failed at step")
            && first.contains("installing pip packages")
            && first.contains("ds01-no-such-package-xyz"),
        "{err}"
    );
    assert!(err.contains("last lines of the build log"), "{err}");

    // Like ubuntu:24.04: python3 from the distribution is externally managed.
    pip_as_the_user(&daemon, &user, "pyubu", UBUNTU_ACCOUNT);

    for name in ["pydeb", "pyubu"] {
        let out = daemon.ds01(&user, &["container", "remove", name, "--force", "--json"]);
        assert_eq!(json(&daemon, out, "remove")["action"], "removed");
    }
}

#[test]
fn own_dockerfile_and_ds01_dockerfiles_give_baked_containers_and_hostile_input_is_refused() {
    let sweeper = Sweeper::new("pyown");
    let daemon = python_daemon(&sweeper);
    let user = TestUser::plain("pyown");
    let uid = user.uid();

    let own = user.write_file(
        "src/Dockerfile",
        &format!("FROM {DEBIAN12}\nRUN echo made by my Dockerfile > /etc/my-marker\nUSER nobody\n"),
    );
    let built = json(
        &daemon,
        daemon.ds01(
            &user,
            &[
                "image",
                "create",
                "own",
                "--dockerfile",
                own.to_str().unwrap(),
                "--json",
            ],
        ),
        "image create --dockerfile",
    );
    assert_eq!(built["built"], true);
    let created = json(
        &daemon,
        daemon.ds01(
            &user,
            &[
                "container",
                "create",
                "own",
                "--cpu-only",
                "--start",
                "--json",
            ],
        ),
        "create from own Dockerfile",
    );
    assert_eq!(created["user_setup"], "baked");
    let out = daemon.ds01(
        &user,
        &[
            "container",
            "exec",
            "own",
            "--",
            "sh",
            "-c",
            "cat /etc/my-marker; id -u",
        ],
    );
    assert_eq!(
        daemon.ok(out, "exec"),
        format!("made by my Dockerfile\n{uid}\n")
    );

    // DS01's own file, from ~/dockerfiles/NAME.Dockerfile: its user setup (which needs
    // `adduser`, absent here) is replaced by ds01's.
    user.write_file(
        "dockerfiles/legacy.Dockerfile",
        include_str!("../crates/ds01-dockerfile/tests/fixtures/legacy.Dockerfile"),
    );
    let built = json(
        &daemon,
        daemon.ds01(&user, &["image", "import", "legacy", "--json"]),
        "image import",
    );
    assert_eq!(built["built"], true);
    let created = json(
        &daemon,
        daemon.ds01(
            &user,
            &[
                "container",
                "create",
                "legacy",
                "--cpu-only",
                "--start",
                "--json",
            ],
        ),
        "create from the imported image",
    );
    assert_eq!(created["user_setup"], "baked");
    let out = daemon.ds01(
        &user,
        &[
            "container",
            "exec",
            "legacy",
            "--",
            "cat",
            "/etc/ds01-legacy-marker",
        ],
    );
    assert_eq!(
        daemon.ok(out, "legacy marker"),
        "packages of the old image\n"
    );
    let spec = json(
        &daemon,
        daemon.ds01(&user, &["image", "show", "legacy", "--json"]),
        "image show",
    );
    assert_eq!(spec["spec"]["base"]["kind"], "dockerfile");
    assert_eq!(spec["spec"]["base"]["ds01_legacy"], true);
    for name in ["own", "legacy"] {
        daemon.ok(
            daemon.ds01(&user, &["container", "remove", name, "--force"]),
            "remove",
        );
    }

    // Refusals come before anything is saved or built, and name what is wrong.
    let create = |extra: &[&str]| {
        let mut args = vec!["image", "create", "refused"];
        args.extend_from_slice(extra);
        daemon.ds01(&user, &args)
    };
    for (text, needle) in [
        ("six\n-e .\n", "requirements line 2 (\"-e .\")"),
        ("--index-url https://evil.example/simple\n", "--index-url"),
        ("-r other.txt\n", "options such as -r"),
        ("six; rm -rf /\n", "requirements line 1"),
    ] {
        let file = user.write_file("input/requirements.txt", text);
        let out = create(&["--base", DEBIAN12, "--requirements", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{text:?}");
        assert!(stderr(&out).contains(needle), "{text:?}: {}", stderr(&out));
    }
    for (text, needle) in [
        ("FROM ds01-1/someone-else:latest\n", "that you may use"),
        (
            "FROM debian:12\nCOPY --from=ds01-1/x:latest / /\n",
            "that you may use",
        ),
        ("ARG B\nFROM $B\n", "uses a variable"),
        ("RUN echo no base\n", "no FROM"),
        ("FROM debian:12\nRUN echo \\\n", "ends inside"),
    ] {
        let file = user.write_file("input/Dockerfile", text);
        let out = create(&["--dockerfile", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{text:?}");
        assert!(stderr(&out).contains(needle), "{text:?}: {}", stderr(&out));
    }
    let out = create(&["--base", DEBIAN12, "--preset", "vision"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cv"), "{}", stderr(&out));
    let listed = daemon.ok(
        daemon.ds01(&user, &["image", "list", "--json"]),
        "image list",
    );
    assert!(
        listed.contains("\"own\"") && !listed.contains("refused"),
        "a refused image was saved: {listed}"
    );
}
