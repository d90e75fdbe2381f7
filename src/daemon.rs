//! A `ds01d` of the test's own, on a socket in a temporary directory, for tests that run the
//! `ds01` CLI as unprivileged users against it.

use crate::users::workspace_binary;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting daemon may take to answer `GET /v1/version`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopping daemon may take after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `ds01d` (as root, like in production) with its socket, config, state and log
/// in one temporary directory; stopped when dropped.
///
/// Keep it in the test that uses it: a `TestDaemon` in a `static` is never dropped, so its
/// process would outlive the test binary.
pub struct TestDaemon {
    dir: tempfile::TempDir,
    binary: PathBuf,
    child: Option<Child>,
}

impl TestDaemon {
    /// Writes `config_toml` to `<tmp>/config.toml` and starts
    /// `ds01d --socket <tmp>/ds01.sock --config <tmp>/config.toml --state-dir <tmp>/state`,
    /// returning once it answers `GET /v1/version` with 200. Panics, with the daemon's log,
    /// when it exits or is not ready within 20 s.
    pub fn start(config_toml: &str) -> TestDaemon {
        Self::start_binary(workspace_binary("ds01d"), config_toml)
    }

    /// As [`Self::start`], running `binary` (an installed `ds01d`) instead of the
    /// workspace's.
    pub fn start_binary(binary: PathBuf, config_toml: &str) -> TestDaemon {
        let dir = tempfile::Builder::new()
            .prefix("ds01d-test-")
            .tempdir()
            .expect("create daemon temp dir");
        // Test users must reach the socket inside it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod daemon temp dir");
        let mut daemon = TestDaemon {
            dir,
            binary,
            child: None,
        };
        daemon.set_config(config_toml);
        daemon.spawn();
        daemon
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open daemon log");
        let log_err = log.try_clone().expect("dup daemon log");
        let child = Command::new(&self.binary)
            .arg("--socket")
            .arg(self.socket())
            .arg("--config")
            .arg(self.config_path())
            .arg("--state-dir")
            .arg(self.state_dir())
            .arg("--docker-socket")
            .arg(self.docker_socket())
            // The log is a file, read by people: no terminal colour codes in it.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.binary.display()));
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("socket not there yet");
        loop {
            let child = self.child.as_mut().expect("daemon child");
            if let Some(status) = child.try_wait().expect("try_wait daemon") {
                self.child = None;
                panic!(
                    "ds01d exited with {status} before it was ready; its log:\n{}",
                    self.log()
                );
            }
            if self.socket().exists() {
                match http_get(&self.socket(), "/v1/version") {
                    Ok((200, _)) => return,
                    Ok((status, body)) => last = format!("GET /v1/version gave {status}: {body}"),
                    Err(e) => last = format!("GET /v1/version: {e}"),
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "ds01d not ready after {READY_TIMEOUT:?} ({last}); its log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The Docker-API socket it serves, beside its own.
    pub fn docker_socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// `program args…` (the `docker` CLI, docker-compose, python3) run by `user` with
    /// `DOCKER_HOST` naming the Docker-API socket, to completion; stdin is empty.
    pub fn docker_tool(
        &self,
        user: &crate::users::TestUser,
        program: &str,
        args: &[&str],
    ) -> std::process::Output {
        user.command(program)
            .args(args)
            .env(
                "DOCKER_HOST",
                format!("unix://{}", self.docker_socket().display()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {program} as {}: {e}", user.login()))
    }

    /// The temporary directory holding socket, config, state and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The daemon's socket, for `DS01_SOCKET`.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("ds01.sock")
    }

    /// The config file the daemon was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Replaces the config file, for a following [`Self::restart`]. The file is made 0644
    /// whatever the umask: ds01d refuses a config that anyone but root may write.
    pub fn set_config(&self, config_toml: &str) {
        let path = self.config_path();
        std::fs::write(&path, config_toml).expect("write daemon config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .expect("chmod daemon config");
    }

    /// The `--state-dir` (created by the daemon, kept across restarts).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("ds01d.log")
    }

    /// Everything the daemon wrote to stdout and stderr so far, across restarts.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let mut bytes = Vec::new();
            let _ = f.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    }

    /// The PID of the running daemon.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon is running").id()
    }

    /// Stops the daemon with SIGTERM (waiting for it) and starts it again with the same
    /// arguments and state directory, returning once it is ready.
    pub fn restart(&mut self) {
        self.stop();
        if let Ok(mut log) = OpenOptions::new().append(true).open(self.log_path()) {
            let _ = writeln!(log, "----- ds01-tests: restarting ds01d -----");
        }
        self.spawn();
    }

    /// SIGTERM, up to 10 s to exit, then SIGKILL. Signals only the child we started: while
    /// it is unreaped its PID cannot be reused.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("ds01-tests: ds01d ignored SIGTERM for {STOP_TIMEOUT:?}; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The environment the `ds01` CLI needs to talk to this daemon.
    pub fn env_for(&self) -> Vec<(String, String)> {
        vec![(
            "DS01_SOCKET".to_owned(),
            self.socket().display().to_string(),
        )]
    }

    /// Runs `ds01 ARGS` as `user` against this daemon (no colours), with `env` on top.
    pub fn ds01_env(
        &self,
        user: &crate::users::TestUser,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> std::process::Output {
        let mut cmd = self.ds01_command(user, args);
        cmd.envs(env.iter().copied());
        cmd.output().expect("ds01 runs")
    }

    /// `ds01 ARGS` as `user` against this daemon (no colours), to spawn: a session that
    /// stays open while the test goes on.
    pub fn ds01_command(
        &self,
        user: &crate::users::TestUser,
        args: &[&str],
    ) -> std::process::Command {
        let mut cmd = user.command(crate::users::user_visible_binary("ds01"));
        cmd.envs(self.env_for()).env("NO_COLOR", "1").args(args);
        cmd
    }

    /// Runs `ds01 ARGS` as root (an admin) against this daemon (no colours).
    pub fn ds01_as_root(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(crate::users::workspace_binary("ds01"))
            .envs(self.env_for())
            .env("NO_COLOR", "1")
            .args(args)
            .output()
            .expect("ds01 runs")
    }

    /// Runs `ds01 ARGS` as `user` against this daemon.
    pub fn ds01(&self, user: &crate::users::TestUser, args: &[&str]) -> std::process::Output {
        self.ds01_env(user, &[], args)
    }

    /// Asserts that `out` succeeded (else panics with its output and this daemon's log,
    /// saying `what` failed) and returns its stdout.
    pub fn ok(&self, out: std::process::Output, what: &str) -> String {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(
            out.status.success(),
            "{what} failed ({}):\nstdout: {}\nstderr: {}\n--- ds01d log ---\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr),
            self.log()
        );
        text(&out.stdout)
    }

    /// `GET path` on the daemon's socket: status code and (de-chunked) body.
    pub fn get(&self, path: &str) -> std::io::Result<(u16, String)> {
        http_get(&self.socket(), path)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A daemon config whose `[labels]` table makes the daemon put `ds01.test=<label_value>`
/// on everything it creates, so that a [`crate::Sweeper`] with that value (its
/// `label().1`) removes it, and whose reaper stops only what carries that label (test
/// suites share one engine); plus a top-level `memlock` when this host's hard limit is not
/// unlimited. `extra` goes after the top-level keys and before `[labels]`, so it may hold
/// top-level keys and tables alike, but not a `[labels]` table of its own.
pub fn config_with_labels(label_value: &str, extra: &str) -> String {
    let mut text = String::from("reap = \"labelled\"\n");
    // A build network of the test's own, removed by its sweeper: a shared one would be
    // swept by whichever test ends first, under another test's build.
    if !extra.contains("build_network") {
        text.push_str(&format!("build_network = \"ds01-build-{label_value}\"\n"));
    }
    if let Some(kib) = crate::hard_memlock_limit() {
        text.push_str(&format!("memlock = \"{kib}k\"\n"));
    }
    if !extra.is_empty() {
        text.push_str(extra);
        if !extra.ends_with('\n') {
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "\n[labels]\n{} = {}\n",
        toml_string(crate::TEST_LABEL),
        toml_string(label_value)
    ));
    text
}

fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A minimal HTTP/1.1 `GET` over a unix socket with `Connection: close`: enough to probe
/// readiness and read small JSON answers without an HTTP client in the harness. Every
/// read and write is bounded so a daemon that accepts but never answers cannot hang a test.
pub fn http_get(socket: &Path, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: ds01d\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

pub(crate) fn parse_response(raw: &[u8]) -> std::io::Result<(u16, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of HTTP headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad("no HTTP status line"))?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("malformed chunked body"))?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body.windows(2).position(|w| w == b"\r\n")?;
        let size_field = std::str::from_utf8(&body[..eol]).ok()?;
        let size = usize::from_str_radix(size_field.split(';').next()?.trim(), 16).ok()?;
        body = &body[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain).unwrap(), (200, "{}".to_owned()));
        let chunked =
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (404, "abcde".to_owned()));
    }

    #[test]
    fn config_puts_top_level_keys_before_tables() {
        let text = config_with_labels("t-1", "max_containers = 3\n[gpu]\nenabled = false");
        let labels = text.find("[labels]").unwrap();
        assert!(text.find("max_containers").unwrap() < labels);
        if let Some(memlock) = text.find("memlock") {
            assert!(memlock < text.find("[gpu]").unwrap());
        }
        assert!(text.ends_with("\"ds01.test\" = \"t-1\"\n"));
    }
}
