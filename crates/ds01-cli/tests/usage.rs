//! The command line itself: help text (snapshots), usage errors, completions, man page,
//! and who may use `--as`. None of these needs the Docker engine.

use ds01_tests::cli::RootCli;
use predicates::str::contains;

fn help(args: &[&str]) -> String {
    let env = RootCli::new("help");
    let out = env
        .ds01()
        .args(args)
        .env("COLUMNS", "100")
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn top_level_help_documents_exit_statuses() {
    let text = help(&["--help"]);
    assert!(text.contains("2  usage error"));
    insta::assert_snapshot!("help", text);
}

#[test]
fn image_create_help() {
    insta::assert_snapshot!("image_create_help", help(&["image", "create", "--help"]));
}

#[test]
fn container_create_help() {
    insta::assert_snapshot!(
        "container_create_help",
        help(&["container", "create", "--help"])
    );
}

#[test]
fn container_jupyter_and_code_help() {
    insta::assert_snapshot!(
        "container_jupyter_help",
        help(&["container", "jupyter", "--help"])
    );
    insta::assert_snapshot!(
        "container_code_help",
        help(&["container", "code", "--help"])
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let env = RootCli::new("usage");
    env.ds01()
        .args(["container", "create", "bad name"])
        .assert()
        .code(2)
        .stderr(contains("invalid container name"));
    env.ds01()
        .args(["container", "create", "x", "--gpus", "lots"])
        .assert()
        .code(2)
        .stderr(contains("invalid GPU request"));
    env.ds01()
        .args(["container", "create", "x", "--gpus", "1", "--cpu-only"])
        .assert()
        .code(2);
    env.ds01()
        .args(["image", "create", "x", "--pip", "x; rm -rf /"])
        .assert()
        .code(2)
        .stderr(contains("x; rm -rf /"));
    env.ds01().args(["image", "frobnicate"]).assert().code(2);
    // `--as` is checked by the service, which looks the login up in NSS.
    env.ds01()
        .args(["--as", "not-a-spec", "container", "list"])
        .assert()
        .code(1)
        .stderr(contains("no account not-a-spec on this server"));
}

#[test]
fn image_create_without_a_base_does_not_prompt_without_a_terminal() {
    let env = RootCli::new("noprompt");
    env.ds01()
        .args([
            "--as",
            "cli.np@example.lan:4000001:4000001",
            "image",
            "create",
            "x",
        ])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(contains("--base IMAGE or --framework FW"));
}

/// A user without a running service is told where ds01 looked and what to do; only root
/// gets a private ds01d (the security suite runs users against a real one).
#[test]
fn users_without_a_service_are_told_where_it_should_be() {
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_ds01"),
        ])
        .args(["container", "list"])
        .env("DS01_SOCKET", "/nonexistent/ds01.sock")
        .output()
        .expect("setpriv runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/ds01.sock"), "{stderr}");
    assert!(stderr.contains("ds01d.socket"), "{stderr}");
}

#[test]
fn completions_and_man_page_come_from_the_definition() {
    let env = RootCli::new("gen");
    env.ds01()
        .args(["completions", "bash"])
        .assert()
        .success()
        // The dynamic script: it calls ds01 back for candidates (names from ds01d).
        .stdout(contains("COMPLETE=\"bash\""))
        .stdout(contains("-F _clap_complete_ds01 ds01"));
    env.ds01()
        .args(["completions", "zsh"])
        .assert()
        .success()
        .stdout(contains("#compdef ds01"))
        // Autoloaded from fpath as `_ds01`, it completes at the first TAB too.
        .stdout(contains("${funcstack[1]} == _ds01"));
    env.ds01()
        .arg("man")
        .assert()
        .success()
        .stdout(contains(".TH ds01"))
        .stdout(contains("container"));
    // A page per command, as the Debian package installs them.
    let pages = tempfile::tempdir().unwrap();
    env.ds01()
        .args(["man", "--dir"])
        .arg(pages.path())
        .assert()
        .success();
    let page = std::fs::read_to_string(pages.path().join("ds01-container-create.1")).unwrap();
    assert!(page.contains(".TH ds01-container-create 1"), "{page}");
    assert!(page.contains(r"\-\-gpus"), "{page}");
    assert!(pages.path().join("ds01.1").is_file());
}

#[test]
fn configuration_errors_name_the_file() {
    let env = RootCli::new("config");
    std::fs::write(env.path().join("system-config.toml"), "shm = 1\n").unwrap();
    env.ds01()
        .args([
            "--as",
            "cli.cfg@example.lan:4000002:4000002",
            "container",
            "list",
        ])
        .assert()
        .code(1)
        .stderr(contains(
            "system-config.toml is not a valid ds01 configuration",
        ));
}

#[test]
fn everyday_basics_help() {
    for (snapshot, command) in [
        ("container_list_help", "list"),
        ("container_stop_help", "stop"),
        ("container_logs_help", "logs"),
        ("container_cp_help", "cp"),
    ] {
        insta::assert_snapshot!(snapshot, help(&["container", command, "--help"]));
    }
}

// Files that survive: remove and recreate.
#[test]
fn container_remove_and_recreate_help() {
    insta::assert_snapshot!(
        "container_remove_help",
        help(&["container", "remove", "--help"])
    );
    insta::assert_snapshot!(
        "container_recreate_help",
        help(&["container", "recreate", "--help"])
    );
}
