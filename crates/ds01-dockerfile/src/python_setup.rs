//! The script that gives an image a Python for the user's virtual environment, and the
//! venv itself.

/// POSIX `sh` script, run as root in two `RUN` steps of a rendered Dockerfile:
///
/// - `interpreter` (before the user block, so its layer is shared by every user): keeps the
///   image's `python3` when `python3 -m venv` works with it, else installs `python3` and its
///   venv module with the distribution's package manager (`apt-get`, `dnf`, `microdnf`,
///   `yum`, `apk`, `zypper`), and fails with a `DS01: error:` line when it cannot;
/// - `venv` (after the user block): creates [`VENV_PATH`] with `--system-site-packages`
///   (so packages the base already has, such as an AIME image's torch, stay importable),
///   writes `/etc/profile.d/ds01-venv.sh` (login shells reset `PATH`), and, when
///   `DS01_USER_ID`/`DS01_GROUP_ID` are set, hands the venv to that user.
///
/// The system's own site-packages are never written to, so a base whose Python is
/// "externally managed" (PEP 668: Debian 12, Ubuntu 24.04) stays intact.
///
/// ```
/// use ds01_dockerfile::{PYTHON_SETUP_SCRIPT, VENV_PATH};
///
/// assert!(PYTHON_SETUP_SCRIPT.contains(VENV_PATH));
/// assert!(!PYTHON_SETUP_SCRIPT.contains("pip install"));
/// ```
pub const PYTHON_SETUP_SCRIPT: &str = include_str!("python_setup.sh");

/// The build-context directory rendered Dockerfiles copy whole: the script, and the
/// admin's CA certificates when there are any ([`PYTHON_CA_CONTEXT_PATH`]).
pub const PYTHON_CONTEXT_DIR: &str = "ds01/python/";

/// Where [`PYTHON_CONTEXT_DIR`] lands in the image.
pub const PYTHON_IMAGE_DIR: &str = "/usr/local/lib/ds01/python/";

/// Where the script sits in a build context.
///
/// ```
/// assert_eq!(ds01_dockerfile::PYTHON_SETUP_CONTEXT_PATH, "ds01/python/python-setup.sh");
/// ```
pub const PYTHON_SETUP_CONTEXT_PATH: &str = "ds01/python/python-setup.sh";

/// Where the build context may carry CA certificates (PEM) for pip, e.g. those of a
/// TLS-intercepting proxy the admin's network has: the venv's `pip.conf` then names them.
///
/// ```
/// assert!(ds01_dockerfile::PYTHON_CA_CONTEXT_PATH.starts_with(ds01_dockerfile::PYTHON_CONTEXT_DIR));
/// ```
pub const PYTHON_CA_CONTEXT_PATH: &str = "ds01/python/ca-certificates.crt";

/// Where rendered Dockerfiles run the script inside the image.
///
/// ```
/// assert!(ds01_dockerfile::PYTHON_SETUP_IMAGE_PATH.starts_with(ds01_dockerfile::PYTHON_IMAGE_DIR));
/// ```
pub const PYTHON_SETUP_IMAGE_PATH: &str = "/usr/local/lib/ds01/python/python-setup.sh";

/// The user's virtual environment: first on `PATH`, owned by the baked-in user.
///
/// ```
/// assert_eq!(ds01_dockerfile::VENV_PATH, "/opt/ds01/venv");
/// ```
pub const VENV_PATH: &str = "/opt/ds01/venv";

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn script_is_valid_sh_and_refuses_an_unknown_mode() {
        let syntax = Command::new("/bin/sh")
            .args(["-n", "-c", PYTHON_SETUP_SCRIPT])
            .status()
            .unwrap();
        assert!(syntax.success());
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(PYTHON_SETUP_SCRIPT)
            .arg("python-setup.sh")
            .arg("bogus")
            .env_clear()
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("DS01: error: usage"));
    }

    #[test]
    fn the_system_python_is_never_written_to() {
        assert!(!PYTHON_SETUP_SCRIPT.contains("pip install"));
        assert!(PYTHON_SETUP_SCRIPT.contains("--system-site-packages \"$venv\""));
    }
}
