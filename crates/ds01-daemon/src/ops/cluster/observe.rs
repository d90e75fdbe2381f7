//! ds01d's own record of how a cluster container's job ended. Slurm forgets an ended job
//! after `MinJobAge` (and without `sacct` keeps no history): whenever ds01d reads jobs
//! (a user's list, why or stop, and every round of the reaper) it records each ended job's
//! ending once, as a `job_end` event that `ds01 why` tells from then on.

use crate::caller::Acting;
use crate::cluster::job::Job;
use crate::Daemon;

/// Records the ending of every ended job in the acting user's `jobs` not recorded yet.
pub fn record_endings(d: &Daemon, acting: &Acting, jobs: &[Job]) {
    record_endings_of(d, acting.who.uid(), acting.who.login(), jobs);
}

/// Records the endings of `uid`'s (login `login`) ended `jobs` not recorded yet; returns
/// the jobs whose ending it recorded now.
pub fn record_endings_of<'a>(d: &Daemon, uid: u32, login: &str, jobs: &'a [Job]) -> Vec<&'a Job> {
    let ended: Vec<&Job> = jobs.iter().filter(|j| !j.is_live()).collect();
    if ended.is_empty() {
        return Vec::new();
    }
    let known = d.events.read(|e| e.uid == uid && e.kind == "job_end");
    let mut recorded = Vec::new();
    for job in ended {
        let marker = format!("Slurm job {} ended", job.id);
        if known
            .iter()
            .any(|e| e.container == job.name && e.detail.starts_with(&marker))
        {
            continue;
        }
        d.events.record(
            uid,
            login,
            &job.name,
            "job_end",
            format!("{marker} ({}): {}", job.state, job.ending()),
        );
        recorded.push(job);
    }
    recorded
}
