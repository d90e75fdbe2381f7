//! `POST /containers/create`: a Docker create request read into ds01's own
//! [`ContainerCreate`] and made by `ops::containers::create`, the pipeline of
//! `ds01 container create`; so the policy (the user, limits, GPUs, network, labels, the
//! cgroup parent, the reaper) cannot differ between the two doors. What ds01's request has
//! no room for is refused by its field's name before anything is made.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ds01_api::{
    ContainerCreate, ContainerName, ContainerType, GpuRequest, NamedVolume, Process, Size,
};
use ds01_dockerfile::{Identity, ImageRef};
use serde::Deserialize;
use serde_json::Value;

use super::{acting, Answer, Caller, DockerError};
use crate::Daemon;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateQuery {
    name: Option<String>,
}

pub(crate) async fn create(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Query(q): Query<CreateQuery>,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let body: Value = super::json_body(&body, "create")?;
    let request = translate(&body, q.name.as_deref(), &acting.who)?;
    // Its own task: a client that hangs up mid-create must not cut the pipeline off
    // half-way (it removes what it made only when told to stop, not when dropped).
    let created = tokio::spawn(async move {
        let (reporter, _keep) = crate::stream::Reporter::quiet();
        crate::ops::containers::create::create(&d, &acting, request, reporter, None).await
    })
    .await
    .map_err(|e| DockerError::invalid(format!("the create failed: {e}")))??;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": created.id, "Warnings": [] })),
    )
        .into_response())
}

/// The fields of `HostConfig` that widen what a container may do to the host or to other
/// users, with why each is refused. Any value other than the field's empty or default
/// one is refused.
const REFUSED_HOST: &[(&str, &str)] = &[
    ("Privileged", "a privileged container is root on the host"),
    (
        "CapAdd",
        "containers run as you, with no added capabilities",
    ),
    (
        "Devices",
        "devices are the admin's; GPUs come through --gpus and the allocator",
    ),
    ("DeviceCgroupRules", "devices are the admin's"),
    ("SecurityOpt", "the security profile is the server's"),
    ("Sysctls", "kernel settings are the host's"),
    ("UsernsMode", "the user namespace is the server's"),
    (
        "CgroupParent",
        "the cgroup is your slice, set by the server",
    ),
    ("Cgroup", "the cgroup is your slice, set by the server"),
    (
        "VolumesFrom",
        "another container's volumes are not yours to take",
    ),
    ("Links", "use the container's name on your network instead"),
    (
        "PortBindings",
        "ports are not published on the shared host; use `ds01 container open` or `ssh -L`",
    ),
    (
        "PublishAllPorts",
        "ports are not published on the shared host",
    ),
    ("OomKillDisable", "the memory limit holds"),
    (
        "OomScoreAdj",
        "the kernel's choice of what to kill is the host's",
    ),
    ("Runtime", "the runtime is the server's"),
    ("ExtraHosts", "names on your network are your containers'"),
    ("Dns", "your network's resolver is the engine's"),
    ("Tmpfs", "mounts are the server's"),
    ("CpusetCpus", "CPUs are shared by the limit, not pinned"),
    ("CpusetMems", "memory nodes are the host's"),
    ("BlkioWeight", "I/O weights are the host's"),
    ("IOMaximumBandwidth", "I/O limits are the host's"),
    ("KernelMemory", "kernel memory is the host's"),
];

/// Namespace modes that would share the host's (or another container's) namespace.
const NAMESPACES: &[(&str, &str)] = &[
    (
        "PidMode",
        "the host's or another container's processes are not yours to see",
    ),
    (
        "IpcMode",
        "the host's or another container's memory is not yours to share",
    ),
    ("UTSMode", "the host's name is not yours to change"),
    ("CgroupnsMode", "the host's cgroups are not yours to see"),
];

/// Host directories are mounted only as `ds01 container create` mounts them, checked.
const HOST_PATHS: &str =
    "host directories are mounted with `ds01 container create --workspace/--data/--models`, which checks them";

/// The named volumes of `Binds` (`NAME:/target[:ro]`) and `Mounts` (`type=volume`); a host
/// path or another mount type is refused.
fn named_volumes(host: &Value) -> Result<Vec<NamedVolume>, DockerError> {
    let mut volumes = Vec::new();
    for bind in host["Binds"].as_array().into_iter().flatten() {
        let bind = bind.as_str().unwrap_or_default();
        let mut parts = bind.split(':');
        let (source, target, options) = (parts.next().unwrap_or(""), parts.next(), parts.next());
        let Some(target) = target.filter(|_| !source.starts_with('/') && !source.is_empty()) else {
            return Err(DockerError::refused(
                &format!("HostConfig.Binds ({})", ds01_api::shown(bind)),
                HOST_PATHS,
            ));
        };
        volumes.push(NamedVolume {
            name: source.to_owned(),
            target: target.to_owned(),
            read_only: options.is_some_and(|o| o.split(',').any(|o| o == "ro")),
        });
    }
    for mount in host["Mounts"].as_array().into_iter().flatten() {
        let kind = mount["Type"].as_str().unwrap_or("");
        let source = mount["Source"].as_str().unwrap_or("");
        let driver = &mount["VolumeOptions"]["DriverConfig"];
        if kind != "volume" || source.is_empty() || source.starts_with('/') || !unset(driver) {
            return Err(DockerError::refused(
                &format!("HostConfig.Mounts (type={kind})"),
                HOST_PATHS,
            ));
        }
        volumes.push(NamedVolume {
            name: source.to_owned(),
            target: mount["Target"].as_str().unwrap_or_default().to_owned(),
            read_only: mount["ReadOnly"].as_bool().unwrap_or(false),
        });
    }
    Ok(volumes)
}

/// Whether `value` is a field's empty or default value (absent, null, false, 0, "", [] or {}).
fn unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Reads a Docker create body into ds01's request for `who`, refusing what ds01 would not
/// do by the field's name.
pub(crate) fn translate(
    body: &Value,
    name: Option<&str>,
    who: &Identity,
) -> Result<ContainerCreate, DockerError> {
    let host = &body["HostConfig"];
    for (field, why) in REFUSED_HOST {
        if !unset(&host[*field]) {
            return Err(DockerError::refused(&format!("HostConfig.{field}"), why));
        }
    }
    for (field, why) in NAMESPACES {
        let mode = host[*field].as_str().unwrap_or("");
        if mode == "host" || mode.starts_with("container:") {
            return Err(DockerError::refused(
                &format!("HostConfig.{field}={mode}"),
                why,
            ));
        }
    }
    let network = host["NetworkMode"].as_str().unwrap_or("");
    if network == "host" || network.starts_with("container:") {
        return Err(DockerError::refused(
            &format!("HostConfig.NetworkMode={network}"),
            "your containers share your own network, never the host's or another container's",
        ));
    }
    let volumes = named_volumes(host)?;
    // `Volumes` lists every target; one no named volume covers would be anonymous.
    for target in body["Volumes"]
        .as_object()
        .into_iter()
        .flat_map(|v| v.keys())
    {
        if !volumes
            .iter()
            .any(|v| v.target.trim_end_matches('/') == target.trim_end_matches('/'))
        {
            return Err(DockerError::refused(
                &format!("Volumes ({target})"),
                "name the volume (`-v NAME:/path`): anonymous volumes are not offered",
            ));
        }
    }
    super::check_user(body["User"].as_str().unwrap_or(""), who)?;
    let image = body["Image"].as_str().unwrap_or("");
    let image = ImageRef::parse(image).map_err(|e| DockerError::invalid(format!("Image: {e}")))?;
    let name = match name.map(|n| n.trim_start_matches('/')) {
        Some(n) if !n.is_empty() => {
            ContainerName::new(n).map_err(|e| DockerError::invalid(e.to_string()))?
        }
        _ => generated_name(),
    };
    let labels: Vec<(String, String)> = body["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let container_type = if labels.iter().any(|(k, _)| k.starts_with("devcontainer.")) {
        ContainerType::Devcontainer
    } else if labels
        .iter()
        .any(|(k, _)| k.starts_with("com.docker.compose."))
    {
        ContainerType::Compose
    } else {
        ContainerType::Docker
    };
    let mut request = ContainerCreate::named(name);
    request.image = Some(image);
    request.no_workspace = true;
    request.labels = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    request.container_type = Some(container_type);
    request.memory = positive(&host["Memory"]).map(Size::from_bytes);
    request.shm_size = positive(&host["ShmSize"]).map(Size::from_bytes);
    request.cpus = positive(&host["NanoCpus"])
        .map(|n| n as f64 / 1e9)
        .or_else(|| {
            let quota = positive(&host["CpuQuota"])?;
            let period = positive(&host["CpuPeriod"]).unwrap_or(100_000);
            Some(quota as f64 / period as f64)
        });
    request.pids_limit = host["PidsLimit"].as_i64().filter(|n| *n > 0);
    request.gpus = gpus(&host["DeviceRequests"])?;
    request.volumes = volumes;
    request.process = Some(Process {
        cmd: strings(&body["Cmd"]),
        entrypoint: strings(&body["Entrypoint"]),
        env: strings(&body["Env"]).unwrap_or_default(),
        workdir: body["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .map(str::to_owned),
        tty: body["Tty"].as_bool().unwrap_or(false),
        stdin: body["OpenStdin"].as_bool().unwrap_or(false),
        stdin_once: body["StdinOnce"].as_bool().unwrap_or(false),
        aliases: aliases(&body["NetworkingConfig"]),
        hostname: body["Hostname"]
            .as_str()
            .filter(|h| !h.is_empty())
            .map(str::to_owned),
        auto_remove: host["AutoRemove"].as_bool().unwrap_or(false),
    });
    Ok(request)
}

fn positive(value: &Value) -> Option<u64> {
    value.as_u64().filter(|n| *n > 0)
}

/// A string or a list of strings (`Cmd`, `Entrypoint`, `Env`); absent or null is `None`.
fn strings(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_owned())
                .collect(),
        ),
        _ => None,
    }
}

/// The names a client asks the container to answer to on its network (Compose's service
/// name); whichever network it names, the container joins its owner's.
fn aliases(networking: &Value) -> Vec<String> {
    let mut all = Vec::new();
    for endpoint in networking["EndpointsConfig"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for alias in endpoint["Aliases"].as_array().into_iter().flatten() {
            if let Some(a) = alias.as_str().filter(|a| ContainerName::new(a).is_ok()) {
                if !all.iter().any(|x| x == a) {
                    all.push(a.to_owned());
                }
            }
        }
    }
    all
}

/// `--gpus` as Docker sends it (`DeviceRequests`), as ds01's GPU request for the
/// allocator; any other device request is refused.
fn gpus(requests: &Value) -> Result<Option<GpuRequest>, DockerError> {
    let Some(list) = requests.as_array().filter(|l| !l.is_empty()) else {
        return Ok(None);
    };
    if list.len() > 1 {
        return Err(DockerError::refused(
            "HostConfig.DeviceRequests",
            "ask for GPUs once (`--gpus N` or `--gpus device=...`)",
        ));
    }
    let request = &list[0];
    let is_gpu = request["Capabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c.as_array().into_iter().flatten())
        .any(|c| c.as_str() == Some("gpu"));
    let driver = request["Driver"].as_str().unwrap_or("");
    if !(is_gpu && (driver.is_empty() || driver == "nvidia")) {
        return Err(DockerError::refused(
            "HostConfig.DeviceRequests",
            "only GPU requests are offered, and they go through ds01's allocator",
        ));
    }
    if let Some(ids) = strings(&request["DeviceIDs"]).filter(|ids| !ids.is_empty()) {
        return Ok(Some(GpuRequest::Devices(ids)));
    }
    match request["Count"].as_i64().unwrap_or(0) {
        -1 => Ok(Some(GpuRequest::All)),
        n if n > 0 => Ok(Some(GpuRequest::Count(n as u32))),
        _ => Ok(None),
    }
}

/// A name for a container the client did not name, as Docker makes one up.
fn generated_name() -> ContainerName {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!(
        "docker-{:08x}",
        (nanos as u64 ^ (nanos >> 64) as u64) & 0xffff_ffff
    );
    ContainerName::new(&name).unwrap_or_else(|_| ContainerName::new("docker").expect("valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who() -> Identity {
        Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap()
    }

    fn refused(body: Value) -> String {
        translate(&body, Some("web"), &who()).unwrap_err().message
    }

    #[test]
    fn escapes_are_refused_by_the_fields_name() {
        let base = |host: Value| json!({"Image": "debian:12", "HostConfig": host});
        assert!(refused(base(json!({"Privileged": true}))).contains("HostConfig.Privileged"));
        assert!(refused(base(json!({"CapAdd": ["SYS_ADMIN"]}))).contains("HostConfig.CapAdd"));
        assert!(refused(base(json!({"Binds": ["/:/host"]}))).contains("HostConfig.Binds"));
        assert!(refused(base(json!({"PidMode": "host"}))).contains("HostConfig.PidMode=host"));
        assert!(refused(base(json!({"NetworkMode": "host"}))).contains("NetworkMode=host"));
        assert!(
            refused(base(json!({"Devices": [{"PathOnHost": "/dev/mem"}]}))).contains("Devices")
        );
        assert!(refused(json!({"Image": "debian:12", "User": "0"})).contains("User=0"));
    }

    #[test]
    fn defaults_pass_and_the_process_is_the_clients() {
        let body = json!({
            "Image": "debian:12", "Cmd": ["sleep", "60"], "Env": ["A=1"], "Tty": false,
            "User": "1722830498:1722800513",
            "HostConfig": {"Privileged": false, "CapAdd": null, "NetworkMode": "proj_default",
                           "Memory": 1073741824, "NanoCpus": 500000000, "PidMode": ""},
            "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["db", "bad alias"]}}},
            "Labels": {"com.docker.compose.project": "proj"}
        });
        let request = translate(&body, Some("/proj_db_1"), &who()).unwrap();
        assert_eq!(request.name.as_str(), "proj_db_1");
        assert_eq!(request.container_type, Some(ContainerType::Compose));
        assert_eq!(request.cpus, Some(0.5));
        assert_eq!(request.memory, Some(Size::from_bytes(1 << 30)));
        let process = request.process.unwrap();
        assert_eq!(process.cmd.unwrap(), ["sleep", "60"]);
        assert_eq!(process.aliases, ["db"]);
        assert!(request.no_workspace);
    }

    #[test]
    fn gpus_go_to_the_allocator() {
        let ask = |r: Value| gpus(&json!([r]));
        let gpu = json!([["gpu"]]);
        assert_eq!(
            ask(json!({"Count": 2, "Capabilities": gpu})).unwrap(),
            Some(GpuRequest::Count(2))
        );
        assert_eq!(
            ask(json!({"Count": -1, "Capabilities": gpu})).unwrap(),
            Some(GpuRequest::All)
        );
        assert!(ask(json!({"Driver": "other", "Count": 1, "Capabilities": [["fpga"]]})).is_err());
    }
}
