//! Container requests: create with the admin's policy applied, list, start, stop, remove,
//! stats. Every container is named `<name>._.<uid>` with the acting user's UID, so no
//! request can reach another user's container.

use std::path::PathBuf;

use ds01_api::{
    ApiError, ContainerCreate, ContainerInfo, ContainerName, ContainerStats, CreatedContainer,
    ErrorCode, Reason,
};
use ds01_api::{GpuRequest, LimitsReport};
use ds01_dockerfile::{ImageName, ImageRef};
use ds01_engine::{labels::parse_extra_label, ContainerOptions, CreateRequest, Provenance, Scope};
use ds01_labels::gpu;
use ds01_policy::{AllocRequest, Allocation, Effective, GpuAsk, Network, ResourceRequest};

use crate::authz::IfMissing;
use crate::caller::{Acting, Caller};
use crate::errors::{from_engine, from_limit as limit};
use crate::gpus::{self, Binding};
use crate::mounts;
use crate::stream::Reporter;
use crate::user_lock::Section;
use crate::Daemon;

impl Daemon {
    /// `POST /v1/containers`; the outcome is an event either way.
    pub async fn create_container(
        &self,
        acting: &Acting,
        request: ContainerCreate,
        reporter: Reporter,
    ) -> Result<CreatedContainer, ApiError> {
        self.create_within(acting, request, reporter, None).await
    }

    /// A create; `section` is the caller's, when it already counts inside the user's
    /// critical section (recreate, which must not lose the slot it just freed).
    pub(crate) async fn create_within(
        &self,
        acting: &Acting,
        request: ContainerCreate,
        reporter: Reporter,
        section: Option<Section>,
    ) -> Result<CreatedContainer, ApiError> {
        let who = &acting.who;
        let key = request.name.docker_name(who.uid());
        let outcome = self
            .create_unrecorded(acting, request, reporter, section)
            .await;
        match &outcome {
            Ok(created) => {
                self.event(
                    acting,
                    &key,
                    "create",
                    format!(
                        "created from {} ({})",
                        created.image,
                        created.user_setup.as_str()
                    ),
                );
                if !created.gpus.is_empty() {
                    self.event(
                        acting,
                        &key,
                        "gpu_bound",
                        format!("bound GPU(s) {}", created.gpus.join(", ")),
                    );
                }
                if created.started {
                    self.event(acting, &key, "start", "started by its owner".into());
                }
            }
            Err(e)
                if matches!(
                    e.code,
                    ErrorCode::Limit | ErrorCode::Forbidden | ErrorCode::Busy
                ) =>
            {
                self.event(
                    acting,
                    &key,
                    "refused",
                    format!("create refused: {}", e.message),
                );
            }
            Err(_) => {}
        }
        outcome
    }

    /// Records an event about the acting user's container `key`.
    pub(crate) fn event(&self, acting: &Acting, key: &str, kind: &str, detail: String) {
        self.events
            .record(acting.who.uid(), acting.who.login(), key, kind, detail);
    }

    /// The count of containers and of GPUs and the engine container they allow happen inside
    /// the user's section, so parallel requests cannot all pass one count. The container
    /// exists before the section is left (it counts from then on, by its name), and with
    /// `--start` it runs, so its devices count by its labels. Only a `--wait` request queues
    /// for devices outside the section (a queued request must not stop its owner's other
    /// requests); its grant is counted again inside.
    async fn create_unrecorded(
        &self,
        acting: &Acting,
        request: ContainerCreate,
        reporter: Reporter,
        section: Option<Section>,
    ) -> Result<CreatedContainer, ApiError> {
        let who = &acting.who;
        let key = request.name.docker_name(who.uid());
        let effective = self.effective(acting);
        let section = match section {
            None if !request.wait => Some(self.user_locks.enter(who.uid()).await),
            given_or_waiting => given_or_waiting,
        };
        // Outside the section (a `--wait` request) this count only spares a request over
        // its cap the queue; it is taken again inside.
        self.check_container_count(acting, &effective).await?;
        let (image, provenance, pull, arch) = self.choose_image(acting, &request).await?;
        let ask = gpus::ask(request.gpus.as_ref(), self.gpus.devices())?;
        if ask != GpuAsk::None && self.gpus.devices().is_empty() {
            return Err(ApiError::invalid(
                "this server has no GPUs that ds01d knows of; a container here gets none",
            )
            .because(Reason::NoGpus));
        }
        let cap = effective.max_gpus.value.value().unwrap_or(f64::INFINITY);
        let name_cap = |mut e: ApiError| {
            if e.code == ErrorCode::Limit {
                e.message = format!("{}: {}", e.message, effective.max_gpus);
            }
            e
        };
        let reservation = match ask {
            GpuAsk::None => None,
            ask => Some(
                self.gpus
                    .reserve(
                        &self.engine,
                        &key,
                        AllocRequest {
                            uid: who.uid(),
                            ask,
                            max_gpus: cap,
                            allow_device_pick: effective.allow_device_pick.value,
                        },
                        request.wait.then_some(&reporter),
                    )
                    .await
                    .map_err(name_cap)?,
            ),
        };
        let _section = match section {
            Some(s) => s,
            None => {
                let s = self.user_locks.enter(who.uid()).await;
                self.check_container_count(acting, &effective).await?;
                if let Some(r) = &reservation {
                    self.gpus
                        .recheck(&self.engine, &key, who.uid(), &r.allocation, cap)
                        .await
                        .map_err(name_cap)?;
                }
                s
            }
        };
        let allocation = reservation
            .as_ref()
            .map(|r| r.allocation.clone())
            .unwrap_or_default();
        let (options, made) = self
            .container_options(acting, &effective, &request, arch, &allocation, true)
            .await?;
        // From here a failure takes back the workspace directory this create made; once the
        // container exists (even if it then fails to start) the directory is its own.
        let undo = |made: Option<crate::workspace::Made>| {
            if let Some(made) = made {
                made.undo();
            }
        };
        let create = CreateRequest {
            name: request.name.clone(),
            image,
            provenance,
            pull_if_missing: pull,
            options,
            resource_labels: self.resource_labels(),
        };
        let gone = reporter.gone();
        let mut progress = move |p| reporter.report(p);
        let points = create.options.mount_points.clone();
        if let Err(e) = self.check_commit_storage(acting, &create).await {
            undo(made);
            if let Some(points) = &points {
                crate::binds::forget(points);
            }
            return Err(e);
        }
        let mut created = match self
            .engine
            .create_container(who, &create, &mut progress, gone)
            .await
        {
            Ok(created) => created,
            Err(e) => {
                undo(made);
                // The points of a container that was not made go with it; those of one
                // that exists under the name already are its own.
                if let (Some(points), false) = (
                    points,
                    matches!(e, ds01_engine::EngineError::ContainerExists { .. }),
                ) {
                    crate::binds::forget(&points);
                }
                return Err(from_engine(e));
            }
        };
        if request.start {
            let bound = self.bind_for_start(who, &request.name, false).await?;
            self.engine
                .start_container(who, &request.name)
                .await
                .map_err(from_engine)?;
            drop(bound);
            created.started = true;
        }
        created.gpus = allocation.uuids().iter().map(|u| u.to_string()).collect();
        // A running container now holds its devices by its labels; a stopped one holds none.
        drop(reservation);
        Ok(created)
    }

    /// Refuses a new container over the user's `max_containers`. The count is of the
    /// engine's containers by name, so it survives a ds01d restart and includes a
    /// container a killed ds01d left halfway.
    async fn check_container_count(
        &self,
        acting: &Acting,
        effective: &Effective,
    ) -> Result<(), ApiError> {
        let mine = self
            .engine
            .list_containers(Scope::User(&acting.who))
            .await
            .map_err(from_engine)?;
        effective
            .check_new_container(mine.len() as u32)
            .map_err(limit)
    }

    /// The policy that applies to the acting user.
    pub(crate) fn effective(&self, acting: &Acting) -> Effective {
        self.config
            .policy
            .effective(acting.who.login(), &acting.groups)
    }

    /// `GET /v1/limits`.
    pub async fn limits(&self, acting: &Acting) -> Result<LimitsReport, ApiError> {
        let effective = self.effective(acting);
        let containers = self
            .engine
            .list_containers(Scope::User(&acting.who))
            .await
            .map_err(from_engine)?;
        let held = self.gpus.held(&self.engine, "").await?;
        Ok(LimitsReport {
            login: acting.who.login().to_owned(),
            effective: serde_json::to_value(&effective).unwrap_or_default(),
            containers: containers.len() as u32,
            gpus: self.gpus.usage(&held, acting.who.uid()),
            image_storage: self.image_storage_used(acting).await?,
        })
    }

    pub(crate) async fn choose_image(
        &self,
        acting: &Acting,
        request: &ContainerCreate,
    ) -> Result<(ImageRef, Provenance, bool, Option<String>), ApiError> {
        let uid = acting.who.uid();
        // The engine gets the tag that was checked, never the text that named it.
        if let Some(image) = &request.image {
            let allowed = self
                .authz()
                .image(uid, image, IfMissing::Refuse)
                .await?
                .reference;
            return Ok((
                allowed.tagged_or_latest(),
                Provenance::Custom(allowed.to_string()),
                false,
                request.arch.clone(),
            ));
        }
        if let Some(framework) = &request.framework {
            let (entry, arch) = self.catalog_entry(
                request.catalog.as_deref(),
                framework,
                request.framework_version.as_deref(),
                request.arch.as_deref(),
            )?;
            let image = self
                .authz()
                .image(uid, &entry.image, IfMissing::Pull)
                .await?
                .reference;
            return Ok((
                image,
                Provenance::Catalog {
                    framework: entry.framework,
                    version: entry.version,
                },
                true,
                Some(arch),
            ));
        }
        let own = ImageName::parse(request.name.as_str())
            .ok()
            .map(|n| n.image_ref(uid))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "no image given, and `{}` cannot name an image of yours",
                    request.name
                ))
                .because(Reason::NoImageGiven)
            })?;
        match self
            .engine
            .image_info(&own.to_string())
            .await
            .map_err(from_engine)?
        {
            Some(_) => Ok((
                own.clone(),
                Provenance::Custom(own.to_string()),
                false,
                request.arch.clone(),
            )),
            None => Err(ApiError::new(
                ErrorCode::NotFound,
                format!("no image given, and image {own} not found"),
            )
            .subject(request.name.as_str())
            .because(Reason::NoImageGiven)),
        }
    }

    /// The options the container gets: the user's requests where the policy allows them,
    /// the server's settings for everything that decides what a container may do. Only
    /// with `make` is a missing default workspace created, after every check here, and
    /// returned as made, for the caller to undo if the create fails later.
    pub(crate) async fn container_options(
        &self,
        acting: &Acting,
        effective: &Effective,
        request: &ContainerCreate,
        arch: Option<String>,
        allocation: &Allocation,
        make: bool,
    ) -> Result<(ContainerOptions, Option<crate::workspace::Made>), ApiError> {
        let applied = effective
            .check(&ResourceRequest {
                memory: request.memory,
                cpus: request.cpus,
                shm_size: request.shm_size,
                pids_limit: match request.pids_limit {
                    Some(n) if n <= 0 => {
                        return Err(ApiError::invalid(format!(
                            "a pids limit of {n} would let nothing run: it must be positive"
                        ))
                        .because(Reason::NotPositive {
                            field: "pids_limit".into(),
                        }))
                    }
                    Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                    None => None,
                },
            })
            .map_err(limit)?;
        let who = &acting.who;
        let roots = &self.config.file.mount_roots;
        let mount = |what: &str, dir: &Option<PathBuf>| {
            dir.as_ref()
                .map(|d| mounts::check(what, d, who.uid(), roots))
                .transpose()
        };
        let data = mount("data", &request.data)?;
        let models = mount("models", &request.models)?;
        let mut labels = Vec::new();
        for pair in &request.labels {
            labels.push(parse_extra_label(pair).map_err(|e| ApiError::invalid(e.to_string()))?);
        }
        let uuids: Vec<String> = allocation.uuids().iter().map(|u| u.to_string()).collect();
        let (gpus, visible_gpus) = match self.gpus.binding() {
            Binding::DeviceRequest if !uuids.is_empty() => {
                (Some(GpuRequest::Devices(uuids.clone())), Some(uuids))
            }
            _ => (None, Some(uuids)),
        };
        // ds01d's own GPU labels replace any an image brings along (an image could
        // otherwise claim devices for its containers).
        let mut owned_labels: Vec<(String, String)> = [gpu::UUIDS, gpu::SLOTS, gpu::UUID]
            .iter()
            .map(|k| (k.to_string(), String::new()))
            .collect();
        for (k, v) in allocation.labels() {
            owned_labels.retain(|(old, _)| old != k);
            owned_labels.push((k.to_owned(), v));
        }
        owned_labels.push((
            ds01_engine::labels::CREATE_OPTIONS.to_owned(),
            stored_options(request),
        ));
        let arch = allocation
            .devices
            .first()
            .or(self.gpus.devices().first())
            .and_then(|d| d.arch.clone())
            .or(arch);
        let cgroup_parent = self.cgroup_parent(acting, effective, make).await?;
        let host_network = effective.network.value == Network::Host;
        let network = match (host_network, make) {
            (true, _) => None,
            (false, true) => Some(
                self.engine
                    .user_network(who, &self.resource_labels())
                    .await
                    .map_err(from_engine)?,
            ),
            // A dry run names the network without making it.
            (false, false) => Some(ds01_engine::UserNetwork::name_for(who.uid())),
        };
        // Last, when nothing here can refuse any more.
        let (workspace, made) = if request.no_workspace {
            (None, None)
        } else if request.workspace.is_some() {
            (mount("workspace", &request.workspace)?, None)
        } else {
            self.default_workspace(acting, &request.name, make)?
        };
        let mount_points = (workspace.is_some() || data.is_some() || models.is_some())
            .then(|| crate::binds::points(&self.state_dir, &request.name.docker_name(who.uid())));
        if let (Some(points), true) = (&mount_points, make) {
            if let Err(e) = crate::binds::prepare(points) {
                if let Some(made) = made {
                    made.undo();
                }
                return Err(ApiError::new(
                    ErrorCode::Failed,
                    format!("cannot prepare the container's mount points: {e}"),
                ));
            }
        }
        let options = ContainerOptions {
            workspace,
            data,
            models,
            mount_points,
            gpus,
            visible_gpus,
            owned_labels,
            shm_size: applied.shm_size,
            cgroup_parent,
            memory: applied.memory,
            cpus: applied.cpus,
            pids_limit: applied.pids_limit.map(i64::from),
            layer_quota: self.layer_quota(effective),
            labels,
            privileged: false,
            arch,
            memlock: self.config.file.memlock,
            host_network,
            network,
            allow_privilege_gain: effective.sudo.value,
            home: Some(self.home_volume(acting, &request.name)),
        };
        Ok((options, made))
    }

    /// The user's slice with the policy's aggregate caps (systemd driver), else the
    /// configured cgroup parent, if any; the slice's caps are applied only when `make`.
    async fn cgroup_parent(
        &self,
        acting: &Acting,
        effective: &Effective,
        make: bool,
    ) -> Result<Option<String>, ApiError> {
        let login = acting.who.login();
        if self.cgroup_driver != "systemd" {
            return Ok(self
                .config
                .cgroup_parent_for(acting.primary_group.as_deref(), login));
        }
        let Some(slice) = acting
            .primary_group
            .as_deref()
            .and_then(|g| crate::slices::slice_name(g, login))
        else {
            return Ok(None);
        };
        // A dry run names the slice without setting its caps.
        if make {
            crate::slices::apply(&slice, &crate::slices::properties(&effective.aggregate)).await?;
        }
        Ok(Some(slice))
    }

    /// `GET /v1/containers`: the acting user's, or everybody's for an admin.
    pub async fn list_containers(
        &self,
        caller: &Caller,
        acting: Option<&Acting>,
        all_users: bool,
    ) -> Result<Vec<ContainerInfo>, ApiError> {
        let scope = match acting {
            Some(a) if !all_users => Scope::User(&a.who),
            _ if caller.admin => Scope::AllUsers,
            _ => {
                return Err(ApiError::forbidden(
                    "only admins may list every user's containers",
                ))
            }
        };
        let mut list = self
            .engine
            .list_containers(scope)
            .await
            .map_err(from_engine)?;
        for c in &mut list {
            c.stops_at = self.watches.stops_at(&c.id);
        }
        Ok(list)
    }

    /// `POST /v1/containers/{name}/keep-alive`: postpones an idle stop, within the policy's
    /// `keep_alive_max`.
    pub async fn keep_alive(
        &self,
        acting: &Acting,
        name: &ContainerName,
        span: &str,
    ) -> Result<String, ApiError> {
        let span: ds01_policy::Span = span
            .parse()
            .map_err(|e: ds01_policy::UnitError| ApiError::invalid(e.to_string()))?;
        let found = self
            .engine
            .owned_container(&acting.who, name)
            .await
            .map_err(from_engine)?;
        let id = found.id.unwrap_or_default();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let until = now + span.secs() as i64;
        let max = self.effective(acting).keep_alive_max;
        self.watches
            .keep_alive(&id, now, until, max.value)
            .map_err(|e| {
                ApiError::new(ErrorCode::Limit, format!("{e} ({max})")).because(Reason::OverLimit {
                    key: max.key.to_owned(),
                })
            })?;
        let detail = format!("kept alive until {}", crate::reaper::clock(until));
        self.event(
            acting,
            &name.docker_name(acting.who.uid()),
            "keep_alive",
            detail.clone(),
        );
        Ok(detail)
    }

    /// Reserves again the devices a container's labels name, for `verb` (`start`,
    /// `restart`): a stopped container holds no GPU, so they are its own again only if no
    /// running container took them, and only within its owner's `max_gpus` with what they
    /// hold now. With `only_stopped`, a running container needs none. The caller is inside
    /// the owner's critical section (`section`) until the container runs.
    pub(crate) async fn rebind_gpus(
        &self,
        acting: &Acting,
        name: &ContainerName,
        verb: &str,
        only_stopped: bool,
        _section: &Section,
    ) -> Result<Option<gpus::Reservation<'_>>, ApiError> {
        let who = &acting.who;
        let key = name.docker_name(who.uid());
        let containers = self
            .engine
            .labelled_containers()
            .await
            .map_err(from_engine)?;
        let Some(found) = containers
            .iter()
            .find(|c| c.docker_name == key && !(only_stopped && c.running))
        else {
            return Ok(None);
        };
        let labels = found.labels.clone().into_iter().collect();
        let wanted = ds01_policy::gpus_from_labels(&labels, self.gpus.devices()).uuids;
        if wanted.is_empty() {
            return Ok(None);
        }
        let effective = self.effective(acting);
        // A live (running or paused) container already holds its devices and is counted
        // in what its owner holds: restarting it adds nothing, so only a stopped one is
        // held to the cap (a cap lowered since does not stop a restart).
        let max_gpus = if found.running {
            f64::INFINITY
        } else {
            effective.max_gpus.value.value().unwrap_or(f64::INFINITY)
        };
        let request = AllocRequest {
            uid: who.uid(),
            ask: GpuAsk::Devices(wanted),
            max_gpus,
            allow_device_pick: true,
        };
        let reserved = self
            .gpus
            .reserve(&self.engine, &key, request, None)
            .await
            .map_err(|e| {
                let (code, why) = if e.code == ErrorCode::Limit {
                    (ErrorCode::Limit, effective.max_gpus.to_string())
                } else {
                    (
                        ErrorCode::Busy,
                        "a stopped container holds no GPU, and its GPU is now used by another container"
                            .to_owned(),
                    )
                };
                let mut refusal =
                    ApiError::new(code, format!("{key} cannot {verb}: {}; {why}", e.message))
                        .subject(name.as_str());
                if code == ErrorCode::Limit {
                    refusal.reason = e.reason;
                }
                refusal
            })?;
        Ok(Some(reserved))
    }

    /// `POST /v1/containers/{name}/start`: the container's devices are bound again, if
    /// no running container holds them now and its owner's cap allows.
    pub async fn start(&self, acting: &Acting, name: &ContainerName) -> Result<(), ApiError> {
        let who = &acting.who;
        let key = name.docker_name(who.uid());
        let section = self.user_locks.enter(who.uid()).await;
        let reservation = self
            .rebind_gpus(acting, name, "start", true, &section)
            .await?;
        let bound = self.bind_for_start(who, name, false).await?;
        self.engine
            .start_container(who, name)
            .await
            .map_err(from_engine)?;
        drop(bound);
        if let Some(r) = &reservation {
            self.event(
                acting,
                &key,
                "gpu_bound",
                format!("bound GPU(s) {}", r.allocation.uuids().join(", ")),
            );
        }
        drop(reservation);
        drop(section);
        self.event(acting, &key, "start", "started by its owner".into());
        Ok(())
    }

    /// Whether the acting user's container runs (or is paused).
    pub(crate) async fn is_running(
        &self,
        acting: &Acting,
        name: &ContainerName,
    ) -> Result<bool, ApiError> {
        let found = self
            .engine
            .owned_container(&acting.who, name)
            .await
            .map_err(from_engine)?;
        Ok(found
            .state
            .as_ref()
            .and_then(|s| s.running)
            .unwrap_or(false))
    }

    /// `POST /v1/containers/{name}/stop`.
    pub async fn stop(
        &self,
        acting: &Acting,
        name: &ContainerName,
        grace_secs: u32,
    ) -> Result<(), ApiError> {
        self.engine
            .stop_container_within(&acting.who, name, grace_secs)
            .await
            .map_err(from_engine)?;
        self.gpus.released();
        self.event(
            acting,
            &name.docker_name(acting.who.uid()),
            "stop",
            "stopped by its owner".into(),
        );
        Ok(())
    }

    /// `GET /v1/stats`.
    pub async fn stats(&self, acting: &Acting) -> Result<Vec<ContainerStats>, ApiError> {
        self.engine.stats(&acting.who).await.map_err(from_engine)
    }

    /// `POST /v1/containers/{name}/install`: pip packages installed by the service as root
    /// in the user's running container, so users need no sudo for them.
    pub async fn install(
        &self,
        acting: &Acting,
        name: &ContainerName,
        packages: &[ds01_dockerfile::PipRequirement],
        commit: bool,
    ) -> Result<Option<String>, ApiError> {
        if commit {
            self.check_image_storage(acting).await?;
        }
        self.engine
            .install_packages(&acting.who, name, packages, commit)
            .await
            .map_err(from_engine)
    }
}

/// The create request as `recreate` needs it again: without the catalog text (a recreate
/// uses the server's catalog) and without `start` (it follows the old container's state).
fn stored_options(request: &ContainerCreate) -> String {
    let mut kept = request.clone();
    kept.catalog = None;
    kept.start = false;
    serde_json::to_string(&kept).unwrap_or_default()
}
