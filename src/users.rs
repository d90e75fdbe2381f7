//! Throwaway Linux accounts for tests that run `ds01` as an unprivileged user, and the
//! helpers to run programs as them (directly or inside tmux).
//!
//! Tests run as root. Each [`TestUser`] is a real entry in /etc/passwd, created with
//! `useradd` and removed with `userdel -r` on drop (also when the test panics). Accounts
//! left by a test process that was killed outright are swept by the next process that
//! creates one, since their logins embed the PID of the process that made them.

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Group, Pid, Uid, User};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Prefix of every plain test login; also how stale ones are recognised.
const PLAIN_PREFIX: &str = "ds01t-";
/// Domain of every LDAP-style test login; also how stale ones are recognised.
const LDAP_DOMAIN: &str = "@ds01-test.lan";
/// `useradd` and `utmp` agree on nothing longer.
const MAX_LOGIN: usize = 32;

const PLAIN_UIDS: (u32, u32) = (61_000, 64_999);
/// Ten-digit IDs like the real LDAP ones, clear of [`crate::LDAP_UID`] and
/// [`crate::LDAP_GID`] so that a host account can never be confused with the fixture
/// identity used inside containers.
const LDAP_UIDS: (u32, u32) = (1_722_830_000, 1_722_839_999);
const LDAP_GIDS: (u32, u32) = (1_722_810_000, 1_722_819_999);
/// Ten-digit IDs above 2147483647 (`i32::MAX`), which directories hand out too: where tools
/// that keep IDs in signed integers go wrong (`squeue` prints them negative, Docker refuses
/// them as a numeric `--user`).
const LDAP_HIGH_UIDS: (u32, u32) = (3_000_000_000, 3_000_099_999);
const LDAP_HIGH_GIDS: (u32, u32) = (3_000_100_000, 3_000_199_999);

/// The PATH every test user gets: no inheritance from root's environment.
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// useradd/userdel lock /etc/passwd themselves, but picking a free UID and then creating
/// it must not interleave between threads of one test binary.
fn accounts_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    // A test that panicked while holding the lock leaves nothing half-done that matters.
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

/// A throwaway Linux account with a home directory and `~/workspace`, not in the `docker`
/// group; removed with its home and processes when dropped.
#[derive(Debug)]
pub struct TestUser {
    login: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl TestUser {
    /// A plain account `ds01t-<tag>-<pid>-<n>` with a UID in 61000–64999 and a primary
    /// group of its own (GID = UID). `tag` is reduced to `[a-z0-9-]` and shortened to fit.
    pub fn plain(tag: &str) -> TestUser {
        let pid = std::process::id();
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let suffix = format!("-{pid}-{n}");
        let room = MAX_LOGIN - PLAIN_PREFIX.len() - suffix.len();
        let login = format!("{PLAIN_PREFIX}{}{suffix}", clean_tag(tag, room));
        Self::create(login, PLAIN_UIDS, None)
    }

    /// An LDAP-style account `t<pid>-<n>.<tag>@ds01-test.lan` (shaped like
    /// `h.baker@hertie-school.lan`) with a ten-digit UID and a ten-digit GID that differs
    /// from it, as directory-backed accounts have.
    pub fn ldap(tag: &str) -> TestUser {
        Self::ldap_in(tag, LDAP_UIDS, LDAP_GIDS)
    }

    /// An LDAP-style account like [`TestUser::ldap`] whose UID and GID are above
    /// 2147483647 (`i32::MAX`), e.g. 3000012345.
    pub fn ldap_above_i32(tag: &str) -> TestUser {
        Self::ldap_in(tag, LDAP_HIGH_UIDS, LDAP_HIGH_GIDS)
    }

    fn ldap_in(tag: &str, uids: (u32, u32), gids: (u32, u32)) -> TestUser {
        let pid = std::process::id();
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let head = format!("t{pid}-{n}.");
        let room = MAX_LOGIN - head.len() - LDAP_DOMAIN.len();
        let login = format!("{head}{}{LDAP_DOMAIN}", clean_tag(tag, room.max(1)));
        Self::create(login, uids, Some(gids))
    }

    fn create(login: String, uids: (u32, u32), gids: Option<(u32, u32)>) -> TestUser {
        assert!(
            login.len() <= MAX_LOGIN,
            "login {login} is longer than {MAX_LOGIN}"
        );
        sweep_stale_accounts_once();
        let _guard = accounts_lock();
        if User::from_name(&login).ok().flatten().is_some() {
            // Only a PID reused after a killed run can get here: the name is ours.
            remove_account(&login);
        }
        let (uid, gid) = pick_ids(uids, gids);
        let home = Path::new("/home").join(&login);
        run_root("groupadd", &["-g", &gid.to_string(), &login]);
        let useradd = Command::new("useradd")
            .args(["--badname", "--no-log-init", "--create-home"])
            .args(["--uid", &uid.to_string(), "--gid", &gid.to_string()])
            .args(["--shell", "/bin/bash", "--home-dir"])
            .arg(&home)
            .arg(&login)
            .output()
            .expect("useradd runs");
        if !useradd.status.success() {
            let _ = Command::new("groupdel").arg(&login).output();
            panic!(
                "useradd {login} (uid {uid}, gid {gid}) failed: {}",
                String::from_utf8_lossy(&useradd.stderr)
            );
        }
        // From here on Drop removes the account, even if a check below fails.
        let user = TestUser {
            login,
            uid,
            gid,
            home,
        };
        user.finish_setup();
        user
    }

    fn finish_setup(&self) {
        let getent = Command::new("getent")
            .args(["passwd", &self.login])
            .output()
            .expect("getent runs");
        let line = String::from_utf8_lossy(&getent.stdout);
        assert!(
            getent.status.success() && line.starts_with(&format!("{}:x:{}:", self.login, self.uid)),
            "getent passwd {} after useradd gave {:?}",
            self.login,
            line
        );
        std::fs::set_permissions(&self.home, std::fs::Permissions::from_mode(0o755))
            .expect("chmod home");
        let workspace = self.home.join("workspace");
        std::fs::create_dir_all(&workspace).expect("mkdir ~/workspace");
        chown(&workspace, Some(self.uid), Some(self.gid)).expect("chown ~/workspace");
        if let Some(docker) = Group::from_name("docker").ok().flatten() {
            assert!(
                docker.gid.as_raw() != self.gid && !docker.mem.contains(&self.login),
                "test user {} must not be in the docker group",
                self.login
            );
        }
    }

    /// The login name.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The numeric user ID.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The primary group ID.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The home directory (0755, owned by the user, with a `workspace` directory in it).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// A command that runs `program` as this user, in their home directory, with only
    /// HOME, USER, LOGNAME, SHELL, PATH (and RUST_BACKTRACE when set) in its environment;
    /// variables added to the returned command with `.env()` reach the program too.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        // setpriv's own --reset-env would also wipe whatever the test adds with .env(),
        // so the environment is cleared here instead and passes through setpriv intact.
        let mut cmd = Command::new("setpriv");
        cmd.env_clear()
            .envs(self.base_env())
            .current_dir(&self.home)
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program);
        cmd
    }

    fn base_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("HOME".to_owned(), self.home.display().to_string()),
            ("USER".to_owned(), self.login.clone()),
            ("LOGNAME".to_owned(), self.login.clone()),
            ("SHELL".to_owned(), "/bin/bash".to_owned()),
            ("PATH".to_owned(), USER_PATH.to_owned()),
        ];
        if let Ok(bt) = std::env::var("RUST_BACKTRACE") {
            env.push(("RUST_BACKTRACE".to_owned(), bt));
        }
        env
    }

    /// Writes `contents` to `relative` under the home directory as this user (the file and
    /// any directories it needs are the user's, as if they had made them), returning the
    /// path.
    pub fn write_file(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.home.join(relative);
        let mut child = self
            .command("sh")
            .args(["-c", "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\"", "sh"])
            .arg(&path)
            .stdin(Stdio::piped())
            .spawn()
            .expect("sh runs");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), contents.as_bytes())
            .expect("writing the file's contents");
        let status = child.wait().expect("sh ends");
        assert!(
            status.success(),
            "writing {} as {}",
            path.display(),
            self.login
        );
        path
    }

    /// Runs `program args…` as this user to completion, capturing its output (stdin is
    /// empty).
    pub fn run_as<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let program = program.as_ref();
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {program:?} as {}: {e}", self.login))
    }

    /// Starts `cmdline` (a shell command line, run by the user's shell) in a detached tmux
    /// session owned by this user, on a private socket; for tests that need a terminal.
    pub fn tmux_session(&self, cmdline: &str) -> TmuxSession<'_> {
        TmuxSession::start(self, cmdline)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _guard = accounts_lock();
        remove_account(&self.login);
        if self.home.exists() {
            let _ = std::fs::remove_dir_all(&self.home);
        }
    }
}

/// Keeps `[a-z0-9-]` of `tag`, at most `room` characters, never empty.
fn clean_tag(tag: &str, room: usize) -> String {
    let tag: String = tag
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
        .take(room)
        .collect();
    if tag.is_empty() {
        "x".to_owned()
    } else {
        tag
    }
}

/// A UID (and GID: the same number unless `gids` gives a range of its own) that no account
/// or group uses yet, probing from a PID-dependent start so that parallel test processes
/// rarely race for the same one.
fn pick_ids(uids: (u32, u32), gids: Option<(u32, u32)>) -> (u32, u32) {
    let free_uid = |id: u32| matches!(User::from_uid(Uid::from_raw(id)), Ok(None));
    let free_gid = |id: u32| matches!(Group::from_gid(Gid::from_raw(id)), Ok(None));
    // Each call starts elsewhere too: reusing the UID of a user just removed would make a
    // zombie or straggler of the old user look like the new user's.
    let start = std::process::id()
        .wrapping_mul(7919)
        .wrapping_add(SERIAL.fetch_add(1, Ordering::Relaxed).wrapping_mul(131));
    let probe = |(lo, hi): (u32, u32), ok: &dyn Fn(u32) -> bool| -> u32 {
        let span = hi - lo + 1;
        (0..span)
            .map(|i| lo + (start.wrapping_add(i)) % span)
            .find(|&id| ok(id))
            .unwrap_or_else(|| panic!("no free ID left in {lo}..={hi}"))
    };
    match gids {
        None => {
            let id = probe(uids, &|id| free_uid(id) && free_gid(id));
            (id, id)
        }
        Some(gids) => (probe(uids, &free_uid), probe(gids, &free_gid)),
    }
}

/// Kills the account's processes, then removes the account, its home and its group.
/// Never panics: it runs in Drop, possibly while a test is already panicking.
fn remove_account(login: &str) {
    let user = User::from_name(login).ok().flatten();
    // userdel refuses (exit 8) while a process of the user is still on its way out; the
    // killing and the removal are tried again then.
    for attempt in 1..=5 {
        if let Some(user) = &user {
            kill_processes_of(user.uid.as_raw());
        }
        match Command::new("userdel").args(["--remove", login]).output() {
            Ok(out) if out.status.code() == Some(8) && attempt < 5 => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            // Exit 12 only means the mail spool did not exist; anything else is worth a line.
            Ok(out) if !out.status.success() && out.status.code() != Some(12) => eprintln!(
                "ds01-tests: userdel {login} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => eprintln!("ds01-tests: userdel {login}: {e}"),
            _ => {}
        }
        break;
    }
    // USERGROUPS_ENAB usually takes the same-named group along, but not on every setup.
    if Group::from_name(login).ok().flatten().is_some() {
        let _ = Command::new("groupdel").arg(login).output();
    }
    if let Some(user) = user {
        if user.dir.starts_with("/home/") && user.dir.exists() {
            let _ = std::fs::remove_dir_all(&user.dir);
        }
    }
}

/// SIGKILLs every process whose real, effective, saved or filesystem UID is `uid`, until
/// none is left (a process may fork while we scan). Only the test's own accounts get here.
fn kill_processes_of(uid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = processes_of(uid);
        if pids.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("ds01-tests: processes {pids:?} of uid {uid} survive SIGKILL");
            return;
        }
        for pid in pids {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn processes_of(uid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                return false;
            };
            // A zombie is already dead; it goes away when its parent reaps it.
            let zombie = status
                .lines()
                .any(|l| l.starts_with("State:") && l.split_whitespace().nth(1) == Some("Z"));
            let owned = status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .is_some_and(|l| l.split_whitespace().skip(1).any(|f| f == uid.to_string()));
            owned && !zombie
        })
        .collect()
}

/// Removes test accounts whose creating process no longer exists: a test binary killed by
/// SIGKILL or a timeout never runs Drop.
fn sweep_stale_accounts_once() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(passwd) = std::fs::read_to_string("/etc/passwd") else {
            return;
        };
        let _guard = accounts_lock();
        for login in passwd.lines().filter_map(|l| l.split(':').next()) {
            if let Some(pid) = creator_pid(login) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    eprintln!("ds01-tests: removing stale test account {login}");
                    remove_account(login);
                }
            }
        }
    });
}

/// The PID embedded in a test login, or `None` for any other account.
fn creator_pid(login: &str) -> Option<u32> {
    if let Some(rest) = login.strip_prefix(PLAIN_PREFIX) {
        // ds01t-<tag>-<pid>-<n>: the tag may itself contain dashes.
        let mut parts = rest.rsplitn(3, '-');
        let _n: u32 = parts.next()?.parse().ok()?;
        return parts.next()?.parse().ok();
    }
    let local = login.strip_suffix(LDAP_DOMAIN)?;
    let head = local.strip_prefix('t')?.split('.').next()?;
    head.split('-').next()?.parse().ok()
}

fn run_root(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The path of workspace binary `name` (like `ds01` or `ds01d`) as cargo built it, next to
/// the running test executable. Root can run it there; a test user may not be able to
/// reach it (the checkout may live under /root), for that see [`user_visible_binary`].
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("test executable has a directory");
    // Integration tests live in target/<profile>/deps; binaries one level up.
    if dir.file_name() == Some(OsStr::new("deps")) {
        dir = dir.parent().expect("deps has a parent");
    }
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "binary {name} was not built: expected it at {}. Build it into the same target \
         directory first, e.g. `cargo build --workspace --bins` (with the same \
         CARGO_TARGET_DIR and profile as the tests)",
        path.display()
    );
    path
}

/// Workspace binary `name`, copied once per test process into /tmp/ds01-test-bin-<pid>/
/// (directory and binary 0755) so that every test user can execute it. The directory is
/// removed when the process exits normally (also after failed tests); one left by a killed
/// process is removed by the next test process that calls this.
pub fn user_visible_binary(name: &str) -> PathBuf {
    static COPIES: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut copies = COPIES.lock().unwrap_or_else(|e| e.into_inner());
    let copies = copies.get_or_insert_with(HashMap::new);
    if let Some(path) = copies.get(name) {
        return path.clone();
    }
    let source = workspace_binary(name);
    let dir = bin_dir();
    let target = dir.join(name);
    let partial = dir.join(format!(".{name}.partial"));
    // Copied by a child process, not through a file this process opens for writing: a
    // sibling test thread forking at that moment would carry the write descriptor into its
    // child until that child execs, and running the binary then fails with ETXTBSY.
    let copied = Command::new("install")
        .arg("-m0755")
        .arg(&source)
        .arg(&partial)
        .status()
        .expect("install runs");
    assert!(
        copied.success(),
        "copying {} to {}",
        source.display(),
        dir.display()
    );
    std::fs::rename(&partial, &target).expect("rename copied binary");
    copies.insert(name.to_owned(), target.clone());
    target
}

fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        sweep_stale_bin_dirs();
        let dir = PathBuf::from(format!("/tmp/ds01-test-bin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("chmod bin dir");
        // Statics are never dropped, but atexit handlers run when the test harness returns
        // from main or calls process::exit after failures.
        extern "C" fn remove_bin_dir() {
            let dir = format!("/tmp/ds01-test-bin-{}", std::process::id());
            let _ = std::fs::remove_dir_all(dir);
        }
        // SAFETY: registering a plain extern "C" fn with no captured state.
        unsafe {
            nix::libc::atexit(remove_bin_dir);
        }
        dir
    })
    .clone()
}

fn sweep_stale_bin_dirs() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("ds01-test-bin-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A detached tmux session running as a [`TestUser`] on a private socket; the tmux server
/// is killed when this is dropped. The pane stays after its command exits, so its last
/// output and exit status can still be read.
pub struct TmuxSession<'u> {
    user: &'u TestUser,
    dir: PathBuf,
    socket: PathBuf,
}

/// The one session on each private server.
const TMUX_TARGET: &str = "ds01";

impl<'u> TmuxSession<'u> {
    fn start(user: &'u TestUser, cmdline: &str) -> TmuxSession<'u> {
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/ds01-tmux-{}-{n}", user.uid));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("mkdir tmux dir");
        chown(&dir, Some(user.uid), Some(user.gid)).expect("chown tmux dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod tmux dir");
        // Loaded when the server starts, i.e. before the command can exit and take the
        // session with it.
        let conf = dir.join("tmux.conf");
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g history-limit 10000\nset -g status off\n",
        )
        .expect("write tmux.conf");
        let session = TmuxSession {
            user,
            socket: dir.join("socket"),
            dir,
        };
        let out = session
            .tmux()
            .arg("-f")
            .arg(&conf)
            .args([
                "new-session",
                "-d",
                "-s",
                TMUX_TARGET,
                "-x",
                "200",
                "-y",
                "50",
            ])
            .arg(cmdline)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux new-session as {} failed: {}",
            user.login,
            String::from_utf8_lossy(&out.stderr)
        );
        session
    }

    fn tmux(&self) -> Command {
        let mut cmd = self.user.command("tmux");
        cmd.env("TERM", "xterm-256color")
            .arg("-S")
            .arg(&self.socket)
            .stdin(Stdio::null());
        cmd
    }

    fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux().args(args).output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The private tmux socket (owned by the user).
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends tmux key names, e.g. `["C-c"]`, `["Enter"]`, `["y", "Enter"]`.
    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", TMUX_TARGET];
        args.extend_from_slice(keys);
        self.tmux_ok(&args);
    }

    /// Types `text` literally (no key-name interpretation).
    pub fn send_text(&self, text: &str) {
        self.tmux_ok(&["send-keys", "-t", TMUX_TARGET, "-l", text]);
    }

    /// The visible pane plus its scrollback, lines joined where they wrapped.
    pub fn capture_pane(&self) -> String {
        self.tmux_ok(&["capture-pane", "-p", "-J", "-S", "-", "-t", TMUX_TARGET])
    }

    /// Polls the pane until it contains `needle`, returning the capture; panics with the
    /// last capture after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let pane = self.capture_pane();
            if pane.contains(needle) {
                return pane;
            }
            if Instant::now() > deadline {
                panic!("tmux pane never showed {needle:?} within {timeout:?}; it shows:\n{pane}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The command's exit status once it has exited (128 + N when killed by signal N, as
    /// shells report it), else `None`.
    pub fn exit_status(&self) -> Option<i32> {
        let out = self.tmux_ok(&[
            "display-message",
            "-p",
            "-t",
            TMUX_TARGET,
            "#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{pane_pid}",
        ]);
        let fields: Vec<&str> = out.trim().split('|').collect();
        let [dead, status, signal, pid] = fields[..] else {
            panic!("unexpected tmux answer {out:?}");
        };
        if dead == "1" {
            if let Ok(status) = status.parse() {
                return Some(status);
            }
            if let Ok(signal) = signal.parse::<i32>() {
                return Some(128 + signal);
            }
        }
        // tmux 3.3a sometimes never reaps the pane's process (here about one run in three),
        // leaving pane_dead_status empty for good; the zombie still holds its status.
        pid.parse().ok().and_then(zombie_exit_status)
    }

    /// Waits for the command to exit and returns its status; panics with the pane after
    /// `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "command in tmux still running after {timeout:?}; pane:\n{}",
                    self.capture_pane()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for TmuxSession<'_> {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The exit status of process `pid` if it is a zombie, decoded like a shell's `$?`.
fn zombie_exit_status(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces; fields resume after its `)`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if fields.first() != Some(&"Z") {
        return None;
    }
    // Field 52 of proc(5), `exit_code`, is the status as waitpid(2) would report it.
    let wait_status: i32 = fields.get(52 - 3)?.parse().ok()?;
    match wait_status & 0x7f {
        0 => Some((wait_status >> 8) & 0xff),
        signal => Some(128 + signal),
    }
}
