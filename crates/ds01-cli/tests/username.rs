//! `ds01 username ...` as scripts call it: arguments or stdin, plain or JSON, exit statuses.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn ds01() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ds01"))
}

/// Parses `--json` output into one value per line.
fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn json_from_stdin_reports_each_line_in_order_and_fails() {
    let out = ds01()
        .args(["username", "sanitize", "--json"])
        .write_stdin("h.baker@hertie-school.lan\n@x\nal:ice\n")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let records = json_lines(&out);
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0],
        serde_json::json!({"input": "h.baker@hertie-school.lan", "username": "h-baker"})
    );
    assert_eq!(records[1]["input"], "@x");
    assert!(records[1]["error"]
        .as_str()
        .unwrap()
        .contains("empty account name"));
    assert!(records[1].get("username").is_none());
    assert_eq!(records[2]["input"], "al:ice");
    assert!(records[2]["error"].as_str().unwrap().contains("`:`"));
}

#[test]
fn slice_prints_the_unit_name() {
    ds01()
        .args([
            "username",
            "slice",
            "--group",
            "student",
            "h.baker@hertie-school.lan",
        ])
        .assert()
        .success()
        .stdout("ds01-student-h_baker.slice\n");
}

#[test]
fn plain_output_keeps_lines_aligned_with_input() {
    ds01()
        .args(["username", "sanitize"])
        .write_stdin("h.baker@hertie-school.lan\n@x\r\njohn.doe\n1234\nalice")
        .assert()
        .code(1)
        // Failed inputs leave empty lines; the last line needs no newline to be read.
        .stdout("h-baker\n\njohn-doe\n\nalice\n")
        .stderr(contains("`@x` maps to an empty account name"))
        .stderr(contains("`1234` is all digits"));
}

#[test]
fn crlf_line_endings_are_stripped() {
    ds01()
        .args(["username", "sanitize"])
        .write_stdin("h.baker@hertie-school.lan\r\nalice\r\n")
        .assert()
        .success()
        .stdout("h-baker\nalice\n");
}

#[test]
fn names_can_come_as_arguments() {
    ds01()
        .args([
            "username",
            "sanitize",
            "h.baker@hertie-school.lan",
            "john.doe",
        ])
        // Arguments win: stdin is not read.
        .write_stdin("never.read\n")
        .assert()
        .success()
        .stdout("h-baker\njohn-doe\n")
        .stderr("");
}

#[test]
fn a_name_starting_with_a_dash_goes_after_double_dash() {
    ds01()
        .args(["username", "sanitize", "--", "-n"])
        .assert()
        .success()
        .stdout("n\n");
}

#[test]
fn global_flags_work_before_the_command_too() {
    ds01()
        .args(["--json", "username", "sanitize", "alice"])
        .assert()
        .success()
        .stdout("{\"input\":\"alice\",\"username\":\"alice\"}\n");
}

#[test]
fn quiet_silences_errors_but_not_the_exit_status() {
    ds01()
        .args(["-q", "username", "sanitize", "@x", "alice"])
        .assert()
        .code(1)
        .stdout("\nalice\n")
        .stderr("");
}

#[test]
fn verbose_prints_a_summary() {
    ds01()
        .args(["username", "sanitize", "-v", "alice", "@x"])
        .assert()
        .code(1)
        .stderr(contains("2 names: 1 mapped, 1 refused"));
}

#[test]
fn compat_prints_the_reference_output_verbatim() {
    ds01()
        .args(["username", "sanitize", "--compat"])
        .write_stdin("al:ice\n@x\n1234\nh.baker@hertie-school.lan\n")
        .assert()
        .success()
        .stdout("al:ice\n\n1234\nh-baker\n")
        .stderr("");
}

#[test]
fn lines_that_are_not_utf8_fail_alone() {
    let out = ds01()
        .args(["username", "sanitize", "--json"])
        .write_stdin(&b"alice\nbad\xff\nbob\n"[..])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let records = json_lines(&out);
    assert_eq!(records[0]["username"], "alice");
    assert!(records[1]["error"]
        .as_str()
        .unwrap()
        .contains("line 2 of standard input is not valid UTF-8"));
    assert_eq!(records[2]["username"], "bob");
}

#[test]
fn empty_stdin_maps_nothing_and_succeeds() {
    ds01()
        .args(["username", "sanitize"])
        .write_stdin("")
        .assert()
        .success()
        .stdout("");
}

#[test]
fn slice_json_and_failures() {
    let out = ds01()
        .args([
            "username", "slice", "--json", "--group", "student", "john.doe",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        json_lines(&out),
        [serde_json::json!({
            "input": "john.doe",
            "slice": "ds01-student-john_doe.slice",
            "group": "student",
            "user": "john_doe",
        })]
    );
    ds01()
        .args(["username", "slice", "--group", "student", "@x"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("empty user part"));
}

#[test]
fn a_bad_group_is_a_usage_error() {
    ds01()
        .args(["username", "slice", "--group", "phd-student", "alice"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("`phd-student` is not a slice group"));
}

#[test]
fn usage_errors_exit_2() {
    ds01()
        .args(["username", "sanitize", "--no-such-flag"])
        .assert()
        .code(2);
    ds01().args(["username", "slice", "alice"]).assert().code(2);
    ds01()
        .args(["-q", "-v", "username", "sanitize", "a"])
        .assert()
        .code(2);
    // No command at all: show help, but it is still a usage error.
    ds01().assert().code(2).stderr(contains("Usage: ds01"));
}

#[test]
fn version_and_help() {
    ds01()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("ds01 {}\n", env!("CARGO_PKG_VERSION")));
    ds01()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("Exit status:").and(contains("ds01 username sanitize")));
    ds01()
        .args(["username", "sanitize", "--help"])
        .assert()
        .success()
        .stdout(contains("empty").and(contains("line N")));
}
