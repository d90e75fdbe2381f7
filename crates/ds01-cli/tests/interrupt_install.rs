//! Ctrl-C in the middle of a create, and `container install --commit`, end to end through
//! the binary against the real engine.

use ds01_tests::check::{docker_ok as docker, json};
use ds01_tests::cli::{test_uid, RootCli};
use ds01_tests::{DEBIAN11, DEBIAN12};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn ctrl_c_during_a_create_removes_what_it_made_and_a_retry_works() {
    let env = RootCli::new("ctrl-c");
    env.system_config("memlock = \"8m\"\n");
    let uid = test_uid(71);
    let who = format!("ctrl.c@example.lan:{uid}:{uid}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ds01"))
        .envs(
            env.ds01()
                .get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .args([
            "--as",
            &who,
            "container",
            "create",
            "cc",
            "--image",
            DEBIAN11,
            "--cpu-only",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ds01 starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).expect("stderr readable") > 0 {
        seen.push_str(&line);
        if line.contains("setting up user") {
            break;
        }
        line.clear();
    }
    assert!(
        seen.contains("setting up user"),
        "no setup stage reported: {seen}"
    );
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "stderr: {seen}{rest}");
    assert!(rest.contains("interrupted"), "stderr: {rest}");
    let filter = format!("label=ds01.test={}", env.label());
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]),
        "",
        "containers left after Ctrl-C"
    );
    assert_eq!(
        docker(&["images", "-q", "--filter", &filter]),
        "",
        "images left after Ctrl-C"
    );

    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "create",
            "cc",
            "--image",
            DEBIAN11,
            "--cpu-only",
            "--json",
        ])
        .assert()
        .success();
}

#[test]
fn install_with_commit_makes_a_dated_image_without_stale_labels() {
    let env = RootCli::new("install-commit");
    env.system_config("memlock = \"8m\"\n");
    let uid = test_uid(72);
    let who = format!("inst.user@example.lan:{uid}:{uid}");
    // A stand-in `pip` that records its arguments: the fixtures carry no Python.
    let shim = format!("ds01-test/pip-shim:{}", std::process::id());
    let dockerfile = format!(
        "FROM {DEBIAN12}\nRUN printf '#!/bin/sh\\necho \"$@\" > /opt/pip-args\\n' > /usr/local/bin/pip && chmod 755 /usr/local/bin/pip\n"
    );
    let built = Command::new("docker")
        .args([
            "build",
            "-q",
            "-t",
            &shim,
            "--label",
            &format!("ds01.test={}", env.label()),
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(dockerfile.as_bytes())?;
            c.wait()
        })
        .unwrap();
    assert!(built.success());

    env.ds01()
        .args([
            "--as",
            &who,
            "container",
            "create",
            "inst",
            "--image",
            &shim,
            "--cpu-only",
            "--start",
        ])
        .assert()
        .success();
    let out = env
        .ds01()
        .args([
            "--as",
            &who,
            "--json",
            "container",
            "install",
            "inst",
            "requests>=2.31",
            "--commit",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let committed = json(&out)["committed"]
        .as_str()
        .expect("a committed image")
        .to_owned();
    let (repository, tag) = committed.rsplit_once(':').unwrap();
    assert_eq!(repository, "ds01-test/pip-shim");
    let stamp = tag.rsplit('-').take(2).collect::<Vec<_>>();
    assert!(
        stamp.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())),
        "{tag}"
    );
    // The package spec reached pip as one argument, inside the committed image.
    let args = docker(&[
        "run",
        "--rm",
        "--label",
        &format!("ds01.test={}", env.label()),
        &committed,
        "cat",
        "/opt/pip-args",
    ]);
    assert_eq!(args, "install --no-cache-dir -- requests>=2.31");
    // Container-only labels (ownership, GPU allocation) do not live on in the image.
    let owner = docker(&[
        "image",
        "inspect",
        "-f",
        "{{index .Config.Labels \"aime.mlc.USER\"}}",
        &committed,
    ]);
    assert_eq!(owner, "");
    env.ds01()
        .args(["--as", &who, "container", "remove", "inst", "--force"])
        .assert()
        .success();
    docker(&["image", "rm", &committed]);
}
