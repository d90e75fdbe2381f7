//! Importing DS01's current 4-tier resource-limits.yaml must give each kind of user the caps
//! DS01 enforced (fair-use reference §1.4), and the TOML text must read back the same.

use ds01_policy::{import_ds01_limits, Cap, Effective, Policy, Source};

const FIXTURE: &str = include_str!("fixtures/resource-limits.yaml");

/// (max_gpus, cpus, memory, shm, max_containers, max_runtime, idle_timeout,
///  aggregate cpus, aggregate memory, aggregate pids); "-" means unlimited (or never).
type Caps = [&'static str; 10];

fn caps(e: &Effective) -> [String; 10] {
    let s = |v: String| {
        if v == "unlimited" || v == "never" {
            "-".to_string()
        } else {
            v
        }
    };
    [
        s(e.max_gpus.value.to_string()),
        s(e.cpus.value.to_string()),
        s(e.memory.value.to_string()),
        s(e.shm_size.value.to_string()),
        s(e.max_containers.value.to_string()),
        s(e.max_runtime.value.to_string()),
        s(e.idle_timeout.value.to_string()),
        s(e.aggregate.cpus.value.to_string()),
        s(e.aggregate.memory.value.to_string()),
        s(e.aggregate.pids.value.to_string()),
    ]
}

fn check(policy: &Policy, login: &str, groups: &[&str], want: Caps) {
    let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let got = caps(&policy.effective(login, &groups));
    assert_eq!(got, want.map(String::from), "{login} in {groups:?}");
}

#[test]
fn each_tier_gets_the_caps_ds01_enforced() {
    let out = import_ds01_limits(FIXTURE).unwrap();
    let reread = Policy::from_toml(&out.toml).unwrap();
    assert_eq!(reread, out.policy);
    for p in [&out.policy, &reread] {
        // Users in no group get DS01's default_group, student.
        check(
            p,
            "20231234@hertie-school.lan",
            &[],
            [
                "2", "32", "32g", "16g", "3", "1d", "30m", "96", "96g", "12288",
            ],
        );
        check(
            p,
            "s.jones",
            &["ds01-student"],
            [
                "2", "32", "32g", "16g", "3", "1d", "30m", "96", "96g", "12288",
            ],
        );
        check(
            p,
            "h.baker@hertie-school.lan",
            &["ds01-researcher", "docker"],
            [
                "4", "48", "64g", "32g", "5", "2d", "1h", "240", "320g", "327680",
            ],
        );
        check(
            p,
            "prof.x",
            &["ds01-faculty"],
            [
                "4", "64", "128g", "64g", "5", "3d", "2h", "320", "640g", "327680",
            ],
        );
        check(
            p,
            "datasciencelab",
            &["ds01-admin"],
            ["-", "64", "128g", "64g", "10", "1d", "1h", "-", "-", "-"],
        );
        // DS01: defaults ⊕ override, aggregate from the override.
        check(
            p,
            "t.okafor@hertie-school.lan",
            &[],
            [
                "3", "32", "32g", "16g", "3", "4d", "-", "96", "96g", "12288",
            ],
        );
    }
}

#[test]
fn sources_and_notes_point_the_admin_at_the_right_place() {
    let out = import_ds01_limits(FIXTURE).unwrap();
    let e = out
        .policy
        .effective("h.baker@hertie-school.lan", &["ds01-researcher".into()]);
    assert_eq!(e.max_gpus.source, Source::Group("ds01-researcher".into()));
    assert_eq!(e.pids_limit.source, Source::Default);
    assert_eq!(e.keep_alive_max.value, Cap::Limited("24h".parse().unwrap()));
    assert_eq!(e.keep_alive_max.source, Source::Default);
    let notes = out.notes.join("\n");
    for want in [
        "usermod -aG ds01-admin datasciencelab",
        "max_gpu_slots_per_container",
        "gpu_hold_after_stop_h",
        "aggregate.memory_high",
        "groups.student.policies",
        "section `container_types` dropped",
        "section `enforcement` dropped",
        "high_demand_threshold",
        "user_overrides.t.okafor@hertie-school.lan: dropped reason",
    ] {
        assert!(notes.contains(want), "missing note {want:?} in\n{notes}");
    }
    assert!(out.toml.starts_with("# Imported from DS01"));
    assert!(
        out.toml
            .contains("[policy.users.\"t.okafor@hertie-school.lan\"]"),
        "{}",
        out.toml
    );
}
