//! DS01's `resource-limits.yaml` (both the December 2025 and the current schema) → the
//! `[policy]` section.
//!
//! DS01 resolved a user as `defaults ⊕ <first group listing them>` (or `⊕ <default_group>`),
//! and an override *replaced* the group. The import keeps each tier's values: `[policy.default]`
//! becomes `defaults ⊕ groups.<default_group>`, every other group gets the keys in which its
//! `defaults ⊕ group` differs from that, and an override keeps only its own keys, now layered
//! on the user's groups (DS01's replacement silently dropped researchers to default limits).
//! Groups become the Unix groups `ds01-<name>` that DS01's membership sync already maintains.
//! `null` means unlimited, for every key (DS01's old scripts fell back to defaults instead).

use serde_norway::{Mapping, Value};

use crate::policy::{Limits, Policy};
use crate::units::{Cap, Quantity, Size, Span};

/// The converted policy and what the admin should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The `[policy]` section as TOML, headed by the notes as comments.
    pub toml: String,
    /// The same, parsed.
    pub policy: Policy,
    /// Keys dropped or approximated, and steps left to the admin.
    pub notes: Vec<String>,
}

/// Why the file could not be imported at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// Not YAML.
    #[error("resource-limits.yaml is not valid YAML: {0}")]
    Yaml(String),
    /// A section that must be a mapping is not.
    #[error("resource-limits.yaml: `{0}` must be a mapping")]
    NotAMapping(String),
    /// A value DS01 would have misread too.
    #[error("resource-limits.yaml: `{path}`: {message}")]
    Value {
        /// e.g. `groups.student.memory`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

const GPU_KEYS: [&str; 4] = [
    "max_gpu_equivalents",
    "max_gpu_slots",
    "max_gpus_per_user",
    "max_mig_instances",
];
/// Keys DS01 had but ds01 has no equivalent for (or that DS01 never read).
const DROPPED: &str =
    "max_gpu_slots_per_container max_gpus_per_container max_mig_per_container allow_full_gpu \
    memory_swap gpu_hold_after_stop gpu_hold_after_stop_h container_hold_after_stop \
    container_hold_after_stop_h max_tasks priority gpu_memory io_read_bps io_write_bps \
    ulimit_nofile storage_workspace storage_data storage_tmp reservation_start \
    reservation_end reserved_gpus reason";

fn is_dropped(k: &str) -> bool {
    DROPPED.split(' ').any(|d| d == k)
}

fn as_map<'a>(v: Option<&'a Value>, path: &str) -> Result<Option<&'a Mapping>, ImportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Mapping(m)) => Ok(Some(m)),
        Some(_) => Err(ImportError::NotAMapping(path.into())),
    }
}

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => serde_norway::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn bad(path: &str, message: impl ToString) -> ImportError {
    ImportError::Value {
        path: path.into(),
        message: message.to_string(),
    }
}

fn cap<T: Quantity>(v: &Value, path: &str) -> Result<Cap<T>, ImportError> {
    match v {
        Value::Null => Ok(Cap::Unlimited),
        Value::String(s) => Cap::parse(s).map_err(|e| bad(path, e)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => T::from_int(i),
            (None, Some(f)) => T::from_float(f),
            _ => return Err(bad(path, "number out of range")),
        }
        .map(Cap::Limited)
        .map_err(|e| bad(path, e)),
        _ => Err(bad(path, T::EXPECTED)),
    }
}

/// DS01 durations: bare numbers are hours (`idle_timeout_h: 0.5`, and the old parser read
/// `"24"` the same way); strings carry a unit ("24h", "1w").
fn hours(v: &Value, path: &str) -> Result<Cap<Span>, ImportError> {
    let from_hours = |h: f64| {
        Span::from_hours(h)
            .map(Cap::Limited)
            .ok_or_else(|| bad(path, "negative hours"))
    };
    match v {
        Value::Number(n) => from_hours(n.as_f64().unwrap_or(-1.0)),
        Value::String(s) if s.trim().parse::<f64>().is_ok() => {
            from_hours(s.trim().parse().unwrap_or(-1.0))
        }
        _ => cap(v, path),
    }
}

fn cpu_quota(v: &Value, path: &str) -> Result<Cap<f64>, ImportError> {
    match v {
        Value::String(s) if s.trim().ends_with('%') => {
            let pct: f64 = s
                .trim()
                .trim_end_matches('%')
                .parse()
                .map_err(|_| bad(path, "expected e.g. \"9600%\""))?;
            Ok(Cap::Limited(pct / 100.0))
        }
        _ => cap(v, path),
    }
}

/// Converts one DS01 table. Returns the limits and the notes about this table's own keys.
fn convert(m: &Mapping, path: &str) -> Result<(Limits, Vec<String>), ImportError> {
    let mut l = Limits::default();
    let (mut dropped, mut unknown, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let get = |k: &str| m.get(k);
    let p = |k: &str| format!("{path}.{k}");
    if let Some((k, v)) = GPU_KEYS.iter().find_map(|k| get(k).map(|v| (*k, v))) {
        l.max_gpus = Some(cap(v, &p(k))?);
        if k == "max_mig_instances" {
            notes.push(format!(
                "{path}.max_mig_instances counted GPU containers; it is read as max_gpus (full-GPU equivalents)"
            ));
        }
    }
    if let Some((k, v)) = ["max_cpus", "cpus"]
        .iter()
        .find_map(|k| get(k).map(|v| (*k, v)))
    {
        l.cpus = Some(cap(v, &p(k))?);
    }
    for (k, dst) in [("memory", &mut l.memory), ("shm_size", &mut l.shm_size)] {
        if let Some(v) = get(k) {
            *dst = Some(cap::<Size>(v, &p(k))?);
        }
    }
    if let Some(v) = get("pids_limit") {
        l.pids_limit = Some(cap(v, &p("pids_limit"))?);
    }
    if let Some(v) = get("max_containers_per_user") {
        l.max_containers = Some(cap(v, &p("max_containers_per_user"))?);
    }
    for (base, dst) in [
        ("max_runtime", &mut l.max_runtime),
        ("idle_timeout", &mut l.idle_timeout),
    ] {
        let hk = format!("{base}_h");
        if let Some((k, v)) = [hk.as_str(), base]
            .iter()
            .find_map(|k| get(k).map(|v| (*k, v)))
        {
            *dst = Some(hours(v, &p(k))?);
        }
    }
    let mut gpu_limit = None;
    if let Some(v) = get("aggregate") {
        let ap = p("aggregate");
        match as_map(Some(v), &ap)? {
            None => {
                l.aggregate.cpus = Some(Cap::Unlimited);
                l.aggregate.memory = Some(Cap::Unlimited);
                l.aggregate.pids = Some(Cap::Unlimited);
            }
            Some(a) => {
                let ak = |k: &str| format!("{ap}.{k}");
                for (k, v) in a {
                    match key_str(k).as_str() {
                        "cpu_quota" => l.aggregate.cpus = Some(cpu_quota(v, &ak("cpu_quota"))?),
                        "memory_max" => l.aggregate.memory = Some(cap(v, &ak("memory_max"))?),
                        "tasks_max" => l.aggregate.pids = Some(cap(v, &ak("tasks_max"))?),
                        "gpu_limit" => gpu_limit = Some(cap::<f64>(v, &ak("gpu_limit"))?),
                        "memory_high" => dropped.push("aggregate.memory_high".to_string()),
                        other => unknown.push(format!("aggregate.{other}")),
                    }
                }
            }
        }
    }
    // DS01 enforced both caps; the lower one is what users met.
    if let Some(limit) = gpu_limit {
        let gpus = l.max_gpus.unwrap_or(Cap::Unlimited);
        if limit < gpus {
            notes.push(format!(
                "{path}: max_gpus set to aggregate.gpu_limit {limit}, which DS01 also enforced"
            ));
            l.max_gpus = Some(limit);
        }
    }
    if get("policies").is_some() {
        notes.push(format!(
            "{path}.policies (idle thresholds, detection window) dropped: the reaper's thresholds are daemon settings"
        ));
    }
    if get("allow_full_gpu").and_then(Value::as_bool) == Some(false) {
        notes.push(format!("{path}.allow_full_gpu is false (MIG only): no equivalent; max_gpus now also admits full GPUs"));
    }
    let known = |k: &str| {
        GPU_KEYS.contains(&k)
            || is_dropped(k)
            || [
                "max_cpus",
                "cpus",
                "memory",
                "shm_size",
                "pids_limit",
                "max_containers_per_user",
                "max_runtime",
                "max_runtime_h",
                "idle_timeout",
                "idle_timeout_h",
                "aggregate",
                "policies",
                "members",
            ]
            .contains(&k)
    };
    for k in m.keys().map(key_str) {
        if is_dropped(&k) {
            dropped.push(k);
        } else if !known(&k) {
            unknown.push(k);
        }
    }
    if !dropped.is_empty() {
        notes.push(format!(
            "{path}: dropped {} (no equivalent in ds01's policy)",
            dropped.join(", ")
        ));
    }
    if !unknown.is_empty() {
        notes.push(format!(
            "{path}: ignored unknown key(s) {}",
            unknown.join(", ")
        ));
    }
    Ok((l, notes))
}

/// The keys of `l` that differ from `base`: what a group table must say.
fn difference(l: &Limits, base: &Limits) -> Limits {
    let mut d = Limits::default();
    macro_rules! keep {
        ($($($f:ident).+),*) => {$(
            if l.$($f).+ != base.$($f).+ { d.$($f).+ = l.$($f).+; }
        )*};
    }
    keep!(
        max_containers,
        max_gpus,
        memory,
        cpus,
        shm_size,
        pids_limit,
        disk,
        image_storage,
        sudo,
        network,
        idle_timeout,
        max_runtime,
        keep_alive_max,
        image_max_age,
        allow_device_pick,
        max_builds,
        build_timeout,
        aggregate.cpus,
        aggregate.memory,
        aggregate.pids
    );
    d
}

fn unix_group(name: &str) -> String {
    if name.starts_with("ds01-") {
        name.into()
    } else {
        format!("ds01-{name}")
    }
}

/// Converts the text of a DS01 `resource-limits.yaml` into a `[policy]` section.
///
/// ```
/// use ds01_policy::{import_ds01_limits, Cap};
///
/// let out = import_ds01_limits(r#"
/// defaults: {max_cpus: 16, memory: 32g, idle_timeout_h: 0.5}
/// default_group: student
/// groups:
///   student: {max_gpu_equivalents: 2.0}
///   admin: {members: [datasciencelab], max_gpu_equivalents: null, idle_timeout_h: null}
/// "#)?;
/// assert!(out.toml.contains("[policy.groups.ds01-admin]\nmax_gpus = \"unlimited\"\nidle_timeout = \"never\""));
/// let admin = out.policy.effective("datasciencelab", &["ds01-admin".into()]);
/// assert_eq!((admin.max_gpus.value, admin.cpus.value), (Cap::Unlimited, Cap::Limited(16.0)));
/// assert!(out.notes.iter().any(|n| n.contains("usermod -aG ds01-admin datasciencelab")));
/// # Ok::<(), ds01_policy::ImportError>(())
/// ```
pub fn import_ds01_limits(yaml: &str) -> Result<Imported, ImportError> {
    let root: Value = serde_norway::from_str(yaml).map_err(|e| ImportError::Yaml(e.to_string()))?;
    let root = as_map(Some(&root), "(top level)")?
        .ok_or_else(|| ImportError::NotAMapping("(top level)".into()))?;
    let mut notes = Vec::new();
    let empty = Mapping::new();
    let mut defaults = as_map(root.get("defaults"), "defaults")?
        .unwrap_or(&empty)
        .clone();
    // DS01 never read `defaults.aggregate`: aggregates come from the group or the override.
    if defaults.remove("aggregate").is_some() {
        notes.push(
            "defaults.aggregate dropped: DS01 never read it (aggregates come from groups)".into(),
        );
    }
    let (_, defaults_notes) = convert(&defaults, "defaults")?;
    notes.extend(defaults_notes);
    let default_group = root
        .get("default_group")
        .and_then(Value::as_str)
        .unwrap_or("student")
        .to_string();
    let groups = as_map(root.get("groups"), "groups")?.unwrap_or(&empty);

    let merged = |g: Option<&Mapping>| {
        let mut m = defaults.clone();
        for (k, v) in g.into_iter().flatten() {
            m.insert(k.clone(), v.clone());
        }
        m
    };
    // Raw tables first, so an error names the table that holds the bad value.
    let mut tables = Vec::new();
    for (name, g) in groups {
        let name = key_str(name);
        let path = format!("groups.{name}");
        let g = as_map(Some(g), &path)?.unwrap_or(&empty);
        let (_, own_notes) = convert(g, &path)?;
        notes.extend(own_notes);
        let unix = unix_group(&name);
        let members: Vec<&str> = g
            .get("members")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !members.is_empty() {
            let cmds: Vec<String> = members
                .iter()
                .map(|m| format!("usermod -aG {unix} {m}"))
                .collect();
            notes.push(format!(
                "{path}.members lists {}: ds01 matches groups through NSS, so add them to the Unix group: {}",
                members.join(", "),
                cmds.join("; ")
            ));
        }
        tables.push((name, path, unix, g));
    }

    let default_table = groups
        .get(default_group.as_str())
        .and_then(Value::as_mapping);
    if default_table.is_none() && !groups.is_empty() {
        notes.push(format!(
            "default_group `{default_group}` has no section; [policy.default] is `defaults` alone"
        ));
    }
    let default_path = format!("groups.{default_group}");
    let mut policy = Policy {
        default: convert(&merged(default_table), &default_path)?.0,
        ..Policy::default()
    };
    if default_table.is_some() {
        notes.push(format!(
            "[policy.default] is defaults + groups.{default_group} (DS01's default_group), as DS01 applied to everyone in no group"
        ));
    }
    for (name, path, unix, g) in tables {
        if name != default_group {
            let table = difference(&convert(&merged(Some(g)), &path)?.0, &policy.default);
            if table != Limits::default() {
                policy.groups.insert(unix, table);
            }
        }
    }
    if !groups.is_empty() {
        notes.push(
            "groups map to the Unix groups ds01-<name>, which DS01's sync-group-membership.sh maintains \
             from config/runtime/groups/<name>.members; create any that are missing"
                .into(),
        );
    }

    for (user, o) in as_map(root.get("user_overrides"), "user_overrides")?
        .into_iter()
        .flatten()
    {
        let user = key_str(user);
        let path = format!("user_overrides.{user}");
        let (l, own_notes) = convert(as_map(Some(o), &path)?.unwrap_or(&empty), &path)?;
        notes.extend(own_notes);
        policy.users.insert(user, l);
    }
    if root.contains_key("user_overrides") {
        notes.push(
            "user overrides now layer on the user's groups key by key (DS01 replaced the group with defaults); \
             overrides in config/runtime/user-overrides.yaml must be imported separately"
                .into(),
        );
    }

    if let Some(p) = as_map(root.get("policies"), "policies")? {
        if let Some(v) = p.get("keepalive_max_duration_h") {
            policy.default.keep_alive_max = Some(hours(v, "policies.keepalive_max_duration_h")?);
        }
        let rest: Vec<String> = p
            .keys()
            .map(key_str)
            .filter(|k| k != "keepalive_max_duration_h")
            .collect();
        if !rest.is_empty() {
            notes.push(format!(
                "policies: dropped {} (reaper and allocator settings of the daemon, not [policy])",
                rest.join(", ")
            ));
        }
    }
    let handled = [
        "defaults",
        "default_group",
        "groups",
        "user_overrides",
        "policies",
    ];
    for k in root
        .keys()
        .map(key_str)
        .filter(|k| !handled.contains(&k.as_str()))
    {
        notes.push(format!(
            "section `{k}` dropped: it has no counterpart in [policy]"
        ));
    }

    let mut toml = String::from("# Imported from DS01's resource-limits.yaml by ds01-policy.\n");
    for n in &notes {
        toml.push_str(&format!("# - {n}\n"));
    }
    toml.push('\n');
    toml.push_str(&policy.to_toml());
    Ok(Imported {
        toml,
        policy,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
defaults:
  max_mig_instances: 2
  max_gpus_per_container: 1
  allow_full_gpu: false
  max_cpus: 16
  memory: 32g
  shm_size: 16g
  pids_limit: 4096
  storage_tmp: 50G
  max_containers_per_user: 3
  max_runtime: 24h
  idle_timeout: 2h
  gpu_hold_after_stop: 0.25h
  max_tasks: 512
default_group: student
groups:
  student: {members: [], allow_full_gpu: false, max_gpus_per_container: 1}
  researcher:
    members: []
    allow_full_gpu: true
    max_mig_instances: 8
    max_cpus: 32
    memory: 64g
    shm_size: 32g
    max_runtime: 72h
    idle_timeout: 4h
    max_tasks: 2048
    max_containers_per_user: 5
  admin:
    members: [datasciencelab]
    max_mig_instances: null
    max_cpus: 64
    memory: 128g
    shm_size: 64g
    max_runtime: null
    idle_timeout: null
    max_containers_per_user: 10
gpu_allocation: {strategy: least_allocated, enable_mig: true}
"#;

    #[test]
    fn old_schema_converts_strings_and_nulls() {
        let out = import_ds01_limits(OLD).unwrap();
        let p = &out.policy;
        assert_eq!(p.default.max_gpus, Some(Cap::Limited(2.0)));
        assert_eq!(
            p.default.idle_timeout,
            Some(Cap::Limited("2h".parse().unwrap()))
        );
        let r = &p.groups["ds01-researcher"];
        assert_eq!(
            (r.max_gpus, r.cpus),
            (Some(Cap::Limited(8.0)), Some(Cap::Limited(32.0)))
        );
        assert_eq!(r.max_runtime, Some(Cap::Limited("72h".parse().unwrap())));
        assert_eq!(r.pids_limit, None, "same as default: not repeated");
        let a = &p.groups["ds01-admin"];
        assert_eq!(
            (a.max_gpus, a.max_runtime, a.idle_timeout),
            (
                Some(Cap::Unlimited),
                Some(Cap::Unlimited),
                Some(Cap::Unlimited)
            )
        );
        let notes = out.notes.join("\n");
        for want in [
            "max_mig_instances counted GPU containers",
            "allow_full_gpu is false",
            "storage_tmp",
            "section `gpu_allocation` dropped",
            "usermod -aG ds01-admin datasciencelab",
        ] {
            assert!(notes.contains(want), "missing note {want:?} in\n{notes}");
        }
        // The TOML text parses back to the same policy.
        assert_eq!(Policy::from_toml(&out.toml).unwrap(), out.policy);
    }

    #[test]
    fn bad_values_and_shapes_are_errors_with_paths() {
        let e = import_ds01_limits("groups:\n  student:\n    memory: lots\n").unwrap_err();
        assert!(e.to_string().contains("`groups.student.memory`"), "{e}");
        let e = import_ds01_limits("defaults: {idle_timeout_h: -1}").unwrap_err();
        assert!(e.to_string().contains("negative hours"), "{e}");
        assert_eq!(
            import_ds01_limits("groups: [a, b]").unwrap_err(),
            ImportError::NotAMapping("groups".into())
        );
        assert!(matches!(
            import_ds01_limits("a: [").unwrap_err(),
            ImportError::Yaml(_)
        ));
    }

    #[test]
    fn cpu_quota_percent_and_aggregate_null() {
        let out = import_ds01_limits(
            "groups:\n  student:\n    aggregate: {cpu_quota: \"9600%\", memory_max: 96G, tasks_max: 12288, gpu_limit: 1.5}\n    max_gpu_equivalents: 2\n  admin:\n    aggregate: null\n",
        )
        .unwrap();
        let d = &out.policy.default;
        assert_eq!(d.aggregate.cpus, Some(Cap::Limited(96.0)));
        assert_eq!(
            d.aggregate.memory,
            Some(Cap::Limited("96g".parse().unwrap()))
        );
        assert_eq!(d.aggregate.pids, Some(Cap::Limited(12288)));
        assert_eq!(
            d.max_gpus,
            Some(Cap::Limited(1.5)),
            "the lower of the two GPU caps"
        );
        assert_eq!(
            out.policy.groups["ds01-admin"].aggregate.memory,
            Some(Cap::Unlimited)
        );
    }
}
