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
struct Ran {
    ok: bool,
    stdout: String,
    stderr: String,
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
async fn run(
    cluster: &ClusterConfig,
    who: &Identity,
    program: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<Ran, ApiError> {
    let mut cmd = as_user(cluster, who, program, args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let failed = |e: String| {
        ApiError::new(
            ErrorCode::Failed,
            format!("cannot run {program} for {}: {e}", who.login()),
        )
    };
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
    let ran = run(cluster, who, "squeue", &args, None).await?;
    if !ran.ok {
        return Err(ApiError::new(
            ErrorCode::Failed,
            format!("squeue failed: {}", ran.stderr),
        ));
    }
    let suffix = format!("._.{}", who.uid());
    let mut jobs: Vec<Job> = ran
        .stdout
        .lines()
        .filter_map(Job::parse)
        .filter(|j| j.name.ends_with(&suffix))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse(j.id));
    Ok(jobs)
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
    let ran = run(cluster, who, "scancel", &[id.to_string()], None).await?;
    if ran.ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Failed,
            format!("scancel {id} failed: {}", ran.stderr),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_submit_asks_for_what_the_policy_allows() {
        let cluster = ClusterConfig {
            slurm_conf: "/etc/slurm/slurm.conf".into(),
            bundles: "/srv/b".into(),
            partition: Some("gpu".into()),
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
