//! `ds01d --check-config`: every value of the configuration is checked as a start would
//! check it, and a bad one is named with its key and its file, without starting anything.

use std::process::Command;

fn check(config: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ds01d"))
        .arg("--check-config")
        .arg("--config")
        .arg(&path)
        // Nothing may be made: a state directory that cannot exist proves it.
        .arg("--state-dir")
        .arg("/proc/ds01-check-config-makes-nothing")
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let stderr = text(&out.stderr);
    (
        out.status.success(),
        text(&out.stdout),
        stderr.replace(&path.display().to_string(), "CONFIG"),
    )
}

#[test]
fn a_good_configuration_passes() {
    let (ok, stdout, stderr) = check(
        "reap = \"labelled\"\n[lifecycle]\ncheck_interval = \"30s\"\nstop_grace = \"5s\"\n[server]\nidle_timeout = \"1m\"\n[policy.default]\nmax_gpus = 1\n",
    );
    assert!(ok, "{stderr}");
    assert!(stdout.ends_with(": ok\n"), "{stdout}");
}

#[test]
fn bad_values_are_named_with_their_key_and_file() {
    for (config, says) in [
        (
            "[lifecycle]\ncheck_interval = \"soon\"\n",
            "[lifecycle] check_interval = \"soon\"",
        ),
        (
            "[lifecycle]\nstop_grace = \"2h\"\n",
            "[lifecycle] stop_grace = \"2h\": give a duration from 1s to",
        ),
        (
            "[lifecycle]\nidle_cpu_percent = 150.0\n",
            "[lifecycle] idle_cpu_percent = 150",
        ),
        (
            "[lifecycle]\ndisk_check_every = 0\n",
            "[lifecycle] disk_check_every = 0",
        ),
        ("[server]\nidle_timeout = \"0s\"\n", "[server] idle_timeout"),
        ("[policy.default]\nmemory = \"lots\"\n", "memory"),
        ("no_such_key = 1\n", "no_such_key"),
    ] {
        let (ok, _, stderr) = check(config);
        assert!(!ok, "{config:?} passed");
        assert!(
            stderr.contains("CONFIG is not a valid ds01 configuration") && stderr.contains(says),
            "{config:?}: {stderr}"
        );
    }
}
