//! Slurm's accounting, where the cluster has it (`[cluster] accounting = "slurm"`): the
//! user's jobs as slurmdbd recorded them (`sacct`, run as the user like every other client,
//! so slurmdbd's `PrivateData` shows them their own jobs only), and their fair-share and
//! waiting jobs' priorities (`sprio`, `sshare`, also as the user).

use ds01_api::ApiError;
use ds01_engine::Identity;

use super::ClusterConfig;

/// One of the user's ds01 jobs as sacct gives it, cut to the span asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct JobUse {
    /// The job ID.
    pub id: u64,
    /// The job name, `<name>._.<uid>`.
    pub name: String,
    /// GPUs allocated (`AllocTRES` gres/gpu).
    pub gpus: u32,
    /// Memory allocated, bytes (`AllocTRES` mem).
    pub memory_bytes: f64,
    /// CPU time its steps used (`TotalCPU`; Slurm has it once a step ended), its share in
    /// the span.
    pub cpu_seconds: f64,
    /// Its time in the span, Unix milliseconds.
    pub start_ms: i64,
    /// See `start_ms`.
    pub end_ms: i64,
}

impl JobUse {
    /// GPU time in the span: its GPUs × its time there.
    pub fn gpu_seconds(&self) -> f64 {
        f64::from(self.gpus) * (self.end_ms - self.start_ms) as f64 / 1000.0
    }
}

/// The fields [`parse_sacct`] reads, `sacct -P` separated.
const SACCT_FORMAT: &str = "JobID,JobName,Start,End,ElapsedRaw,AllocTRES,TotalCPU";

/// `who`'s ds01 jobs (name ending `._.<uid>`) that ran between `since` and `until` (Unix
/// seconds), from slurmdbd.
pub async fn jobs_used(
    cluster: &ClusterConfig,
    who: &Identity,
    since: i64,
    until: i64,
) -> Result<Vec<JobUse>, ApiError> {
    let back = (until - since).max(0);
    let args = [
        "-n".to_owned(),
        "-P".to_owned(),
        "-X".to_owned(),
        format!("--starttime=now-{back}seconds"),
        "--endtime=now".to_owned(),
        format!("--format={SACCT_FORMAT}"),
    ];
    let mut cmd = super::slurm::as_user(cluster, who, "sacct", &args);
    // Start and End as Unix seconds.
    cmd.env("SLURM_TIME_FORMAT", "%s");
    let stdout = super::slurm::collect(cmd, None, &format!("sacct for {}", who.login()))
        .await?
        .stdout_or("sacct failed")?;
    Ok(parse_sacct(&stdout, who.uid(), since, until))
}

/// sacct's `-P` lines of [`SACCT_FORMAT`]: the jobs named as `uid`'s containers that
/// started, cut to `since..until` (Unix seconds); a running job ends at `until`.
pub fn parse_sacct(text: &str, uid: u32, since: i64, until: i64) -> Vec<JobUse> {
    let suffix = format!("._.{uid}");
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.trim().split('|').collect();
            let [id, name, start, end, elapsed, tres, cpu] = f[..] else {
                return None;
            };
            if !name.ends_with(&suffix) {
                return None;
            }
            let start: i64 = start.parse().ok()?;
            let end = end.parse::<i64>().unwrap_or(until).min(until);
            let (from, to) = (start.max(since), end);
            if to <= from {
                return None;
            }
            Some(JobUse {
                id: id.parse().ok()?,
                name: name.to_owned(),
                gpus: tres_value(tres, "gres/gpu").map_or(0, |g| g as u32),
                memory_bytes: tres_value(tres, "mem").unwrap_or(0.0),
                // The job's CPU time, shared out by time as the ledger shares out a record.
                cpu_seconds: super::slurm::slurm_seconds(cpu).unwrap_or(0.0)
                    * share(to - from, elapsed.parse().unwrap_or(0)),
                start_ms: from * 1000,
                end_ms: to * 1000,
            })
        })
        .collect()
}

/// The part `part` seconds are of a job's `whole`, at most all of it.
fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        1.0
    } else {
        (part as f64 / whole as f64).min(1.0)
    }
}

/// A TRES's amount in a list such as `billing=2,cpu=1,gres/gpu=2,mem=200M,node=1`; memory
/// in bytes.
fn tres_value(tres: &str, key: &str) -> Option<f64> {
    let value = tres
        .split(',')
        .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))?;
    let (number, shift) = match value.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((at, _)) => {
            let shift = match &value[at..] {
                "K" => 10,
                "M" => 20,
                "G" => 30,
                "T" => 40,
                _ => return None,
            };
            (&value[..at], shift)
        }
        None => (value, 0),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * (1u64 << shift) as f64)
}

/// What Slurm's multifactor priority says of a user's waiting jobs, read as the user
/// (`PrivateData`: their own jobs and usage only): each job's priority (`sprio`) and the
/// user's fair-share factor (`sshare`, 0 to 1, lower after more use).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Waiting {
    /// Job ID → its priority.
    pub priorities: Vec<(u64, u64)>,
    /// The user's fair-share factor.
    pub fair_share: Option<f64>,
}

impl Waiting {
    /// What a waiting job's status adds: `; priority P, fair-share F`, or nothing where
    /// Slurm gave no priority for it (no multifactor priority, a client that failed).
    pub fn note(&self, id: u64) -> String {
        let Some((_, priority)) = self.priorities.iter().find(|(j, _)| *j == id) else {
            return String::new();
        };
        match self.fair_share {
            Some(f) => format!("; priority {priority}, fair-share {f:.3}"),
            None => format!("; priority {priority}"),
        }
    }
}

/// [`Waiting`] for `who`; empty where the clients fail (priority/basic has no sprio).
pub async fn waiting(cluster: &ClusterConfig, who: &Identity) -> Waiting {
    let sprio = ["-h", "-o", "%i|%Y"].map(String::from);
    let sshare = ["-n", "-P", "-U", "-o", "User,FairShare"].map(String::from);
    let (sprio, sshare) = tokio::join!(
        super::slurm::run(cluster, who, "sprio", &sprio, None),
        super::slurm::run(cluster, who, "sshare", &sshare, None),
    );
    let Some(sprio) = sprio.and_then(|r| r.stdout_or("sprio")).ok() else {
        return Waiting::default();
    };
    let priorities = parse_sprio(&sprio);
    let fair_share = sshare
        .and_then(|r| r.stdout_or("sshare"))
        .ok()
        .and_then(|text| parse_sshare(&text, who.login()));
    Waiting {
        priorities,
        fair_share,
    }
}

fn parse_sprio(text: &str) -> Vec<(u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let (id, priority) = l.trim().split_once('|')?;
            Some((id.trim().parse().ok()?, priority.trim().parse().ok()?))
        })
        .collect()
}

/// sshare's `User|FairShare` line of `login` (the account's own line has no user).
fn parse_sshare(text: &str, login: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (user, fair) = l.trim().split_once('|')?;
        (user == login).then(|| fair.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sacct_lines_become_gpu_time_in_the_span() {
        let text = "\
12|a1._.1722830498|1000|1100|100|billing=2,cpu=1,gres/gpu=2,mem=200M,node=1|00:05
13|a2._.1722830498|1050|Unknown|50|billing=1,cpu=1,gres/gpu=1,mem=1G,node=1|00:00:00
14|x._.99|1000|1100|100|gres/gpu=2|00:00
15|a3._.1722830498|Unknown|Unknown|0|billing=1,cpu=1,gres/gpu=1|00:00
16|a4._.1722830498|900|1010|110|cpu=1,mem=100M,node=1|01:00
";
        let jobs = parse_sacct(text, 1_722_830_498, 1005, 1200);
        let ids: Vec<u64> = jobs.iter().map(|j| j.id).collect();
        assert_eq!(ids, [12, 13, 16]);
        assert_eq!(jobs[0].gpu_seconds(), 2.0 * 95.0);
        assert_eq!(jobs[0].memory_bytes, 200.0 * 1048576.0);
        // 95 of its 100 s in the span.
        assert_eq!(jobs[0].cpu_seconds, 5.0 * 0.95);
        // Still running: until the end of the span.
        assert_eq!((jobs[1].start_ms, jobs[1].end_ms), (1_050_000, 1_200_000));
        assert_eq!(jobs[1].gpu_seconds(), 150.0);
        assert_eq!(jobs[2].gpu_seconds(), 0.0);
        assert!((jobs[2].cpu_seconds - 60.0 * 5.0 / 110.0).abs() < 1e-9);
    }

    #[test]
    fn sprio_and_sshare_lines_are_read() {
        let w = Waiting {
            priorities: parse_sprio("  7|33333\n8|66666\nx|1\n"),
            fair_share: parse_sshare("|0.500000\nana@x.lan|0.333333\n", "ana@x.lan"),
        };
        assert_eq!(w.priorities, [(7, 33333), (8, 66666)]);
        assert_eq!(w.note(8), "; priority 66666, fair-share 0.333");
        assert_eq!(w.note(9), "");
        assert_eq!(parse_sshare("bo|0.5\n", "ana"), None);
    }
}
