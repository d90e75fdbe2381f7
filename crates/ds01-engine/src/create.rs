//! Creating a user's container: the baked path when the image really carries the account,
//! otherwise setup + guard + commit. Either way, a failure or an interrupt removes whatever
//! the call made, and nothing the call did not make is touched.

use crate::accounts::{check_account, verify_container};
use crate::cleanup::Created;
use crate::client::Engine;
use crate::container_spec::{ContainerSpec, Provenance};
use crate::error::{is_conflict, is_not_found, shown, Context, EngineError, Result};
use crate::interrupt::Interrupt;
use crate::journal::Journal;
use crate::labels;
use crate::options::ContainerOptions;
use crate::progress::{Progress, ProgressSink};
use crate::setup;
use crate::timing::Steps;
use bollard::models::ImageInspect;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use ds01_api::ContainerName;
use ds01_api::OwnedContainer;
use ds01_api::{CreatedContainer, UserSetup};
use ds01_dockerfile::Identity;
use ds01_dockerfile::{labels as image_labels, ImageRef};
use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::future::Future;

/// What to create.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    /// The container's name (the Docker name becomes `<name>._.<uid>`).
    pub name: ContainerName,
    /// The image to start from.
    pub image: ImageRef,
    /// Where the image came from (labels).
    pub provenance: Provenance,
    /// Try `docker pull` when the image is absent (catalog images); custom images must exist.
    pub pull_if_missing: bool,
    /// Mounts, GPUs, limits, extra labels.
    pub options: ContainerOptions,
    /// Labels put on *everything* the call creates, setup containers and committed images
    /// included (tests mark their resources with these).
    pub resource_labels: Vec<(String, String)>,
}

impl Engine {
    /// Creates `who`'s container (not started). `interrupt` is a signal such as
    /// `tokio::signal::ctrl_c()`: once it fires, the flow stops at the next safe point,
    /// everything made so far is removed and [`EngineError::Interrupted`] returned.
    pub async fn create_container(
        &self,
        who: &Identity,
        request: &CreateRequest,
        progress: &mut dyn ProgressSink,
        interrupt: impl Future<Output = ()>,
    ) -> Result<CreatedContainer> {
        request.options.validate()?;
        let docker_name = request.name.owned_by(who.uid());
        let mut journal = Journal::try_acquire(&self.journal_dir(), who.uid(), &docker_name);
        if let Journal::Busy = journal {
            return Err(exists(&docker_name));
        }
        let mut created = Created::new();
        let dead_runs = journal.leftover();
        journal.start(created.operation());
        let interrupt = std::pin::pin!(interrupt);
        let mut interrupt = Interrupt::new(interrupt);
        let dead_runs = journal.held().then_some(dead_runs.as_slice());
        let outcome = self
            .create_steps(
                who,
                request,
                progress,
                &mut created,
                dead_runs,
                &mut interrupt,
            )
            .await;
        created.settle(outcome, &mut journal, self.docker()).await
    }

    async fn create_steps(
        &self,
        who: &Identity,
        request: &CreateRequest,
        progress: &mut dyn ProgressSink,
        created: &mut Created,
        dead_runs: Option<&[String]>,
        interrupt: &mut Interrupt<'_, impl Future<Output = ()>>,
    ) -> Result<CreatedContainer> {
        let docker = self.docker();
        let mut steps = Steps::new("create");
        // No separate "does the name exist" look-up: creating under the final name is the
        // check (409), and it cannot race.
        let docker_name = request.name.owned_by(who.uid());
        let base = self
            .local_image(&request.image, request.pull_if_missing, progress, interrupt)
            .await?;
        steps.done("inspecting the image", progress);
        if let Some(dead_runs) = dead_runs {
            interrupt.check()?;
            self.clear_dead_run(&docker_name, &request.image, dead_runs, progress)
                .await?;
        }

        let mut fallback = None;
        match baked_claim(&base, who) {
            Claim::Matches => {
                progress.report(Progress::Stage(format!(
                    "checking the account baked into {}",
                    request.image
                )));
                // The container runs from a tag of its own: tools that untag "the image a
                // container was created from" (MLC's remove) then take only that tag, never
                // the user's `ds01-<uid>/NAME:latest`.
                let own_ref = setup::commit_target(&request.image, &docker_name)?;
                let own = own_ref.to_string();
                let image_id = base.id.as_deref().unwrap_or_default();
                interrupt.check()?;
                self.tag_for_container(created, image_id, &own_ref).await?;
                steps.done("tagging the image for the container", progress);
                let spec = self.spec(who, request, &own, UserSetup::Baked);
                let id = self.create_final(created, &spec, &docker_name).await?;
                steps.done("creating the container", progress);
                let verdict = match self.verdicts() {
                    Some(cache) if cache.is_verified(image_id, who) => Ok(()),
                    _ => verify_container(docker, &id, who).await?,
                };
                steps.done("checking the account", progress);
                match verdict {
                    Ok(()) => {
                        if let Some(cache) = self.verdicts() {
                            cache.record(image_id, who);
                        }
                        return Ok(CreatedContainer {
                            name: docker_name.into(),
                            id,
                            image: request.image.to_string(),
                            user_setup: UserSetup::Baked,
                            started: false,
                            gpus: Vec::new(),
                            fallback: None,
                        });
                    }
                    Err(reason) => {
                        let remove = RemoveContainerOptionsBuilder::default().force(true).build();
                        docker
                            .remove_container(&id, Some(remove))
                            .await
                            .context(|| format!("removing container {docker_name}"))?;
                        created.container_removed(&id);
                        self.untag(created, &own).await?;
                        let why = format!("the image's labels claim the user, but {reason}");
                        progress.report(Progress::Fallback(why.clone()));
                        fallback = Some(why);
                    }
                }
            }
            Claim::Other(why) => {
                progress.report(Progress::Fallback(why.clone()));
                fallback = Some(why);
            }
            Claim::None => {}
        }

        progress.report(Progress::Stage(format!(
            "setting up user {} in {}",
            who.username(),
            request.image
        )));
        let mut setup_labels: HashMap<String, String> =
            request.resource_labels.iter().cloned().collect();
        let (op_key, op_value) = created.operation_label();
        setup_labels.insert(op_key, op_value);
        setup_labels.insert(labels::MANAGED.into(), "true".into());
        interrupt.check()?;
        let setup = setup::run_setup(
            docker,
            created,
            setup::SetupAccount {
                who,
                // The grant follows the container's own policy: sudo only where it works.
                sudo: request.options.allow_privilege_gain,
            },
            &request.image,
            &docker_name,
            setup_labels.clone(),
            interrupt,
        )
        .await?;
        steps.done("running the setup container", progress);
        // The committed image holds exactly the files the setup container printed: the
        // account is checked now, before the commit, and needs no container of its own.
        if let Some((passwd, group)) = &setup.account_files {
            if let Err(reason) = check_account(passwd, group, who) {
                return Err(EngineError::UserMismatch {
                    image: request.image.to_string(),
                    reason,
                });
            }
        }
        let setup_id = setup.id;
        let target = setup::commit_target(&request.image, &docker_name)?;
        progress.report(Progress::Stage(format!("committing {target}")));
        interrupt.check()?;
        let image = setup::SetupImage {
            setup_id: &setup_id,
            base: &base,
            target: &target,
            who,
            call_labels: &setup_labels,
        };
        let committed = setup::save_setup(self, created, &image, progress).await?;
        steps.done("making the image", progress);
        // Proven from the setup container's own files: a later create from this image
        // (it carries the account's labels) needs no check of its own.
        if let (Some(_), Some(cache)) = (&setup.account_files, self.verdicts()) {
            cache.record(&committed, who);
        }

        let image = target.to_string();
        let spec = self.spec(who, request, &image, UserSetup::Committed);
        interrupt.check()?;
        // The setup container held the final name until now. Renamed out of the way, it is
        // removed while the final container is created; the name's journal keeps other
        // ds01 calls off the name meanwhile.
        let id = if setup::park_setup(docker, &setup_id, &docker_name).await {
            let (removed, id) = tokio::join!(
                setup::remove_setup(docker, &setup_id),
                self.create_final(created, &spec, &docker_name)
            );
            removed?;
            created.container_removed(&setup_id);
            id?
        } else {
            setup::remove_setup(docker, &setup_id).await?;
            created.container_removed(&setup_id);
            self.create_final(created, &spec, &docker_name).await?
        };
        steps.done(
            "removing the setup container and creating the container",
            progress,
        );
        // Only a setup container whose output was cut short is checked the slow way.
        if setup.account_files.is_none() {
            if let Err(reason) = verify_container(docker, &id, who).await? {
                return Err(EngineError::UserMismatch { image, reason });
            }
            steps.done("reading the account files from the container", progress);
        }
        Ok(CreatedContainer {
            name: docker_name.into(),
            id,
            image,
            user_setup: UserSetup::Committed,
            started: false,
            gpus: Vec::new(),
            fallback,
        })
    }

    fn spec<'a>(
        &self,
        who: &'a Identity,
        request: &'a CreateRequest,
        image: &'a str,
        user_setup: UserSetup,
    ) -> ContainerSpec<'a> {
        ContainerSpec {
            who,
            name: &request.name,
            image,
            provenance: &request.provenance,
            options: &request.options,
            user_setup,
            resource_labels: &request.resource_labels,
            created_at: "",
        }
    }

    /// Tags the image `image_id` as `reference`, recording the tag for a rollback unless it
    /// already named that very image.
    async fn tag_for_container(
        &self,
        created: &mut Created,
        image_id: &str,
        reference: &ImageRef,
    ) -> Result<()> {
        let shown = reference.to_string();
        let existing = self.docker().inspect_image(&shown).await.ok();
        if existing.and_then(|i| i.id).as_deref() == Some(image_id) {
            return Ok(());
        }
        let options = TagImageOptionsBuilder::default()
            .repo(reference.repository())
            .tag(reference.tag().unwrap_or("latest"))
            .build();
        self.docker()
            .tag_image(image_id, Some(options))
            .await
            .context(|| format!("tagging {shown}"))?;
        created.tag(&shown);
        Ok(())
    }

    /// Removes a tag this call made (the image stays under its other tags).
    async fn untag(&self, created: &mut Created, reference: &str) -> Result<()> {
        if !created.has_tag(reference) {
            return Ok(());
        }
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker()
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e).context(|| format!("untagging {reference}")),
        }
        created.tag_removed(reference);
        Ok(())
    }

    async fn create_final(
        &self,
        created: &mut Created,
        spec: &ContainerSpec<'_>,
        docker_name: &OwnedContainer,
    ) -> Result<String> {
        let now = now_utc();
        let spec = ContainerSpec {
            created_at: &now,
            ..*spec
        };
        let mut body = spec.body();
        let (op_key, op_value) = created.operation_label();
        body.labels
            .get_or_insert_with(Default::default)
            .insert(op_key, op_value);
        let options = CreateContainerOptionsBuilder::default()
            .name(docker_name)
            .build();
        match self.docker().create_container(Some(options), body).await {
            Ok(r) => {
                created.container(&r.id);
                Ok(r.id)
            }
            Err(e) if is_conflict(&e) => Err(exists(docker_name)),
            Err(e) => Err(e).context(|| format!("creating container {docker_name}")),
        }
    }

    /// Inspects the image, pulling it first when allowed and absent.
    pub(crate) async fn local_image(
        &self,
        image: &ImageRef,
        pull_if_missing: bool,
        progress: &mut dyn ProgressSink,
        interrupt: &mut Interrupt<'_, impl Future<Output = ()>>,
    ) -> Result<ImageInspect> {
        let docker = self.docker();
        let reference = image.to_string();
        match docker.inspect_image(&reference).await {
            Ok(found) => return Ok(found),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e).context(|| format!("inspecting image {image}")),
        }
        if !pull_if_missing {
            return Err(EngineError::ImageNotFound { image: reference });
        }
        progress.report(Progress::Stage(format!("pulling {image}")));
        let pulled = image.tagged_or_latest();
        let options = CreateImageOptionsBuilder::default()
            .from_image(pulled.repository())
            .tag(pulled.tag().or(pulled.digest()).unwrap_or("latest"))
            .build();
        let pull = async {
            docker
                .create_image(Some(options), None, None)
                .try_collect::<Vec<_>>()
                .await
                .map_err(|e| EngineError::PullFailed {
                    image: reference.clone(),
                    message: shown(&e.to_string()),
                })
        };
        interrupt.race(pull).await?;
        docker
            .inspect_image(&pulled.to_string())
            .await
            .context(|| format!("inspecting image {pulled}"))
    }
}

impl Engine {
    /// Removes what a dead run left under this name. Only called with the name's journal
    /// held, when no live ds01 process on this host can own such things. The journal names
    /// the dead run's operation, whose label finds everything it made, even a container
    /// whose creation answer was lost. Without a journal (a reboot wiped it), a setup
    /// container under the name and an unused per-container image are still recognisable.
    async fn clear_dead_run(
        &self,
        docker_name: &OwnedContainer,
        image: &ImageRef,
        dead_runs: &[String],
        progress: &mut dyn ProgressSink,
    ) -> Result<()> {
        let docker = self.docker();
        for operation in dead_runs {
            let (removed, complete) = Created::of_dead_operation(operation)
                .roll_back(docker)
                .await;
            if removed > 0 {
                progress.report(Progress::Stage(format!(
                    "removed {removed} container(s)/image(s) left by an interrupted run"
                )));
            }
            if !complete {
                return Err(EngineError::InvalidOption(format!(
                    "an interrupted earlier run left containers or images under {docker_name} that could not be removed; see `docker ps -a --filter label={}={operation}`",
                    crate::cleanup::OPERATION_LABEL
                )));
            }
        }
        if let Ok(found) = docker.inspect_container(docker_name.as_str(), None).await {
            let container_labels = found.config.as_ref().and_then(|c| c.labels.clone());
            if labels::get(&container_labels, setup::SETUP_ROLE.0) == Some(setup::SETUP_ROLE.1) {
                progress.report(Progress::Stage(format!(
                    "removing setup container {docker_name} left by an interrupted run"
                )));
                let remove = RemoveContainerOptionsBuilder::default()
                    .force(true)
                    .v(true)
                    .build();
                match docker
                    .remove_container(docker_name.as_str(), Some(remove))
                    .await
                {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e).context(|| format!("removing stale {docker_name}")),
                }
            }
        }
        let target = setup::commit_target(image, docker_name)?.to_string();
        if let Ok(stale) = docker.inspect_image(&target).await {
            let made_by_ds01 = stale
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .is_some_and(|l| l.contains_key(crate::cleanup::OPERATION_LABEL));
            let id = stale.id.unwrap_or_default();
            if made_by_ds01 && !self.image_in_use(&id).await? {
                progress.report(Progress::Stage(format!(
                    "removing image {target} left by an interrupted run"
                )));
                let untag = RemoveImageOptionsBuilder::default().build();
                let _ = docker.remove_image(&target, Some(untag), None).await;
            }
        }
        Ok(())
    }
}

fn exists(docker_name: &OwnedContainer) -> EngineError {
    EngineError::ContainerExists {
        name: docker_name.clone(),
    }
}

/// What an image's labels say about the user.
pub(crate) enum Claim {
    /// They claim exactly this user: worth checking `/etc/passwd`.
    Matches,
    /// They claim another user; the reason is reported.
    Other(String),
    /// No claim at all.
    None,
}

/// Reads both namespaces: MLC-era `aime.mlc.DS01_*` and DS01's current `ds01.*` image labels.
pub(crate) fn baked_claim(image: &ImageInspect, who: &Identity) -> Claim {
    let labels = image.config.as_ref().and_then(|c| c.labels.clone());
    let get = |mlc: &str, ds01: &str| {
        labels::get(&labels, mlc)
            .or_else(|| labels::get(&labels, ds01))
            .unwrap_or("")
    };
    if get(
        image_labels::HAS_USER_SETUP,
        image_labels::DS01_HAS_USER_SETUP,
    ) != "true"
    {
        return Claim::None;
    }
    let (uid, gid, name) = (
        get(image_labels::USER_ID, image_labels::DS01_USER_ID),
        get(image_labels::GROUP_ID, image_labels::DS01_GROUP_ID),
        get(image_labels::USERNAME, image_labels::DS01_USERNAME),
    );
    // DS01's current scripts spell the account `h_baker`; the passwd check that follows
    // decides.
    let spelled =
        name == who.username().as_str() || name == ds01_username::slice_user_compat(who.login());
    if uid == who.uid().to_string() && gid == who.gid().to_string() && spelled {
        Claim::Matches
    } else {
        // Never the claimed account itself: the image may be another user's, and this
        // text reaches the caller.
        Claim::Other(format!(
            "the image's labels claim another account than yours, {} ({}:{})",
            who.username(),
            who.uid(),
            who.gid()
        ))
    }
}

pub(crate) fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
