//! `ds01d --check-config`: every value of the configuration is checked as a start would
//! check it, and a bad one is named with its key and its file, without starting anything.

use std::process::Command;

use ds01_daemon::cluster::ClusterSettings;
use ds01_daemon::config::{
    Config, FileConfig, GpuSettings, LifecycleSettings, MetricsSettings, NetworkSettings,
    NotifySettings, ServerSettings, UsageSettings,
};
use ds01_policy::policy::{Aggregate, Limits, Policy};

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

// The commented configuration the package installs as /etc/ds01/config.toml
// (dist/config.toml): it must load, every example in it too, it must name every key ds01d
// knows, and the defaults it shows must be the built-in ones, so it cannot drift from the
// code.

const SHIPPED: &str = include_str!("../../../dist/config.toml");

/// The file with its settings switched on: a `#` directly followed by a key, a quoted key
/// or a `[table]` is a setting; `# ` starts an explanation.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest)
                if rest.starts_with(|c: char| c.is_ascii_alphabetic() || "[\"".contains(c)) =>
            {
                rest
            }
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The uncommented file, its GPU inventory pointing at a real one (ds01d reads it at load).
fn with_examples(inventory_dir: &std::path::Path) -> String {
    let inventory = inventory_dir.join("gpus.toml");
    std::fs::write(
        &inventory,
        "[[gpu]]\nindex = 0\nuuid = \"GPU-aaaa\"\nname = \"NVIDIA H100 80GB HBM3\"\n",
    )
    .unwrap();
    let text = uncommented(SHIPPED);
    let example = "inventory = \"/etc/ds01/gpus.toml\"";
    assert!(text.contains(example), "the [gpus] example changed");
    text.replace(
        example,
        &format!("inventory = {:?}", inventory.display().to_string()),
    )
}

#[test]
fn the_shipped_configuration_passes_as_it_is_and_with_every_example() {
    let (ok, stdout, stderr) = check(SHIPPED);
    assert!(ok && stdout.ends_with(": ok\n"), "{stdout}{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = check(&with_examples(dir.path()));
    assert!(ok && stdout.ends_with(": ok\n"), "{stdout}{stderr}");
}

#[test]
fn the_shipped_configuration_names_every_key() {
    let dir = tempfile::tempdir().unwrap();
    let table: toml::Table = with_examples(dir.path()).parse().unwrap();
    for (path, keys) in [
        ("", fields::<FileConfig>()),
        ("policy", fields::<Policy>()),
        ("policy.default", fields::<Limits>()),
        ("policy.default.aggregate", fields::<Aggregate>()),
        ("gpus", fields::<GpuSettings>()),
        ("lifecycle", fields::<LifecycleSettings>()),
        ("server", fields::<ServerSettings>()),
        ("network", fields::<NetworkSettings>()),
        ("usage", fields::<UsageSettings>()),
        ("metrics", fields::<MetricsSettings>()),
        ("notify", fields::<NotifySettings>()),
        ("cluster", fields::<ClusterSettings>()),
    ] {
        assert!(!keys.is_empty(), "no fields found for [{path}]");
        let found = path
            .split('.')
            .filter(|p| !p.is_empty())
            .try_fold(&table, |t, p| t.get(p)?.as_table())
            .unwrap_or_else(|| panic!("dist/config.toml has no [{path}] example"));
        for key in keys {
            assert!(
                found.contains_key(*key),
                "dist/config.toml does not show `{key}` of [{path}]"
            );
        }
    }
}

#[test]
fn the_shipped_configuration_shows_the_built_in_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, with_examples(dir.path())).unwrap();
    let shown = Config::load(&path).unwrap();
    let none = Config::load(&dir.path().join("absent.toml")).unwrap();
    assert_eq!(shown.lifecycle, none.lifecycle);
    assert_eq!(shown.server, none.server);
    assert_eq!(
        (&shown.catalog, &shown.architecture, shown.build_network()),
        (&none.catalog, &none.architecture, none.build_network())
    );
    assert_eq!(
        (shown.file.socket.as_deref(), shown.file.reap),
        (
            Some(std::path::Path::new(ds01_api::DEFAULT_SOCKET)),
            none.file.reap
        )
    );
    assert!(shown.file.network.host_ports.is_empty());
    // [policy.default] as shown, against no policy at all: the same values (their sources
    // differ, by design).
    let values = |policy: &Policy| {
        let mut json = serde_json::to_value(policy.effective("nobody", &[])).unwrap();
        strip_sources(&mut json);
        json
    };
    assert_eq!(values(&shown.policy), values(&none.policy));
}

fn strip_sources(json: &mut serde_json::Value) {
    if let Some(map) = json.as_object_mut() {
        map.remove("source");
        map.values_mut().for_each(strip_sources);
    }
}

/// The field names a derived `Deserialize` of `T` asks for, learnt by a deserializer that
/// only listens: the tables of the file are checked against the code's own structs.
fn fields<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldProbe) {
        Err(Probed(fields)) => fields,
        Ok(_) => unreachable!("the probe yields no values"),
    }
}

struct FieldProbe;

#[derive(Debug)]
struct Probed(&'static [&'static str]);

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Probed {}

impl serde::de::Error for Probed {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Probed(&[])
    }
}

impl<'de> serde::Deserializer<'de> for FieldProbe {
    type Error = Probed;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed(&[]))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        Err(Probed(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
