//! Building a user's image from a `ds01-dockerfile` spec.

use crate::build_request::{post_build, Confinement};
use crate::cleanup::Created;
use crate::client::Engine;
use crate::error::{Context, EngineError, Result};
use crate::journal::Journal;
use crate::progress::{Progress, ProgressSink};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use ds01_dockerfile::Identity;
use ds01_dockerfile::{build_context_with_ca, labels as image_labels, ImageSpec};
use futures_util::StreamExt;
use std::collections::{HashMap, VecDeque};
use std::future::Future;

/// How many lines of build output a failure report carries.
const LOG_TAIL_LINES: usize = 30;

/// A finished build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuiltImage {
    /// The tag, `ds01-<uid>/<name>:latest`.
    pub image: String,
    /// The image ID (`sha256:...`).
    pub id: String,
    /// The hash of the rendered Dockerfile, stored as the `ds01.spec.sha256` label.
    pub spec_sha256: String,
}

/// Options of one build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Build every step again instead of reusing the layer cache.
    pub no_cache: bool,
    /// Labels added to the image (tests mark their images with these).
    pub resource_labels: Vec<(String, String)>,
    /// CA certificates (PEM) the venv's pip trusts, for a network whose proxy intercepts
    /// TLS (the admin's `build_ca_certificates`).
    pub ca_certificates: Option<Vec<u8>>,
    /// The owner's policy allows sudo: the baked user gets a sudoers rule (else none).
    pub sudo: bool,
    /// What confines the build's steps.
    pub limits: BuildLimits,
}

/// What confines each step (`RUN`, and every other instruction's container) of a build:
/// the user's policy, so that a build can take no more of the host than a container can.
#[derive(Debug, Clone, Default)]
pub struct BuildLimits {
    /// Memory of each step, in bytes, with no swap beyond it.
    pub memory: Option<u64>,
    /// CPUs of each step, as a CFS quota.
    pub cpus: Option<f64>,
    /// The size of each step's `/dev/shm`, in bytes.
    pub shm_size: Option<u64>,
    /// The network the steps run on (see [`Engine::ensure_build_network`]).
    pub network: Option<String>,
    /// The cgroup the steps' containers are put under (a pids limit prepared by ds01d).
    pub cgroup_parent: Option<String>,
}

/// The CFS period that CPU quotas of build steps are counted in (Docker's own default).
const CPU_PERIOD: i32 = 100_000;

/// Where a running build records what it makes, for the rollback to find it even when
/// the build's future is dropped half-way.
struct Records<'a> {
    created: &'a mut Created,
    journal: &'a mut Journal,
    steps: &'a mut StepImages,
}

/// What a build made so far that a failed or cancelled build must not leave behind: the
/// classic builder commits each step into an untagged image, and those of a build that
/// never finished would stay as dangling `<none>` images.
#[derive(Debug, Default)]
struct StepImages {
    /// Images this build committed (not those taken from the cache), oldest first.
    made: Vec<String>,
    /// Whether the current step ran a container (so its image is new, not cached).
    running: bool,
    /// Whether the last image the output named is one this build made.
    last_is_made: bool,
}

impl StepImages {
    /// Follows one line of the builder's output.
    fn line(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("Step ") {
            self.running = false;
        } else if line.starts_with("---> Running in ") {
            self.running = true;
        } else if let Some(id) = line.strip_prefix("---> ") {
            let id = id.trim();
            let image = !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit());
            if image {
                self.last_is_made = self.running;
                if self.running {
                    self.made.push(id.to_owned());
                }
            }
            self.running = false;
        }
    }
}

impl Engine {
    /// Builds `spec` for `who` and tags it `ds01-<uid>/<name>:latest`. The engine applies the
    /// tag only when the build succeeds, so until then the previous image stays in place.
    pub async fn build_image(
        &self,
        who: &Identity,
        spec: &ImageSpec,
        options: &BuildOptions,
        progress: &mut dyn ProgressSink,
        interrupt: impl Future<Output = ()>,
    ) -> Result<BuiltImage> {
        let tag = spec.name.image_ref(who.uid()).to_string();
        let mut journal =
            Journal::try_acquire(&self.journal_dir(), who.uid(), &format!("build-{tag}"));
        if let Journal::Busy = journal {
            return Err(EngineError::InvalidOption(format!(
                "another ds01 command is building {tag} right now; wait for it to finish"
            )));
        }
        // The classic builder's step containers carry none of our labels: a build that died
        // with the daemon is known only by the IDs this journal recorded.
        let dead_steps: Vec<String> = journal.leftover().into_iter().skip(1).collect();
        self.remove_dead_steps(&dead_steps, progress).await?;
        let mut created = Created::new();
        journal.start(created.operation());
        let mut steps = StepImages::default();
        let outcome = tokio::select! {
            result = self.build_steps(who, spec, options, progress, Records {
                created: &mut created,
                journal: &mut journal,
                steps: &mut steps,
            }) => result,
            () = interrupt => Err(EngineError::Interrupted),
        };
        let failed = outcome.is_err();
        // Containers first: a step's container pins the image it runs on.
        let outcome = created.settle(outcome, &mut journal, self.docker()).await;
        if failed {
            self.remove_step_images(&steps).await;
        }
        outcome
    }

    /// Removes the untagged images a failed build committed, newest first. Each is removed
    /// without force and only while untagged: an image that a tag, a container or another
    /// build's next step has come to use stays. Removing one also removes its untagged
    /// parents that nothing else uses, as `docker rmi` does.
    async fn remove_step_images(&self, steps: &StepImages) {
        let plain = RemoveImageOptionsBuilder::default().build();
        let mut made = steps.made.clone();
        made.extend(self.committed_unseen(steps).await);
        for id in made.iter().rev() {
            match self.docker().inspect_image(id).await {
                Ok(image) if image.repo_tags.as_ref().is_none_or(|t| t.is_empty()) => {}
                Ok(_) => continue,
                Err(e) if crate::error::is_not_found(&e) => continue,
                Err(e) => {
                    tracing::warn!("could not inspect build step image {id}: {e}");
                    continue;
                }
            }
            match self
                .docker()
                .remove_image(id, Some(plain.clone()), None)
                .await
            {
                Ok(_) => {}
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => tracing::warn!("kept build step image {id}: {e}"),
            }
        }
    }

    async fn remove_dead_steps(
        &self,
        ids: &[String],
        progress: &mut dyn ProgressSink,
    ) -> Result<()> {
        let force = RemoveContainerOptionsBuilder::default().force(true).build();
        for id in ids {
            match self
                .docker()
                .remove_container(id, Some(force.clone()))
                .await
            {
                Ok(()) => progress.report(Progress::Stage(format!(
                    "removed build container {id} left by an interrupted build"
                ))),
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => {
                    return Err(e).context(|| {
                        format!("removing build container {id} left by an interrupted build")
                    })
                }
            }
        }
        Ok(())
    }

    /// A step that ended in the instant the build was cancelled may be committed after
    /// the build's last output was read: an untagged child of the last image this build
    /// made, which nothing but this build could have made on it so soon.
    async fn committed_unseen(&self, steps: &StepImages) -> Vec<String> {
        let Some(last) = steps.made.last().filter(|_| steps.last_is_made) else {
            return Vec::new();
        };
        let all = ListImagesOptionsBuilder::default().all(true).build();
        match self.docker().list_images(Some(all)).await {
            Ok(images) => images
                .into_iter()
                .filter(|i| i.repo_tags.is_empty() || i.repo_tags == ["<none>:<none>"])
                .filter(|i| {
                    i.parent_id
                        .trim_start_matches("sha256:")
                        .starts_with(last.as_str())
                })
                .map(|i| i.id)
                .collect(),
            Err(e) => {
                tracing::warn!("could not list images after a cancelled build: {e}");
                Vec::new()
            }
        }
    }

    async fn build_steps(
        &self,
        who: &Identity,
        spec: &ImageSpec,
        options: &BuildOptions,
        progress: &mut dyn ProgressSink,
        records: Records<'_>,
    ) -> Result<BuiltImage> {
        let Records {
            created,
            journal,
            steps,
        } = records;
        let tag = &spec.name.image_ref(who.uid()).to_string();
        let context = build_context_with_ca(spec, options.ca_certificates.as_deref());
        let sha = context.dockerfile_sha256().to_owned();
        // Without a user block the Dockerfile declares no such ARGs, and the engine would
        // warn that they went unused.
        let build_args: HashMap<String, String> = if spec.user.bake {
            let mut args: HashMap<String, String> = who.build_args().into_iter().collect();
            let sudo = if options.sudo { "1" } else { "0" };
            args.insert(ds01_dockerfile::ARG_SUDO.into(), sudo.into());
            args
        } else {
            HashMap::new()
        };
        let mut labels: HashMap<String, String> = options.resource_labels.iter().cloned().collect();
        labels.insert(image_labels::SPEC_SHA256.into(), sha.clone());
        // No operation label on the image: a build that completes is the user's new image,
        // which a rollback racing with the final answer must never take for debris.
        let limits = &options.limits;
        let mut builder = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .nocache(options.no_cache)
            .buildargs(&build_args)
            .labels(&labels);
        if let Some(cpus) = limits.cpus {
            let quota = (cpus * f64::from(CPU_PERIOD))
                .round()
                .clamp(1000.0, f64::from(i32::MAX));
            builder = builder.cpuperiod(CPU_PERIOD).cpuquota(quota as i32);
        }
        if let Some(shm) = limits.shm_size {
            builder = builder.shmsize(i32::try_from(shm).unwrap_or(i32::MAX));
        }
        if let Some(network) = &limits.network {
            builder = builder.networkmode(network);
        }
        let confinement = Confinement {
            memory: limits.memory,
            cgroup_parent: limits.cgroup_parent.clone(),
        };
        progress.report(Progress::Stage(format!("building {tag}")));
        let mut stream = Box::pin(
            post_build(
                self.host(),
                &self.api_version(),
                &builder.build(),
                &confinement,
                context.as_bytes().to_vec(),
            )
            .await
            .context(|| format!("building {tag}"))?,
        );
        let mut tail: VecDeque<String> = VecDeque::with_capacity(LOG_TAIL_LINES);
        let mut step = None;
        // Output arrives in pieces that need not end at a line break (apt writes `E`, `: `
        // and its message separately): lines are cut from what has arrived so far.
        let mut partial = String::new();
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => {
                    push_line(&mut tail, &std::mem::take(&mut partial));
                    return Err(build_failed(tag, step, error, tail));
                }
                Err(e) => return Err(e).context(|| format!("building {tag}")),
            };
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                push_line(&mut tail, &std::mem::take(&mut partial));
                return Err(build_failed(tag, step, error, tail));
            }
            if let Some(text) = info.stream {
                // The engine paints a step's stderr red: keep the words, not the escapes.
                partial.push_str(&strip_ansi(&text));
                while let Some(end) = partial.find('\n') {
                    let line: String = partial.drain(..=end).collect();
                    let line = line.trim_end_matches(['\n', '\r']);
                    if line.trim().is_empty() {
                        continue;
                    }
                    if line.starts_with("Step ") {
                        step = Some(line.to_owned());
                    }
                    steps.line(line);
                    if let Some(id) = line.trim().strip_prefix("---> Running in ") {
                        journal.append(id.trim());
                        created.container(id.trim());
                    }
                    push_line(&mut tail, line);
                    progress.report(Progress::BuildOutput(line.to_owned()));
                }
            }
        }
        let image = self
            .docker()
            .inspect_image(tag)
            .await
            .context(|| format!("inspecting the built image {tag}"))?;
        Ok(BuiltImage {
            image: tag.to_owned(),
            id: image.id.unwrap_or_default(),
            spec_sha256: sha,
        })
    }
}

/// Keeps the last [`LOG_TAIL_LINES`] non-blank lines.
pub(crate) fn push_line(tail: &mut VecDeque<String>, line: &str) {
    if line.trim().is_empty() {
        return;
    }
    if tail.len() == LOG_TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line.to_owned());
}

pub(crate) fn build_failed(
    tag: &str,
    step: Option<String>,
    message: String,
    tail: VecDeque<String>,
) -> EngineError {
    // Only lines printed after the failing step began can explain it.
    let since_step = tail
        .iter()
        .rposition(|l| l.starts_with("Step "))
        .map_or(0, |i| i + 1);
    EngineError::BuildFailed {
        image: tag.to_owned(),
        step: step.as_deref().map(describe_step),
        reason: failure_reason(tail.range(since_step..).map(String::as_str)),
        message: message.trim().to_owned(),
        log_tail: Vec::from(tail).join("\n"),
    }
}

/// `text` without terminal escape sequences (`ESC [ ... letter`, and any other `ESC x`).
pub(crate) fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            // Parameters and intermediates, then one final byte in @..~.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// `Step 7/12 : RUN pip install ...` as `step 7/12, installing pip packages`: what the
/// step is for, in the words of ds01's own steps, or the instruction itself.
pub(crate) fn describe_step(line: &str) -> String {
    let rest = line.strip_prefix("Step ").unwrap_or(line);
    let (number, instruction) = rest.split_once(" : ").unwrap_or((rest, ""));
    let what = [
        (
            "python-setup.sh interpreter",
            "installing Python for the virtual environment",
        ),
        ("python-setup.sh venv", "creating your virtual environment"),
        ("user-setup.sh", "setting up your account in the image"),
        ("pip install", "installing pip packages"),
        ("ipykernel install", "registering the Jupyter kernel"),
        ("apt-get", "installing apt packages"),
    ]
    .iter()
    .find(|(needle, _)| instruction.contains(needle))
    .map(|(_, what)| (*what).to_owned())
    .unwrap_or_else(|| {
        let short: String = instruction.chars().take(80).collect();
        let more = if short.len() < instruction.len() {
            "…"
        } else {
            ""
        };
        format!("`{short}{more}`")
    });
    format!("step {}, {what}", number.trim())
}

/// The last line in which the failing step said what went wrong.
pub(crate) fn failure_reason<'a>(
    lines: impl DoubleEndedIterator<Item = &'a str>,
) -> Option<String> {
    lines
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with("DS01: error:") || l.starts_with("ERROR:") || l.starts_with("E: "))
        .map(|l| l.strip_prefix("DS01: error: ").unwrap_or(l).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_step_and_the_reason() {
        let tail: VecDeque<String> = [
            "Step 11/14 : RUN sh /usr/local/lib/ds01/user-setup.sh",
            "DS01: user setup complete",
            "Step 12/14 : RUN pip install --no-cache-dir         no-such-pkg-ds01",
            "ERROR: Could not find a version that satisfies the requirement no-such-pkg-ds01",
            "ERROR: No matching distribution found for no-such-pkg-ds01",
        ]
        .map(String::from)
        .into();
        let err = build_failed(
            "ds01-1000/x:latest",
            tail.get(2).cloned(),
            "The command '/bin/sh -c pip install' returned a non-zero code: 1".into(),
            tail,
        );
        let text = err.to_string();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "building ds01-1000/x:latest failed at step 12/14, installing pip packages: \
             ERROR: No matching distribution found for no-such-pkg-ds01"
        );
        assert!(text.contains("--- last lines of the build log ---"));
    }

    #[test]
    fn only_images_the_build_committed_are_its_own() {
        let mut steps = StepImages::default();
        for line in [
            "Step 1/4 : FROM debian:12",
            " ---> 9c88718f731f",
            "Step 2/4 : RUN apt-get update",
            " ---> Using cache",
            " ---> 5bba0f9491c8",
            "Step 3/4 : RUN echo a > /a",
            " ---> Running in 8b39d5a26b42",
            "Removing intermediate container 8b39d5a26b42",
            " ---> a10f2fed39c9",
            "Step 4/4 : RUN sleep 600",
            " ---> Running in 610d4e8921df",
        ] {
            steps.line(line);
        }
        assert_eq!(steps.made, ["a10f2fed39c9"]);
        assert!(steps.last_is_made);
        steps.line("Step 5/5 : RUN true");
        steps.line(" ---> Using cache");
        steps.line(" ---> 0123456789ab");
        assert!(!steps.last_is_made, "a cached image is not this build's");
    }

    #[test]
    fn the_engines_colours_are_dropped() {
        assert_eq!(
            strip_ansi("\u{1b}[91mERROR: No matching distribution\n\u{1b}[0m\n"),
            "ERROR: No matching distribution\n\n"
        );
        assert_eq!(strip_ansi("a\u{1b}cb\u{1b}[1;31mc"), "abc");
        assert_eq!(strip_ansi("plain ✓"), "plain ✓");
    }

    #[test]
    fn steps_are_described_by_what_they_do() {
        for (line, expected) in [
            (
                "Step 5/9 : RUN sh /usr/local/lib/ds01/python/python-setup.sh interpreter",
                "step 5/9, installing Python for the virtual environment",
            ),
            (
                "Step 8/9 : RUN sh /usr/local/lib/ds01/python/python-setup.sh venv",
                "step 8/9, creating your virtual environment",
            ),
            (
                "Step 3/9 : RUN apt-get update && apt-get install -y x",
                "step 3/9, installing apt packages",
            ),
            ("Step 2/3 : RUN make all", "step 2/3, `RUN make all`"),
        ] {
            assert_eq!(describe_step(line), expected);
        }
        // A reason printed before the failing step does not count.
        let err = build_failed(
            "t",
            None,
            "engine says no".into(),
            ["ERROR: old", "Step 2/2 : RUN false"]
                .map(String::from)
                .into(),
        );
        assert!(
            err.to_string()
                .starts_with("building t failed: engine says no\n"),
            "{err}"
        );
        assert_eq!(
            failure_reason(["x", "DS01: error: no python3"].into_iter()).as_deref(),
            Some("no python3")
        );
    }
}
