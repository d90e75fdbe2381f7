//! Everyday operations on a user's containers. Ownership is decided by DS01's labels and
//! name: a user can only act on containers labelled with their login.

use crate::client::Engine;
use crate::error::{is_not_found, Context, EngineError, Result};
use crate::guard;
use crate::identity::Identity;
use crate::labels;
use crate::names::ContainerName;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerConfig, ContainerInspectResponse};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, StatsOptionsBuilder, StopContainerOptionsBuilder,
};
use ds01_dockerfile::{ImageRef, Tag};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Whose containers to list.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One user's (by the `aime.mlc.USER` label).
    User(&'a Identity),
    /// Every MLC/DS01 container on the host.
    AllUsers,
}

/// One container as `ds01 container list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerInfo {
    /// The display name (`thesis`).
    pub name: String,
    /// The Docker name (`thesis._.1000`).
    pub docker_name: String,
    /// The container ID.
    pub id: String,
    /// The image reference it was created from.
    pub image: String,
    /// `created`, `running`, `exited`, ...
    pub state: String,
    /// Docker's human status (`Up 3 minutes`).
    pub status: String,
    /// The owner's login (`aime.mlc.USER`).
    pub user: String,
    /// `aime.mlc.FRAMEWORK`.
    pub framework: String,
    /// `aime.mlc.GPUS`.
    pub gpus: String,
    /// `aime.mlc.WORK_MOUNT`.
    pub workspace: String,
}

/// What a command run in a container printed and returned.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExecOutput {
    /// Exit status.
    pub status: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// A running container's resource use, from one stats sample.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContainerStats {
    /// The display name.
    pub name: String,
    /// CPU use in percent of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// Memory limit, bytes.
    pub memory_limit_bytes: u64,
    /// Number of processes.
    pub pids: u64,
}

impl Engine {
    /// Lists containers, filtered by label on the engine's side.
    pub async fn list_containers(&self, scope: Scope<'_>) -> Result<Vec<ContainerInfo>> {
        let label = match scope {
            Scope::User(who) => format!("{}={}", labels::USER, who.login()),
            Scope::AllUsers => labels::MLC.to_owned(),
        };
        let filters = HashMap::from([("label".to_owned(), vec![label])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .context(|| "listing containers".into())?;
        let mut list: Vec<ContainerInfo> = found
            .into_iter()
            .map(|c| {
                let docker_name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_owned();
                let get = |key| labels::get(&c.labels, key).unwrap_or("").to_owned();
                ContainerInfo {
                    name: ContainerName::from_docker_name(&docker_name)
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| get(labels::NAME)),
                    id: c.id.unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    status: c.status.unwrap_or_default(),
                    user: get(labels::USER),
                    framework: get(labels::FRAMEWORK),
                    gpus: get(labels::GPUS),
                    workspace: get(labels::WORK_MOUNT),
                    docker_name,
                }
            })
            .collect();
        list.sort_by(|a, b| (&a.user, &a.name).cmp(&(&b.user, &b.name)));
        Ok(list)
    }

    /// Inspects `who`'s container `name`, refusing containers of other users.
    pub async fn owned_container(
        &self,
        who: &Identity,
        name: &ContainerName,
    ) -> Result<ContainerInspectResponse> {
        let docker_name = name.docker_name(who.uid());
        let found = match self.docker().inspect_container(&docker_name, None).await {
            Ok(found) => found,
            Err(e) if is_not_found(&e) => {
                return Err(EngineError::ContainerNotFound { name: docker_name })
            }
            Err(e) => return Err(e).context(|| format!("inspecting {docker_name}")),
        };
        let container_labels = found.config.as_ref().and_then(|c| c.labels.clone());
        match labels::get(&container_labels, labels::USER) {
            Some(owner) if owner == who.login() => Ok(found),
            Some(owner) => Err(EngineError::NotYours {
                name: docker_name,
                owner: owner.to_owned(),
            }),
            None => Err(EngineError::ContainerNotFound { name: docker_name }),
        }
    }

    /// Starts the container (a no-op when it runs already).
    pub async fn start_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        if is_running(&found) {
            return Ok(());
        }
        let id = found.id.unwrap_or_default();
        self.docker()
            .start_container(&id, None)
            .await
            .context(|| format!("starting {}", name.docker_name(who.uid())))
    }

    /// Stops the container, giving its processes 10 s before they are killed.
    pub async fn stop_container(&self, who: &Identity, name: &ContainerName) -> Result<()> {
        let found = self.owned_container(who, name).await?;
        let id = found.id.unwrap_or_default();
        let options = StopContainerOptionsBuilder::default().t(10).build();
        self.docker()
            .stop_container(&id, Some(options))
            .await
            .context(|| format!("stopping {}", name.docker_name(who.uid())))
    }

    /// Removes the container (stopping it first with `force`). Its per-container image (the
    /// commit flow's `<repo>:<name>._.<uid>`) goes too, unless another container uses it;
    /// shared images such as the user's `ds01-<uid>/<name>:latest` are never removed here.
    /// Returns the image tags that were removed.
    pub async fn remove_container(
        &self,
        who: &Identity,
        name: &ContainerName,
        force: bool,
    ) -> Result<Vec<String>> {
        let found = self.owned_container(who, name).await?;
        let docker_name = name.docker_name(who.uid());
        if is_running(&found) && !force {
            return Err(EngineError::InvalidOption(format!(
                "container {docker_name} is running; stop it first (`ds01 container stop {name}`) or pass --force"
            )));
        }
        let id = found.id.clone().unwrap_or_default();
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        self.docker()
            .remove_container(&id, Some(options))
            .await
            .context(|| format!("removing {docker_name}"))?;

        let image_ref = found.config.and_then(|c| c.image).unwrap_or_default();
        let image_id = found.image.unwrap_or_default();
        let per_container = image_ref
            .parse::<ImageRef>()
            .ok()
            .is_some_and(|r| r.tag() == Some(docker_name.as_str()));
        if !per_container || self.image_in_use(&image_id).await? {
            return Ok(vec![]);
        }
        // By tag, without force: the engine only untags when other tags still point at it.
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker()
            .remove_image(&image_ref, Some(options), None)
            .await
        {
            Ok(_) => Ok(vec![image_ref]),
            Err(e) if is_not_found(&e) => Ok(vec![]),
            Err(e) => Err(e).context(|| format!("removing image {image_ref}")),
        }
    }

    /// Whether any container (of any user) was created from the image.
    pub async fn image_in_use(&self, image_id: &str) -> Result<bool> {
        Ok(!self.containers_using(image_id).await?.is_empty())
    }

    /// The Docker names of the containers created from the image.
    pub async fn containers_using(&self, image: &str) -> Result<Vec<String>> {
        let filters = HashMap::from([("ancestor".to_owned(), vec![image.to_owned()])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let found = self
            .docker()
            .list_containers(Some(options))
            .await
            .context(|| format!("listing containers of image {image}"))?;
        Ok(found
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect())
    }

    /// Runs `command` (no shell) in the running container as `who`, or as root with
    /// `as_root`, and collects its output.
    pub async fn exec(
        &self,
        who: &Identity,
        name: &ContainerName,
        command: &[String],
        as_root: bool,
    ) -> Result<ExecOutput> {
        let found = self.owned_container(who, name).await?;
        let docker_name = name.docker_name(who.uid());
        if !is_running(&found) {
            return Err(EngineError::InvalidOption(format!(
                "container {docker_name} is not running; start it with `ds01 container start {name}`"
            )));
        }
        let user = if as_root {
            "0:0".to_owned()
        } else {
            format!("{}:{}", who.uid(), who.gid())
        };
        let exec = self
            .docker()
            .create_exec(
                &docker_name,
                CreateExecOptions {
                    cmd: Some(command.to_vec()),
                    user: Some(user),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .context(|| format!("running a command in {docker_name}"))?;
        let mut out = ExecOutput {
            status: -1,
            stdout: String::new(),
            stderr: String::new(),
        };
        if let StartExecResults::Attached { mut output, .. } = self
            .docker()
            .start_exec(&exec.id, None)
            .await
            .context(|| format!("running a command in {docker_name}"))?
        {
            while let Some(chunk) = output.next().await {
                match chunk.context(|| format!("reading output from {docker_name}"))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        out.stderr.push_str(&String::from_utf8_lossy(&message))
                    }
                    other => out
                        .stdout
                        .push_str(&String::from_utf8_lossy(&other.into_bytes())),
                }
            }
        }
        let inspected = self
            .docker()
            .inspect_exec(&exec.id)
            .await
            .context(|| format!("reading the exit status in {docker_name}"))?;
        out.status = inspected.exit_code.unwrap_or(-1);
        Ok(out)
    }

    /// One stats sample for each of the user's running containers.
    pub async fn stats(&self, who: &Identity) -> Result<Vec<ContainerStats>> {
        let mut all = Vec::new();
        for c in self.list_containers(Scope::User(who)).await? {
            if c.state != "running" {
                continue;
            }
            let options = StatsOptionsBuilder::default()
                .stream(false)
                .one_shot(false)
                .build();
            let Some(s) = self
                .docker()
                .stats(&c.id, Some(options))
                .try_next()
                .await
                .context(|| format!("reading stats of {}", c.docker_name))?
            else {
                continue;
            };
            let cpu_now = s.cpu_stats.as_ref();
            let cpu_before = s.precpu_stats.as_ref();
            let total = |c: Option<&bollard::models::ContainerCpuStats>| {
                c.and_then(|c| c.cpu_usage.as_ref())
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0)
            };
            let system = |c: Option<&bollard::models::ContainerCpuStats>| {
                c.and_then(|c| c.system_cpu_usage).unwrap_or(0)
            };
            let cpus = cpu_now.and_then(|c| c.online_cpus).unwrap_or(1) as f64;
            let cpu_delta = total(cpu_now).saturating_sub(total(cpu_before)) as f64;
            let sys_delta = system(cpu_now).saturating_sub(system(cpu_before)) as f64;
            let cpu_percent = if sys_delta > 0.0 {
                cpu_delta / sys_delta * cpus * 100.0
            } else {
                0.0
            };
            let memory = s.memory_stats.as_ref();
            all.push(ContainerStats {
                name: c.name,
                cpu_percent,
                memory_bytes: memory.and_then(|m| m.usage).unwrap_or(0),
                memory_limit_bytes: memory.and_then(|m| m.limit).unwrap_or(0),
                pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
            });
        }
        Ok(all)
    }

    /// Installs pip packages into the running container as root. With `commit`, the
    /// container is then committed to `<image repository>:<tag>-YYYYmmdd-HHMM` (after the
    /// lastlog truncation and the sparse-file guard); the new reference is returned.
    pub async fn install_packages(
        &self,
        who: &Identity,
        name: &ContainerName,
        packages: &[ds01_dockerfile::PipRequirement],
        commit: bool,
    ) -> Result<Option<String>> {
        let mut command: Vec<String> = ["pip", "install", "--no-cache-dir", "--"]
            .map(String::from)
            .to_vec();
        command.extend(packages.iter().map(|p| p.to_string()));
        let out = self.exec(who, name, &command, true).await?;
        if out.status != 0 {
            return Err(EngineError::ExecFailed {
                command: command.join(" "),
                container: name.docker_name(who.uid()),
                status: out.status,
            });
        }
        if !commit {
            return Ok(None);
        }
        let truncate = "for f in /var/log/lastlog /var/log/faillog; do [ -f \"$f\" ] && : > \"$f\"; done; true";
        let cmd = ["sh", "-c", truncate].map(String::from).to_vec();
        self.exec(who, name, &cmd, true).await?;
        self.commit_running(who, name).await.map(Some)
    }

    async fn commit_running(&self, who: &Identity, name: &ContainerName) -> Result<String> {
        let found = self.owned_container(who, name).await?;
        let id = found.id.clone().unwrap_or_default();
        guard::check_changed_files(self.docker(), &id, guard::DEFAULT_FILE_LIMIT).await?;
        let image: ImageRef = found
            .config
            .as_ref()
            .and_then(|c| c.image.as_deref())
            .unwrap_or_default()
            .parse()
            .map_err(|e: ds01_dockerfile::ReferenceError| {
                EngineError::InvalidOption(e.to_string())
            })?;
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]-[hour][minute]"
            ))
            .unwrap_or_default();
        let base_tag = image.tag().unwrap_or("latest");
        let tag = Tag::parse(&format!("{base_tag}-{stamp}"))
            .map_err(|e| EngineError::InvalidOption(e.to_string()))?;
        let target = image.with_tag(&tag);
        // Container-only labels (ownership, GPU allocation) would go stale in an image; the
        // engine merges them in, so they are blanked explicitly.
        let image_labels = self
            .docker()
            .inspect_image(found.image.as_deref().unwrap_or_default())
            .await
            .context(|| format!("inspecting the image of {}", name.docker_name(who.uid())))?
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default();
        let mut commit_labels: HashMap<String, String> = found
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
            .into_keys()
            .filter(|k| !image_labels.contains_key(k))
            .map(|k| (k, String::new()))
            .collect();
        commit_labels.extend(image_labels);
        let options = CommitContainerOptionsBuilder::default()
            .container(&id)
            .repo(target.repository())
            .tag(tag.as_str())
            .comment("ds01: packages installed")
            .pause(true)
            .build();
        let config = ContainerConfig {
            labels: Some(commit_labels),
            ..Default::default()
        };
        self.docker()
            .commit_container(options, config)
            .await
            .context(|| format!("committing to {target}"))?;
        Ok(target.to_string())
    }
}

fn is_running(found: &ContainerInspectResponse) -> bool {
    found
        .state
        .as_ref()
        .and_then(|s| s.running)
        .unwrap_or(false)
}
