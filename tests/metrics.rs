//! ds01d's Prometheus metrics, with a real Prometheus from Debian (`scripts/ci-deps.sh`)
//! scraping it on loopback: the series say who holds which GPU, which containers run, the
//! `--wait` line and its wait, the reaper's warnings and stops, requests by route and a
//! failed build; `promtool check metrics` accepts the text; Prometheus loads the alert rules
//! and evaluates them healthily, and `promtool test rules` passes their unit tests; every
//! metric the Grafana dashboard and the rules ask for is one ds01d serves. The metrics are
//! never on the users' socket, and on a socket of their own only root reaches them.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ds01_tests::check::{docker_ok, text};
use ds01_tests::daemon::{config_with_labels, http_get, TestDaemon};
use ds01_tests::loopback;
use ds01_tests::users::{user_visible_binary, TestUser};
use ds01_tests::{Sweeper, DEBIAN12};

const INVENTORY: &str = r#"
[[gpu]]
index = 0
uuid = "GPU-00000000-metrics"
name = "NVIDIA H100 80GB HBM3"
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus of the test's own on loopback, with its data in a temporary directory;
/// stopped by its PID when dropped.
struct Prometheus {
    child: Child,
    address: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` every second and evaluates `rules` every second.
    fn start(target: SocketAddr, rules: &Path) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: ds01\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus runs (scripts/ci-deps.sh installs it)");
        let p = Prometheus {
            child,
            address,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(loopback::get(address, "/-/ready"), Ok((200, _))) {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready: {}",
                p.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The instant vector `query` answers now.
    fn query(&self, query: &str) -> Vec<serde_json::Value> {
        let (status, body) = loopback::get(
            self.address,
            &format!("/api/v1/query?query={}", encode(query)),
        )
        .unwrap();
        assert_eq!(status, 200, "{query}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["data"]["result"].as_array().unwrap().clone()
    }

    /// Waits until `query` answers a series whose value `ok` accepts; that series.
    fn wait_for(&self, query: &str, ok: impl Fn(f64) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self.query(query).into_iter().find(|s| {
                s["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(&ok)
            });
            if let Some(s) = found {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never answered {query} as expected; last: {:?}",
                self.query(query)
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A query string value, percent-encoded.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn promtool(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(repo().join("dist/prometheus"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs (scripts/ci-deps.sh installs it)");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        std::io::Write::write_all(&mut input, text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The value of the sample `name{labels}` in the metrics text, where every `needle` is in
/// its labels.
fn sample(metrics: &str, name: &str, needles: &[&str]) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn scrape(address: SocketAddr) -> String {
    let (status, body) = loopback::get(address, "/metrics").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// The metric families the text declares (`# TYPE name kind`).
fn families(metrics: &str) -> BTreeSet<(String, String)> {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, k)| (n.to_owned(), k.to_owned()))
        .collect()
}

/// Every `ds01_*` name in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("ds01_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

fn ds01(daemon: &TestDaemon, user: &TestUser, args: &[&str]) -> Output {
    daemon.ds01(user, args)
}

#[test]
fn prometheus_scrapes_ds01d_and_queries_what_it_holds() {
    let sweeper = Sweeper::new("metrics");
    let alice = TestUser::plain("metrics");
    let bob = TestUser::plain("metrics");
    let carol = TestUser::ldap("metrics");
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("gpus.toml");
    std::fs::write(&inventory, INVENTORY).unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let daemon = TestDaemon::start(&config_with_labels(
        &sweeper.label().1,
        &format!(
            "[gpus]\ninventory = \"{}\"\n[metrics]\nlisten = \"{metrics}\"\n\
             [lifecycle]\ncheck_interval = \"1s\"\nstop_grace = \"1s\"\n\
             high_demand_share = 0.5\nhigh_demand_factor = 1.0\n\
             [policy.default]\nmemory = \"256m\"\n\
             [policy.users.\"{}\"]\nidle_timeout = \"5s\"\n",
            inventory.display(),
            carol.login()
        ),
    ));
    // alice holds the one GPU; carol's container idles until the reaper stops it.
    for (user, name, gpus) in [(&alice, "g", "--gpus=1"), (&carol, "idle", "--cpu-only")] {
        daemon.ok(
            ds01(
                &daemon,
                user,
                &[
                    "container",
                    "create",
                    name,
                    "--image",
                    DEBIAN12,
                    gpus,
                    "--start",
                ],
            ),
            &format!("create {name}"),
        );
    }
    // bob waits in line for it.
    let mut waiting = {
        let mut cmd = bob.command(user_visible_binary("ds01"));
        cmd.envs(daemon.env_for())
            .args([
                "container",
                "create",
                "q",
                "--image",
                DEBIAN12,
                "--gpus",
                "1",
                "--wait",
                "--start",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // A build that fails at its first step.
    let dockerfile = alice.write_file("bad/Dockerfile", &format!("FROM {DEBIAN12}\nRUN false\n"));
    let build = ds01(
        &daemon,
        &alice,
        &[
            "image",
            "create",
            "bad",
            "--dockerfile",
            dockerfile.to_str().unwrap(),
        ],
    );
    assert!(
        !build.status.success(),
        "the build of `RUN false` succeeded"
    );

    let prometheus = Prometheus::start(metrics, &repo().join("dist/prometheus/ds01.rules.yml"));
    let held = prometheus.wait_for(
        &format!("ds01_gpu_allocated{{user=\"{}\"}}", alice.login()),
        |v| v == 1.0,
    );
    assert_eq!(held["metric"]["device"], "GPU-00000000-metrics");
    assert_eq!(held["metric"]["slot"], "0");
    assert_eq!(
        held["metric"]["container"],
        format!("g._.{}", alice.uid()).as_str()
    );
    prometheus.wait_for("ds01_gpu_capacity", |v| v == 1.0);
    prometheus.wait_for(
        &format!(
            "ds01_containers{{user=\"{}\",state=\"running\"}}",
            alice.login()
        ),
        |v| v == 1.0,
    );
    prometheus.wait_for("ds01_gpu_queue_length", |v| v == 1.0);
    // Every GPU held: over the share of 50 %, high-demand mode is on (its factor of 1
    // leaves carol's idle timeout as it is).
    prometheus.wait_for("ds01_high_demand", |v| v == 1.0);
    prometheus.wait_for("ds01_engine_up", |v| v == 1.0);
    prometheus.wait_for(
        "ds01_http_requests_total{route=\"/v1/containers\",method=\"POST\",status=\"200\"}",
        |v| v >= 2.0,
    );
    prometheus.wait_for(
        "ds01_build_duration_seconds_count{outcome=\"failed\"}",
        |v| v == 1.0,
    );
    prometheus.wait_for("time() - ds01_reaper_last_round_timestamp_seconds", |v| {
        v < 10.0
    });
    prometheus.wait_for(
        &format!("ds01_user_gpu_seconds_total{{user=\"{}\"}}", alice.login()),
        |v| v > 0.0,
    );
    // The reaper warns carol, then stops her idle container.
    prometheus.wait_for("ds01_reaper_warnings_total{reason=\"idle\"}", |v| v == 1.0);
    prometheus.wait_for("ds01_reaper_stops_total{reason=\"idle\"}", |v| v == 1.0);
    // alice's idle GPU: the sampler's idle clock runs.
    prometheus.wait_for(
        &format!("ds01_gpu_idle_seconds{{user=\"{}\"}}", alice.login()),
        |v| v >= 2.0,
    );

    // alice lets go: bob's request is served, and its wait is counted.
    daemon.ok(
        ds01(&daemon, &alice, &["container", "stop", "g", "-t", "1"]),
        "stop g",
    );
    let served = waiting.wait().unwrap();
    assert!(served.success(), "bob's --wait create failed");
    prometheus.wait_for("ds01_gpu_queue_length", |v| v == 0.0);
    prometheus.wait_for("ds01_gpu_queue_wait_seconds_count", |v| v == 1.0);
    prometheus.wait_for(
        &format!("ds01_gpu_allocated{{user=\"{}\"}}", bob.login()),
        |v| v == 1.0,
    );
    assert_eq!(
        docker_ok(&[
            "inspect",
            "-f",
            "{{.State.Running}}",
            &format!("q._.{}", bob.uid())
        ])
        .trim(),
        "true"
    );
    // bob's GPU is sampled by a reaper round before the scrape below asks for every series
    // the dashboard reads (the idle gauge has a series only for a sampled holder).
    prometheus.wait_for(
        &format!("ds01_gpu_idle_seconds{{user=\"{}\"}}", bob.login()),
        |v| v >= 0.0,
    );

    // The rules are loaded and evaluate without error against the real series.
    let (status, body) = loopback::get(prometheus.address, "/api/v1/rules").unwrap();
    assert_eq!(status, 200);
    let rules: serde_json::Value = serde_json::from_str(&body).unwrap();
    let loaded: Vec<(String, String)> = rules["data"]["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["health"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(loaded.len(), 4, "{body}");
    assert!(loaded.iter().all(|(_, h)| h == "ok"), "{loaded:?}");

    // promtool accepts what ds01d serves.
    let text_now = scrape(metrics);
    let checked = promtool(&["check", "metrics"], Some(&text_now));
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text_now}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    assert_eq!(
        sample(&text_now, "ds01_engine_up", &[]),
        Some(1.0),
        "{text_now}"
    );

    // Every metric the dashboard and the rules ask for is served (a histogram by its
    // series' suffixes).
    let served: BTreeSet<String> = families(&text_now)
        .into_iter()
        .flat_map(|(name, kind)| {
            let mut names = vec![name.clone()];
            if kind == "histogram" {
                names.extend(["_bucket", "_sum", "_count"].map(|s| format!("{name}{s}")));
            }
            names
        })
        .collect();
    for file in ["dist/grafana/ds01.json", "dist/prometheus/ds01.rules.yml"] {
        let asked = names_in(&std::fs::read_to_string(repo().join(file)).unwrap());
        assert!(asked.len() >= 4, "{file} asks for {asked:?}");
        let missing: Vec<_> = asked.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "{file} asks for {missing:?}, which ds01d does not serve"
        );
    }

    // Never on the users' socket.
    let (status, _) = daemon.get("/metrics").unwrap();
    assert_eq!(status, 404);
    let _ = waiting.kill();
}

#[test]
fn metrics_on_a_socket_reach_root_alone() {
    let sweeper = Sweeper::new("metrics-socket");
    let dave = TestUser::plain("metrics");
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("metrics.sock");
    let daemon = TestDaemon::start(&config_with_labels(
        &sweeper.label().1,
        &format!("[metrics]\nlisten = \"{}\"\n", socket.display()),
    ));
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o600));
    let (status, body) = http_get(&socket, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert_eq!(sample(&body, "ds01_engine_up", &[]), Some(1.0), "{body}");
    let (status, _) = http_get(&socket, "/v1/containers").unwrap();
    assert_eq!(status, 404);
    let tried = dave.run_as(
        "curl",
        [
            "-sS",
            "--max-time",
            "5",
            "--unix-socket",
            socket.to_str().unwrap(),
            "http://ds01d/metrics",
        ],
    );
    assert_eq!(tried.status.code(), Some(7), "{}", text(&tried.stderr));
    assert!(tried.stdout.is_empty());
    drop(daemon);

    // A listen value that is neither an address nor a path is refused, naming the key.
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[metrics]\nlisten = \"localhost:9401\"\n").unwrap();
    let out = Command::new(ds01_tests::users::workspace_binary("ds01d"))
        .args(["--check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("[metrics] listen"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_alert_rules_pass_their_unit_tests() {
    let checked = promtool(&["check", "rules", "ds01.rules.yml"], None);
    assert!(
        checked.status.success() && text(&checked.stdout).contains("4 rules found"),
        "{}{}",
        text(&checked.stdout),
        text(&checked.stderr)
    );
    let tested = promtool(&["test", "rules", "ds01.rules.test.yml"], None);
    assert!(
        tested.status.success(),
        "{}{}",
        text(&tested.stdout),
        text(&tested.stderr)
    );
    // Each alert has unit tests where it fires and where it does not.
    let tests =
        std::fs::read_to_string(repo().join("dist/prometheus/ds01.rules.test.yml")).unwrap();
    let rules = std::fs::read_to_string(repo().join("dist/prometheus/ds01.rules.yml")).unwrap();
    for alert in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        let cases = tests.matches(&format!("alertname: {alert}\n")).count();
        assert!(cases >= 2, "{alert} has {cases} unit test case(s)");
    }
}
