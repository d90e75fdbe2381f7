//! Small readings and assertions the engine tests share: the engine's own view of an
//! object (through the docker CLI, as an admin would look), and refusals.

use std::process::{Command, Output};

/// Output bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `docker ARGS` as root: its trimmed stdout (empty when it failed).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    text(&out.stdout).trim().to_owned()
}

/// `docker inspect -f FORMAT NAME`.
pub fn inspect(name: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, name])
}

/// Whether container `name` runs, as the engine says.
pub fn running(name: &str) -> bool {
    inspect(name, "{{.State.Running}}") == "true"
}

/// Asserts that `out` is a refusal with exit status `code` whose stderr says `needle`;
/// `what` names the attempt in the failure message.
pub fn refused(out: Output, code: i32, what: &str, needle: &str) {
    refused_saying(&out, Some(code), what, &[needle]);
}

/// Asserts that `out` failed (with exit status `code`, when given) and that its stderr says
/// every one of `needles`.
pub fn refused_saying(out: &Output, code: Option<i32>, what: &str, needles: &[&str]) {
    let stderr = text(&out.stderr);
    let refused = match code {
        Some(code) => out.status.code() == Some(code),
        None => !out.status.success(),
    };
    assert!(
        refused,
        "{what} was not refused ({}): stdout {} stderr {stderr}",
        out.status,
        text(&out.stdout)
    );
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{what}: no `{needle}` in:\n{stderr}"
        );
    }
}

/// Asserts that `err` is the sparse-file guard's refusal of the file `path` of `size` bytes,
/// named in the message.
pub fn oversized(err: &ds01_engine::EngineError, path: &str, size: u64) {
    match err {
        ds01_engine::EngineError::OversizedFile {
            path: p, size: s, ..
        } => {
            assert_eq!((p.as_str(), *s), (path, size))
        }
        other => panic!("expected the guard to refuse {path}, got {other}"),
    }
    assert!(err.to_string().contains(path), "{err}");
}

/// `docker ARGS` as root: whether it succeeded, and its trimmed stdout.
pub fn docker_status(args: &[&str]) -> (bool, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    (out.status.success(), text(&out.stdout).trim().to_owned())
}

/// `docker ARGS` as root that must succeed: its trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_owned()
}

/// Stdout as one JSON value (and nothing else).
pub fn json(stdout: &[u8]) -> serde_json::Value {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    serde_json::from_str(text.trim_end())
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {text:?}"))
}

/// Stdout as JSON lines.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}
