//! The create request for a user's container: mounts, limits, GPUs and DS01's labels. Kept
//! free of I/O so that what this machine cannot run (GPUs, cgroup parents) is checked by
//! snapshotting the request itself.

use crate::labels;
use crate::options::ContainerOptions;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, MountVolumeOptions,
    NetworkingConfig, ResourcesUlimits,
};
use ds01_api::{ContainerName, UserSetup};
use ds01_dockerfile::Identity;
use std::collections::HashMap;
use std::path::Path;

/// Where an image for a container came from, for the `aime.mlc.*` labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// A custom image (the user's own build, or any local image), as the user named it.
    Custom(String),
    /// An AIME catalog image.
    Catalog {
        /// Framework as the catalog spells it (`Pytorch`).
        framework: String,
        /// Version (`2.5.1`).
        version: String,
    },
}

/// Everything that decides the final container's create request.
#[derive(Debug)]
pub struct ContainerSpec<'a> {
    /// Whose container.
    pub who: &'a Identity,
    /// Its name.
    pub name: &'a ContainerName,
    /// The image reference it runs (for the commit flow: the committed image).
    pub image: &'a str,
    /// Where the image came from.
    pub provenance: &'a Provenance,
    /// The user's choices.
    pub options: &'a ContainerOptions,
    /// How the user was set up.
    pub user_setup: UserSetup,
    /// Labels put on everything this call makes (tests use them to find their resources).
    pub resource_labels: &'a [(String, String)],
    /// Creation time, UTC, ISO 8601 (passed in so that snapshots are stable).
    pub created_at: &'a str,
}

/// `aime.mlc.GPUS` as MLC writes it: the request, or the devices bound by UUID.
fn gpus_label(o: &ContainerOptions) -> String {
    match &o.visible_gpus {
        Some(uuids) if uuids.is_empty() => "none".to_owned(),
        Some(uuids) => format!("device={}", uuids.join(",")),
        None => o.gpu_request().to_string(),
    }
}

fn mount_label(dir: &Option<std::path::PathBuf>) -> String {
    dir.as_deref()
        .map(Path::to_string_lossy)
        .map(|p| p.into_owned())
        .unwrap_or_else(|| "-".to_owned())
}

impl ContainerSpec<'_> {
    /// The labels of the final container: MLC's and DS01's keys first, then the extra ones
    /// (which [`labels::parse_extra_label`] has kept out of those namespaces).
    pub fn labels(&self) -> HashMap<String, String> {
        let o = self.options;
        let login = self.who.login().to_owned();
        let (framework, custom_image) = match self.provenance {
            Provenance::Custom(image) => ("custom-latest".to_owned(), image.clone()),
            Provenance::Catalog { framework, version } => {
                (format!("{framework}-{version}"), String::new())
            }
        };
        let mut map: HashMap<String, String> = [
            (labels::MLC, login.clone()),
            (labels::NAME, self.name.to_string()),
            (labels::USER, login.clone()),
            (labels::ARCH, o.arch.clone().unwrap_or_else(|| "-".into())),
            (labels::MLC_VERSION, labels::MLC_CONTAINER_VERSION.into()),
            (labels::WORK_MOUNT, mount_label(&o.workspace)),
            (labels::DATA_MOUNT, mount_label(&o.data)),
            (labels::MODELS_MOUNT, mount_label(&o.models)),
            (labels::FRAMEWORK, framework),
            (ds01_labels::gpu::MLC_GPUS, gpus_label(o)),
            (labels::DS01_MANAGED, "true".into()),
            (labels::CUSTOM_IMAGE, custom_image),
            (labels::MANAGED, "true".into()),
            (labels::DS01_USER, login),
            (labels::DS01_USER_SANITIZED, self.who.username().to_string()),
            (labels::CREATED_AT, self.created_at.to_owned()),
            (labels::USER_SETUP, self.user_setup.as_str().into()),
            (labels::ROLE, labels::ROLE_CONTAINER.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in self.resource_labels.iter().chain(&o.labels) {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &o.owned_labels {
            map.insert(k.clone(), v.clone());
        }
        if let Some(home) = &o.home {
            map.insert(labels::HOME_VOLUME.to_owned(), home.name.clone());
        }
        map
    }

    /// The full create request.
    pub(crate) fn body(&self) -> ContainerCreateBody {
        let o = self.options;
        let mut binds = Vec::new();
        for (dir, kind) in [
            (&o.workspace, "workspace"),
            (&o.data, "data"),
            (&o.models, "models"),
        ] {
            if let Some(dir) = dir {
                let source = match &o.mount_points {
                    Some(points) => points.join(kind),
                    None => dir.clone(),
                };
                binds.push(format!("{}:/{kind}", source.display()));
            }
        }
        let ulimit = |name: &str, limit: i64| ResourcesUlimits {
            name: Some(name.to_owned()),
            soft: Some(limit),
            hard: Some(limit),
        };
        // A named volume, created by the engine with these labels on first use and filled
        // from the image's home directory then; `nocopy` stays off for that reason.
        let volume =
            |name: &str, target: &str, read_only: bool, labels: &[(String, String)]| Mount {
                target: Some(target.to_owned()),
                source: Some(name.to_owned()),
                typ: Some(MountType::VOLUME),
                read_only: read_only.then_some(true),
                volume_options: Some(MountVolumeOptions {
                    no_copy: Some(false),
                    labels: Some(labels.iter().cloned().collect()),
                    ..Default::default()
                }),
                ..Default::default()
            };
        let mounts: Vec<Mount> = o
            .home
            .iter()
            .map(|home| volume(&home.name, &home.target, false, &home.labels))
            .chain(
                o.volumes
                    .iter()
                    .map(|v| volume(&v.name, &v.target, v.read_only, &v.labels)),
            )
            .collect();
        let mounts = (!mounts.is_empty()).then_some(mounts);
        let host_config = HostConfig {
            binds: (!binds.is_empty()).then_some(binds),
            mounts,
            // MLC's ulimits: unlimited locked memory (GPU pinned buffers), 64 MiB stacks.
            ulimits: Some(vec![
                ulimit("memlock", o.memlock.map_or(-1, |m| m.bytes() as i64)),
                ulimit("stack", 67_108_864),
            ]),
            device_requests: crate::gpu::device_request(&o.gpu_request()).map(|r| vec![r]),
            shm_size: o.shm_size.map(|s| s.bytes() as i64),
            cgroup_parent: o.cgroup_parent.clone(),
            memory: o.memory.map(|m| m.bytes() as i64),
            memory_swap: o.memory.map(|m| m.bytes() as i64),
            nano_cpus: o.cpus.map(|c| (c * 1e9) as i64),
            pids_limit: o.pids_limit,
            storage_opt: o
                .layer_quota
                .map(|q| HashMap::from([("size".to_owned(), q.bytes().to_string())])),
            privileged: Some(o.privileged),
            network_mode: if o.host_network {
                Some("host".to_owned())
            } else {
                o.network.clone()
            },
            // The container runs as the user; without these, a setuid binary in the image
            // (sudo) would hand out root inside, and root could plant setuid files in the
            // mounted workspace.
            security_opt: (!o.allow_privilege_gain)
                .then(|| vec!["no-new-privileges:true".to_owned()]),
            cap_drop: (!o.allow_privilege_gain).then(|| vec!["ALL".to_owned()]),
            ..Default::default()
        };
        let process = o.process.clone().unwrap_or_default();
        // The client's variables first: ds01's GPU variable must win over a client's.
        let mut env = process.env.clone();
        if let Some(uuids) = &o.visible_gpus {
            let visible = if uuids.is_empty() {
                "void".to_owned()
            } else {
                uuids.join(",")
            };
            env.retain(|v| !v.starts_with("NVIDIA_VISIBLE_DEVICES="));
            env.push(format!("NVIDIA_VISIBLE_DEVICES={visible}"));
        }
        let env = (!env.is_empty()).then_some(env);
        // On the owner's private network the container answers to the name its owner gave
        // it, besides its Docker name: the network is theirs alone, so names cannot clash.
        let networking_config = o
            .network
            .as_ref()
            .filter(|_| !o.host_network)
            .map(|network| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.clone(),
                    EndpointSettings {
                        aliases: Some(
                            std::iter::once(self.name.to_string())
                                .chain(process.aliases.iter().cloned())
                                .collect(),
                        ),
                        ..Default::default()
                    },
                )])),
            });
        ContainerCreateBody {
            image: Some(self.image.to_owned()),
            networking_config,
            env,
            user: Some(format!("{}:{}", self.who.uid(), self.who.gid())),
            working_dir: match &o.process {
                None => Some("/workspace".to_owned()),
                Some(p) => p.workdir.clone(),
            },
            cmd: match &o.process {
                None => Some(vec!["bash".to_owned()]),
                Some(p) => p.cmd.clone(),
            },
            entrypoint: process.entrypoint.clone(),
            hostname: process.hostname.clone(),
            tty: Some(o.process.as_ref().is_none_or(|p| p.tty)),
            open_stdin: Some(o.process.as_ref().is_none_or(|p| p.stdin)),
            stdin_once: o.process.as_ref().map(|p| p.stdin_once),
            attach_stdin: o.process.as_ref().map(|p| p.stdin),
            attach_stdout: o.process.as_ref().map(|_| true),
            attach_stderr: o.process.as_ref().map(|_| true),
            labels: Some(self.labels()),
            host_config: Some(host_config),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ds01_api::GpuRequest;

    fn snapshot(name: &str, options: ContainerOptions, provenance: Provenance) {
        let who = Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap();
        let container = ContainerName::new("thesis").unwrap();
        let spec = ContainerSpec {
            who: &who,
            name: &container,
            image: "ds01-1722830498/thesis:latest",
            provenance: &provenance,
            options: &options,
            user_setup: UserSetup::Baked,
            resource_labels: &[],
            created_at: "2026-11-27T12:00:00Z",
        };
        insta::with_settings!({ sort_maps => true }, {
            insta::assert_json_snapshot!(name, spec.body());
        });
    }

    #[test]
    fn mount_points_are_bound_and_the_chosen_directories_labelled() {
        let who = Identity::new("h.baker@hertie-school.lan", 1722830498, 1722800513).unwrap();
        let container = ContainerName::new("thesis").unwrap();
        let options = ContainerOptions {
            workspace: Some("/home/h.baker/workspace/thesis".into()),
            models: Some("/models/h.baker".into()),
            mount_points: Some("/var/lib/ds01/mounts/thesis._.1722830498".into()),
            ..Default::default()
        };
        let provenance = Provenance::Custom("x".into());
        let spec = ContainerSpec {
            who: &who,
            name: &container,
            image: "x",
            provenance: &provenance,
            options: &options,
            user_setup: UserSetup::Baked,
            resource_labels: &[],
            created_at: "",
        };
        assert_eq!(
            spec.body().host_config.unwrap().binds.unwrap(),
            [
                "/var/lib/ds01/mounts/thesis._.1722830498/workspace:/workspace",
                "/var/lib/ds01/mounts/thesis._.1722830498/models:/models",
            ]
        );
        let labels = spec.labels();
        assert_eq!(labels[labels::WORK_MOUNT], "/home/h.baker/workspace/thesis");
        assert_eq!(labels[labels::DATA_MOUNT], "-");
        assert_eq!(labels[labels::MODELS_MOUNT], "/models/h.baker");
    }

    /// What this machine cannot run: GPU device requests, cgroup parents, limits.
    #[test]
    fn request_shape_with_gpus_and_limits() {
        let options = ContainerOptions {
            workspace: Some("/home/h.baker/workspace".into()),
            data: Some("/data/h.baker".into()),
            gpus: Some(GpuRequest::Devices(vec!["MIG-1a2b".into(), "1".into()])),
            shm_size: Some("16g".parse().unwrap()),
            cgroup_parent: Some("ds01-student-h_baker.slice".into()),
            memory: Some("32g".parse().unwrap()),
            cpus: Some(16.0),
            pids_limit: Some(4096),
            layer_quota: Some("20g".parse().unwrap()),
            labels: vec![("ds01.gpu.allocated".into(), "1.1".into())],
            arch: Some("CUDA_AMPERE".into()),
            network: Some(crate::options::UserNetwork::name_for(1722830498)),
            ..Default::default()
        };
        let provenance = Provenance::Catalog {
            framework: "Pytorch".into(),
            version: "2.5.1".into(),
        };
        snapshot("gpus_and_limits", options, provenance);
    }

    #[test]
    fn request_shape_gpu_count_and_all() {
        let options = ContainerOptions {
            gpus: Some(GpuRequest::Count(2)),
            ..Default::default()
        };
        snapshot(
            "gpu_count",
            options,
            Provenance::Custom("ds01-1722830498/thesis:latest".into()),
        );
        let options = ContainerOptions {
            gpus: Some(GpuRequest::All),
            privileged: true,
            ..Default::default()
        };
        snapshot(
            "gpu_all_privileged",
            options,
            Provenance::Custom("x".into()),
        );
    }

    /// A file inventory: the engine may have no NVIDIA runtime, so no device request; the
    /// chosen UUIDs travel in the environment and the labels.
    #[test]
    fn request_shape_file_inventory() {
        let options = ContainerOptions {
            visible_gpus: Some(vec!["MIG-1c2d".into()]),
            owned_labels: vec![
                ("ds01.gpu.uuids".into(), "MIG-1c2d".into()),
                ("ds01.gpu.slots".into(), "1.0".into()),
            ],
            ..Default::default()
        };
        snapshot("file_inventory", options, Provenance::Custom("x".into()));
    }

    /// NVML: a device request by UUID, and the same labels.
    #[test]
    fn request_shape_nvml() {
        let options = ContainerOptions {
            gpus: Some(GpuRequest::Devices(vec!["GPU-0a1b".into()])),
            owned_labels: vec![
                ("ds01.gpu.uuids".into(), "GPU-0a1b".into()),
                ("ds01.gpu.slots".into(), "0".into()),
            ],
            ..Default::default()
        };
        snapshot("nvml", options, Provenance::Custom("x".into()));
    }

    #[test]
    fn no_gpu_hides_what_an_image_would_show() {
        let who = Identity::new("alice", 1000, 1000).unwrap();
        let name = ContainerName::new("x").unwrap();
        let options = ContainerOptions {
            visible_gpus: Some(vec![]),
            ..Default::default()
        };
        let provenance = Provenance::Custom("x".into());
        let spec = ContainerSpec {
            who: &who,
            name: &name,
            image: "x",
            provenance: &provenance,
            options: &options,
            user_setup: UserSetup::Baked,
            resource_labels: &[],
            created_at: "",
        };
        assert_eq!(spec.body().env.unwrap(), ["NVIDIA_VISIBLE_DEVICES=void"]);
        assert_eq!(spec.labels()["aime.mlc.GPUS"], "none");
    }

    /// The home volume: a named volume with its labels, filled from the image (no
    /// `NoCopy`), and named in the container's labels.
    #[test]
    fn home_volume_is_a_labelled_named_volume() {
        let who = Identity::new("alice", 1000, 1000).unwrap();
        let name = ContainerName::new("x").unwrap();
        let options = ContainerOptions {
            home: Some(crate::options::HomeVolume {
                name: "ds01-home-x._.1000".into(),
                target: "/home/alice".into(),
                labels: vec![("ds01.test".into(), "t".into())],
            }),
            ..Default::default()
        };
        let provenance = Provenance::Custom("x".into());
        let spec = ContainerSpec {
            who: &who,
            name: &name,
            image: "x",
            provenance: &provenance,
            options: &options,
            user_setup: UserSetup::Baked,
            resource_labels: &[],
            created_at: "",
        };
        let body = serde_json::to_value(spec.body()).unwrap();
        let mount = &body["HostConfig"]["Mounts"][0];
        assert_eq!(mount["Type"], "volume");
        assert_eq!(mount["Source"], "ds01-home-x._.1000");
        assert_eq!(mount["Target"], "/home/alice");
        assert_eq!(mount["VolumeOptions"]["NoCopy"], false);
        assert_eq!(mount["VolumeOptions"]["Labels"]["ds01.test"], "t");
        assert_eq!(spec.labels()["ds01.home_volume"], "ds01-home-x._.1000");
    }

    /// The owner's network, joined under the container's own name; the host's network,
    /// where the policy says so, instead of it.
    #[test]
    fn private_network_or_host_network() {
        let who = Identity::new("alice", 1000, 1000).unwrap();
        let name = ContainerName::new("db").unwrap();
        let provenance = Provenance::Custom("x".into());
        let mut options = ContainerOptions {
            network: Some("ds01-net-1000".into()),
            ..Default::default()
        };
        let body = |options: &ContainerOptions| {
            let spec = ContainerSpec {
                who: &who,
                name: &name,
                image: "x",
                provenance: &provenance,
                options,
                user_setup: UserSetup::Baked,
                resource_labels: &[],
                created_at: "",
            };
            serde_json::to_value(spec.body()).unwrap()
        };
        let private = body(&options);
        assert_eq!(private["HostConfig"]["NetworkMode"], "ds01-net-1000");
        assert_eq!(
            private["NetworkingConfig"]["EndpointsConfig"]["ds01-net-1000"]["Aliases"],
            serde_json::json!(["db"])
        );
        options.host_network = true;
        let host = body(&options);
        assert_eq!(host["HostConfig"]["NetworkMode"], "host");
        assert!(host.get("NetworkingConfig").is_none());
        let default = body(&ContainerOptions::default());
        assert!(default["HostConfig"].get("NetworkMode").is_none());
    }

    #[test]
    fn cpu_only_has_no_device_request_and_is_not_privileged() {
        let who = Identity::new("alice", 1000, 1000).unwrap();
        let name = ContainerName::new("x").unwrap();
        let options = ContainerOptions::default();
        let provenance = Provenance::Custom("x".into());
        let spec = ContainerSpec {
            who: &who,
            name: &name,
            image: "x",
            provenance: &provenance,
            options: &options,
            user_setup: UserSetup::Committed,
            resource_labels: &[],
            created_at: "",
        };
        let host = spec.body().host_config.unwrap();
        assert_eq!(host.device_requests, None);
        assert_eq!(host.storage_opt, None, "no quota unless the driver has one");
        assert_eq!(host.privileged, Some(false));
        assert_eq!(spec.labels()["aime.mlc.GPUS"], "none");
    }
}
