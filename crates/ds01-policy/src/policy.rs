//! The `[policy]` section of the daemon's system configuration, and how one user's limits are
//! resolved from it.
//!
//! Resolution is key by key, most specific first: the user's own entry, then the most generous
//! of the entries for the user's Unix groups, then `[policy.default]`, then the built-in
//! defaults. Taking the most generous group means joining a group can only ever add rights,
//! which is what an admin expects from `usermod -aG researcher`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::units::{Cap, Quantity, Size, Span};

/// One table of limits: `[policy.default]`, `[policy.groups.<g>]` or `[policy.users."<login>"]`.
/// Every key is optional; an absent key falls through to the next, less specific table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Containers the user has, running or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_containers: Option<Cap<u32>>,
    /// Full-GPU equivalents; a MIG instance counts its fraction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_gpus: Option<Cap<f64>>,
    /// Per-container memory: the default and the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Cap<Size>>,
    /// Per-container CPUs (`--cpus`): the default and the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cap<f64>>,
    /// Per-container `/dev/shm`: the default and the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<Cap<Size>>,
    /// Per-container `--pids-limit`: the default and the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<Cap<u32>>,
    /// The most a container may write into its own layer (the engine's storage quota where
    /// the driver has one, else sampled by the reaper, which stops a container over it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<Cap<Size>>,
    /// The most the user's own images may take together; a build or commit that would
    /// start while the user is over it is refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_storage: Option<Cap<Size>>,
    /// Whether the user's account gets passwordless sudo inside the container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sudo: Option<bool>,
    /// The container's network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Stop a container idle this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Cap<Span>>,
    /// Stop a container this long after its first start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_runtime: Option<Cap<Span>>,
    /// The longest keep-alive a user may ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_max: Option<Cap<Span>>,
    /// Unused images older than this may be garbage-collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_max_age: Option<Cap<Span>>,
    /// May the user name GPUs (`--gpus device=UUID`) instead of taking what the allocator picks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_device_pick: Option<bool>,
    /// Image builds one user may run at the same time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_builds: Option<Cap<u32>>,
    /// A build running longer than this is cancelled and leaves nothing behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_timeout: Option<Cap<Span>>,
    /// Per-user totals, applied to the user's systemd slice.
    #[serde(default, skip_serializing_if = "Aggregate::is_empty")]
    pub aggregate: Aggregate,
}

/// `[policy.*.aggregate]`: totals over all of one user's containers (the systemd slice).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// `CPUQuota`, in CPUs (16 = 1600%).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<Cap<f64>>,
    /// `MemoryMax`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Cap<Size>>,
    /// `TasksMax`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pids: Option<Cap<u32>>,
}

impl Aggregate {
    fn is_empty(&self) -> bool {
        self == &Aggregate::default()
    }
}

/// The container's network: its own bridge, or the host's stack (`--network host`).
/// Ordered by generosity, so `host` wins when groups disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// A private bridge network.
    Private,
    /// The host's network namespace.
    Host,
}

/// The `[policy]` section.
///
/// ```
/// use ds01_policy::{Cap, Policy, Source};
///
/// let p = Policy::from_toml(r#"
///     [policy.default]
///     max_gpus = 1
///     [policy.groups.researcher]
///     max_gpus = 2
///     [policy.users."h.baker@hertie-school.lan"]
///     memory = "64g"
/// "#)?;
/// let e = p.effective("h.baker", &["researcher".to_string()]);
/// assert_eq!(e.max_gpus.value, Cap::Limited(2.0));
/// assert_eq!(e.max_gpus.to_string(), "max_gpus is 2 for you (from [policy.groups.researcher])");
/// assert_eq!(e.memory.source, Source::User("h.baker@hertie-school.lan".into()));
/// # Ok::<(), ds01_policy::PolicyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// `[policy.default]`: everyone.
    #[serde(default)]
    pub default: Limits,
    /// `[policy.groups.<name>]`, keyed by Unix group name (matched through NSS).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub groups: BTreeMap<String, Limits>,
    /// `[policy.users."<login>"]`, keyed by login.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, Limits>,
}

/// Why the policy could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid [policy] section: {0}")]
pub struct PolicyError(pub String);

/// Where a resolved value came from, so a refusal can name the table to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `[policy.users."<login>"]`, with the key as written in the file.
    User(String),
    /// `[policy.groups.<name>]`.
    Group(String),
    /// `[policy.default]`.
    Default,
    /// No table sets it: the built-in default.
    BuiltIn,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::User(u) => write!(f, "[policy.users.\"{u}\"]"),
            Source::Group(g)
                if g.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) =>
            {
                write!(f, "[policy.groups.{g}]")
            }
            Source::Group(g) => write!(f, "[policy.groups.\"{g}\"]"),
            Source::Default => f.write_str("[policy.default]"),
            Source::BuiltIn => f.write_str("the built-in default"),
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Network::Private => "private",
            Network::Host => "host",
        })
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One resolved limit: its name, value and origin. Displays as the sentence a refusal needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved<T> {
    /// The key, e.g. `max_gpus` or `aggregate.memory`.
    #[serde(skip)]
    pub key: &'static str,
    /// The value in force.
    pub value: T,
    /// The table it came from.
    pub source: Source,
}

impl<T: fmt::Display> fmt::Display for Resolved<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is {} for you (from {})",
            self.key, self.value, self.source
        )
    }
}

/// One user's limits, each with its source. Serializes to the JSON of `ds01 limits --json`:
/// `{"max_gpus": {"value": 2.0, "source": "[policy.groups.researcher]"}, …}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)] // the fields mirror `Limits`
pub struct Effective {
    pub max_containers: Resolved<Cap<u32>>,
    pub max_gpus: Resolved<Cap<f64>>,
    pub memory: Resolved<Cap<Size>>,
    pub cpus: Resolved<Cap<f64>>,
    pub shm_size: Resolved<Cap<Size>>,
    pub pids_limit: Resolved<Cap<u32>>,
    pub disk: Resolved<Cap<Size>>,
    pub image_storage: Resolved<Cap<Size>>,
    pub sudo: Resolved<bool>,
    pub network: Resolved<Network>,
    pub idle_timeout: Resolved<Cap<Span>>,
    pub max_runtime: Resolved<Cap<Span>>,
    pub keep_alive_max: Resolved<Cap<Span>>,
    pub image_max_age: Resolved<Cap<Span>>,
    pub allow_device_pick: Resolved<bool>,
    pub max_builds: Resolved<Cap<u32>>,
    pub build_timeout: Resolved<Cap<Span>>,
    pub aggregate: EffectiveAggregate,
}

/// The resolved `aggregate` keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct EffectiveAggregate {
    pub cpus: Resolved<Cap<f64>>,
    pub memory: Resolved<Cap<Size>>,
    pub pids: Resolved<Cap<u32>>,
}

/// What the built-in defaults are, and why: they must suit ML work on a server with no policy.
mod builtin {
    use super::*;
    pub const MAX_CONTAINERS: Cap<u32> = Cap::Limited(5);
    pub const MAX_GPUS: Cap<f64> = Cap::Limited(1.0);
    // Docker's 64 MiB /dev/shm makes PyTorch DataLoader workers die with a bus error.
    pub const SHM_SIZE: Cap<Size> = Cap::Limited(Size::from_bytes(8 << 30));
    pub const PIDS: Cap<u32> = Cap::Limited(4096);
    pub const KEEP_ALIVE_MAX: Cap<Span> = Cap::Limited(Span::from_secs(24 * 3600));
    // Two: one image rebuilt while another is tried out; more only crowd the shared cores.
    pub const MAX_BUILDS: Cap<u32> = Cap::Limited(2);
    // Long enough for a CUDA stack's pip install on a slow mirror, short enough that a
    // hung step does not hold a build slot overnight.
    pub const BUILD_TIMEOUT: Cap<Span> = Cap::Limited(Span::from_secs(2 * 3600));
}

impl Policy {
    /// Reads a whole system config and takes its `[policy]` section (other sections are left to
    /// their own readers); a config without one yields the built-in defaults.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        Policy::from_value(table.get("policy").cloned())
    }

    /// The `[policy]` table a caller has parsed already (as part of a larger file).
    pub fn from_value(policy: Option<toml::Value>) -> Result<Policy, PolicyError> {
        match policy {
            None => Ok(Policy::default()),
            Some(v) => v
                .try_into()
                .map_err(|e: toml::de::Error| PolicyError(e.to_string())),
        }
    }

    /// Renders the section back as TOML, headed `[policy.…]`.
    pub fn to_toml(&self) -> String {
        #[derive(Serialize)]
        struct File<'a> {
            policy: &'a Policy,
        }
        toml::to_string(&File { policy: self }).expect("policy values always serialize")
    }

    /// The user's own entry: the login as given, else without its `@domain`, since SSSD may
    /// hand out either form depending on `use_fully_qualified_names`. For the same reason a
    /// short login matches a qualified entry, unless two domains make that ambiguous.
    fn user_entry(&self, login: &str) -> Option<(&String, &Limits)> {
        if let Some(e) = self.users.get_key_value(login) {
            return Some(e);
        }
        if let Some((short, _)) = login.split_once('@') {
            return self.users.get_key_value(short);
        }
        let mut qualified = self
            .users
            .iter()
            .filter(|(k, _)| k.split_once('@').is_some_and(|(s, _)| s == login));
        match (qualified.next(), qualified.next()) {
            (Some(e), None) => Some(e),
            _ => None,
        }
    }

    /// Resolves the limits for `login`, a member of the Unix groups `groups`.
    pub fn effective(&self, login: &str, groups: &[String]) -> Effective {
        let user = self.user_entry(login);
        let groups: Vec<(&String, &Limits)> = groups
            .iter()
            .filter_map(|g| self.groups.get_key_value(g.as_str()))
            .collect();
        let r = Resolver {
            user,
            groups,
            default: &self.default,
        };
        Effective {
            max_containers: r.get(
                "max_containers",
                |l| l.max_containers,
                builtin::MAX_CONTAINERS,
            ),
            max_gpus: r.get("max_gpus", |l| l.max_gpus, builtin::MAX_GPUS),
            memory: r.get("memory", |l| l.memory, Cap::Unlimited),
            cpus: r.get("cpus", |l| l.cpus, Cap::Unlimited),
            shm_size: r.get("shm_size", |l| l.shm_size, builtin::SHM_SIZE),
            pids_limit: r.get("pids_limit", |l| l.pids_limit, builtin::PIDS),
            disk: r.get("disk", |l| l.disk, Cap::Unlimited),
            image_storage: r.get("image_storage", |l| l.image_storage, Cap::Unlimited),
            sudo: r.get("sudo", |l| l.sudo, false),
            network: r.get("network", |l| l.network, Network::Private),
            idle_timeout: r.get("idle_timeout", |l| l.idle_timeout, Cap::Unlimited),
            max_runtime: r.get("max_runtime", |l| l.max_runtime, Cap::Unlimited),
            keep_alive_max: r.get(
                "keep_alive_max",
                |l| l.keep_alive_max,
                builtin::KEEP_ALIVE_MAX,
            ),
            image_max_age: r.get("image_max_age", |l| l.image_max_age, Cap::Unlimited),
            allow_device_pick: r.get("allow_device_pick", |l| l.allow_device_pick, false),
            max_builds: r.get("max_builds", |l| l.max_builds, builtin::MAX_BUILDS),
            build_timeout: r.get("build_timeout", |l| l.build_timeout, builtin::BUILD_TIMEOUT),
            aggregate: EffectiveAggregate {
                cpus: r.get("aggregate.cpus", |l| l.aggregate.cpus, Cap::Unlimited),
                memory: r.get("aggregate.memory", |l| l.aggregate.memory, Cap::Unlimited),
                pids: r.get("aggregate.pids", |l| l.aggregate.pids, Cap::Unlimited),
            },
        }
    }
}

struct Resolver<'a> {
    user: Option<(&'a String, &'a Limits)>,
    groups: Vec<(&'a String, &'a Limits)>,
    default: &'a Limits,
}

impl Resolver<'_> {
    fn get<T: PartialOrd + Copy>(
        &self,
        key: &'static str,
        pick: impl Fn(&Limits) -> Option<T>,
        builtin: T,
    ) -> Resolved<T> {
        let found = |value, source| Resolved { key, value, source };
        if let Some(v) = self.user.and_then(|(name, l)| pick(l).map(|v| (name, v))) {
            return found(v.1, Source::User(v.0.clone()));
        }
        // Strictly greater, so on a tie the first group the caller listed is named.
        let mut best: Option<(T, &String)> = None;
        for (name, l) in &self.groups {
            if let Some(v) = pick(l) {
                if best.as_ref().is_none_or(|(b, _)| v > *b) {
                    best = Some((v, name));
                }
            }
        }
        if let Some((v, name)) = best {
            return found(v, Source::Group(name.clone()));
        }
        match pick(self.default) {
            Some(v) => found(v, Source::Default),
            None => found(builtin, Source::BuiltIn),
        }
    }
}

/// What a user asks for when creating a container; `None` means "the default".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[allow(missing_docs)]
pub struct ResourceRequest {
    pub memory: Option<Size>,
    pub cpus: Option<f64>,
    pub shm_size: Option<Size>,
    pub pids_limit: Option<u32>,
}

/// The per-container limits to apply; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct Applied {
    pub memory: Option<Size>,
    pub cpus: Option<f64>,
    pub shm_size: Option<Size>,
    pub pids_limit: Option<u32>,
}

/// A request above the user's ceiling.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: you asked for {asked}, but the most you may have is {ceiling} (from {origin})")]
pub struct LimitError {
    /// The key, e.g. `memory` or `max_containers`.
    pub key: &'static str,
    /// What was asked, as written in the policy file's units.
    pub asked: String,
    /// The ceiling.
    pub ceiling: String,
    /// Where the ceiling came from (`source` would clash with `Error::source`).
    pub origin: Source,
}

fn within<T: Quantity>(
    ceiling: &Resolved<Cap<T>>,
    asked: Option<T>,
) -> Result<Option<T>, LimitError> {
    match (asked, ceiling.value) {
        (None, cap) => Ok(cap.value()),
        // A NaN compares with nothing, so it would pass `a > c`: refuse it explicitly.
        (Some(a), cap) if a.partial_cmp(&a).is_none() || cap.value().is_some_and(|c| a > c) => {
            Err(LimitError {
                key: ceiling.key,
                asked: a.to_string(),
                ceiling: cap.to_string(),
                origin: ceiling.source.clone(),
            })
        }
        (Some(a), _) => Ok(Some(a)),
    }
}

impl Effective {
    /// Checks a container request against the ceilings: an ask within the ceiling is applied as
    /// asked, a missing ask gets the ceiling (which is also the default).
    ///
    /// ```
    /// use ds01_policy::{Policy, ResourceRequest};
    ///
    /// let e = Policy::from_toml("[policy.default]\nmemory = \"32g\"")?.effective("ann", &[]);
    /// let ok = e.check(&ResourceRequest { memory: Some("8g".parse()?), ..ResourceRequest::default() })?;
    /// assert_eq!(ok.memory.map(|m| m.to_string()).as_deref(), Some("8g"));
    /// assert_eq!(ok.shm_size.map(|m| m.to_string()).as_deref(), Some("8g")); // built-in
    ///
    /// let err = e.check(&ResourceRequest { memory: Some("64g".parse()?), ..ResourceRequest::default() });
    /// assert_eq!(
    ///     err.unwrap_err().to_string(),
    ///     "memory: you asked for 64g, but the most you may have is 32g (from [policy.default])",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self, req: &ResourceRequest) -> Result<Applied, LimitError> {
        Ok(Applied {
            memory: within(&self.memory, req.memory)?,
            cpus: within(&self.cpus, req.cpus)?,
            shm_size: within(&self.shm_size, req.shm_size)?,
            pids_limit: within(&self.pids_limit, req.pids_limit)?,
        })
    }

    /// Checks that a user who has `existing` containers may create one more.
    pub fn check_new_container(&self, existing: u32) -> Result<(), LimitError> {
        let wanted = existing.saturating_add(1);
        within(&self.max_containers, Some(wanted))
            .map(|_| ())
            .map_err(|mut e| {
                e.asked = format!("{wanted} containers");
                e
            })
    }

    /// Checks that a user who runs `running` builds may start one more.
    pub fn check_new_build(&self, running: u32) -> Result<(), LimitError> {
        let wanted = running.saturating_add(1);
        within(&self.max_builds, Some(wanted))
            .map(|_| ())
            .map_err(|mut e| {
                e.asked = format!("{wanted} builds at once");
                e
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
        [daemon]                    # other sections belong to other readers
        socket = "/run/ds01.sock"

        [policy.default]
        max_containers = 3
        max_gpus = 1
        memory = "32g"
        cpus = 8
        shm_size = "16g"
        pids_limit = 4096
        disk = "100g"
        image_storage = "200g"
        sudo = false
        network = "private"
        idle_timeout = "2h"
        max_runtime = "7d"
        keep_alive_max = "24h"
        image_max_age = "30d"
        allow_device_pick = false
        [policy.default.aggregate]
        cpus = 16
        memory = "64g"
        pids = 8192
        [policy.groups.researcher]
        max_gpus = 2
        memory = "48g"
        [policy.groups.faculty]
        max_gpus = 1.5
        memory = "128g"
        network = "host"
        idle_timeout = "never"
        [policy.groups.student]
        max_gpus = 0.5
        [policy.users."h.baker@hertie-school.lan"]
        max_gpus = 4
        [policy.users.alice]
        cpus = 2
    "#;

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_policy_gives_ml_friendly_built_ins() {
        let e = Policy::from_toml("").unwrap().effective("x", &[]);
        assert_eq!(e.max_containers.value, Cap::Limited(5));
        assert_eq!(e.max_gpus.value, Cap::Limited(1.0));
        assert!(e.shm_size.value.value().unwrap().bytes() >= 8 << 30);
        assert_eq!(e.pids_limit.value, Cap::Limited(4096));
        assert_eq!(
            (e.memory.value, e.cpus.value),
            (Cap::Unlimited, Cap::Unlimited)
        );
        assert_eq!(
            (e.idle_timeout.value, e.max_runtime.value),
            (Cap::Unlimited, Cap::Unlimited)
        );
        assert_eq!(
            (e.disk.value, e.image_storage.value),
            (Cap::Unlimited, Cap::Unlimited)
        );
        assert_eq!(e.keep_alive_max.value, Cap::Limited("24h".parse().unwrap()));
        assert!(!e.sudo.value && !e.allow_device_pick.value);
        assert_eq!(e.network.value, Network::Private);
        assert_eq!(e.max_gpus.source, Source::BuiltIn);
        assert_eq!(e.max_builds.value, Cap::Limited(2));
        assert_eq!(e.build_timeout.value, Cap::Limited("2h".parse().unwrap()));
    }

    #[test]
    fn build_count_is_checked() {
        let e = Policy::from_toml("[policy.default]\nmax_builds = 1\nbuild_timeout = \"20s\"")
            .unwrap()
            .effective("bob", &[]);
        assert!(e.check_new_build(0).is_ok());
        assert_eq!(
            e.check_new_build(1).unwrap_err().to_string(),
            "max_builds: you asked for 2 builds at once, but the most you may have is 1 (from [policy.default])"
        );
        assert_eq!(e.build_timeout.value, Cap::Limited("20s".parse().unwrap()));
    }

    #[test]
    fn most_specific_wins_key_by_key() {
        let p = Policy::from_toml(EXAMPLE).unwrap();
        let e = p.effective("h.baker@hertie-school.lan", &groups(&["researcher"]));
        assert_eq!(e.max_gpus.value, Cap::Limited(4.0));
        assert_eq!(
            e.max_gpus.source,
            Source::User("h.baker@hertie-school.lan".into())
        );
        assert_eq!(e.memory.value, Cap::Limited("48g".parse().unwrap()));
        assert_eq!(e.memory.source, Source::Group("researcher".into()));
        assert_eq!(e.cpus.value, Cap::Limited(8.0));
        assert_eq!(e.cpus.source, Source::Default);
        assert_eq!(e.disk.value, Cap::Limited("100g".parse().unwrap()));
        assert_eq!(
            e.image_storage.to_string(),
            "image_storage is 200g for you (from [policy.default])"
        );
        assert_eq!(
            e.aggregate.memory.value,
            Cap::Limited("64g".parse().unwrap())
        );
    }

    #[test]
    fn the_most_generous_group_wins_per_key() {
        let p = Policy::from_toml(EXAMPLE).unwrap();
        let e = p.effective(
            "bob",
            &groups(&["student", "faculty", "researcher", "nosuchgroup"]),
        );
        assert_eq!(e.max_gpus.value, Cap::Limited(2.0));
        assert_eq!(e.max_gpus.source, Source::Group("researcher".into()));
        assert_eq!(e.memory.value, Cap::Limited("128g".parse().unwrap()));
        assert_eq!(e.memory.source, Source::Group("faculty".into()));
        assert_eq!(e.idle_timeout.value, Cap::Unlimited);
        assert_eq!(e.network.value, Network::Host);
        // A lone, stingier group still beats the default: it is more specific.
        let s = p.effective("carl", &groups(&["student"]));
        assert_eq!(s.max_gpus.value, Cap::Limited(0.5));
    }

    #[test]
    fn users_match_with_or_without_domain() {
        let p = Policy::from_toml(EXAMPLE).unwrap();
        assert_eq!(
            p.effective("h.baker", &[]).max_gpus.value,
            Cap::Limited(4.0)
        );
        let mut two = p.clone();
        two.users
            .insert("h.baker@other.lan".into(), Limits::default());
        assert_eq!(
            two.effective("h.baker", &[]).max_gpus.source,
            Source::Default,
            "ambiguous"
        );
        let e = two.effective("h.baker@other.lan", &[]);
        assert_eq!(
            e.max_gpus.source,
            Source::Default,
            "own entry, which sets nothing"
        );
        let e = p.effective("alice@hertie-school.lan", &[]);
        assert_eq!(e.cpus.value, Cap::Limited(2.0));
        assert_eq!(
            e.cpus.to_string(),
            "cpus is 2 for you (from [policy.users.\"alice\"])"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = Policy::from_toml("[policy.default]\nmax_gpu = 1").unwrap_err();
        assert!(e.to_string().contains("unknown field `max_gpu`"), "{e}");
        let e = Policy::from_toml("[policy.default]\nidle_timeout = \"2 hours\"").unwrap_err();
        assert!(e.to_string().contains("is not a duration"), "{e}");
        assert!(Policy::from_toml("[policy.default]\nnetwork = \"bridge\"").is_err());
    }

    #[test]
    fn check_applies_asks_and_defaults_and_names_the_ceiling() {
        let p = Policy::from_toml(EXAMPLE).unwrap();
        let e = p.effective("bob", &groups(&["researcher"]));
        let a = e.check(&ResourceRequest::default()).unwrap();
        assert_eq!(a.memory, Some("48g".parse().unwrap()));
        assert_eq!(a.cpus, Some(8.0));
        let a = e
            .check(&ResourceRequest {
                cpus: Some(4.0),
                pids_limit: Some(100),
                ..ResourceRequest::default()
            })
            .unwrap();
        assert_eq!((a.cpus, a.pids_limit), (Some(4.0), Some(100)));
        let err = e.check(&ResourceRequest {
            memory: Some("49g".parse().unwrap()),
            ..ResourceRequest::default()
        });
        assert_eq!(
            err.unwrap_err(),
            LimitError {
                key: "memory",
                asked: "49g".into(),
                ceiling: "48g".into(),
                origin: Source::Group("researcher".into())
            }
        );
        let nan = ResourceRequest {
            cpus: Some(f64::NAN),
            ..ResourceRequest::default()
        };
        assert_eq!(e.check(&nan).unwrap_err().key, "cpus");
        let unlimited = Policy::default().effective("x", &[]);
        let big = ResourceRequest {
            memory: Some("1t".parse().unwrap()),
            ..ResourceRequest::default()
        };
        assert_eq!(unlimited.check(&big).unwrap().memory, big.memory);
        assert_eq!(
            unlimited.check(&ResourceRequest::default()).unwrap().memory,
            None
        );
    }

    #[test]
    fn container_count_is_checked() {
        let e = Policy::from_toml(EXAMPLE).unwrap().effective("bob", &[]);
        assert!(e.check_new_container(2).is_ok());
        let err = e.check_new_container(3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "max_containers: you asked for 4 containers, but the most you may have is 3 (from [policy.default])"
        );
    }

    #[test]
    fn effective_serializes_with_sources_and_policy_round_trips() {
        let p = Policy::from_toml(EXAMPLE).unwrap();
        let json = serde_json::to_value(p.effective("bob", &groups(&["faculty"]))).unwrap();
        assert_eq!(json["memory"]["value"], "128g");
        assert_eq!(json["memory"]["source"], "[policy.groups.faculty]");
        assert_eq!(json["idle_timeout"]["value"], "never");
        assert_eq!(json["aggregate"]["pids"]["value"], 8192);
        assert_eq!(json["max_gpus"]["value"], 1.5);
        let again = Policy::from_toml(&p.to_toml()).unwrap();
        assert_eq!(again, p);
    }
}
