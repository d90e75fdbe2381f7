//! `ds01` run as root without a service, as an admin would on the server: it starts a
//! private ds01d for the one command, with this test's configuration, state directory and
//! label, so the CLI's own suites (`crates/ds01-cli/tests`) share the one sweeper.

use std::path::Path;

use crate::users::workspace_binary;
use crate::Sweeper;

/// One CLI test's world: a sweeper for what it makes, and a private directory for the
/// ds01d that `ds01` starts (its configuration and state).
pub struct RootCli {
    sweeper: Sweeper,
    dir: tempfile::TempDir,
}

impl RootCli {
    /// A world for `test`: its label is `cli-<test>-<pid>`, its configuration empty but
    /// for the label.
    pub fn new(test: &str) -> RootCli {
        let env = RootCli {
            sweeper: Sweeper::new(&format!("cli-{test}")),
            dir: tempfile::tempdir().expect("a temporary directory"),
        };
        env.system_config("");
        env
    }

    /// The value of the test's `ds01.test` label.
    pub fn label(&self) -> String {
        self.sweeper.label().1
    }

    /// `ds01` as root, isolated from the machine's configuration: no ds01d answers on its
    /// socket, so it starts a private one with this test's configuration.
    pub fn ds01(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(workspace_binary("ds01"));
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

    /// Writes the private ds01d's configuration: `text` with the test's label added to
    /// its `[labels]` table.
    pub fn system_config(&self, text: &str) {
        let mine = format!("\"{}\" = \"{}\"\n", crate::TEST_LABEL, self.label());
        // Its own build network, as `config_with_labels` gives a daemon under test.
        let network = match text.contains("build_network") {
            true => String::new(),
            false => format!("build_network = \"ds01-build-{}\"\n", self.label()),
        };
        let text = format!("{network}{text}");
        let text = match text.split_once("[labels]\n") {
            Some((before, after)) => format!("{before}[labels]\n{mine}{after}"),
            None => format!("{text}\n[labels]\n{mine}"),
        };
        std::fs::write(self.dir.path().join("system-config.toml"), text).expect("config written");
    }

    /// The test's private directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// A UID below 5,000,000 unique to this test and process, for accounts given with
/// `--as LOGIN:UID:GID` (no passwd entry needed).
pub fn test_uid(test_no: u32) -> u32 {
    4_000_000 + test_no * 10_000 + std::process::id() % 10_000
}
