//! The commit flow's middle: a root setup container runs the user-setup script on the base
//! image, and what it wrote becomes the image `<repository>:<name>._.<uid>` (a layer stacked
//! on the base, or the engine's commit), never without the sparse-file guard.

use crate::cleanup::Created;
use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use crate::guard;
use crate::interrupt::Interrupt;
use crate::labels;
use crate::layer::{self, Built};
use crate::load::Stacked;
use crate::progress::ProgressSink;
use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig, ImageInspect};
use bollard::query_parameters::{
    CommitContainerOptionsBuilder, CreateContainerOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RenameContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use ds01_api::OwnedContainer;
use ds01_dockerfile::Identity;
use ds01_dockerfile::{labels as image_labels, ImageRef, USER_SETUP_DONE, USER_SETUP_SCRIPT};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::HashMap;

/// Runs the shared user-setup script with the IDs as *arguments*: nothing user-derived is
/// spliced into shell text, and (unlike `Env`) arguments do not leak into the committed
/// image's configuration.
///
/// After the script, the container prints its `/etc/passwd` and `/etc/group` between
/// markers (shell built-ins only): the committed image holds exactly these files, so the
/// account is checked from this output instead of reading them out of another container.
fn setup_entrypoint(who: &Identity, sudo: bool) -> Vec<String> {
    let prelude =
        "export DS01_USER_ID=\"$1\" DS01_GROUP_ID=\"$2\" DS01_USERNAME=\"$3\" DS01_SUDO=\"$4\"\n";
    let show = |path: &str| {
        format!("while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done <{path}\n")
    };
    let epilogue = format!(
        "echo '{PASSWD_MARK}'\n{}echo '{GROUP_MARK}'\n{}echo '{END_MARK}'\n",
        show("/etc/passwd"),
        show("/etc/group")
    );
    vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("{prelude}{USER_SETUP_SCRIPT}\n{epilogue}"),
        "ds01-user-setup".into(),
        who.uid().to_string(),
        who.gid().to_string(),
        who.username().to_string(),
        if sudo { "1" } else { "0" }.into(),
    ]
}

const PASSWD_MARK: &str = "DS01: /etc/passwd follows";
const GROUP_MARK: &str = "DS01: /etc/group follows";
const END_MARK: &str = "DS01: end of account files";

/// The `/etc/passwd` and `/etc/group` the setup container printed, when it printed both
/// whole (the end marker arrived).
fn account_files(stdout: &str) -> Option<(String, String)> {
    let after = |mark: &str, text: &str| -> Option<usize> {
        text.rfind(&format!("{mark}\n")).map(|i| i + mark.len() + 1)
    };
    let p = after(PASSWD_MARK, stdout)?;
    let rest = &stdout[p..];
    let g = rest.find(&format!("{GROUP_MARK}\n"))?;
    let passwd = &rest[..g];
    let rest = &rest[g + GROUP_MARK.len() + 1..];
    let e = rest.find(&format!("{END_MARK}\n"))?;
    Some((passwd.to_owned(), rest[..e].to_owned()))
}

/// What a finished setup container left: its ID and, when it printed them, the account files.
pub(crate) struct SetupDone {
    pub id: String,
    pub account_files: Option<(String, String)>,
}

/// Marks setup containers, so that one left by a dead run can be told from a user's
/// container of the same name.
pub(crate) const SETUP_ROLE: (&str, &str) = (labels::ROLE, labels::ROLE_SETUP);

/// The account the setup container makes, and whether it may use sudo (the container's
/// policy: without it the setup writes no sudoers rule).
pub(crate) struct SetupAccount<'a> {
    pub who: &'a Identity,
    pub sudo: bool,
}

/// Creates, runs and checks the setup container; returns its ID. It is named `docker_name`
/// so that it holds the final name: a concurrent create of the same name fails right here.
pub(crate) async fn run_setup(
    docker: &Docker,
    created: &mut Created,
    account: SetupAccount<'_>,
    base: &ImageRef,
    docker_name: &OwnedContainer,
    labels: HashMap<String, String>,
    interrupt: &mut Interrupt<'_, impl std::future::Future<Output = ()>>,
) -> Result<SetupDone> {
    let SetupAccount { who, sudo } = account;
    let mut labels = labels;
    labels.insert(SETUP_ROLE.0.into(), SETUP_ROLE.1.into());
    let body = ContainerCreateBody {
        image: Some(base.to_string()),
        user: Some("0:0".into()),
        entrypoint: Some(setup_entrypoint(who, sudo)),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default()
        .name(docker_name)
        .build();
    let id = match docker.create_container(Some(options), body).await {
        Ok(r) => r.id,
        Err(e) if crate::error::is_conflict(&e) => {
            return Err(EngineError::ContainerExists {
                name: docker_name.clone(),
            })
        }
        Err(e) => return Err(e).context(|| format!("creating setup container from {base}")),
    };
    created.container(&id);
    interrupt.check()?;
    docker
        .start_container(&id, None)
        .await
        .context(|| format!("starting setup container {docker_name}"))?;
    let status = interrupt.race(wait_for_exit(docker, &id)).await?;
    let (log, stdout) = logs(docker, &id).await?;
    if status != 0 || !log.contains(USER_SETUP_DONE) {
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(EngineError::SetupFailed {
            user: who.username().to_string(),
            image: base.to_string(),
            status,
            log_tail: tail.join("\n"),
        });
    }
    Ok(SetupDone {
        account_files: account_files(&stdout),
        id,
    })
}

async fn wait_for_exit(docker: &Docker, id: &str) -> Result<i64> {
    let options = WaitContainerOptionsBuilder::default()
        .condition("not-running")
        .build();
    let mut stream = docker.wait_container(id, Some(options));
    match stream.next().await {
        Some(Ok(r)) => Ok(r.status_code),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
        Some(Err(e)) => Err(e).context(|| format!("waiting for setup container {id}")),
        None => Ok(-1),
    }
}

/// The container's whole output, and its standard output alone.
async fn logs(docker: &Docker, id: &str) -> Result<(String, String)> {
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let chunks: Vec<_> = docker
        .logs(id, Some(options))
        .try_collect()
        .await
        .context(|| format!("reading the output of setup container {id}"))?;
    let stdout = chunks
        .iter()
        .filter(|c| matches!(c, bollard::container::LogOutput::StdOut { .. }))
        .map(|c| c.to_string())
        .collect();
    Ok((chunks.iter().map(|c| c.to_string()).collect(), stdout))
}

/// What a finished setup container becomes.
pub(crate) struct SetupImage<'a> {
    /// The stopped setup container.
    pub setup_id: &'a str,
    /// The image it ran on.
    pub base: &'a ImageInspect,
    /// The reference the new image gets.
    pub target: &'a ImageRef,
    /// The account it added.
    pub who: &'a Identity,
    /// The call's own labels (operation, resource labels).
    pub call_labels: &'a HashMap<String, String>,
}

/// Turns the stopped setup container into the image `target`; returns the image's ID.
///
/// Its writes are read from its overlay upper directory and stacked on the base as one layer
/// ([`crate::layer`], [`crate::load`]), with the sparse-file guard applied to every file on
/// the way. Where that cannot be done exactly, the engine commits the container instead,
/// after the guard.
pub(crate) async fn save_setup(
    engine: &Engine,
    created: &mut Created,
    image: &SetupImage<'_>,
    progress: &mut dyn ProgressSink,
) -> Result<String> {
    let mut steps = crate::timing::Steps::new("commit");
    let labels = image_labels_for(image.base, image.who, image.call_labels);
    let found = engine
        .docker()
        .inspect_container(image.setup_id, None)
        .await
        .context(|| format!("inspecting setup container {}", image.setup_id))?;
    let upper = crate::upper::upper_dir(&found).filter(|_| engine.storage_access());
    if let Some(dir) = &upper {
        let stacked = stack_setup(engine, image, &labels, dir, &mut steps, progress).await?;
        if let Some(image_id) = stacked {
            created.image(&image_id);
            return Ok(image_id);
        }
    }
    let docker = engine.docker();
    guard::check_changed_files(docker, image.setup_id, upper, guard::DEFAULT_FILE_LIMIT).await?;
    steps.done("checking the changed files", progress);
    let image_id = commit_setup(docker, image, labels).await?;
    created.image(&image_id);
    steps.done("committing", progress);
    Ok(image_id)
}

/// The layer path: the setup's writes in `upper` stacked on the base. `None` when they
/// must go to the engine's commit instead (nothing was made then).
async fn stack_setup(
    engine: &Engine,
    image: &SetupImage<'_>,
    labels: &HashMap<String, String>,
    upper: &std::path::Path,
    steps: &mut crate::timing::Steps,
    progress: &mut dyn ProgressSink,
) -> Result<Option<String>> {
    let dir = upper.to_owned();
    let built =
        tokio::task::spawn_blocking(move || layer::from_upper(&dir, guard::DEFAULT_FILE_LIMIT))
            .await
            .map_err(|e| {
                EngineError::InvalidOption(format!("reading the setup's writes: {e}"))
            })??;
    steps.done("writing the layer", progress);
    let layer = match built {
        Built::Layer(layer) => layer,
        Built::Unportable(why) => {
            tracing::debug!("committing through the engine: {why}");
            return Ok(None);
        }
    };
    let who = image.who;
    let created_by = format!(
        "ds01: user {} ({}:{})",
        who.username(),
        who.uid(),
        who.gid()
    );
    let what = Stacked {
        labels,
        created_by: &created_by,
        comment: COMMENT,
    };
    let base_id = image.base.id.as_deref().unwrap_or_default();
    match engine
        .stack_layer(base_id, &layer, &what, image.target)
        .await
    {
        Ok(stacked) => {
            steps.done("loading the layer onto the base", progress);
            Ok(stacked)
        }
        // The engine is gone or its disk full: a commit would fail the same way.
        Err(e @ (EngineError::EngineGone { .. } | EngineError::DiskFull { .. })) => Err(e),
        // An engine that refuses such a tarball may still commit.
        Err(e) => {
            tracing::warn!("stacking the setup layer failed ({e}); committing");
            Ok(None)
        }
    }
}

/// The engine's commit of the setup container (after the guard); returns the image's ID.
async fn commit_setup(
    docker: &Docker,
    image: &SetupImage<'_>,
    labels: HashMap<String, String>,
) -> Result<String> {
    // Docker merges the container's config into the commit config field by field; passing
    // the base image's Cmd/Entrypoint/Env back keeps the setup entrypoint out of the image.
    let base_config = image.base.config.clone().unwrap_or_default();
    let config = ContainerConfig {
        cmd: Some(
            base_config
                .cmd
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| vec!["/bin/bash".into()]),
        ),
        // An empty list, not None: for None the engine would keep the setup entrypoint.
        entrypoint: Some(base_config.entrypoint.clone().unwrap_or_default()),
        env: base_config.env.clone(),
        working_dir: base_config.working_dir.clone(),
        user: base_config
            .user
            .clone()
            .filter(|u| !u.is_empty())
            .or(Some("0".into())),
        labels: Some(labels),
        ..Default::default()
    };
    let target = image.target;
    let options = CommitContainerOptionsBuilder::default()
        .container(image.setup_id)
        .repo(target.repository())
        .tag(target.tag().unwrap_or("latest"))
        .comment(COMMENT)
        .pause(false)
        .build();
    let committed = docker
        .commit_container(options, config)
        .await
        .context(|| format!("committing the setup container to {target}"))?;
    Ok(committed.id)
}

const COMMENT: &str = "ds01: user account added";

/// The labels of the image the setup becomes: the base's, the account's, and the call's own
/// (operation, resource labels), which mark the image as this call's so that a rollback
/// finds it even when the engine's answer never arrived.
fn image_labels_for(
    base: &ImageInspect,
    who: &Identity,
    call_labels: &HashMap<String, String>,
) -> HashMap<String, String> {
    let mut labels = base
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    labels.extend(user_labels(who));
    labels.extend(call_labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    // The engine merges the setup container's labels into a commit; overriding the role
    // keeps the image (and containers made from it) from passing for a setup container.
    labels.insert(labels::ROLE.into(), labels::ROLE_COMMITTED_IMAGE.into());
    labels
}

/// Removes the setup container (the caller records it as removed).
pub(crate) async fn remove_setup(docker: &Docker, setup_id: &str) -> Result<()> {
    let remove = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    docker
        .remove_container(setup_id, Some(remove))
        .await
        .context(|| format!("removing setup container {setup_id}"))
}

/// Renames the setup container out of the final name's way, so that the final container
/// can be created while it is being removed. `false` when the engine refused (the caller
/// then removes it first).
pub(crate) async fn park_setup(docker: &Docker, setup_id: &str, docker_name: &str) -> bool {
    let short = &setup_id[..setup_id.len().min(12)];
    let options = RenameContainerOptionsBuilder::default()
        .name(&format!("{docker_name}.setup-{short}"))
        .build();
    docker.rename_container(setup_id, options).await.is_ok()
}

/// The image labels that say the account is baked in, as the Dockerfile's user block writes
/// them: an image committed here is then taken by the baked path next time (after checking).
pub(crate) fn user_labels(who: &Identity) -> Vec<(String, String)> {
    vec![
        (image_labels::HAS_USER_SETUP.into(), "true".into()),
        (image_labels::USER_ID.into(), who.uid().to_string()),
        (image_labels::GROUP_ID.into(), who.gid().to_string()),
        (image_labels::USERNAME.into(), who.username().to_string()),
    ]
}

/// The per-container image reference: the base's repository, tagged with the Docker name.
/// Parsing the reference (not slicing at the first `:`) keeps `registry:5000/x:y` and
/// `x@sha256:...` intact, which DS01's string surgery broke.
pub(crate) fn commit_target(base: &ImageRef, docker_name: &OwnedContainer) -> Result<ImageRef> {
    let tag = docker_name.tag();
    Ok(base.with_tag(&tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_files_need_every_marker() {
        let out = format!(
            "noise\n{PASSWD_MARK}\nroot:x:0:0::/root:/bin/sh\n{GROUP_MARK}\nroot:x:0:\n{END_MARK}\n"
        );
        let (passwd, group) = account_files(&out).unwrap();
        assert_eq!(passwd, "root:x:0:0::/root:/bin/sh\n");
        assert_eq!(group, "root:x:0:\n");
        let cut = &out[..out.find(END_MARK).unwrap()];
        assert_eq!(account_files(cut), None);
        assert_eq!(account_files("DS01: user setup complete\n"), None);
    }
}
