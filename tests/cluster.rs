//! A real three-node Slurm cluster on this machine (`scripts/slurm-cluster.sh`: n1 and n2 on
//! loopback, n3 in a network namespace of its own, two fake GPUs each), driven by two
//! throwaway LDAP-style users, one with a UID above 2147483647: first Slurm directly (the
//! ground ds01's cluster mode stands on), then through ds01d in cluster mode (issue 22).
//!
//! Two tests, each in steps, one after the other (the cluster is one per machine): each
//! brings a cluster up in a temporary directory, which goes down (by the PIDs the script
//! recorded) when its guard drops, also after a failed assertion.

use ds01_tests::daemon::{config_with_labels, TestDaemon};
use ds01_tests::users::TestUser;
use ds01_tests::Sweeper;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-cluster.sh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// One cluster at a time on this machine: the tests take turns (a failed one releases it).
static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The machine-wide lock that every user of `scripts/slurm-cluster.sh` here takes for as
/// long as its cluster runs (`scripts/bench.sh` too): the fixed names of one cluster's
/// nodes and namespace would clash with another's.
const CLUSTER_LOCK: &str = "/tmp/ds01-slurm.lock";

/// This test's turn: the process's and the machine's (the kernel drops the file lock of
/// a killed run).
struct Turn {
    _machine: std::fs::File,
    _process: std::sync::MutexGuard<'static, ()>,
}

fn one_cluster() -> Turn {
    let process = ONE_CLUSTER.lock().unwrap_or_else(|p| p.into_inner());
    let machine = std::fs::File::options()
        .create(true)
        .append(true)
        .open(CLUSTER_LOCK)
        .expect("the cluster lock file");
    machine.lock().expect("taking the cluster lock");
    Turn {
        _machine: machine,
        _process: process,
    }
}

/// How a cluster's temporary directory starts; the PID of the test process follows.
const STALE_PREFIX: &str = "ds01-slurm-";

/// Takes down the clusters of test processes that were killed outright (no Drop ran): one
/// left running would keep the next from starting.
fn down_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(STALE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!(
                "taking down the stale cluster in {}",
                entry.path().display()
            );
            let _ = Command::new(script())
                .arg("down")
                .arg(entry.path())
                .stdin(Stdio::null())
                .status();
        }
    }
}

/// The cluster in its temporary directory; dropping it runs `slurm-cluster.sh down`.
struct Cluster {
    dir: tempfile::TempDir,
    conf: String,
    bundle: String,
}

impl Cluster {
    fn up() -> Cluster {
        down_stale_clusters();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{STALE_PREFIX}{}-", std::process::id()))
            .tempdir()
            .expect("temporary directory");
        // The guard exists before `up` runs: a half-started cluster is taken down too.
        let mut cluster = Cluster {
            dir,
            conf: String::new(),
            bundle: String::new(),
        };
        let up = cluster.script("up");
        assert!(
            up.status.success(),
            "slurm-cluster.sh up: {}",
            describe(&up)
        );
        let env = cluster.script("env");
        assert!(
            env.status.success(),
            "slurm-cluster.sh env: {}",
            describe(&env)
        );
        for line in text(&env.stdout).lines() {
            let (key, value) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("slurm-cluster.sh env printed {line:?}"));
            match key {
                "SLURM_CONF" => cluster.conf = value.to_owned(),
                "DS01_SLURM_BUNDLE" => cluster.bundle = value.to_owned(),
                _ => {}
            }
        }
        assert!(
            !cluster.conf.is_empty() && !cluster.bundle.is_empty(),
            "slurm-cluster.sh env: {}",
            describe(&env)
        );
        cluster
    }

    fn script(&self, cmd: &str) -> Output {
        Command::new(script())
            .arg(cmd)
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("slurm-cluster.sh runs")
    }

    /// ds01d in cluster mode on this cluster (bundles in its directory), with
    /// `cluster_keys` more in `[cluster]` and the tables of `rest`.
    fn daemon(&self, sweeper: &Sweeper, cluster_keys: &str, rest: &str) -> TestDaemon {
        let config = config_with_labels(
            &sweeper.label().1,
            &format!(
                "[cluster]\nbackend = \"slurm\"\nslurm_conf = {:?}\nbundles = {:?}\n{cluster_keys}\n{rest}",
                self.conf,
                self.dir.path().join("bundles").display().to_string()
            ),
        );
        TestDaemon::start(&config)
    }

    /// A Slurm client command as root.
    fn root(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .env("SLURM_CONF", &self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} runs: {e}"))
    }

    /// A Slurm client command as `user`.
    fn as_user(&self, user: &TestUser, program: &str, args: &[&str]) -> Output {
        user.command(program)
            .env("SLURM_CONF", &self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{program} as {}: {e}", user.login()))
    }

    /// Submits a batch job as `user` holding `gpus` GPUs (none: no gres asked) that prints
    /// its UID and GPUs and then sleeps; returns its ID.
    fn submit(&self, user: &TestUser, gpus: u32) -> String {
        let gres = format!("--gres=gpu:{gpus}");
        let mut args = vec!["--parsable", "--output=job-%j.out"];
        if gpus > 0 {
            args.push(&gres);
        }
        args.extend([
            "--wrap",
            "echo uid=$(id -u) gpus=$CUDA_VISIBLE_DEVICES; exec sleep 600",
        ]);
        let out = self.as_user(user, "sbatch", &args);
        assert!(
            out.status.success(),
            "sbatch as {}: {}",
            user.login(),
            describe(&out)
        );
        let id = text(&out.stdout);
        assert!(
            !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()),
            "sbatch --parsable printed {id:?}"
        );
        id
    }

    /// The job as slurmctld (root's view) has it, finished jobs included.
    fn job(&self, id: &str) -> Job {
        let out = self.root(
            "squeue",
            &["-h", "-t", "all", "-j", id, "-o", "%T|%N|%u|%U|%r"],
        );
        assert!(out.status.success(), "squeue -j {id}: {}", describe(&out));
        let line = text(&out.stdout);
        let f: Vec<&str> = line.split('|').collect();
        let [state, node, user, uid, reason] = f[..] else {
            panic!("squeue -j {id} printed {line:?}");
        };
        Job {
            state: state.to_owned(),
            node: node.to_owned(),
            user: user.to_owned(),
            uid: uid.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Polls job `id` until `ok` holds, at most `timeout`; panics with its last state.
    fn wait_job(&self, id: &str, what: &str, timeout: Duration, ok: impl Fn(&Job) -> bool) -> Job {
        let deadline = Instant::now() + timeout;
        loop {
            let job = self.job(id);
            if ok(&job) {
                return job;
            }
            if Instant::now() > deadline {
                panic!("job {id} is not {what} after {timeout:?}: {job:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_running(&self, id: &str) -> Job {
        self.wait_job(id, "RUNNING", Duration::from_secs(20), |j| {
            j.state == "RUNNING"
        })
    }

    /// Each node's state (`idle`, `mixed`, `alloc`, `down`…), without the `*` of a node
    /// that does not respond.
    fn node_states(&self) -> Vec<(String, String)> {
        let out = self.root("sinfo", &["-h", "-N", "-o", "%N %t"]);
        assert!(out.status.success(), "sinfo: {}", describe(&out));
        let mut nodes: Vec<(String, String)> = text(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, s)| (n.to_owned(), s.trim_end_matches('*').to_owned()))
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    fn node_state(&self, node: &str) -> String {
        self.node_states()
            .into_iter()
            .find(|(n, _)| n == node)
            .unwrap_or_else(|| panic!("sinfo does not list {node}"))
            .1
    }

    fn wait_node(&self, node: &str, state: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.node_state(node) != state {
            if Instant::now() > deadline {
                panic!(
                    "{node} is not {state} after {timeout:?}: {:?}",
                    self.node_states()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let down = self.script("down");
        if !down.status.success() {
            eprintln!("slurm-cluster.sh down: {}", describe(&down));
        }
    }
}

#[derive(Debug)]
struct Job {
    state: String,
    node: String,
    user: String,
    uid: String,
    reason: String,
}

/// The first line of `user`'s job output file once the job has written it.
fn job_output(user: &TestUser, id: &str) -> String {
    let path = user.home().join(format!("job-{id}.out"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(out) = std::fs::read_to_string(&path) {
            if out.contains('\n') {
                return out.lines().next().unwrap_or_default().to_owned();
            }
        }
        if Instant::now() > deadline {
            panic!("{} never got its first line", path.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The IDs of the jobs `user` sees in `squeue`.
fn visible_jobs(cluster: &Cluster, user: &TestUser) -> Vec<String> {
    let out = cluster.as_user(user, "squeue", &["-h", "-o", "%i"]);
    assert!(
        out.status.success(),
        "squeue as {}: {}",
        user.login(),
        describe(&out)
    );
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn slurm_cluster_places_holds_ends_and_loses_jobs() {
    let _turn = one_cluster();
    let started = Instant::now();
    // Declared before the cluster, so dropped after it: their jobs end before they go.
    let ana = TestUser::ldap("ana");
    let bo = TestUser::ldap_above_i32("bo");
    assert!(bo.uid() > i32::MAX as u32, "{}", bo.uid());
    let cluster = Cluster::up();
    // The script's own checks (as `nobody`): a step on every node, the devices cgroup
    // denying a GPU the job was not given, an OCI container, the same inside a container
    // (the node's GPU files bound in by dist/slurm/ds01-oci-run), slurmrestd with a JWT,
    // sshare of a user given an association and sacct of their finished job (slurmdbd).
    let check = cluster.script("check");
    assert!(
        check.status.success(),
        "slurm-cluster.sh check: {}",
        describe(&check)
    );
    assert!(
        text(&check.stdout).ends_with("8 passed, 0 failed"),
        "{}",
        describe(&check)
    );
    assert_eq!(
        cluster.node_states(),
        [("n1", "idle"), ("n2", "idle"), ("n3", "idle")].map(|(n, s)| (n.to_owned(), s.to_owned())),
    );

    // An OCI bundle through `srun --container` (rootless runc, as the user): container root
    // is bo's own UID on the host, above 2147483647.
    let container = format!("--container={}", cluster.bundle);
    let oci = cluster.as_user(
        &bo,
        "srun",
        &[
            &container,
            "--chdir=/tmp",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ],
    );
    assert!(
        oci.status.success(),
        "srun --container as bo: {}",
        describe(&oci)
    );
    let oci_out = text(&oci.stdout);
    let mut lines = oci_out.lines();
    assert_eq!(lines.next(), Some("0"), "{oci_out}");
    let map: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", &bo.uid().to_string(), "1"], "{oci_out}");

    // Two users' jobs of 2 GPUs each: Slurm puts them on different nodes, as their users,
    // each seeing two GPUs.
    let a = cluster.submit(&ana, 2);
    let b = cluster.submit(&bo, 2);
    let job_a = cluster.wait_running(&a);
    let job_b = cluster.wait_running(&b);
    assert_ne!(job_a.node, job_b.node, "{job_a:?} {job_b:?}");
    assert_eq!(job_a.user, ana.login());
    assert_eq!(job_b.user, bo.login());
    // squeue's %U is a signed int: a UID above 2147483647 comes out negative.
    assert_eq!(job_b.uid, (bo.uid() as i32).to_string(), "{job_b:?}");
    assert_eq!(job_output(&ana, &a), format!("uid={} gpus=0,1", ana.uid()));
    assert_eq!(job_output(&bo, &b), format!("uid={} gpus=0,1", bo.uid()));

    // Each user sees only their own jobs, and cannot cancel the other's.
    assert_eq!(visible_jobs(&cluster, &ana), [a.as_str()]);
    assert_eq!(visible_jobs(&cluster, &bo), [b.as_str()]);
    let refused = cluster.as_user(&bo, "scancel", &[&a]);
    assert!(
        !refused.status.success() && text(&refused.stderr).contains(&a),
        "bo's scancel of ana's job: {}",
        describe(&refused)
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        cluster.job(&a).state,
        "RUNNING",
        "bo's scancel ended ana's job"
    );

    // The third node's two GPUs for a third job; then all six are held and one GPU more
    // waits for Resources.
    let c = cluster.submit(&ana, 2);
    let job_c = cluster.wait_running(&c);
    let mut nodes = vec![job_a.node.clone(), job_b.node.clone(), job_c.node.clone()];
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
    let d = cluster.submit(&bo, 1);
    let job_d = cluster.wait_job(&d, "pending for Resources", Duration::from_secs(15), |j| {
        j.reason == "Resources"
    });
    assert_eq!(job_d.state, "PENDING", "{job_d:?}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(cluster.job(&d).state, "PENDING", "with every GPU held");
    // It is the GPUs that are taken, not the nodes: a job without any still runs.
    let cpu_only = cluster.submit(&ana, 0);
    cluster.wait_running(&cpu_only);
    assert_eq!(
        job_output(&ana, &cpu_only),
        format!("uid={} gpus=", ana.uid())
    );
    assert_eq!(cluster.job(&d).state, "PENDING");
    let cancel = cluster.as_user(&ana, "scancel", &[&cpu_only]);
    assert!(
        cancel.status.success(),
        "scancel as ana: {}",
        describe(&cancel)
    );

    // ana cancels her first job: it ends, and the waiting job gets its node's GPUs.
    let cancel = cluster.as_user(&ana, "scancel", &[&a]);
    assert!(
        cancel.status.success(),
        "scancel as ana: {}",
        describe(&cancel)
    );
    cluster.wait_job(&a, "CANCELLED", Duration::from_secs(20), |j| {
        j.state == "CANCELLED"
    });
    let job_d = cluster.wait_running(&d);
    assert_eq!(job_d.node, job_a.node, "{job_d:?}");
    assert_eq!(job_output(&bo, &d), format!("uid={} gpus=0", bo.uid()));

    // n3 cut off mid-job: Slurm marks it down and its job ends as a node failure; the other
    // nodes stay up. Reconnected, it is back in service.
    let on_n3 = [&b, &c, &d]
        .into_iter()
        .find(|id| cluster.job(id).node == "n3")
        .expect("a job on n3")
        .clone();
    let cut = cluster.script("cut");
    assert!(
        cut.status.success(),
        "slurm-cluster.sh cut: {}",
        describe(&cut)
    );
    cluster.wait_node("n3", "down", Duration::from_secs(60));
    cluster.wait_job(&on_n3, "NODE_FAIL", Duration::from_secs(20), |j| {
        j.state == "NODE_FAIL"
    });
    for node in ["n1", "n2"] {
        assert_ne!(
            cluster.node_state(node),
            "down",
            "{:?}",
            cluster.node_states()
        );
    }
    let mend = cluster.script("mend");
    assert!(
        mend.status.success(),
        "slurm-cluster.sh mend: {}",
        describe(&mend)
    );
    cluster.wait_node("n3", "idle", Duration::from_secs(30));

    eprintln!("cluster checks took {:?}", started.elapsed());
}

// ds01d in cluster mode: `ds01 container create/list/stop/remove/why` as the users, each
// container a Slurm job running the image's OCI bundle as its user.

/// A user's containers as `ds01 container list --json` prints them (a JSON object a line).
fn ds01_list(daemon: &TestDaemon, user: &TestUser) -> Vec<serde_json::Value> {
    let out = daemon.ds01(user, &["container", "list", "--json"]);
    let stdout = daemon.ok(out, &format!("ds01 container list as {}", user.login()));
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn field(c: &serde_json::Value, key: &str) -> String {
    c[key].as_str().unwrap_or_default().to_owned()
}

/// The names in a user's list, sorted.
fn listed_names(daemon: &TestDaemon, user: &TestUser) -> Vec<String> {
    let mut names: Vec<String> = ds01_list(daemon, user)
        .iter()
        .map(|c| field(c, "name"))
        .collect();
    names.sort();
    names
}

/// Polls `user`'s list until container `name` passes `ok`, at most `timeout`.
fn wait_listed(
    daemon: &TestDaemon,
    user: &TestUser,
    name: &str,
    what: &str,
    timeout: Duration,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let list = ds01_list(daemon, user);
        let found = list.iter().find(|c| field(c, "name") == name).cloned();
        if let Some(c) = found.as_ref().filter(|c| ok(c)) {
            return c.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "{name} of {} is not {what} after {timeout:?}: {found:?}",
                user.login()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn wait_state(daemon: &TestDaemon, user: &TestUser, name: &str, state: &str) -> serde_json::Value {
    wait_listed(daemon, user, name, state, Duration::from_secs(30), |c| {
        field(c, "state") == state
    })
}

/// `ds01 container create NAME --image debian11 --gpus N --json` as `user`.
fn ds01_create(daemon: &TestDaemon, user: &TestUser, name: &str, gpus: u32) -> Output {
    let gpus = gpus.to_string();
    daemon.ds01(
        user,
        &[
            "container",
            "create",
            name,
            "--image",
            ds01_tests::DEBIAN11,
            "--gpus",
            &gpus,
            "--json",
        ],
    )
}

fn ds01_why(daemon: &TestDaemon, user: &TestUser, name: &str) -> String {
    let out = daemon.ds01(user, &["why", name]);
    daemon.ok(out, &format!("ds01 why {name} as {}", user.login()))
}

/// The node running a container's job, from its list row's status (`job J on NODE`).
fn node_of(c: &serde_json::Value) -> String {
    field(c, "status")
        .rsplit(" on ")
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn ds01d_in_cluster_mode_runs_containers_as_slurm_jobs() {
    let _turn = one_cluster();
    let started = Instant::now();
    let sweeper = Sweeper::new("cluster");
    let ana = TestUser::ldap("ana");
    let bo = TestUser::ldap_above_i32("bo");
    let cluster = Cluster::up();
    let bundles = cluster.dir.path().join("bundles");
    let daemon = cluster.daemon(
        &sweeper,
        "partition = \"gpu\"\n",
        "[lifecycle]\ncheck_interval = \"2s\"\n\n\
             [policy.default]\nmax_gpus = 4\nmax_containers = 5\nmemory = \"200m\"\ncpus = 1\nmax_runtime = \"1h\"\n",
    );

    // ana's first container: a Slurm job of hers, named as ds01 names containers, holding
    // 2 GPUs, 200 MiB and one CPU, for at most the policy's hour.
    let out = ds01_create(&daemon, &ana, "a1", 2);
    let created: serde_json::Value =
        serde_json::from_str(daemon.ok(out, "ds01 container create a1 as ana").trim()).unwrap();
    let a1_key = format!("a1._.{}", ana.uid());
    assert_eq!(field(&created, "name"), a1_key, "{created}");
    assert_eq!(field(&created, "user_setup"), "mapped", "{created}");
    let a1_job = field(&created, "id");
    let a1 = wait_state(&daemon, &ana, "a1", "running");
    assert_eq!(field(&a1, "gpus"), "2", "{a1}");
    assert_eq!(field(&a1, "id"), a1_job, "{a1}");
    let job = cluster.job(&a1_job);
    assert_eq!(job.user, ana.login(), "{job:?}");
    let limits = cluster.root("squeue", &["-h", "-j", &a1_job, "-o", "%j|%b|%m|%C|%l"]);
    assert_eq!(
        text(&limits.stdout),
        format!("{a1_key}|gres:gpu:2|200M|1|1:00:00"),
        "{}",
        describe(&limits)
    );
    // The bundle is hers alone.
    let meta = std::fs::metadata(bundles.join(&a1_key)).expect("a1's bundle");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((meta.uid(), meta.mode() & 0o777), (ana.uid(), 0o700));

    // bo's container (UID above 2147483647) on another node, its step running as bo.
    let out = ds01_create(&daemon, &bo, "b1", 2);
    daemon.ok(out, "ds01 container create b1 as bo");
    let b1 = wait_state(&daemon, &bo, "b1", "running");
    assert_ne!(node_of(&b1), node_of(&a1), "{a1} {b1}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ps = cluster.root("ps", &["-o", "args=", "-u", &bo.uid().to_string()]);
        if text(&ps.stdout).lines().any(|l| l == "sleep infinity") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no container process of bo's: {}",
            describe(&ps)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // exec from the login node: a step of b1's job in a container of the same bundle, as
    // bo (container root mapped to bo's UID), with its exit status; what it writes is in
    // the bundle's file system. ana cannot exec in bo's container.
    let exec = daemon.ds01(
        &bo,
        &[
            "container",
            "exec",
            "b1",
            "--",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; echo from-exec > /exec-note; exit 7",
        ],
    );
    assert_eq!(
        exec.status.code(),
        Some(7),
        "exec in b1: {}",
        describe(&exec)
    );
    let exec_out = text(&exec.stdout);
    let lines: Vec<Vec<&str>> = exec_out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [vec!["0"], vec!["0", &bo.uid().to_string(), "1"]],
        "{exec_out}"
    );
    let b1_key = format!("b1._.{}", bo.uid());
    let note = bundles.join(&b1_key).join("rootfs/exec-note");
    assert_eq!(
        std::fs::read_to_string(&note)
            .map(|t| t.trim().to_owned())
            .ok(),
        Some("from-exec".to_owned())
    );
    assert_eq!(std::fs::metadata(&note).unwrap().uid(), bo.uid());
    let exec = daemon.ds01(&ana, &["container", "exec", "b1", "--", "true"]);
    assert!(
        !exec.status.success(),
        "ana's exec in b1: {}",
        describe(&exec)
    );

    // ana's second fills the third node; then every GPU is held and bo's next one waits in
    // Slurm's queue, while ana's next one is over her max_gpus (4) and refused before any
    // submit.
    let out = ds01_create(&daemon, &ana, "a2", 2);
    daemon.ok(out, "ds01 container create a2 as ana");
    let a2 = wait_state(&daemon, &ana, "a2", "running");
    let mut nodes = vec![node_of(&a1), node_of(&b1), node_of(&a2)];
    nodes.sort();
    assert_eq!(nodes, ["n1", "n2", "n3"]);
    let out = ds01_create(&daemon, &bo, "b2", 1);
    daemon.ok(out, "ds01 container create b2 as bo");
    wait_listed(
        &daemon,
        &bo,
        "b2",
        "pending for Resources",
        Duration::from_secs(20),
        |c| field(c, "state") == "pending" && field(c, "status").contains("(Resources), 1 of 1"),
    );
    let refused = ds01_create(&daemon, &ana, "a3", 1);
    assert!(
        !refused.status.success() && text(&refused.stderr).contains("max_gpus"),
        "a3 over max_gpus: {}",
        describe(&refused)
    );
    assert!(!bundles.join(format!("a3._.{}", ana.uid())).exists());

    // Each sees only their own; bo can neither stop nor ask about ana's.
    assert_eq!(listed_names(&daemon, &ana), ["a1", "a2"]);
    assert_eq!(listed_names(&daemon, &bo), ["b1", "b2"]);
    let stop = daemon.ds01(&bo, &["container", "stop", "a1"]);
    assert!(!stop.status.success(), "bo stopped a1: {}", describe(&stop));
    let why = daemon.ds01(&bo, &["why", "a1"]);
    assert!(
        !why.status.success() && !text(&why.stdout).contains(&a1_job),
        "bo's why a1: {}",
        describe(&why)
    );
    assert_eq!(cluster.job(&a1_job).state, "RUNNING");

    // What a1 writes stays in its bundle when it stops (read again once it starts).
    let exec = daemon.ds01(
        &ana,
        &[
            "container",
            "exec",
            "a1",
            "--",
            "sh",
            "-c",
            "echo kept > /kept-note",
        ],
    );
    daemon.ok(exec, "exec in a1 as ana");
    // ds01d's record of what a1 was created with is its own, not in ana's bundle.
    let record = daemon.state_dir().join(format!("cluster/{a1_key}.json"));
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record).expect("a1's record")).unwrap();
    assert_eq!(kept["gpus"], 2, "{kept}");
    assert_eq!(std::fs::metadata(&record).unwrap().uid(), 0);

    // ana stops a1: its job is cancelled, and bo's waiting one gets the freed GPUs.
    let out = daemon.ds01(&ana, &["container", "stop", "a1"]);
    daemon.ok(out, "ds01 container stop a1 as ana");
    cluster.wait_job(&a1_job, "CANCELLED", Duration::from_secs(20), |j| {
        j.state == "CANCELLED"
    });
    let b2 = wait_state(&daemon, &bo, "b2", "running");
    assert_eq!(node_of(&b2), node_of(&a1), "{b2}");
    // Inside b2 (one GPU): its node's two GPU files, bound in by the node's runtime; the
    // job's devices cgroup lets one open (no driver behind it: ENXIO) and denies the other.
    let exec = daemon.ds01(
        &bo,
        &[
            "container",
            "exec",
            "b2",
            "--",
            "sh",
            "-c",
            "ls /dev/gpu*; for g in /dev/gpu*; do cat $g; done",
        ],
    );
    let seen = format!("{}\n{}", text(&exec.stdout), text(&exec.stderr));
    assert_eq!(seen.matches("/dev/gpu").count(), 4, "{}", describe(&exec));
    assert_eq!(
        seen.matches("No such device or address").count(),
        1,
        "{seen}"
    );
    assert_eq!(seen.matches("Operation not permitted").count(), 1, "{seen}");
    let why = ds01_why(&daemon, &ana, "a1");
    assert!(
        why.contains("stopped by its owner") && why.contains(&format!("Slurm job {a1_job} ended")),
        "{why}"
    );
    // bo's start, restart, recreate and logs of ana's a1 are answered as for a name nobody
    // has; a1 stays stopped.
    for verb in ["start", "restart", "recreate", "logs"] {
        let theirs = daemon.ds01(&bo, &["container", verb, "a1"]);
        let nobodys = daemon.ds01(&bo, &["container", verb, "zz"]);
        assert!(
            !theirs.status.success(),
            "bo's {verb} a1: {}",
            describe(&theirs)
        );
        assert_eq!(
            text(&theirs.stderr).replace("a1", "zz"),
            text(&nobodys.stderr),
            "bo's {verb} of ana's a1 and of nobody's zz"
        );
    }
    // A container whose job runs is not started twice.
    let again = daemon.ds01(&ana, &["container", "start", "a2"]);
    assert!(
        !again.status.success() && text(&again.stderr).contains("running or waiting already"),
        "start of running a2: {}",
        describe(&again)
    );

    // An admin's scancel from outside ds01: the list and `why` say so.
    let a2_job = field(&a2, "id");
    let cancel = cluster.root("scancel", &[&a2_job]);
    assert!(cancel.status.success(), "{}", describe(&cancel));
    wait_state(&daemon, &ana, "a2", "cancelled");
    let why = ds01_why(&daemon, &ana, "a2");
    assert!(why.contains("cancelled in Slurm (scancel"), "{why}");
    assert!(!why.contains("stopped by its owner"), "{why}");

    // ana starts a1 again: a new job from its bundle, with the GPUs and limits it was
    // created with, on the freed node; what its last job wrote is there.
    let out = daemon.ds01(&ana, &["container", "start", "a1"]);
    daemon.ok(out, "ds01 container start a1 as ana");
    let a1 = wait_state(&daemon, &ana, "a1", "running");
    let a1_started = field(&a1, "id");
    assert_ne!(a1_started, a1_job, "{a1}");
    assert_eq!(field(&a1, "gpus"), "2", "{a1}");
    let limits = cluster.root("squeue", &["-h", "-j", &a1_started, "-o", "%j|%b|%m|%C|%l"]);
    assert_eq!(
        text(&limits.stdout),
        format!("{a1_key}|gres:gpu:2|200M|1|1:00:00"),
        "{}",
        describe(&limits)
    );
    let exec = daemon.ds01(
        &ana,
        &["container", "exec", "a1", "--", "cat", "/kept-note"],
    );
    assert_eq!(
        text(daemon.ok(exec, "exec in a1 as ana").as_bytes()),
        "kept"
    );

    // Its logs: the new job's output file, which names the job and its node.
    let first = format!(
        "ds01: Slurm job {a1_started} runs the container on {}",
        node_of(&a1)
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let logs = daemon.ds01(&ana, &["container", "logs", "a1"]);
        let logs = daemon.ok(logs, "ds01 container logs a1 as ana");
        if logs.lines().next() == Some(first.as_str()) {
            break;
        }
        assert!(Instant::now() < deadline, "a1's logs: {logs:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let tail = daemon.ds01(&ana, &["container", "logs", "a1", "--tail", "1"]);
    assert_eq!(
        daemon
            .ok(tail, "ds01 container logs --tail 1")
            .lines()
            .count(),
        1
    );

    // open without a terminal runs a shell on pipes; JupyterLab is refused with what works
    // instead.
    let mut open = ana
        .command(ds01_tests::users::user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .args(["container", "open", "a1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ds01 container open runs");
    {
        use std::io::Write;
        let mut stdin = open.stdin.take().unwrap();
        stdin.write_all(b"echo opened-$((6*7))\n").unwrap();
    }
    let open = open.wait_with_output().unwrap();
    assert!(
        open.status.success() && text(&open.stdout).contains("opened-42"),
        "open a1 without a terminal: {}",
        describe(&open)
    );
    let refused = daemon.ds01(&ana, &["container", "jupyter", "a1"]);
    assert!(
        !refused.status.success() && text(&refused.stderr).contains("ds01 container exec"),
        "jupyter a1: {}",
        describe(&refused)
    );
    // In a real terminal (tmux), typed into: the shell has a terminal inside the
    // container, as container root (ana on the node).
    let pane = ana.tmux_session(&format!(
        "DS01_SOCKET={} {} container open a1",
        daemon.socket().display(),
        ds01_tests::users::user_visible_binary("ds01").display()
    ));
    pane.send_text("echo tty=$(tty) me=$(id -u)-$((6*7)) cols=$(stty size); exit\n");
    let shown = pane.wait_for("me=0-42", Duration::from_secs(30));
    assert!(shown.contains("tty=/dev/pts/"), "{shown}");
    drop(pane);

    // Each node runs one container now; n3 is then cut off: its container's owner reads
    // the node failure in the list and in `why`.
    let (owner, name) = [(&ana, "a1"), (&bo, "b1"), (&bo, "b2")]
        .into_iter()
        .find(|(u, n)| node_of(&wait_state(&daemon, u, n, "running")) == "n3")
        .expect("a container on n3");
    let cut = cluster.script("cut");
    assert!(cut.status.success(), "{}", describe(&cut));
    // The owner is told by ds01d's own round, before anyone asks: the ending is in their
    // events while no list or why of theirs has run.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let events = daemon.ok(
            daemon.ds01(owner, &["events", "--json"]),
            "ds01 events as the owner",
        );
        if events
            .lines()
            .any(|l| l.contains("\"job_end\"") && l.contains("NODE_FAIL") && l.contains(name))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no NODE_FAIL event for {name}: {events}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let failed = wait_listed(
        &daemon,
        owner,
        name,
        "NODE_FAIL",
        Duration::from_secs(90),
        |c| field(c, "state") == "node_fail",
    );
    assert!(
        field(&failed, "status").contains("node n3 failed"),
        "{failed}"
    );
    let why = ds01_why(&daemon, owner, name);
    assert!(why.contains("its node n3 failed"), "{why}");

    // The others stopped to free a node, recreate places the failed one on a node that is
    // up: a new job from the same bundle.
    let failed_job = field(&failed, "id");
    for (user, other) in [(&ana, "a1"), (&bo, "b1"), (&bo, "b2")] {
        if other != name {
            let out = daemon.ds01(user, &["container", "stop", other]);
            daemon.ok(out, &format!("ds01 container stop {other}"));
        }
    }
    let out = daemon.ds01(owner, &["container", "recreate", name, "--json"]);
    let recreated: serde_json::Value =
        serde_json::from_str(daemon.ok(out, "ds01 container recreate").trim()).unwrap();
    assert_ne!(field(&recreated, "id"), failed_job, "{recreated}");
    let moved = wait_state(&daemon, owner, name, "running");
    assert_eq!(field(&moved, "id"), field(&recreated, "id"), "{moved}");
    assert_ne!(node_of(&moved), "n3", "{moved}");

    // A restart of the running container cancels its job for a new one; `logs -f` of the
    // old job ends with it.
    let mut follow = owner
        .command(ds01_tests::users::user_visible_binary("ds01"))
        .envs(daemon.env_for())
        .args(["container", "logs", "-f", name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ds01 container logs -f runs");
    std::thread::sleep(Duration::from_secs(1));
    let out = daemon.ds01(owner, &["container", "restart", name]);
    daemon.ok(out, "ds01 container restart");
    let deadline = Instant::now() + Duration::from_secs(20);
    while follow.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = follow.kill();
            panic!("logs -f did not end with its job");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let followed = follow.wait_with_output().unwrap();
    assert!(
        followed.status.success()
            && text(&followed.stdout).contains(&format!(
                "ds01: Slurm job {} runs the container",
                field(&recreated, "id")
            )),
        "logs -f: {}",
        describe(&followed)
    );
    let restarted = wait_state(&daemon, owner, name, "running");
    assert_ne!(field(&restarted, "id"), field(&moved, "id"), "{restarted}");
    let why = ds01_why(&daemon, owner, name);
    assert!(
        why.contains("recreated by its owner") && why.contains("restarted by its owner"),
        "{why}"
    );

    // ana's own link in place of her job's output: ds01d (root) never follows it.
    let a1_newest = field(
        &ds01_list(&daemon, &ana)
            .into_iter()
            .find(|c| field(c, "name") == "a1")
            .expect("a1 listed"),
        "id",
    );
    let planted = bundles.join(&a1_key).join(format!("slurm-{a1_newest}.out"));
    let plant = ana
        .command("sh")
        .args(["-c", "rm -f \"$1\" && ln -s /etc/shadow \"$1\"", "sh"])
        .arg(&planted)
        .output()
        .unwrap();
    assert!(plant.status.success(), "{}", describe(&plant));
    let logs = daemon.ds01(&ana, &["container", "logs", "a1"]);
    assert!(
        !logs.status.success()
            && text(&logs.stderr).contains("symbolic link")
            && !text(&logs.stdout).contains("root:"),
        "logs through a planted link: {}",
        describe(&logs)
    );

    // remove takes the bundle and ds01d's record; the list no longer shows it.
    let out = daemon.ds01(&ana, &["container", "remove", "--force", "a1"]);
    daemon.ok(out, "ds01 container remove a1 as ana");
    assert!(!bundles.join(&a1_key).exists());
    assert!(!record.exists());
    assert!(!listed_names(&daemon, &ana).contains(&"a1".to_owned()));

    drop(daemon);
    eprintln!("ds01d cluster checks took {:?}", started.elapsed());
}

#[test]
fn ds01d_reaper_ends_idle_cluster_jobs_and_trusts_no_job_name() {
    let _turn = one_cluster();
    let started = Instant::now();
    let sweeper = Sweeper::new("cluster-reaper");
    let cy = TestUser::ldap_above_i32("cy");
    let mal = TestUser::ldap("mal");
    let cluster = Cluster::up();
    let bundles = cluster.dir.path().join("bundles");
    let daemon = cluster.daemon(
        &sweeper,
        "",
        "[lifecycle]\ncheck_interval = \"2s\"\nidle_cpu_percent = 5\n\n\
             [policy.default]\nmax_gpus = 2\nmemory = \"200m\"\ncpus = 1\nmax_runtime = \"1h\"\nidle_timeout = \"10s\"\n",
    );

    // Two containers of cy's: c1 left idle, c2 with a session open the whole time.
    for name in ["c1", "c2"] {
        let out = ds01_create(&daemon, &cy, name, 1);
        daemon.ok(out, &format!("ds01 container create {name} as cy"));
    }
    let c1 = wait_state(&daemon, &cy, "c1", "running");
    wait_state(&daemon, &cy, "c2", "running");
    let mut session = daemon
        .ds01_command(&cy, &["container", "exec", "c2", "--", "sleep", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ds01 container exec c2");

    // mal names jobs of hers as if they were cy's containers: one that ends at once (its
    // ending must not enter cy's history) and one that stays (not cy's to be reaped).
    let forged = format!("--job-name=c1._.{}", cy.uid());
    let mut forged_jobs = Vec::new();
    for wrap in ["true", "sleep 300"] {
        let out = cluster.as_user(&mal, "sbatch", &["--parsable", &forged, "--wrap", wrap]);
        assert!(out.status.success(), "mal's sbatch: {}", describe(&out));
        forged_jobs.push(text(&out.stdout));
    }

    // The reaper warns about c1, then cancels its job as cy: idle (CPU under 5 %, no
    // session) for the policy's 10 s.
    let c1_job = field(&c1, "id");
    cluster.wait_job(
        &c1_job,
        "cancelled by the reaper",
        Duration::from_secs(90),
        |j| j.state == "CANCELLED",
    );
    let why = ds01_why(&daemon, &cy, "c1");
    assert!(
        why.contains("will be stopped at") && why.contains("because it was idle for 10 s"),
        "{why}"
    );
    assert!(
        why.contains(&format!("(scancel of Slurm job {c1_job})")),
        "{why}"
    );
    wait_state(&daemon, &cy, "c1", "cancelled");

    // c2, idle but for its session, runs on; mal's jobs are neither cy's history nor reaped.
    let c2 = wait_state(&daemon, &cy, "c2", "running");
    assert_eq!(cluster.job(&field(&c2, "id")).state, "RUNNING");
    let why = ds01_why(&daemon, &cy, "c1");
    for id in &forged_jobs {
        assert!(!why.contains(&format!("job {id} ")), "{why}");
    }
    assert_eq!(cluster.job(&forged_jobs[1]).state, "RUNNING");
    assert_eq!(listed_names(&daemon, &cy), ["c1", "c2"]);
    assert!(bundles.join(format!("c1._.{}", cy.uid())).is_dir());

    // An admin's list of every user's: cy's two with cy's own jobs, not mal's newer ones
    // of the same name; mal, with no container, not in it.
    let all = daemon.ok(
        daemon.ds01_as_root(&["container", "list", "--all-users", "--json"]),
        "ds01 container list --all-users as root",
    );
    let rows: Vec<serde_json::Value> = all
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(String, String, String)> = rows
        .iter()
        .map(|c| (field(c, "user"), field(c, "name"), field(c, "state")))
        .collect();
    assert_eq!(
        summary,
        [
            (
                cy.login().to_owned(),
                "c1".to_owned(),
                "cancelled".to_owned()
            ),
            (cy.login().to_owned(), "c2".to_owned(), "running".to_owned())
        ],
        "{all}"
    );
    assert_eq!(field(&rows[0], "id"), c1_job, "{all}");

    // ds01's own ledger (no Slurm accounting here) counted both jobs' GPU time, one GPU
    // each, no more than they ran; mal's account has none of it.
    let usage = daemon.ok(daemon.ds01(&cy, &["usage", "--json"]), "ds01 usage as cy");
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    let mut counted: Vec<String> = Vec::new();
    for c in usage["containers"].as_array().expect("containers") {
        let gpu_seconds = c["gpu_seconds"].as_f64().unwrap_or(-1.0);
        assert!(gpu_seconds > 0.0 && gpu_seconds <= elapsed, "{c}");
        counted.push(c["container"].as_str().unwrap_or_default().to_owned());
    }
    counted.sort();
    assert_eq!(
        counted,
        [format!("c1._.{}", cy.uid()), format!("c2._.{}", cy.uid())],
        "{usage}"
    );
    let theirs = daemon.ok(daemon.ds01(&mal, &["usage", "--json"]), "ds01 usage as mal");
    assert!(!theirs.contains(&cy.uid().to_string()), "{theirs}");

    // The Docker-API socket makes and shows nothing on a cluster (the login node's engine
    // runs no user's container): the docker CLI reports ds01d's refusal.
    for args in [
        &["ps", "-a"][..],
        &["run", "-d", ds01_tests::DEBIAN11, "true"],
    ] {
        let out = daemon.docker_tool(&cy, "docker", args);
        assert!(
            !out.status.success() && text(&out.stderr).contains("runs containers as Slurm jobs"),
            "docker {args:?}: {}",
            describe(&out)
        );
    }

    // --all on a cluster: stop takes c2 (the one running), start then both.
    let out = daemon.ds01(&cy, &["container", "stop", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stopped = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        stopped.contains("c2") && !stopped.contains("c1"),
        "{stopped}"
    );
    wait_state(&daemon, &cy, "c2", "cancelled");
    let out = daemon.ds01(&cy, &["container", "start", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    let started_all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        started_all.contains("c1") && started_all.contains("c2"),
        "{started_all}"
    );
    for name in ["c1", "c2"] {
        wait_state(&daemon, &cy, name, "running");
    }

    let _ = session.kill();
    let _ = session.wait();
    drop(daemon);
    eprintln!("ds01d cluster reaper checks took {:?}", started.elapsed());
}

// Slurm's fairness and accounting through ds01d (`[cluster] accounting = "slurm"`): GPU time
// lowers a user's fair-share, which orders the waiting jobs; `ds01 usage` reads slurmdbd.

/// The priority Slurm gives each of the pending jobs `ids` (root's sprio).
fn priorities(cluster: &Cluster, ids: &[&str]) -> Vec<u64> {
    let out = cluster.root("sprio", &["-h", "-o", "%i|%Y"]);
    assert!(out.status.success(), "sprio: {}", describe(&out));
    let listed = text(&out.stdout);
    ids.iter()
        .map(|id| {
            listed
                .lines()
                .find_map(|l| {
                    let (j, p) = l.trim().split_once('|')?;
                    (j.trim() == *id).then(|| p.trim().parse().ok()).flatten()
                })
                .unwrap_or(0)
        })
        .collect()
}

/// The fair-share factor in a waiting container's status (`…, fair-share F`).
fn fair_share_in(c: &serde_json::Value) -> f64 {
    let status = field(c, "status");
    status
        .rsplit("fair-share ")
        .next()
        .and_then(|f| f.trim().parse().ok())
        .unwrap_or_else(|| panic!("no fair-share in {c}"))
}

#[test]
fn ds01d_cluster_fair_share_orders_the_queue_and_usage_comes_from_slurm() {
    let _turn = one_cluster();
    let started = Instant::now();
    let sweeper = Sweeper::new("cluster-fair");
    let ana = TestUser::ldap("ana");
    let bo = TestUser::ldap_above_i32("bo");
    let cluster = Cluster::up();
    // Associations (account ds01): what fair-share and slurmdbd's answers to users need.
    for user in [&ana, &bo] {
        let out = Command::new(script())
            .args([
                "user",
                &cluster.dir.path().display().to_string(),
                user.login(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slurm-cluster.sh user: {}",
            describe(&out)
        );
    }
    let daemon = cluster.daemon(
        &sweeper,
        "partition = \"gpu\"\naccounting = \"slurm\"\n",
        "[policy.default]\nmax_gpus = 8\nmax_containers = 5\nmemory = \"200m\"\ncpus = 1\nmax_runtime = \"1h\"\n",
    );

    // ana holds every GPU: three containers of two.
    let mut held = Vec::new();
    for name in ["a1", "a2", "a3"] {
        let out = ds01_create(&daemon, &ana, name, 2);
        daemon.ok(out, &format!("ds01 container create {name} as ana"));
    }
    for name in ["a1", "a2", "a3"] {
        held.push(field(&wait_state(&daemon, &ana, name, "running"), "id"));
    }
    let all_running = Instant::now();

    // Then ana's fourth and bo's first wait for two GPUs; ana's came first.
    let out = ds01_create(&daemon, &ana, "a4", 2);
    daemon.ok(out, "ds01 container create a4 as ana");
    let a4 = wait_state(&daemon, &ana, "a4", "pending");
    let out = ds01_create(&daemon, &bo, "b1", 2);
    daemon.ok(out, "ds01 container create b1 as bo");
    let b1 = wait_state(&daemon, &bo, "b1", "pending");
    let (a4_job, b1_job) = (field(&a4, "id"), field(&b1, "id"));

    // Within Slurm's priority period (a minute) ana's GPU time counts against her: bo's job
    // has the higher priority, and each of them sees the order and their own numbers.
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let p = priorities(&cluster, &[&a4_job, &b1_job]);
        if p[1] > p[0] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bo's job {b1_job} never got ahead of ana's {a4_job}: {p:?}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let a4 = wait_listed(
        &daemon,
        &ana,
        "a4",
        "second in the queue",
        Duration::from_secs(10),
        |c| field(c, "status").contains(", 2 of 2; priority "),
    );
    let b1 = wait_listed(
        &daemon,
        &bo,
        "b1",
        "first in the queue",
        Duration::from_secs(10),
        |c| field(c, "status").contains(", 1 of 2; priority "),
    );
    assert!(fair_share_in(&b1) > fair_share_in(&a4), "{b1} {a4}");
    assert!(!field(&b1, "status").contains(&a4_job), "{b1}");

    // ana stops a1: the freed GPUs go to bo's job, although ana's waited longer.
    let out = daemon.ds01(&ana, &["container", "stop", "a1"]);
    daemon.ok(out, "ds01 container stop a1 as ana");
    cluster.wait_job(&held[0], "CANCELLED", Duration::from_secs(20), |j| {
        j.state == "CANCELLED"
    });
    wait_state(&daemon, &bo, "b1", "running");
    assert_eq!(cluster.job(&a4_job).state, "PENDING");

    // `ds01 usage` as ana: her three jobs' GPU time as slurmdbd has it, to the second for
    // the ended one; within what ran for the others; a4 never ran.
    let deadline = Instant::now() + Duration::from_secs(30);
    let a1_elapsed: f64 = loop {
        let out = cluster.root(
            "sacct",
            &[
                "-n",
                "-P",
                "-X",
                "-j",
                &held[0],
                "--format=State,ElapsedRaw",
            ],
        );
        let line = text(&out.stdout);
        if let Some(e) = line
            .strip_prefix("CANCELLED")
            .and_then(|r| r.rsplit('|').next())
        {
            if let Ok(e) = e.parse() {
                break e;
            }
        }
        assert!(
            Instant::now() < deadline,
            "sacct of {}: {}",
            held[0],
            describe(&out)
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    // Slurm's times are whole seconds: a job's start and the end of the span may each be
    // up to one off what this test saw.
    let held_for = all_running.elapsed().as_secs_f64() - 2.0;
    let usage = daemon.ok(daemon.ds01(&ana, &["usage", "--json"]), "ds01 usage as ana");
    let usage: serde_json::Value = serde_json::from_str(&usage).unwrap();
    let ran_at_most = started.elapsed().as_secs_f64() + 2.0;
    let per: Vec<(String, f64)> = usage["containers"]
        .as_array()
        .expect("containers")
        .iter()
        .map(|c| {
            (
                field(c, "container"),
                c["gpu_seconds"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    let mut names: Vec<&str> = per.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    let key = |n: &str| format!("{n}._.{}", ana.uid());
    assert_eq!(names, [key("a1"), key("a2"), key("a3")], "{usage}");
    for (name, gpu_seconds) in &per {
        if *name == key("a1") {
            assert_eq!(*gpu_seconds, 2.0 * a1_elapsed, "{usage}");
        } else {
            assert!(
                *gpu_seconds >= 2.0 * held_for && *gpu_seconds <= 2.0 * ran_at_most,
                "{name}: {gpu_seconds} not within {} and {}: {usage}",
                2.0 * held_for,
                2.0 * ran_at_most
            );
        }
    }
    let total = usage["gpu_seconds"].as_f64().unwrap_or(-1.0);
    let sum: f64 = per.iter().map(|(_, g)| g).sum();
    assert!((total - sum).abs() < 1e-6, "{usage}");

    // bo's shows his own job only (once slurmdbd has its start, which slurmctld sends on
    // within seconds); slurmdbd shows him none of ana's even when asked for all.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let theirs = daemon.ok(daemon.ds01(&bo, &["usage", "--json"]), "ds01 usage as bo");
        assert!(!theirs.contains(&ana.uid().to_string()), "{theirs}");
        let theirs: serde_json::Value = serde_json::from_str(&theirs).unwrap();
        let names: Vec<String> = theirs["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| field(c, "container"))
            .collect();
        if !names.is_empty() {
            assert_eq!(names, [format!("b1._.{}", bo.uid())], "{theirs}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bo's usage lists no b1: {theirs}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let all = cluster.as_user(
        &bo,
        "sacct",
        &["-a", "-n", "-P", "-X", "--format=JobID,User"],
    );
    assert!(all.status.success(), "{}", describe(&all));
    for id in held.iter().chain([&a4_job]) {
        assert!(
            !text(&all.stdout)
                .lines()
                .any(|l| l.starts_with(&format!("{id}|"))),
            "{}",
            describe(&all)
        );
    }

    drop(daemon);
    eprintln!(
        "ds01d cluster fair-share checks took {:?}",
        started.elapsed()
    );
}
