//! Container requests: create with the admin's policy applied, list, start, stop, remove,
//! stats. Every container is named `<name>._.<uid>` with the acting user's UID, so no
//! request can reach another user's container.

use std::path::PathBuf;

use ds01_api::{
    ApiError, ContainerCreate, ContainerInfo, ContainerName, ContainerStats, CreatedContainer,
    ErrorCode, Removed,
};
use ds01_dockerfile::{ImageName, ImageRef};
use ds01_engine::{labels::parse_extra_label, ContainerOptions, CreateRequest, Provenance, Scope};

use crate::caller::{Acting, Caller};
use crate::config::Network;
use crate::errors::from_engine;
use crate::images::check_image_owner;
use crate::mounts;
use crate::stream::Reporter;
use crate::Daemon;

impl Daemon {
    /// `POST /v1/containers`.
    pub async fn create_container(
        &self,
        acting: &Acting,
        request: ContainerCreate,
        reporter: Reporter,
    ) -> Result<CreatedContainer, ApiError> {
        let who = &acting.who;
        let (image, provenance, pull, arch) = self.choose_image(acting, &request).await?;
        let options = self.container_options(acting, &request, arch)?;
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
        let mut created = self
            .engine
            .create_container(who, &create, &mut progress, gone)
            .await
            .map_err(from_engine)?;
        if request.start {
            self.engine
                .start_container(who, &request.name)
                .await
                .map_err(from_engine)?;
            created.started = true;
        }
        Ok(created)
    }

    async fn choose_image(
        &self,
        acting: &Acting,
        request: &ContainerCreate,
    ) -> Result<(ImageRef, Provenance, bool, Option<String>), ApiError> {
        let uid = acting.who.uid();
        if let Some(image) = &request.image {
            check_image_owner(image, uid)?;
            let tagged = if image.tag().is_none() && image.digest().is_none() {
                image.tagged_or_latest()
            } else {
                image.clone()
            };
            return Ok((
                tagged,
                Provenance::Custom(image.to_string()),
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
            return Ok((
                entry.image,
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
            .subject(request.name.as_str())),
        }
    }

    /// The options the container gets: the user's requests where the policy allows them,
    /// the server's settings for everything that decides what a container may do.
    fn container_options(
        &self,
        acting: &Acting,
        request: &ContainerCreate,
        arch: Option<String>,
    ) -> Result<ContainerOptions, ApiError> {
        let who = &acting.who;
        let roots = &self.config.file.mount_roots;
        let mount = |what: &str, dir: &Option<PathBuf>| {
            dir.as_ref()
                .map(|d| mounts::check(what, d, who.uid(), roots))
                .transpose()
        };
        let mut workspace = mount("workspace", &request.workspace)?;
        if workspace.is_none() {
            workspace = self.default_workspace(acting);
        }
        let mut labels = Vec::new();
        for pair in &request.labels {
            labels.push(parse_extra_label(pair).map_err(|e| ApiError::invalid(e.to_string()))?);
        }
        let login = who.login();
        Ok(ContainerOptions {
            workspace,
            data: mount("data", &request.data)?,
            models: mount("models", &request.models)?,
            gpus: request.gpus.clone(),
            shm_size: request.shm_size,
            cgroup_parent: self
                .config
                .cgroup_parent_for(acting.primary_group.as_deref(), login),
            memory: request.memory,
            cpus: request.cpus,
            pids_limit: request.pids_limit,
            labels,
            privileged: false,
            arch,
            memlock: self.config.file.memlock,
            host_network: self.config.network(login, &acting.groups) == Network::Host,
            allow_privilege_gain: self.config.sudo_allowed(login, &acting.groups),
        })
    }

    /// The configured default workspace of the user, when it exists and passes the checks.
    fn default_workspace(&self, acting: &Acting) -> Option<PathBuf> {
        let template = self.config.file.workspace.as_ref()?;
        let home = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(acting.who.uid()))
            .ok()
            .flatten()?
            .dir;
        let dir = match template.strip_prefix("~") {
            Ok(rest) => home.join(rest),
            Err(_) => template.clone(),
        };
        mounts::check(
            "workspace",
            &dir,
            acting.who.uid(),
            &self.config.file.mount_roots,
        )
        .ok()
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
        self.engine
            .list_containers(scope)
            .await
            .map_err(from_engine)
    }

    /// `POST /v1/containers/{name}/start`.
    pub async fn start(&self, acting: &Acting, name: &ContainerName) -> Result<(), ApiError> {
        self.engine
            .start_container(&acting.who, name)
            .await
            .map_err(from_engine)
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
            .map_err(from_engine)
    }

    /// `DELETE /v1/containers/{name}`.
    pub async fn remove(
        &self,
        acting: &Acting,
        name: &ContainerName,
        force: bool,
    ) -> Result<Removed, ApiError> {
        let removed_images = self
            .engine
            .remove_container(&acting.who, name, force)
            .await
            .map_err(from_engine)?;
        Ok(Removed {
            name: name.docker_name(acting.who.uid()),
            removed_images,
        })
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
        self.engine
            .install_packages(&acting.who, name, packages, commit)
            .await
            .map_err(from_engine)
    }
}
