//! The everyday container requests: logs, show, copy, `--all` actions and list filters.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ContainerInfo;

/// `POST /v1/containers/{name}/logs` (an HTTP upgrade to [`crate::frames`]): the
/// container's output as stdout and stderr frames, then an exit frame with status 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsRequest {
    /// Keep streaming new output until the container stops or the client goes.
    #[serde(default)]
    pub follow: bool,
    /// Only the last N lines of what is already there.
    #[serde(default)]
    pub tail: Option<u32>,
}

/// `POST /v1/containers/{name}/copy-out` and `copy-in` (upgrades to [`crate::frames`]):
/// a tar stream of one path inside the container, read or written as the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequest {
    /// The absolute path inside the container.
    pub path: String,
    /// copy-in: the name of the top entry of the tar the client will send (the source's
    /// file name). The answer's `ds01-copy-root` header says what to call it instead.
    #[serde(default)]
    pub name: Option<String>,
}

/// The response header of `copy-in` that names the tar's top entry.
pub const COPY_ROOT_HEADER: &str = "ds01-copy-root";

/// What one `--all` action did to one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkOutcome {
    /// The Docker name.
    pub name: String,
    /// `started`, `stopped`, `restarted`, or `failed`.
    pub action: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ApiError>,
}

/// A mount of a container, as `container show` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInfo {
    /// The host path (or volume name).
    pub source: String,
    /// Where it appears inside the container.
    pub destination: String,
    /// Whether the container may write to it.
    pub writable: bool,
}

/// The limits a container runs with; `None`: none set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitsInfo {
    /// Memory in bytes.
    pub memory_bytes: Option<u64>,
    /// CPUs (fractional).
    pub cpus: Option<f64>,
    /// `/dev/shm` size in bytes.
    pub shm_bytes: Option<u64>,
    /// Most processes.
    pub pids: Option<i64>,
}

/// `GET /v1/containers/{name}`: one container, from one engine inspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerDetails {
    /// The display name (`thesis`).
    pub name: String,
    /// The Docker name (`thesis._.1000`).
    pub docker_name: String,
    /// The container ID.
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// `baked` or `committed` (`ds01.user_setup`), empty for containers made by other tools.
    pub user_setup: String,
    /// `created`, `running`, `paused`, `exited`, ...
    pub state: String,
    /// When it was last started (RFC 3339), if ever.
    pub started_at: Option<String>,
    /// The UUIDs of the GPUs its labels bind (held only while it runs).
    pub gpus: Vec<String>,
    /// Its mounts.
    pub mounts: Vec<MountInfo>,
    /// Its limits.
    pub limits: LimitsInfo,
    /// Every label.
    pub labels: BTreeMap<String, String>,
    /// When ds01d will stop it and why, once it has warned.
    pub stops_at: Option<String>,
    /// The account its processes run as inside (`h-baker`; DS01's scripts baked `h_baker`),
    /// as ds01d knows it.
    #[serde(default)]
    pub account: String,
}

/// One `--filter KEY=VALUE` of `container list`: `name=`, `image=` (both with `*`
/// wildcards), `state=` and `gpu=` (`none`, `any`, or a slot or UUID it holds).
///
/// ```
/// use ds01_api::ContainerFilter;
/// let f: ContainerFilter = "name=thes*".parse().unwrap();
/// assert_eq!(f.to_string(), "name=thes*");
/// assert!("colour=red".parse::<ContainerFilter>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFilter {
    key: FilterKey,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterKey {
    Name,
    State,
    Image,
    Gpu,
}

/// The filter keys, as users type them.
pub const FILTER_KEYS: [&str; 4] = ["name", "state", "image", "gpu"];

impl FromStr for ContainerFilter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (key, value) = text.split_once('=').ok_or_else(|| {
            format!(
                "filter `{}` has no `=`; write KEY=VALUE with KEY one of {}",
                crate::shown(text),
                FILTER_KEYS.join(", ")
            )
        })?;
        let key = match key {
            "name" => FilterKey::Name,
            "state" => FilterKey::State,
            "image" => FilterKey::Image,
            "gpu" => FilterKey::Gpu,
            other => {
                return Err(format!(
                    "unknown filter key `{}`; use one of {}",
                    crate::shown(other),
                    FILTER_KEYS.join(", ")
                ))
            }
        };
        Ok(ContainerFilter {
            key,
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for ContainerFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match self.key {
            FilterKey::Name => "name",
            FilterKey::State => "state",
            FilterKey::Image => "image",
            FilterKey::Gpu => "gpu",
        };
        write!(f, "{key}={}", self.value)
    }
}

crate::serde_as_text!(ContainerFilter);

impl ContainerFilter {
    /// Whether the container passes this filter.
    ///
    /// ```
    /// # use ds01_api::{ContainerFilter, ContainerInfo};
    /// let c = ContainerInfo {
    ///     name: "thesis".into(), docker_name: "thesis._.1000".into(), id: "f00".into(),
    ///     image: "ds01-1000/thesis:latest".into(), state: "running".into(), status: String::new(),
    ///     user: "alice".into(), uid: 1000, framework: String::new(), gpus: "none".into(),
    ///     workspace: String::new(), stops_at: None,
    /// };
    /// let f = |s: &str| s.parse::<ContainerFilter>().unwrap().matches(&c);
    /// assert!(f("name=th*") && f("state=running") && f("image=ds01-1000/*") && f("gpu=none"));
    /// assert!(!f("name=other") && !f("state=exited") && !f("gpu=any"));
    /// ```
    pub fn matches(&self, c: &ContainerInfo) -> bool {
        match self.key {
            FilterKey::Name => glob(&self.value, &c.name),
            FilterKey::State => c.state == self.value,
            FilterKey::Image => glob(&self.value, &c.image),
            FilterKey::Gpu => {
                let none = c.gpus.is_empty() || c.gpus == "none";
                match self.value.as_str() {
                    "none" => none,
                    "any" => !none,
                    wanted => c
                        .gpus
                        .split([',', ' '])
                        .any(|g| g == wanted || g.trim_start_matches("device=") == wanted),
                }
            }
        }
    }
}

/// `*` matches any run of characters, everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("a*c", "abc") && glob("*", "") && glob("a*b*c", "aXbYc"));
        assert!(!glob("a*c", "ab") && !glob("ab*ba", "aba") && !glob("x", "xy"));
    }
}
