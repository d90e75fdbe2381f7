//! The one script that creates the container user, shared by image builds and the engine.

/// POSIX `sh` script that makes the host user an account of the image it runs in.
///
/// It reads its inputs only from the environment variables `DS01_USER_ID`, `DS01_GROUP_ID`
/// and `DS01_USERNAME` (see [`Identity::env`](crate::Identity::env)), and
/// [`ARG_SUDO`](crate::ARG_SUDO), and must run as root. Rendered Dockerfiles copy it into the image and run it with the build arguments of
/// the same names; the engine runs it as `["sh", "-c", USER_SETUP_SCRIPT]` in a setup
/// container. Values are never spliced into the script's text.
///
/// What it does, in order:
/// - refuses missing or malformed inputs (not a number, 0, not a valid account name) with a
///   `DS01: error:` line on stderr, before changing anything;
/// - refuses when `useradd`/`groupadd` (or `usermod`/`groupmod`, when a rename is needed) is
///   missing, naming the tool;
/// - refuses when a *different* account or group already holds the target name, or when the
///   UID belongs to a system account (below 1000);
/// - renames (never deletes) a group holding the GID and an account holding the UID (home
///   moved to `/home/<user>`), as for the `ubuntu` 1000:1000 account of `ubuntu:24.04`;
///   a system group below GID 1000 (such as `users`) is joined as it is;
/// - otherwise creates them with `groupadd -g` and `useradd --no-log-init` and truncates
///   `/var/log/lastlog` and `/var/log/faillog`, so large LDAP UIDs cannot inflate the layer;
/// - prepares `~/.local/bin` and the `PATH`, `HOME` and `PS1` lines of `~/.bashrc`, chowns the
///   home, and grants passwordless sudo in `/etc/sudoers.d/<user>` (mode 0440) only when
///   `DS01_SUDO=1` and `sudo` is installed; otherwise removes a rule of that name the base
///   image brought;
/// - prints [`USER_SETUP_DONE`] last.
///
/// Running it again on an image where the user exists changes nothing.
///
/// ```
/// use ds01_dockerfile::{USER_SETUP_DONE, USER_SETUP_SCRIPT};
///
/// assert!(USER_SETUP_SCRIPT.contains("DS01_USER_ID"));
/// assert!(USER_SETUP_SCRIPT.trim_end().ends_with(&format!("echo \"{USER_SETUP_DONE}\"")));
/// ```
pub const USER_SETUP_SCRIPT: &str = include_str!("user_setup.sh");

/// The last line [`USER_SETUP_SCRIPT`] prints when it succeeded.
///
/// ```
/// assert_eq!(ds01_dockerfile::USER_SETUP_DONE, "DS01: user setup complete");
/// ```
pub const USER_SETUP_DONE: &str = "DS01: user setup complete";

/// Where the script sits in a build context.
///
/// ```
/// assert_eq!(ds01_dockerfile::USER_SETUP_CONTEXT_PATH, "ds01/user-setup.sh");
/// ```
pub const USER_SETUP_CONTEXT_PATH: &str = "ds01/user-setup.sh";

/// Where rendered Dockerfiles copy the script inside the image.
///
/// ```
/// assert!(ds01_dockerfile::USER_SETUP_IMAGE_PATH.starts_with('/'));
/// ```
pub const USER_SETUP_IMAGE_PATH: &str = "/usr/local/lib/ds01/user-setup.sh";

#[cfg(test)]
mod tests {
    //! These run the real script under /bin/sh, but with an empty PATH and a scrubbed
    //! environment: it must stop at input validation or at the missing-tool check, before it
    //! could touch the machine running the tests.

    use super::*;
    use std::process::Command;

    fn run<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> (bool, String, String) {
        let empty_path = tempfile::tempdir().unwrap();
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(USER_SETUP_SCRIPT)
            .env_clear()
            .env("PATH", empty_path.path())
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    fn error_for<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        let (ok, stdout, stderr) = run(env);
        assert!(!ok, "should fail, printed {stdout}");
        assert!(!stdout.contains(USER_SETUP_DONE));
        assert!(stderr.starts_with("DS01: error: "), "{stderr}");
        stderr
    }

    const GOOD: [(&str, &str); 3] = [
        ("DS01_USER_ID", "1722830498"),
        ("DS01_GROUP_ID", "1722800513"),
        ("DS01_USERNAME", "h-baker"),
    ];

    /// The good inputs with `key` replaced by `value`, or left out when `value` is empty.
    fn error_with(key: &str, value: &str) -> String {
        let others = GOOD.into_iter().filter(|(k, _)| *k != key);
        error_for(others.chain((!value.is_empty()).then_some((key, value))))
    }

    #[test]
    fn is_valid_posix_sh() {
        let out = Command::new("/bin/sh")
            .args(["-n", "-c", USER_SETUP_SCRIPT])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn missing_inputs_are_named() {
        for key in ["DS01_USER_ID", "DS01_GROUP_ID", "DS01_USERNAME"] {
            let msg = error_with(key, "");
            assert!(msg.contains(&format!("{key} is not set")), "{msg}");
            assert!(msg.contains("--build-arg"), "{msg}");
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for (value, needle) in [
            ("12a", "must be a number"),
            ("-5", "must be a number"),
            (" 5", "must be a number"),
            ("0", "0 would be root"),
            ("007", "leading zeros"),
            ("4294967295", "too large"),
            ("99999999999999999999", "too large"),
        ] {
            for key in ["DS01_USER_ID", "DS01_GROUP_ID"] {
                let msg = error_with(key, value);
                assert!(
                    msg.contains(key) && msg.contains(needle),
                    "{key}={value}: {msg}"
                );
            }
        }
    }

    #[test]
    fn malformed_usernames_are_refused() {
        for (value, needle) in [
            ("a;b", "not a valid account name"),
            ("$(id)", "not a valid account name"),
            ("h.baker", "not a valid account name"),
            ("-x", "not a valid account name"),
            ("x-", "not a valid account name"),
            ("a b", "not a valid account name"),
            ("1234", "all digits"),
            (&"a".repeat(33), "longer than 32"),
        ] {
            let msg = error_with("DS01_USERNAME", value);
            assert!(msg.contains(needle), "{value}: {msg}");
        }
    }

    #[test]
    fn names_the_missing_tool_once_inputs_are_valid() {
        let msg = error_for(GOOD);
        assert!(msg.contains("'useradd' is not installed"), "{msg}");
    }

    #[test]
    fn accepts_every_usable_username() {
        // Valid names get past validation and stop only at the (absent) tools.
        for name in ["h-baker", "a", "_svc", "A1_b-c", &"x".repeat(32)] {
            let msg = error_with("DS01_USERNAME", name);
            assert!(msg.contains("'useradd' is not installed"), "{name}: {msg}");
        }
    }
}
