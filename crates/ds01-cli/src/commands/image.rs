//! `ds01 image ...`: the user's images, described by specs and built by the engine.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use clap::{Args, Subcommand};
use ds01_dockerfile::{
    build_context, defaults, labels, AimeBase, AptPackage, Base, ImageName, ImageRef, ImageSpec,
    Login, PipRequirement,
};
use ds01_engine::{BuildOptions, EngineError};
use serde_json::json;

use crate::context::{ctrl_c, Context};
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
#[command(arg_required_else_help = true)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

const CREATE_AFTER_HELP: &str = "\
Examples:
  ds01 image create thesis --base ubuntu:24.04 --pip 'transformers>=4.30' --apt tmux
  ds01 image create cv --framework pytorch --version 2.7.1 --arch CUDA_AMPERE
  ds01 image create thesis --base debian:12 --no-build   # write spec and Dockerfile only

Without --base or --framework, ds01 asks on a terminal and refuses otherwise.
With --json: {\"image\": \"ds01-<uid>/<name>:latest\", \"id\": \"sha256:...\", \"spec\": PATH, \"dockerfile\": PATH}";

const UPDATE_AFTER_HELP: &str = "\
The stored spec is edited and the Dockerfile rendered again. The image is rebuilt only
when the rendered Dockerfile differs from the one it was built from (its
`ds01.spec.sha256` label), or with --rebuild / --no-cache.
With --json: {\"image\", \"id\", \"rebuilt\": true|false}";

#[derive(Debug, Subcommand)]
enum ImageCommand {
    /// Describe and build an image `ds01-<uid>/NAME:latest` with your account baked in
    #[command(after_help = CREATE_AFTER_HELP, disable_version_flag = true)]
    Create(CreateArgs),
    /// Add or remove packages of an image and rebuild it when something changed
    #[command(after_help = UPDATE_AFTER_HELP)]
    Update(UpdateArgs),
    /// List your images and stored specs
    List,
    /// Show an image: spec, Dockerfile path, labels, size
    Show(NameArg),
    /// Print the Dockerfile of an image
    Dockerfile(NameArg),
    /// Delete an image and its spec (refused while a container uses it, unless --force)
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
struct NameArg {
    /// The image name (the NAME of `ds01-<uid>/NAME:latest`)
    name: ImageName,
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The image name: lowercase letters, digits, `.`, `_`, `-`
    name: ImageName,
    /// Build on this image (any local or pullable reference)
    #[arg(long, value_name = "IMAGE", conflicts_with = "framework")]
    base: Option<ImageRef>,
    /// Build on the AIME catalog image of this framework (e.g. pytorch)
    #[arg(long, value_name = "FW")]
    framework: Option<String>,
    /// The framework version (default: the newest in the catalog)
    #[arg(
        long = "version",
        id = "framework_version",
        value_name = "V",
        requires = "framework"
    )]
    version: Option<String>,
    /// The GPU architecture (default: the configured one)
    #[arg(long, value_name = "ARCH", requires = "framework")]
    arch: Option<String>,
    /// The AIME catalog file (default: the configured one)
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// A pip requirement to install (repeatable), e.g. 'transformers>=4.30'
    #[arg(long = "pip", value_name = "PKG")]
    pip: Vec<PipRequirement>,
    /// A Debian/Ubuntu package to install (repeatable)
    #[arg(long = "apt", value_name = "PKG")]
    apt: Vec<AptPackage>,
    /// Install Jupyter and configure a kernel (default on catalog bases)
    #[arg(long, overrides_with = "no_jupyter")]
    jupyter: bool,
    /// Leave Jupyter out
    #[arg(long)]
    no_jupyter: bool,
    /// Write the spec and Dockerfile only
    #[arg(long)]
    no_build: bool,
    /// Build every step again instead of reusing cached layers
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
struct UpdateArgs {
    /// The image name
    name: ImageName,
    /// Add (or change the version of) a pip requirement (repeatable)
    #[arg(long = "add", value_name = "PKG")]
    add: Vec<PipRequirement>,
    /// Remove a pip or apt package by name (repeatable)
    #[arg(long = "remove", value_name = "PKG")]
    remove: Vec<String>,
    /// Add an apt package (repeatable)
    #[arg(long = "add-apt", value_name = "PKG")]
    add_apt: Vec<AptPackage>,
    /// Rebuild even when the spec is unchanged
    #[arg(long)]
    rebuild: bool,
    /// Rebuild every step without the layer cache
    #[arg(long)]
    no_cache: bool,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// The image name
    name: ImageName,
    /// Delete even while containers use it (they keep running on the untagged image)
    #[arg(long)]
    force: bool,
}

/// Runs `ds01 image ...`.
pub async fn run(args: &ImageArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match &args.command {
        ImageCommand::Create(a) => create(a, ctx).await,
        ImageCommand::Update(a) => update(a, ctx).await,
        ImageCommand::List => list(ctx).await,
        ImageCommand::Show(a) => show(&a.name, ctx).await,
        ImageCommand::Dockerfile(a) => dockerfile(&a.name, ctx),
        ImageCommand::Delete(a) => delete(a, ctx).await,
    }
}

async fn create(args: &CreateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let reference = args.name.image_ref(ctx.who.uid());
    if image_labels(ctx, &reference.to_string()).await?.is_some() {
        return Err(CliError::msg(format!(
            "image {reference} exists already; change it with `ds01 image update {}` or delete it with `ds01 image delete {}`",
            args.name, args.name
        )));
    }
    let mut prompted_pip = Vec::new();
    let base = match (&args.base, &args.framework) {
        (Some(image), _) => Base::Custom {
            image: image.clone(),
        },
        (None, Some(framework)) => catalog_base(
            ctx,
            args.catalog.as_ref(),
            framework,
            args.version.as_deref(),
            args.arch.as_deref(),
        )?,
        (None, None) => {
            let answers = prompt(ctx)?;
            prompted_pip = answers.pip;
            Base::Custom {
                image: answers.base,
            }
        }
    };
    let mut spec = ImageSpec::with_ds01_defaults(args.name.clone(), base, None);
    spec.owner = Login::parse(ctx.who.login()).ok();
    if args.jupyter {
        spec.configure_jupyter = true;
        if spec.packages.jupyter.is_empty() {
            spec.packages.jupyter = defaults::JUPYTER
                .iter()
                .filter_map(|p| PipRequirement::parse(p).ok())
                .collect();
        }
    } else if args.no_jupyter {
        spec.configure_jupyter = false;
        spec.packages.jupyter.clear();
    }
    for package in &args.apt {
        spec.add_apt(package.clone());
    }
    for requirement in args.pip.iter().chain(&prompted_pip) {
        spec.add_pip(requirement.clone());
    }
    ctx.store.save(&spec)?;
    let paths = json!({
        "spec": ctx.store.spec_path(&spec.name),
        "dockerfile": ctx.store.dockerfile_path(&spec.name),
    });
    ctx.out.detail(format!(
        "spec saved to {}",
        ctx.store.spec_path(&spec.name).display()
    ));
    if args.no_build {
        return report_spec_only(ctx, &reference, paths);
    }
    build(ctx, &spec, args.no_cache, paths).await
}

fn report_spec_only(
    ctx: &Context,
    reference: &ImageRef,
    paths: serde_json::Value,
) -> Result<ExitStatus, CliError> {
    if ctx.out.json() {
        let mut value = json!({"image": reference.to_string(), "id": null, "built": false});
        merge(&mut value, paths);
        ctx.out.print_json(&value)?;
    } else {
        ctx.out.success(format!(
            "wrote {} (not built; build it with `ds01 image update {} --rebuild`)",
            paths["dockerfile"].as_str().unwrap_or_default(),
            reference
                .path()
                .rsplit('/')
                .next()
                .unwrap_or(reference.path())
        ));
    }
    Ok(ExitStatus::Success)
}

async fn build(
    ctx: &Context,
    spec: &ImageSpec,
    no_cache: bool,
    paths: serde_json::Value,
) -> Result<ExitStatus, CliError> {
    let options = BuildOptions {
        no_cache,
        resource_labels: ctx.resource_labels.clone(),
    };
    let mut progress = ctx.out.progress();
    let built = ctx
        .engine
        .build_image(&ctx.who, spec, &options, &mut progress, ctrl_c())
        .await;
    progress.finish();
    let built = built?;
    if ctx.out.json() {
        let mut value = json!({"image": built.image, "id": built.id, "spec_sha256": built.spec_sha256, "built": true});
        merge(&mut value, paths);
        ctx.out.print_json(&value)?;
    } else {
        ctx.out
            .success(format!("built {} ({})", built.image, short_id(&built.id)));
        ctx.out.print(&built.image)?;
    }
    Ok(ExitStatus::Success)
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn catalog_base(
    ctx: &Context,
    catalog: Option<&PathBuf>,
    framework: &str,
    version: Option<&str>,
    arch: Option<&str>,
) -> Result<Base, CliError> {
    let (entry, arch) = super::catalog::lookup(ctx, catalog, framework, version, arch)?;
    let base = AimeBase::from_catalog(&entry, &arch).map_err(|e| CliError::msg(e.to_string()))?;
    Ok(Base::Aime(base))
}

/// What the guided prompts gathered.
struct Answers {
    base: ImageRef,
    pip: Vec<PipRequirement>,
}

/// Asks for the base image and extra pip packages, only when a person is at the terminal.
fn prompt(ctx: &Context) -> Result<Answers, CliError> {
    if !std::io::stdin().is_terminal() || ctx.out.json() {
        return Err(CliError::usage(
            "give the image to build on with --base IMAGE or --framework FW (see `ds01 image create --help`)",
        ));
    }
    let base = ask("Base image to build on (e.g. ubuntu:24.04): ", |line| {
        line.parse::<ImageRef>().map_err(|e| e.to_string())
    })?;
    let pip = ask(
        "pip packages to install (space-separated, Enter for none): ",
        |line| {
            line.split_whitespace()
                .map(|p| PipRequirement::parse(p).map_err(|e| e.to_string()))
                .collect()
        },
    )?;
    Ok(Answers { base, pip })
}

/// Asks until `parse` accepts the answer; end of input gives up.
fn ask<T>(question: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, CliError> {
    loop {
        eprint!("{question}");
        std::io::stderr().flush().map_err(CliError::write)?;
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::failure("could not read the answer", e))?;
        if read == 0 {
            return Err(CliError::usage("no answer given; nothing was created"));
        }
        match parse(line.trim()) {
            Ok(value) => return Ok(value),
            Err(e) => eprintln!("{e}"),
        }
    }
}

async fn update(args: &UpdateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let mut spec = ctx.store.load(&args.name)?;
    for name in &args.remove {
        if spec.remove_package(name) == 0 {
            ctx.out
                .warn(format!("{name} is not in the spec of {}", args.name));
        }
    }
    for package in &args.add_apt {
        spec.add_apt(package.clone());
    }
    for requirement in &args.add {
        spec.add_pip(requirement.clone());
    }
    ctx.store.save(&spec)?;
    let reference = spec.name.image_ref(ctx.who.uid()).to_string();
    let wanted = build_context(&spec).dockerfile_sha256().to_owned();
    let current = image_labels(ctx, &reference).await?;
    let built_from = current
        .as_ref()
        .and_then(|(_, labels)| labels.get(labels::SPEC_SHA256).cloned());
    if built_from.as_deref() == Some(wanted.as_str()) && !args.rebuild && !args.no_cache {
        let id = current.map(|(id, _)| id).unwrap_or_default();
        if ctx.out.json() {
            ctx.out
                .print_json(&json!({"image": reference, "id": id, "rebuilt": false}))?;
        } else {
            ctx.out.success(format!(
                "{reference} is up to date with its spec; not rebuilt"
            ));
        }
        return Ok(ExitStatus::Success);
    }
    let paths = json!({"rebuilt": true});
    build(ctx, &spec, args.no_cache, paths).await
}

/// The ID and labels of a local image, or `None` when it does not exist.
async fn image_labels(
    ctx: &Context,
    reference: &str,
) -> Result<Option<(String, HashMap<String, String>)>, CliError> {
    match ctx.engine.docker().inspect_image(reference).await {
        Ok(image) => Ok(Some((
            image.id.unwrap_or_default(),
            image.config.and_then(|c| c.labels).unwrap_or_default(),
        ))),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(CliError::failure(
            format!("inspecting image {reference}"),
            e,
        )),
    }
}

async fn list(ctx: &Context) -> Result<ExitStatus, CliError> {
    let repo_prefix = format!("ds01-{}/", ctx.who.uid());
    let filters = HashMap::from([("reference".to_owned(), vec![format!("{repo_prefix}*")])]);
    let options = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let images = ctx
        .engine
        .docker()
        .list_images(Some(options))
        .await
        .map_err(|e| CliError::failure("listing images", e))?;
    let mut rows: Vec<serde_json::Value> = Vec::new();
    let mut seen = Vec::new();
    for image in images {
        for tag in image
            .repo_tags
            .iter()
            .filter(|t| t.starts_with(&repo_prefix))
        {
            let name = tag[repo_prefix.len()..]
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            seen.push(name.clone());
            rows.push(json!({
                "name": name,
                "image": tag,
                "id": image.id,
                "size": image.size,
                "created": image.created,
                "spec": ImageName::parse(&name).ok().is_some_and(|n| ctx.store.exists(&n)),
            }));
        }
    }
    for name in ctx.store.names() {
        if !seen.contains(&name) {
            rows.push(json!({
                "name": name,
                "image": format!("{repo_prefix}{name}:latest"),
                "id": null, "size": null, "created": null, "spec": true,
            }));
        }
    }
    rows.sort_by(|a, b| a["image"].as_str().cmp(&b["image"].as_str()));
    if ctx.out.json() {
        for row in &rows {
            ctx.out.print_json(row)?;
        }
        return Ok(ExitStatus::Success);
    }
    if rows.is_empty() {
        ctx.out
            .info("no images yet; create one with `ds01 image create NAME --base IMAGE`");
        return Ok(ExitStatus::Success);
    }
    ctx.out.print(
        ctx.out
            .bold(&format!("{:<40} {:<14} {:>10}", "IMAGE", "ID", "SIZE")),
    )?;
    for row in rows {
        let id = row["id"].as_str().map(short_id).unwrap_or("(not built)");
        let size = row["size"].as_i64().map(human_size).unwrap_or_default();
        ctx.out.print(format!(
            "{:<40} {:<14} {:>10}",
            row["image"].as_str().unwrap_or_default(),
            id,
            size
        ))?;
    }
    Ok(ExitStatus::Success)
}

async fn show(name: &ImageName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let reference = name.image_ref(ctx.who.uid()).to_string();
    let spec = ctx
        .store
        .exists(name)
        .then(|| ctx.store.load(name))
        .transpose()?;
    let inspected = match ctx.engine.docker().inspect_image(&reference).await {
        Ok(image) => Some(image),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => None,
        Err(e) => {
            return Err(CliError::failure(
                format!("inspecting image {reference}"),
                e,
            ))
        }
    };
    if spec.is_none() && inspected.is_none() {
        return Err(CliError::from(EngineError::ImageNotFound {
            image: reference,
            hint: format!("; build it with `ds01 image create {name}`"),
        }));
    }
    let dockerfile = if spec.is_some() {
        Some(ctx.store.dockerfile_path(name))
    } else {
        ctx.store.legacy_dockerfile(name)
    };
    let labels = inspected
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let value = json!({
        "name": name.as_str(),
        "image": reference,
        "id": inspected.as_ref().and_then(|i| i.id.clone()),
        "size": inspected.as_ref().and_then(|i| i.size),
        "created": inspected.as_ref().and_then(|i| i.created.clone()),
        "labels": labels,
        "spec_path": spec.as_ref().map(|_| ctx.store.spec_path(name)),
        "dockerfile_path": dockerfile,
        "spec": spec,
    });
    if ctx.out.json() {
        ctx.out.print_json(&value)?;
        return Ok(ExitStatus::Success);
    }
    let field = |k: &str, v: String| format!("{} {v}", ctx.out.bold(&format!("{k:<11}")));
    ctx.out.print(field("image:", reference.clone()))?;
    match &inspected {
        Some(i) => {
            ctx.out
                .print(field("id:", i.id.clone().unwrap_or_default()))?;
            ctx.out
                .print(field("size:", human_size(i.size.unwrap_or(0))))?;
        }
        None => ctx.out.print(field("built:", "no".into()))?,
    }
    if let Some(path) = &dockerfile {
        ctx.out
            .print(field("dockerfile:", path.display().to_string()))?;
    }
    if let Some(spec) = &spec {
        ctx.out.print(field(
            "spec:",
            ctx.store.spec_path(name).display().to_string(),
        ))?;
        let text = spec
            .to_toml_string()
            .map_err(|e| CliError::msg(e.to_string()))?;
        for line in text.lines() {
            ctx.out.print(format!("  {line}"))?;
        }
    }
    if !labels.is_empty() {
        ctx.out.print(ctx.out.bold("labels:"))?;
        let mut sorted: Vec<_> = labels.iter().collect();
        sorted.sort();
        for (k, v) in sorted {
            ctx.out.print(format!("  {k}={v}"))?;
        }
    }
    Ok(ExitStatus::Success)
}

fn dockerfile(name: &ImageName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let (text, path) = if ctx.store.exists(name) {
        let spec = ctx.store.load(name)?;
        (
            ds01_dockerfile::render(&spec).text().to_owned(),
            ctx.store.dockerfile_path(name),
        )
    } else if let Some(path) = ctx.store.legacy_dockerfile(name) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CliError::failure(format!("cannot read {}", path.display()), e))?;
        (text, path)
    } else {
        return Err(CliError::msg(format!(
            "no image spec {name}; create it with `ds01 image create {name}`"
        )));
    };
    if ctx.out.json() {
        ctx.out
            .print_json(&json!({"name": name.as_str(), "path": path, "dockerfile": text}))?;
    } else {
        print!("{text}");
    }
    Ok(ExitStatus::Success)
}

async fn delete(args: &DeleteArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let reference = args.name.image_ref(ctx.who.uid()).to_string();
    let exists = image_labels(ctx, &reference).await?.is_some();
    let had_spec = ctx.store.exists(&args.name);
    if !exists && !had_spec {
        return Err(CliError::from(EngineError::ImageNotFound {
            image: reference,
            hint: "; `ds01 image list` shows yours".into(),
        }));
    }
    if exists {
        let users = ctx.engine.containers_using(&reference).await?;
        if !users.is_empty() && !args.force {
            return Err(CliError::from(EngineError::ImageInUse {
                image: reference,
                containers: users.join(", "),
            }));
        }
        let options = RemoveImageOptionsBuilder::default()
            .force(args.force)
            .build();
        ctx.engine
            .docker()
            .remove_image(&reference, Some(options), None)
            .await
            .map_err(|e| CliError::failure(format!("deleting image {reference}"), e))?;
    }
    ctx.store.remove(&args.name)?;
    if ctx.out.json() {
        ctx.out.print_json(
            &json!({"image": reference, "deleted": exists, "spec_removed": had_spec}),
        )?;
    } else {
        ctx.out.success(format!("deleted {reference}"));
    }
    Ok(ExitStatus::Success)
}

/// The first 12 hex digits of an image or container ID.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Sizes as `docker images` shows them (powers of 1000).
pub fn human_size(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    match b {
        b if b >= 1e9 => format!("{:.2}GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1}MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1}kB", b / 1e3),
        b => format!("{b}B"),
    }
}
