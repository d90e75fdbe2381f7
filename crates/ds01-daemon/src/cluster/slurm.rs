//! Slurm's clients, run by ds01d (root) as the user it acts for.
//!
//! Every command runs under `setpriv` with the user's UID, GID and groups, never as root
//! and never with `sbatch --uid`: munge then vouches for the user, not for root, so Slurm
//! applies to ds01d's requests exactly what it applies to the user's own (`PrivateData`,
//! who may cancel which job, the account's limits and fair-share). A mistake in ds01d's
//! matching of names can therefore not reach another user's job. `--uid` exists for
//! `sbatch` only; `squeue` and `scancel` have no such option, and as root they would see and
//! cancel everybody's jobs. The environment is emptied: nothing of ds01d's reaches a job.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use ds01_api::{ApiError, ErrorCode};
use ds01_engine::Identity;
use tokio::io::AsyncWriteExt;

use super::job::{Job, SQUEUE_FORMAT};
use super::ClusterConfig;

/// How long one Slurm client may take: slurmctld answers in milliseconds, or is down.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A Slurm command's output, as text.
pub(super) struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Its output, or `what` failed with its error output.
    pub(super) fn stdout_or(self, what: &str) -> Result<String, ApiError> {
        if self.ok {
            Ok(self.stdout)
        } else {
            Err(ApiError::new(
                ErrorCode::Failed,
                format!("{what}: {}", self.stderr),
            ))
        }
    }
}

/// `program args` as `who`: the user's UID, GID and groups, an empty environment but for
/// `PATH`, `SLURM_CONF` and the user's name, in `/`; killed when dropped.
pub fn as_user(
    cluster: &ClusterConfig,
    who: &Identity,
    program: &str,
    args: &[String],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("setpriv");
    cmd.arg(format!("--reuid={}", who.uid()))
        .arg(format!("--regid={}", who.gid()))
        .arg("--init-groups")
        .arg("--")
        .arg(program)
        .args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        )
        .env("SLURM_CONF", &cluster.slurm_conf)
        .env("USER", who.login())
        .env("LOGNAME", who.login())
        .current_dir("/")
        .kill_on_drop(true);
    cmd
}

/// Runs `program args` as `who`, with `stdin` if given.
pub(super) async fn run(
    cluster: &ClusterConfig,
    who: &Identity,
    program: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<Ran, ApiError> {
    let cmd = as_user(cluster, who, program, args);
    collect(cmd, stdin, &format!("{program} for {}", who.login())).await
}

/// Runs `program args` as ds01d itself (root: Slurm's operator), for the reaper's view of
/// every user's jobs; never for a request of a user.
async fn run_as_daemon(
    cluster: &ClusterConfig,
    program: &str,
    args: &[String],
) -> Result<Ran, ApiError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
        )
        .env("SLURM_CONF", &cluster.slurm_conf)
        .current_dir("/")
        .kill_on_drop(true);
    collect(cmd, None, program).await
}

/// Spawns `cmd`, feeds it `stdin`, and waits at most [`CLIENT_TIMEOUT`] for its output.
pub(super) async fn collect(
    mut cmd: tokio::process::Command,
    stdin: Option<&str>,
    what: &str,
) -> Result<Ran, ApiError> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let failed = |e: String| ApiError::new(ErrorCode::Failed, format!("cannot run {what}: {e}"));
    let mut child = cmd.spawn().map_err(|e| failed(e.to_string()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| failed(e.to_string()))?;
    }
    let out = tokio::time::timeout(CLIENT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("no answer within {CLIENT_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    Ok(Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// The user's jobs that are ds01 containers of theirs (name ending `._.<uid>`), finished
/// ones included while slurmctld remembers them (`MinJobAge`), newest first.
pub async fn jobs(cluster: &ClusterConfig, who: &Identity) -> Result<Vec<Job>, ApiError> {
    let args = ["-h", "-t", "all", "-o", SQUEUE_FORMAT].map(String::from);
    let stdout = run(cluster, who, "squeue", &args, None)
        .await?
        .stdout_or("squeue failed")?;
    let suffix = format!("._.{}", who.uid());
    let mut jobs: Vec<Job> = stdout
        .lines()
        .filter_map(Job::parse)
        .filter(|j| j.name.ends_with(&suffix))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    Ok(jobs)
}

/// Every job Slurm knows that is a ds01 container by its name, with the UID that really
/// submitted it: a name ending `._.<uid>` is only a claim, which anyone's `sbatch
/// --job-name` can make, so the reaper acts only where the two agree. Each comes with its
/// memory in bytes (0 where Slurm gives none).
pub async fn all_jobs(cluster: &ClusterConfig) -> Result<Vec<(Job, u64)>, ApiError> {
    let format = format!("%U|%m|{SQUEUE_FORMAT}");
    let args = ["-h", "-t", "all", "-o", &format].map(String::from);
    let stdout = run_as_daemon(cluster, "squeue", &args)
        .await?
        .stdout_or("squeue failed")?;
    Ok(stdout
        .lines()
        .filter_map(|line| {
            let (uid, rest) = line.trim().split_once('|')?;
            let (memory, rest) = rest.split_once('|')?;
            let job = Job::parse(rest)?;
            let owned = ds01_api::OwnedContainer::parse(&job.name)?;
            (signed_uid(uid)? == owned.uid()).then(|| (job, memory_bytes(memory)))
        })
        .collect())
}

/// The pending jobs of the partition, in the order Slurm's scheduler considers them
/// (priority, then submit order): the queue whose place a waiting user is told. Read as
/// ds01d, since `PrivateData=jobs` hides the others' jobs from the user; only the count
/// ahead is told, never whose.
pub async fn queue(cluster: &ClusterConfig) -> Result<Vec<u64>, ApiError> {
    let mut args = ["-h", "-t", "PENDING", "--sort=-p,i", "-o", "%i"]
        .map(String::from)
        .to_vec();
    if let Some(p) = &cluster.partition {
        args.push(format!("--partition={p}"));
    }
    let stdout = run_as_daemon(cluster, "squeue", &args)
        .await?
        .stdout_or("squeue failed")?;
    Ok(stdout
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect())
}

/// squeue's memory (`200M`, `2G`; a bare number is MiB), in bytes; 0 for anything else.
fn memory_bytes(text: &str) -> u64 {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "M"),
    };
    let shift = match unit {
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return 0,
    };
    number
        .parse::<f64>()
        .map(|n| (n * (1u64 << shift) as f64) as u64)
        .unwrap_or(0)
}

/// A UID as squeue prints it: a signed 32-bit number, so one above 2147483647 comes out
/// negative.
fn signed_uid(text: &str) -> Option<u32> {
    text.trim().parse::<i64>().ok().and_then(|n| {
        if n < 0 {
            u32::try_from(n + (1 << 32)).ok()
        } else {
            u32::try_from(n).ok()
        }
    })
}

/// The CPU time job `id`'s steps have used so far, in seconds (`sstat`, which needs the
/// cluster's `JobAcctGatherType`); `None` while Slurm has no reading of any step. Steps
/// that ended (an exec that returned) drop out of the sum.
pub async fn cpu_seconds(cluster: &ClusterConfig, id: u64) -> Result<Option<f64>, ApiError> {
    let args = [
        "-a",
        "-n",
        "-P",
        "-j",
        &id.to_string(),
        "--format=JobID,TRESUsageInTot",
    ]
    .map(String::from);
    let stdout = run_as_daemon(cluster, "sstat", &args)
        .await?
        .stdout_or(&format!("sstat of job {id} failed"))?;
    Ok(cpu_of_steps(&stdout))
}

/// The sum of the `cpu=` usage of the steps in sstat's `JobID|TRESUsageInTot` lines, but
/// for the batch script's own step (a shell waiting on srun).
fn cpu_of_steps(text: &str) -> Option<f64> {
    let mut total = None;
    for line in text.lines() {
        let Some((step, tres)) = line.trim().split_once('|') else {
            continue;
        };
        if step.ends_with(".batch") || step.ends_with(".extern") {
            continue;
        }
        let cpu = tres
            .split(',')
            .find_map(|t| t.strip_prefix("cpu="))
            .and_then(slurm_seconds);
        if let Some(cpu) = cpu {
            total = Some(total.unwrap_or(0.0) + cpu);
        }
    }
    total
}

/// Slurm's durations: `[DD-][HH:]MM:SS[.mmm]`.
pub(super) fn slurm_seconds(text: &str) -> Option<f64> {
    let (days, clock) = match text.split_once('-') {
        Some((d, rest)) => (d.parse::<f64>().ok()?, rest),
        None => (0.0, text),
    };
    let mut seconds = 0.0;
    for part in clock.split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(days * 86_400.0 + seconds)
}

/// What a submit asks of Slurm.
pub struct Submit<'a> {
    /// The job name, `<name>._.<uid>`.
    pub name: &'a str,
    /// The bundle directory (also the job's working directory and output's place).
    pub bundle: &'a Path,
    /// The image, for the job's comment.
    pub image: &'a str,
    /// GPUs (gres `gpu`).
    pub gpus: u32,
    /// Memory in MiB, if limited.
    pub mem_mib: Option<u64>,
    /// CPUs, if limited.
    pub cpus: Option<u32>,
    /// Walltime in minutes, if limited.
    pub minutes: Option<u64>,
}

/// The batch script: one step, the container, running until the job ends. Its first line
/// of output (the start of the container's `logs`) says which job runs it where.
pub fn script(bundle: &Path) -> String {
    format!(
        "#!/bin/sh\n# A ds01 container: its OCI bundle, run by the node's runtime as the job's user.\necho \"ds01: Slurm job $SLURM_JOB_ID runs the container on $SLURMD_NODENAME\"\nexec srun --container={} sleep infinity\n",
        bundle.display()
    )
}

/// The sbatch arguments of `s` (the script comes on stdin).
pub fn sbatch_args(cluster: &ClusterConfig, s: &Submit<'_>) -> Vec<String> {
    let dir = s.bundle.display();
    let mut args = vec![
        "--parsable".to_owned(),
        format!("--job-name={}", s.name),
        format!("--chdir={dir}"),
        format!("--output={dir}/slurm-%j.out"),
        format!("--comment=ds01 image={}", s.image),
        "--nodes=1".to_owned(),
    ];
    if let Some(p) = &cluster.partition {
        args.push(format!("--partition={p}"));
    }
    if s.gpus > 0 {
        args.push(format!("--gres=gpu:{}", s.gpus));
    }
    if let Some(m) = s.mem_mib {
        args.push(format!("--mem={m}M"));
    }
    if let Some(c) = s.cpus {
        args.push(format!("--cpus-per-task={c}"));
    }
    if let Some(t) = s.minutes {
        args.push(format!("--time={t}"));
    }
    args
}

/// Submits the container's job as `who`; returns its ID.
pub async fn submit(
    cluster: &ClusterConfig,
    who: &Identity,
    s: &Submit<'_>,
) -> Result<u64, ApiError> {
    let ran = run(
        cluster,
        who,
        "sbatch",
        &sbatch_args(cluster, s),
        Some(&script(s.bundle)),
    )
    .await?;
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let id = ran
        .stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .parse()
        .ok();
    match (ran.ok, id) {
        (true, Some(id)) => Ok(id),
        _ => Err(ApiError::new(
            ErrorCode::Failed,
            format!("Slurm refused the job: {}", ran.stderr),
        )),
    }
}

/// Cancels job `id` as `who` (Slurm refuses another user's).
pub async fn cancel(cluster: &ClusterConfig, who: &Identity, id: u64) -> Result<(), ApiError> {
    run(cluster, who, "scancel", &[id.to_string()], None)
        .await?
        .stdout_or(&format!("scancel {id} failed"))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sstat_and_squeue_numbers_are_read() {
        assert_eq!(slurm_seconds("00:09"), Some(9.0));
        assert_eq!(slurm_seconds("01:02:03"), Some(3723.0));
        assert_eq!(slurm_seconds("2-00:00:01"), Some(172_801.0));
        assert_eq!(slurm_seconds("00:00.500"), Some(0.5));
        assert_eq!(slurm_seconds("x"), None);
        let steps =
            "7.batch|cpu=00:00:30,mem=3M\n7.0|cpu=00:00:09,mem=2M\n7.1|cpu=01:00,energy=0\n";
        assert_eq!(cpu_of_steps(steps), Some(69.0));
        assert_eq!(cpu_of_steps("7.batch|cpu=00:00:30\n"), None);
        assert_eq!(signed_uid("1722830498"), Some(1_722_830_498));
        assert_eq!(signed_uid("-1294967295"), Some(3_000_000_001));
        assert_eq!(signed_uid("nobody"), None);
        assert_eq!(memory_bytes("200M"), 200 << 20);
        assert_eq!(memory_bytes("2G"), 2 << 30);
        assert_eq!(memory_bytes("512"), 512 << 20);
        assert_eq!(memory_bytes("0"), 0);
        assert_eq!(memory_bytes("N/A"), 0);
    }

    #[test]
    fn the_submit_asks_for_what_the_policy_allows() {
        let cluster = ClusterConfig {
            slurm_conf: "/etc/slurm/slurm.conf".into(),
            bundles: "/srv/b".into(),
            partition: Some("gpu".into()),
            accounting: false,
        };
        let args = sbatch_args(
            &cluster,
            &Submit {
                name: "a._.1722830498",
                bundle: Path::new("/srv/b/a._.1722830498"),
                image: "ds01-1722830498/a:latest",
                gpus: 2,
                mem_mib: Some(512),
                cpus: Some(2),
                minutes: Some(60),
            },
        );
        for want in [
            "--job-name=a._.1722830498",
            "--partition=gpu",
            "--gres=gpu:2",
            "--mem=512M",
            "--cpus-per-task=2",
            "--time=60",
        ] {
            assert!(args.iter().any(|a| a == want), "{want} in {args:?}");
        }
        assert!(script(Path::new("/srv/b/a._.1722830498"))
            .contains("srun --container=/srv/b/a._.1722830498 "));
    }
}
