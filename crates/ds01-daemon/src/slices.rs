//! Per-user aggregate limits. With the engine's systemd cgroup driver, every container of a
//! user runs in the user's slice `ds01-<group>-<user>.slice` (DS01's slice names), and the
//! slice carries the policy's aggregate caps, so ten small containers cannot add up to more
//! than one user's share. With the cgroupfs driver only per-container limits apply, and
//! `ds01 doctor` says so.

use ds01_api::ApiError;
use ds01_policy::{Cap, EffectiveAggregate};
use ds01_username::{SliceGroup, SliceName};

/// The slice of `login` whose primary group is `group`.
pub fn slice_name(group: &str, login: &str) -> Option<String> {
    let group = SliceGroup::parse(group).ok()?;
    SliceName::new(&group, login).ok().map(|s| s.to_string())
}

/// The systemd properties of the caps (`CPUQuota=1600%`, `MemoryMax=…`, `TasksMax=…`);
/// `infinity` where the policy sets none, so a lowered policy also lifts old caps.
pub fn properties(agg: &EffectiveAggregate) -> Vec<String> {
    let cpu = match agg.cpus.value {
        Cap::Limited(cpus) => format!("CPUQuota={}%", (cpus * 100.0).round() as u64),
        Cap::Unlimited => "CPUQuota=".to_owned(),
    };
    let memory = match agg.memory.value {
        Cap::Limited(size) => format!("MemoryMax={}", size.bytes()),
        Cap::Unlimited => "MemoryMax=infinity".to_owned(),
    };
    let tasks = match agg.pids.value {
        Cap::Limited(n) => format!("TasksMax={n}"),
        Cap::Unlimited => "TasksMax=infinity".to_owned(),
    };
    vec![cpu, memory, tasks]
}

/// Creates or updates the slice with `properties` (a transient unit: systemd makes it when
/// a container is first placed in it; the properties are set at run time).
pub async fn apply(slice: &str, properties: &[String]) -> Result<(), ApiError> {
    let out = tokio::process::Command::new("systemctl")
        .args(["set-property", "--runtime", slice])
        .args(properties)
        .output()
        .await
        .map_err(|e| {
            ApiError::new(
                ds01_api::ErrorCode::Failed,
                format!("cannot run systemctl: {e}"),
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ApiError::new(
            ds01_api::ErrorCode::Failed,
            format!(
                "setting the limits of {slice} failed: {}",
                ds01_api::shown(String::from_utf8_lossy(&out.stderr).trim())
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_policy::Policy;

    #[test]
    fn caps_become_slice_properties() {
        let policy = Policy::from_toml(
            "[policy.default.aggregate]\ncpus = 16\nmemory = \"64g\"\npids = 8192\n",
        )
        .unwrap();
        let agg = policy.effective("h.baker@hertie-school.lan", &[]).aggregate;
        assert_eq!(
            properties(&agg),
            [
                "CPUQuota=1600%",
                &format!("MemoryMax={}", 64u64 << 30),
                "TasksMax=8192"
            ]
        );
        let none = Policy::default().effective("x", &[]).aggregate;
        assert_eq!(
            properties(&none),
            ["CPUQuota=", "MemoryMax=infinity", "TasksMax=infinity"]
        );
    }

    #[test]
    fn slice_names_follow_ds01() {
        assert_eq!(
            slice_name("student", "h.baker@hertie-school.lan").unwrap(),
            "ds01-student-h_baker.slice"
        );
    }
}
