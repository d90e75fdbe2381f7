//! A Slurm job as ds01 reads it: one line of `squeue` per job, and what its state means to
//! the container's owner.

/// The `squeue -o` format [`Job::parse`] reads: ID, name, state, nodes, gres, reason,
/// comment (the image, written by ds01d at the submit). No UID: `%U` is a signed int and
/// prints a UID above 2147483647 as a negative number; ds01d runs squeue as the user and
/// matches the job name's `._.<uid>` instead.
pub const SQUEUE_FORMAT: &str = "%i|%j|%T|%N|%b|%r|%k";

/// One job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job ID.
    pub id: u64,
    /// The job name: the container's `<name>._.<uid>`.
    pub name: String,
    /// Slurm's state, upper case (`PENDING`, `RUNNING`, `CANCELLED`, `NODE_FAIL`...).
    pub state: String,
    /// The node(s) it runs on; empty while pending.
    pub nodes: String,
    /// GPUs asked per node (the job's gres).
    pub gpus: u32,
    /// Why it waits or ended, in Slurm's word (`Resources`, `None`...).
    pub reason: String,
    /// The image it runs, as ds01d wrote it in the job's comment.
    pub image: String,
}

impl Job {
    /// Reads one line of [`SQUEUE_FORMAT`]; `None` for anything else.
    pub fn parse(line: &str) -> Option<Job> {
        let f: Vec<&str> = line.trim().splitn(7, '|').collect();
        let [id, name, state, nodes, gres, reason, comment] = f[..] else {
            return None;
        };
        Some(Job {
            id: id.parse().ok()?,
            name: name.to_owned(),
            state: state.to_owned(),
            nodes: if nodes == "(null)" {
                String::new()
            } else {
                nodes.to_owned()
            },
            gpus: gpus_of(gres),
            reason: reason.to_owned(),
            image: comment.strip_prefix("ds01 image=").unwrap_or("").to_owned(),
        })
    }

    /// Whether it holds (or waits for) its resources.
    pub fn is_live(&self) -> bool {
        matches!(
            self.state.as_str(),
            "PENDING"
                | "CONFIGURING"
                | "RUNNING"
                | "COMPLETING"
                | "SUSPENDED"
                | "RESIZING"
                | "REQUEUED"
                | "SIGNALING"
                | "STAGE_OUT"
        )
    }

    /// What its owner is told: where it runs, why it waits, or why it ended.
    pub fn status(&self) -> String {
        self.status_in(&[])
    }

    /// [`Job::status`], with a waiting job's place in `queue` (the pending jobs' IDs in
    /// the order Slurm will consider them) where it is there.
    pub fn status_in(&self, queue: &[u64]) -> String {
        match self.state.as_str() {
            "RUNNING" => format!("job {} on {}", self.id, self.nodes),
            "PENDING" => match queue.iter().position(|&id| id == self.id) {
                Some(at) => format!(
                    "job {} waiting in Slurm's queue ({}), {} of {}",
                    self.id,
                    self.reason,
                    at + 1,
                    queue.len()
                ),
                None => format!("job {} waiting in Slurm's queue ({})", self.id, self.reason),
            },
            _ if self.is_live() => format!("job {} {}", self.id, self.state.to_lowercase()),
            _ => format!("job {} ended: {}", self.id, self.ending()),
        }
    }

    /// Why an ended job ended, from Slurm's state (Slurm does not record who cancelled).
    pub fn ending(&self) -> String {
        match self.state.as_str() {
            "CANCELLED" => "cancelled in Slurm (scancel, by its owner or an admin)".into(),
            "TIMEOUT" => "it reached its time limit (the policy's max_runtime)".into(),
            "NODE_FAIL" => format!(
                "its node {} failed and Slurm ended the job (NODE_FAIL); files on shared storage are untouched",
                if self.nodes.is_empty() { "?" } else { &self.nodes }
            ),
            "COMPLETED" => "its main process exited".into(),
            "FAILED" => format!("its main process failed ({})", self.reason),
            "OUT_OF_MEMORY" => "it ran out of memory (the policy's memory)".into(),
            "PREEMPTED" => "Slurm preempted it for another job".into(),
            other => format!("Slurm ended it as {other}"),
        }
    }
}

/// The GPU count in a gres string (`gres:gpu:2`, `gpu:2`, `gres/gpu:2`, `N/A`).
fn gpus_of(gres: &str) -> u32 {
    gres.split(',')
        .filter(|g| g.contains("gpu"))
        .filter_map(|g| g.rsplit(':').next()?.parse::<u32>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_read() {
        let j = Job::parse(
            "17|a._.3000000001|RUNNING|n2|gres:gpu:2|None|ds01 image=ds01-fixture/debian11:latest",
        )
        .unwrap();
        assert_eq!((j.id, j.gpus, j.nodes.as_str()), (17, 2, "n2"));
        assert_eq!(j.image, "ds01-fixture/debian11:latest");
        assert!(j.is_live());
        assert_eq!(j.status(), "job 17 on n2");
        let p = Job::parse("18|b._.5|PENDING||N/A|Resources|").unwrap();
        assert_eq!(p.gpus, 0);
        assert_eq!(p.status(), "job 18 waiting in Slurm's queue (Resources)");
        assert_eq!(
            p.status_in(&[16, 18, 19]),
            "job 18 waiting in Slurm's queue (Resources), 2 of 3"
        );
        assert!(Job::parse("garbage").is_none());
    }

    #[test]
    fn endings_say_why() {
        let mut j = Job::parse("9|a._.5|NODE_FAIL|n3|gres:gpu:1|NodeDown|").unwrap();
        assert!(!j.is_live());
        assert!(j.status().contains("node n3 failed"), "{}", j.status());
        j.state = "TIMEOUT".into();
        assert!(j.ending().contains("max_runtime"));
        j.state = "CANCELLED".into();
        assert!(j.ending().contains("scancel"));
    }
}
