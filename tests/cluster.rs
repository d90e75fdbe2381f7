//! A real three-node Slurm cluster on this machine (`scripts/slurm-cluster.sh`: n1 and n2 on
//! loopback, n3 in a network namespace of its own, two fake GPUs each), driven by two
//! throwaway LDAP-style users, one with a UID above 2147483647. This is the ground ds01's
//! cluster mode will stand on (issue 22); ds01d itself is not involved yet.
//!
//! One test, in steps, because the cluster is one per machine: it comes up in a temporary
//! directory and goes down (by the PIDs the script recorded) when the guard drops, also
//! after a failed assertion.

use ds01_tests::users::TestUser;
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
    let started = Instant::now();
    // Declared before the cluster, so dropped after it: their jobs end before they go.
    let ana = TestUser::ldap("ana");
    let bo = TestUser::ldap_above_i32("bo");
    assert!(bo.uid() > i32::MAX as u32, "{}", bo.uid());
    let cluster = Cluster::up();
    // The script's own checks (as `nobody`): a step on every node, the devices cgroup
    // denying a GPU the job was not given, an OCI container, slurmrestd with a JWT.
    let check = cluster.script("check");
    assert!(
        check.status.success(),
        "slurm-cluster.sh check: {}",
        describe(&check)
    );
    assert!(
        text(&check.stdout).ends_with("5 passed, 0 failed"),
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
