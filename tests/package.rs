//! The Debian package as an admin meets it: `scripts/package-deb.sh` builds it (from the
//! binaries this test run built: no release build), `dpkg -i` installs it on this machine,
//! the installed `ds01d` serves an unprivileged user through the installed `ds01`, and
//! `dpkg --remove` then `--purge` take it away again.
//!
//! dpkg runs in a mount namespace of the test's own whose `/var/lib/ds01` is a temporary
//! directory: that is also the engine's default state directory, where the engine suites
//! running at the same time keep their journals, and the purge would remove it. Everything
//! else (dpkg's database, `/usr`, `/etc`) is the machine's own.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use ds01_tests::check::text;
use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::{workspace_binary, TestUser};
use ds01_tests::Sweeper;

const STATE: &str = "/var/lib/ds01";
/// Held while a run of this test has the package installed: two runs would remove each
/// other's.
const LOCK: &str = "/tmp/ds01-package-test.lock";
/// The PID of the run that installed the package, so that a later run knows a package left
/// by a killed one from an admin's.
const OWNER: &str = "/tmp/ds01-package-test.owner";

/// Files the package must hold, each checked on disk after the install and gone after
/// the purge.
const FILES: &[&str] = &[
    "/usr/bin/ds01",
    "/usr/sbin/ds01d",
    "/lib/systemd/system/ds01d.socket",
    "/lib/systemd/system/ds01d-docker.socket",
    "/lib/systemd/system/ds01d.service",
    "/etc/ds01/config.toml",
    "/usr/lib/ds01/ds01-oci-run",
    "/usr/share/man/man1/ds01.1.gz",
    "/usr/share/man/man1/ds01-container-create.1.gz",
    "/usr/share/bash-completion/completions/ds01",
    "/usr/share/zsh/vendor-completions/_ds01",
    "/usr/share/fish/vendor_completions.d/ds01.fish",
    "/usr/share/doc/ds01/copyright",
];

#[test]
fn the_debian_package_installs_serves_a_user_and_purges() {
    let started = Instant::now();
    let _lock = lock();
    let mut package = Package::claim();
    let deb = package.build();
    package.install(&deb);
    let listed = package.dpkg(&["-L", "ds01"]);
    for file in FILES
        .iter()
        .copied()
        .chain(monitoring_files().iter().map(String::as_str))
    {
        assert!(
            listed.lines().any(|l| l == file) && Path::new(file).exists(),
            "{file} is not installed by the package; dpkg -L says:\n{listed}"
        );
    }
    let conffiles = query("${Conffiles}");
    assert!(conffiles.contains("/etc/ds01/config.toml"), "{conffiles}");
    let config = std::fs::read_to_string("/etc/ds01/config.toml").unwrap();
    assert_eq!(config, include_str!("../dist/config.toml"));
    let service = std::fs::read_to_string("/lib/systemd/system/ds01d.service").unwrap();
    assert!(
        service.contains("\nExecStart=/usr/sbin/ds01d "),
        "{service}"
    );
    assert!(service.contains("\nLimitNOFILE="), "{service}");
    for page in ["ds01", "ds01-container-create"] {
        assert_eq!(
            ok(Command::new("man").args(["-w", page]), "man -w").trim(),
            format!("/usr/share/man/man1/{page}.1.gz")
        );
    }
    // postinst made ds01d's state directory root's alone.
    assert_eq!(
        package.state.path().metadata().unwrap().mode() & 0o7777,
        0o700
    );
    // The installed ds01d takes the installed file as its configuration.
    let checked = ok(
        Command::new("/usr/sbin/ds01d").arg("--check-config"),
        "check",
    );
    assert_eq!(checked, "/etc/ds01/config.toml: ok\n");

    served_to_a_user(&config);

    // A remove keeps the configuration and the state, for a reinstall.
    let journal = package.state.path().join("journals");
    std::fs::create_dir(&journal).unwrap();
    package.dpkg(&["--remove", "ds01"]);
    assert!(!Path::new("/usr/sbin/ds01d").exists() && !Path::new("/usr/bin/ds01").exists());
    assert!(Path::new("/etc/ds01/config.toml").is_file() && journal.is_dir());
    assert_eq!(query("${Status}"), "deinstall ok config-files");

    package.dpkg(&["--purge", "ds01"]);
    for file in listed
        .lines()
        .filter(|f| Path::new(f).is_file() || FILES.contains(f))
    {
        assert!(!Path::new(file).exists(), "{file} is left after the purge");
    }
    assert!(!Path::new("/etc/ds01").exists());
    assert_eq!(std::fs::read_dir(package.state.path()).unwrap().count(), 0);
    assert!(!known(), "{}", query("${Status}"));
    package.done();
    eprintln!("package test: {:?}", started.elapsed());
}

/// A purge takes ds01d's state, but not while something is mounted under it: a user's
/// directory that ds01d bound onto a mount point for a start it did not finish would go
/// with it. postrm alone, in a namespace whose /var/lib/ds01 holds such a bind.
#[test]
fn a_purge_leaves_the_state_alone_while_a_users_directory_is_bound_in_it() {
    let _lock = lock();
    let state = tempfile::tempdir().unwrap();
    let users = tempfile::tempdir().unwrap();
    std::fs::write(users.path().join("thesis.tex"), "mine").unwrap();
    let point = state.path().join("mounts/thesis._.1000/workspace");
    std::fs::create_dir_all(&point).unwrap();
    let postrm = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/debian/postrm");
    // The mount point, on a machine where nothing has made it yet (removed again below).
    let made_point = !Path::new(STATE).exists();
    if made_point {
        std::fs::create_dir_all(STATE).unwrap();
    }
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$1\" \"$2\" && mount --rbind \"$0\" /var/lib/ds01 && exec sh \"$3\" purge")
        .arg(state.path())
        .arg(users.path())
        .arg(&point)
        .arg(&postrm)
        // As dpkg calls it (deb-systemd-helper does nothing otherwise).
        .env("DPKG_MAINTSCRIPT_PACKAGE", "ds01")
        .env("DPKG_MAINTSCRIPT_NAME", "postrm")
        .output()
        .expect("unshare runs");
    if made_point {
        let _ = std::fs::remove_dir(STATE);
    }
    checked(out.clone(), "postrm purge");
    assert!(
        text(&out.stderr).contains("something is mounted under /var/lib/ds01"),
        "{out:?}"
    );
    assert!(users.path().join("thesis.tex").is_file() && point.is_dir());
}

/// A throwaway user (not in the docker group) asks the installed ds01d through the
/// installed ds01, and completes a command with the installed bash script. Without systemd
/// (as here) the installed ds01d is started by the test on a temporary socket, with the
/// installed configuration and the harness's label; where systemd runs, postinst started
/// the socket unit and the user asks that.
fn served_to_a_user(installed_config: &str) {
    let user = TestUser::plain("package");
    let sweeper = Sweeper::new("package");
    let systemd = Path::new("/run/systemd/system").is_dir();
    let daemon = (!systemd).then(|| {
        let config = installed_config.to_owned() + &config_with_labels(&sweeper.label().1, "");
        TestDaemon::start_binary("/usr/sbin/ds01d".into(), &config)
    });
    let socket = match &daemon {
        Some(daemon) => daemon.socket(),
        None => PathBuf::from("/run/ds01/ds01.sock"),
    };
    let ds01 = |args: &[&str]| {
        let mut cmd = user.command("ds01");
        cmd.env("DS01_SOCKET", &socket)
            .env("NO_COLOR", "1")
            .args(args);
        cmd.output().expect("ds01 runs")
    };
    let which = user.run_as("sh", ["-c", "command -v ds01"]);
    assert_eq!(text(&which.stdout).trim(), "/usr/bin/ds01");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        text(&ds01(&["--version"]).stdout).trim(),
        format!("ds01 {version}")
    );

    // Every check of `doctor` passes; the service knows the user by the kernel's word and
    // is the installed version.
    let doctor = ds01(&["doctor", "--json"]);
    let log = || daemon.as_ref().map(TestDaemon::log).unwrap_or_default();
    assert!(doctor.status.success(), "{doctor:?}\n{}", log());
    let checks: Vec<serde_json::Value> = text(&doctor.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let detail = |name: &str| {
        let check = checks.iter().find(|c| c["check"] == name);
        let check = check.unwrap_or_else(|| panic!("no {name} check in {checks:?}"));
        assert_eq!(check["ok"], true, "{check}");
        check["detail"].as_str().unwrap().to_owned()
    };
    assert!(detail("service").ends_with(&socket.display().to_string()));
    assert_eq!(
        detail("identity"),
        format!(
            "{} (UID {}), by the kernel's peer credentials; ds01d {version}",
            user.login(),
            user.uid()
        )
    );

    let completed = user.run_as(
        "bash",
        [
            "-c",
            "source /usr/share/bash-completion/completions/ds01\n\
             COMP_WORDS=(ds01 cont); COMP_CWORD=1\n\
             _clap_complete_ds01 ds01 cont ds01\n\
             printf '%s\\n' \"${COMPREPLY[@]}\"",
        ],
    );
    assert_eq!(text(&completed.stdout).trim(), "container", "{completed:?}");
}

/// Whatever `dist/prometheus/` and `dist/grafana/` hold now, where the package puts it.
fn monitoring_files() -> Vec<String> {
    let mut files = Vec::new();
    for kind in ["prometheus", "grafana"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dist")
            .join(kind);
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_file() {
                let name = entry.file_name();
                files.push(format!("/usr/share/ds01/{kind}/{}", name.to_string_lossy()));
            }
        }
    }
    files
}

/// The package's installation, removed (purged) when dropped unless the test got to its
/// end: a failing assertion leaves no package behind.
struct Package {
    /// What dpkg sees as /var/lib/ds01.
    state: tempfile::TempDir,
    /// The host's /var/lib/ds01 did not exist: the test made it as a mount point.
    made_mount_point: bool,
    out: tempfile::TempDir,
    /// This run installed the package (and has not purged it yet).
    ours: bool,
}

impl Package {
    /// Takes the machine's `ds01` package for this test: none may be installed, and no file
    /// the package holds may be there, unless a killed run of this test left them.
    fn claim() -> Package {
        let made_mount_point = !Path::new(STATE).exists();
        if made_mount_point {
            std::fs::create_dir(STATE).unwrap();
            std::fs::set_permissions(STATE, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let state = tempfile::tempdir().unwrap();
        // 0755, so that the mode after the install is postinst's doing.
        std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let package = Package {
            state,
            made_mount_point,
            out: tempfile::tempdir().unwrap(),
            ours: false,
        };
        if known() {
            let owner = std::fs::read_to_string(OWNER).ok();
            let stale = owner
                .and_then(|pid| pid.trim().parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            assert!(
                stale,
                "a ds01 package that this test did not install is on this machine; it is not the test's to remove"
            );
            package.dpkg(&["--purge", "ds01"]);
        }
        for file in FILES {
            assert!(
                !Path::new(file).exists(),
                "{file} is there without the package; the test's purge would take it"
            );
        }
        package
    }

    /// `dpkg -i DEB`, after which the package is this run's to purge.
    fn install(&mut self, deb: &Path) {
        std::fs::write(OWNER, std::process::id().to_string()).unwrap();
        self.ours = true;
        self.dpkg(&["-i", deb.to_str().unwrap()]);
    }

    /// Builds the package from the binaries next to this test's.
    fn build(&self) -> PathBuf {
        let bins = workspace_binary("ds01d");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/package-deb.sh");
        let said = ok(
            Command::new(script)
                .arg("--bins-from")
                .arg(bins.parent().unwrap())
                .arg(self.out.path()),
            "scripts/package-deb.sh",
        );
        PathBuf::from(said.trim())
    }

    /// `dpkg ARGS` that must succeed: its stdout.
    fn dpkg(&self, args: &[&str]) -> String {
        checked(self.run_dpkg(args), &format!("dpkg {}", args.join(" ")))
    }

    /// `dpkg ARGS` (see the module's comment for its namespace), retried while another
    /// dpkg or apt of this machine holds dpkg's lock.
    fn run_dpkg(&self, args: &[&str]) -> Output {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = Command::new("unshare")
                .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
                .arg("mount --bind \"$0\" /var/lib/ds01 && exec dpkg \"$@\"")
                .arg(self.state.path())
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .expect("unshare runs");
            let locked = text(&out.stderr).contains("lock");
            if out.status.success() || !locked || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// The test purged the package itself.
    fn done(mut self) {
        self.ours = false;
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        if self.ours && known() {
            let out = self.run_dpkg(&["--purge", "ds01"]);
            if !out.status.success() {
                // The owner file stays, so the next run purges it.
                eprintln!(
                    "package test: dpkg --purge ds01 failed, the package is still installed: {}",
                    text(&out.stderr)
                );
                return;
            }
        }
        if self.ours || !known() {
            let _ = std::fs::remove_file(OWNER);
        }
        if self.made_mount_point {
            // Empty unless an engine suite has put its journals there since.
            let _ = std::fs::remove_dir(STATE);
        }
    }
}

/// Whether dpkg has the ds01 package in any state but "not installed".
fn known() -> bool {
    let status = query("${Status}");
    !status.is_empty() && !status.ends_with(" not-installed")
}

/// `dpkg-query`'s FORMAT for the ds01 package; empty when dpkg knows none.
fn query(format: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", format, "ds01"])
        .output()
        .expect("dpkg-query runs");
    text(&out.stdout).trim().to_owned()
}

/// Holds the machine-wide lock of this test until dropped (the kernel drops it when a run
/// is killed).
fn lock() -> File {
    let file = File::options()
        .create(true)
        .append(true)
        .open(LOCK)
        .unwrap();
    file.lock().expect("locking the package test's lock");
    file
}

fn ok(cmd: &mut Command, what: &str) -> String {
    checked(cmd.output().expect("runs"), what)
}

fn checked(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}
