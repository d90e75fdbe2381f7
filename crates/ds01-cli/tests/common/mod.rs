//! Shared helpers of the CLI tests: a `ds01` command isolated from the machine's
//! configuration, and a guard that removes what a test made, even when it fails.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;

/// Debian 12 minbase with sudo (see `scripts/fixture-images.sh`).
pub const DEBIAN12: &str = "ds01-fixture/debian12:latest";
/// Debian 11 minbase (shadow 4.8.1, whose lastlog grows with the UID).
pub const DEBIAN11: &str = "ds01-fixture/debian11:latest";

/// One test's resources: a unique `ds01.test` label, a private state and config dir.
pub struct TestEnv {
    pub label: String,
    pub dir: tempfile::TempDir,
}

impl TestEnv {
    pub fn new(test: &str) -> TestEnv {
        let env = TestEnv {
            label: format!("cli-{test}-{}", std::process::id()),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        env.system_config("");
        env
    }

    /// `ds01` as root, which (with no ds01d running) starts a private ds01d with this
    /// test's configuration: its label on every resource, its own state directory.
    pub fn ds01(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ds01"));
        cmd.env("DS01_STATE_DIR", self.dir.path().join("state"))
            .env("DS01_SOCKET", self.dir.path().join("no-service.sock"))
            .env(
                "DS01_SYSTEM_CONFIG",
                self.dir.path().join("system-config.toml"),
            )
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE");
        cmd
    }

    /// Writes the configuration of this test's ds01d: `text` with the test's label added
    /// to its `[labels]` table.
    pub fn system_config(&self, text: &str) {
        let mine = format!("\"ds01.test\" = \"{}\"\n", self.label);
        let text = match text.split_once("[labels]\n") {
            Some((before, after)) => format!("{before}[labels]\n{mine}{after}"),
            None => format!("{text}\n[labels]\n{mine}"),
        };
        std::fs::write(self.dir.path().join("system-config.toml"), text).expect("config written");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let filter = format!("label=ds01.test={}", self.label);
        let ids = |args: &[&str]| -> Vec<String> {
            StdCommand::new("docker")
                .args(args)
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let containers = ids(&["ps", "-aq", "--filter", &filter]);
        if !containers.is_empty() {
            let _ = StdCommand::new("docker")
                .args(["rm", "-f"])
                .args(&containers)
                .output();
        }
        // The users' networks ds01d made, once their containers are gone.
        let networks = ids(&["network", "ls", "-q", "--filter", &filter]);
        if !networks.is_empty() {
            let _ = StdCommand::new("docker")
                .args(["network", "rm"])
                .args(&networks)
                .output();
        }
        let volumes = ids(&["volume", "ls", "-q", "--filter", &filter]);
        if !volumes.is_empty() {
            let _ = StdCommand::new("docker")
                .args(["volume", "rm"])
                .args(&volumes)
                .output();
        }
        let images = ids(&["images", "-q", "--filter", &filter]);
        if !images.is_empty() {
            let _ = StdCommand::new("docker")
                .args(["rmi", "-f"])
                .args(&images)
                .output();
        }
    }
}

/// Parses stdout as one JSON object (and nothing else).
pub fn json(stdout: &[u8]) -> serde_json::Value {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    serde_json::from_str(text.trim_end())
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {text:?}"))
}

/// Parses stdout as JSON lines.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(stdout)
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// `docker` with arguments, returning trimmed stdout; panics on failure.
pub fn docker(args: &[&str]) -> String {
    let out = StdCommand::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A UID below 5,000,000 unique to this test and process.
pub fn test_uid(test_no: u32) -> u32 {
    4_000_000 + test_no * 10_000 + std::process::id() % 10_000
}
