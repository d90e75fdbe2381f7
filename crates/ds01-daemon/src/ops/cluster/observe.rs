//! ds01d's own record of how a cluster container's job ended. Slurm forgets an ended job
//! after `MinJobAge` (and without `sacct` keeps no history): whenever ds01d reads the
//! user's jobs (list, why, stop) it records each ended job's ending once, as a `job_end`
//! event that `ds01 why` tells from then on.

use crate::caller::Acting;
use crate::cluster::job::Job;
use crate::Daemon;

/// Records the ending of every ended job in `jobs` not recorded yet.
pub fn record_endings(d: &Daemon, acting: &Acting, jobs: &[Job]) {
    let ended: Vec<&Job> = jobs.iter().filter(|j| !j.is_live()).collect();
    if ended.is_empty() {
        return;
    }
    let uid = acting.who.uid();
    let known = d.events.read(|e| e.uid == uid && e.kind == "job_end");
    for job in ended {
        let marker = format!("Slurm job {} ended", job.id);
        if known
            .iter()
            .any(|e| e.container == job.name && e.detail.starts_with(&marker))
        {
            continue;
        }
        d.events.record_for(
            acting,
            &job.name,
            "job_end",
            format!("{marker} ({}): {}", job.state, job.ending()),
        );
    }
}
