//! A container's job from its bundle, the one way every job is submitted (`create`,
//! `start`, `restart`, `recreate`): the policy's caps checked against what ds01d kept of
//! the container ([`Kept`]) and the GPUs the user's other live jobs hold, inside the
//! user's section; then sbatch as the user.

use ds01_api::{ApiError, OwnedContainer};
use ds01_policy::{Effective, LimitError, ResourceRequest};

use crate::caller::Acting;
use crate::cluster::kept::Kept;
use crate::cluster::{bundle, slurm, ClusterConfig};
use crate::errors::from_limit;
use crate::Daemon;

/// What a job of the container asks of Slurm, once within the caps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    mem_mib: Option<u64>,
    cpus: Option<u32>,
    minutes: Option<u64>,
}

/// Checks a job of `kept` against the caller's policy now: `max_gpus` over the GPUs of the
/// caller's live jobs (but `replacing`'s, a job this submit takes the place of), memory and
/// CPUs within the policy (else its ceiling), the walltime the policy's `max_runtime`.
/// The caller is inside the user's section until the submit.
pub async fn check(
    cluster: &ClusterConfig,
    acting: &Acting,
    effective: &Effective,
    kept: &Kept,
    replacing: Option<u64>,
) -> Result<Within, ApiError> {
    let held: u32 = slurm::jobs(cluster, &acting.who)
        .await?
        .iter()
        .filter(|j| j.is_live() && Some(j.id) != replacing)
        .map(|j| j.gpus)
        .sum();
    within(effective, kept, held).map_err(from_limit)
}

/// The pure part of [`check`].
fn within(effective: &Effective, kept: &Kept, held: u32) -> Result<Within, LimitError> {
    check_gpus(effective, held, kept.gpus)?;
    let applied = effective.check(&ResourceRequest {
        memory: kept.memory,
        cpus: kept.cpus,
        shm_size: None,
        pids_limit: None,
    })?;
    Ok(Within {
        mem_mib: applied.memory.map(|m| m.bytes().div_ceil(1 << 20).max(1)),
        cpus: applied.cpus.map(|c| c.ceil().max(1.0) as u32),
        minutes: effective
            .max_runtime
            .value
            .value()
            .map(|s| s.secs().div_ceil(60).max(1)),
    })
}

/// `max_gpus` over the GPUs the user's live jobs hold or wait for, plus this job's.
fn check_gpus(effective: &Effective, held: u32, asked: u32) -> Result<(), LimitError> {
    let cap = &effective.max_gpus;
    let total = f64::from(held + asked);
    match cap.value.value() {
        Some(c) if asked > 0 && total > c => Err(LimitError {
            key: cap.key,
            asked: format!(
                "{} GPUs ({held} held by your jobs, {asked} asked)",
                held + asked
            ),
            ceiling: cap.value.to_string(),
            origin: cap.source.clone(),
        }),
        _ => Ok(()),
    }
}

/// Submits the container's job from its bundle as the caller; records the event `kind`
/// (`submit`, `start`...), its detail `lead` followed by what the job holds, and answers
/// the job's ID.
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    d: &Daemon,
    cluster: &ClusterConfig,
    acting: &Acting,
    container: &OwnedContainer,
    kept: &Kept,
    within: &Within,
    kind: &str,
    lead: &str,
) -> Result<u64, ApiError> {
    let dir = bundle::dir(cluster, container);
    let submit = slurm::Submit {
        name: container.as_str(),
        bundle: &dir,
        image: &kept.image,
        gpus: kept.gpus,
        mem_mib: within.mem_mib,
        cpus: within.cpus,
        minutes: within.minutes,
    };
    let id = slurm::submit(cluster, &acting.who, &submit).await?;
    d.events.record_for(
        acting,
        container,
        kind,
        format!(
            "{lead}submitted to Slurm as job {id} ({} GPU(s){}{})",
            kept.gpus,
            within
                .mem_mib
                .map(|m| format!(", {m} MiB"))
                .unwrap_or_default(),
            within
                .minutes
                .map(|m| format!(", at most {m} min"))
                .unwrap_or_default()
        ),
    );
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Effective {
        ds01_policy::Policy::from_toml(text)
            .unwrap()
            .effective("ana", &[])
    }

    #[test]
    fn a_job_is_held_to_max_gpus_with_what_the_others_hold() {
        let p = policy("[policy.default]\nmax_gpus = 4\nmemory = \"1g\"\nmax_runtime = \"90s\"\n");
        let kept = Kept::new("i".into(), 2, None, Some(1.5));
        let w = within(&p, &kept, 2).unwrap();
        assert_eq!(
            w,
            Within {
                mem_mib: Some(1024),
                cpus: Some(2),
                minutes: Some(2)
            }
        );
        let e = within(&p, &kept, 3).unwrap_err();
        assert_eq!(e.key, "max_gpus");
        assert!(e.asked.contains("3 held"), "{}", e.asked);
        // A CPU-only job is never held to the GPU cap.
        assert!(within(&p, &Kept::new("i".into(), 0, None, None), 9).is_ok());
    }

    #[test]
    fn a_cap_lowered_since_the_create_holds_at_the_next_submit() {
        let kept = Kept::new("i".into(), 2, Some("8g".parse().unwrap()), None);
        let e = within(
            &policy("[policy.default]\nmax_gpus = 4\nmemory = \"4g\"\n"),
            &kept,
            0,
        )
        .unwrap_err();
        assert_eq!(e.key, "memory");
        let e = within(&policy("[policy.default]\nmax_gpus = 1\n"), &kept, 0).unwrap_err();
        assert_eq!(e.key, "max_gpus");
    }
}
