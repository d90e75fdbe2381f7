//! `ds01 image ...`: the user's images, described by specs and built by the engine.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use ds01_api::endpoints::{
    CreateImage, DeleteImage, ForceQuery, ListImages, RecreateFromImage, ShowImage, UpdateImage,
};
use ds01_api::{ApiError, Endpoint, ErrorCode, ImageBuilt, ImageCreate, ImageDetails, ImageUpdate};
use ds01_dockerfile::{AptPackage, ImageName, ImageRef, PipRequirement, UseCase};
use serde_json::json;

use crate::context::{home, Context};
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
  ds01 image create lab --base debian:12 --requirements requirements.txt
  ds01 image create nlp --base ubuntu:24.04 --preset nlp
  ds01 image create mine --dockerfile ./Dockerfile        # your Dockerfile + your account

pip packages go into a virtual environment of yours, /opt/ds01/venv, first on PATH: in a
container, `pip install` works as you, without sudo. It is made with the base's python3,
or with one ds01 installs from the distribution when the base has none.
The requirements file and the Dockerfile are read now and copied into the image's spec,
so the image rebuilds from the spec alone.

Without --base, --framework or --dockerfile, ds01 asks on a terminal and refuses otherwise.
With --json: {\"image\": \"ds01-<uid>/<name>:latest\", \"id\": \"sha256:...\", \"spec_sha256\", \"built\": true|false}";

const UPDATE_AFTER_HELP: &str = "\
The stored spec is edited and the Dockerfile rendered again. The image is rebuilt only
when the rendered Dockerfile differs from the one it was built from (its
`ds01.spec.sha256` label), or with --rebuild / --no-cache.

Your containers made from the image keep the old build until they are made again: after a
rebuild, ds01 offers (on a terminal) to recreate them, and --recreate does it without
asking. ds01d makes each again with the options it was created with.

With --json: {\"image\", \"id\", \"spec_sha256\", \"built\": true|false, \"containers\"},
then with --recreate one {\"name\", \"action\": \"recreated\"|\"failed\", \"error\"} per container.";

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
    /// Build an image from one of DS01's Dockerfiles (~/dockerfiles/NAME.Dockerfile)
    #[command(after_help = IMPORT_AFTER_HELP)]
    Import(ImportArgs),
}

const IMPORT_AFTER_HELP: &str = "\
The Dockerfile is read now and kept in the image's spec. Its own user setup (the
DS01_USER_ID/DS01_GROUP_ID/DS01_USERNAME arguments and the RUN that reads them) is
left out: ds01 appends its own, so containers get your account without a commit.
Examples:
  ds01 image import thesis                      # ~/dockerfiles/thesis.Dockerfile
  ds01 image import thesis ~/old/thesis.Dockerfile
With --json: {\"image\", \"id\", \"spec_sha256\", \"built\": true}";

#[derive(Debug, Args)]
struct ImportArgs {
    /// The image name: lowercase letters, digits, `.`, `_`, `-`
    name: ImageName,
    /// The DS01 Dockerfile (default: ~/dockerfiles/NAME.Dockerfile)
    path: Option<PathBuf>,
    /// Build every step again instead of reusing cached layers
    #[arg(long)]
    no_cache: bool,
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
    /// Build your own Dockerfile, then add your account and packages
    #[arg(long, value_name = "PATH", conflicts_with_all = ["base", "framework"])]
    dockerfile: Option<PathBuf>,
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
    /// Install the packages listed in a requirements.txt (no pip options)
    #[arg(long, short = 'r', value_name = "FILE")]
    requirements: Option<PathBuf>,
    /// Install the package set of a use case
    #[arg(long, value_name = "NAME", value_parser = preset_parser())]
    preset: Option<UseCase>,
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
    /// After a rebuild, make your containers from this image again without asking (they
    /// keep their options, home volume and workspace)
    #[arg(long)]
    recreate: bool,
}

#[derive(Debug, Args)]
struct DeleteArgs {
    /// The image name
    name: ImageName,
    /// Delete even while containers use it (they keep running on the untagged image)
    #[arg(long)]
    force: bool,
    /// Do not ask first (ds01 asks only on a terminal)
    #[arg(long, short)]
    yes: bool,
}

/// Runs `ds01 image ...`.
pub async fn run(args: &ImageArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match &args.command {
        ImageCommand::Create(a) => create(a, ctx).await,
        ImageCommand::Update(a) => update(a, ctx).await,
        ImageCommand::List => list(ctx).await,
        ImageCommand::Show(a) => show(&a.name, ctx).await,
        ImageCommand::Dockerfile(a) => dockerfile(&a.name, ctx).await,
        ImageCommand::Delete(a) => delete(a, ctx).await,
        ImageCommand::Import(a) => import(a, ctx).await,
    }
}

/// The presets: every use case that has packages.
fn preset_parser() -> impl clap::builder::TypedValueParser<Value = UseCase> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(
        UseCase::ALL
            .iter()
            .filter(|u| !u.packages().is_empty())
            .map(|u| u.as_str()),
    )
    .map(|name| {
        name.parse::<UseCase>()
            .expect("clap accepted only use-case names")
    })
}

async fn create(args: &CreateArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let mut pip = args.pip.clone();
    let base = match (&args.base, &args.framework) {
        (None, None) if args.dockerfile.is_some() => None,
        (None, None) => {
            let answers = prompt(ctx)?;
            pip.extend(answers.pip);
            Some(answers.base)
        }
        (base, _) => base.clone(),
    };
    let catalog = match &args.catalog {
        Some(path) => Some(super::read_user_file(path)?),
        None => None,
    };
    let request = ImageCreate {
        name: args.name.clone(),
        base,
        framework: args.framework.clone(),
        framework_version: args.version.clone(),
        arch: args.arch.clone(),
        catalog,
        pip,
        apt: args.apt.clone(),
        requirements: args
            .requirements
            .as_deref()
            .map(super::read_user_file)
            .transpose()?,
        preset: args.preset,
        dockerfile: args
            .dockerfile
            .as_deref()
            .map(super::read_user_file)
            .transpose()?,
        ds01_legacy: false,
        jupyter: if args.jupyter {
            Some(true)
        } else if args.no_jupyter {
            Some(false)
        } else {
            None
        },
        no_build: args.no_build,
        no_cache: args.no_cache,
    };
    let built = build(ctx, &CreateImage(request)).await?;
    report(ctx, &built, &args.name)
}

async fn import(args: &ImportArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    let path = match &args.path {
        Some(path) => path.clone(),
        None => home()
            .ok_or_else(|| {
                CliError::msg("cannot tell your home directory; give the Dockerfile's path")
            })?
            .join("dockerfiles")
            .join(format!("{}.Dockerfile", args.name)),
    };
    let request = ImageCreate {
        ds01_legacy: true,
        no_cache: args.no_cache,
        ..ImageCreate::from_dockerfile(args.name.clone(), super::read_user_file(&path)?)
    };
    let built = build(ctx, &CreateImage(request)).await?;
    report(ctx, &built, &args.name)
}

async fn build(
    ctx: &Context,
    endpoint: &impl Endpoint<Answer = ImageBuilt>,
) -> Result<ImageBuilt, CliError> {
    let mut progress = ctx.out.progress();
    let built = ctx.client.progress(endpoint, |p| progress.report(p)).await;
    progress.finish();
    built
}

fn report(ctx: &Context, built: &ImageBuilt, name: &ImageName) -> Result<ExitStatus, CliError> {
    if ctx.out.json() {
        ctx.out.print_json(built)?;
        return Ok(ExitStatus::Success);
    }
    if let Some(note) = &built.note {
        ctx.out.warn(ds01_api::shown(note));
    }
    match (&built.id, built.built) {
        (Some(id), true) => {
            ctx.out
                .success(format!("built {} ({})", built.image, short_id(id)));
            ctx.out.print(&built.image)?;
        }
        (Some(_), false) => ctx.out.success(format!(
            "{} is up to date with its spec; not rebuilt",
            built.image
        )),
        (None, _) => ctx.out.success(format!(
            "saved the spec of {} (not built; build it with `ds01 image update {name} --rebuild`)",
            built.image
        )),
    }
    Ok(ExitStatus::Success)
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
    let request = ImageUpdate {
        add: args.add.clone(),
        remove: args.remove.clone(),
        add_apt: args.add_apt.clone(),
        rebuild: args.rebuild,
        no_cache: args.no_cache,
    };
    let update = UpdateImage {
        name: args.name.clone(),
        body: request,
    };
    let built = build(ctx, &update).await?;
    let status = report(ctx, &built, &args.name)?;
    if !built.built || built.containers.is_empty() {
        return Ok(status);
    }
    // Containers keep the image they were made from until they are made again.
    let names = built.containers.join(", ");
    let question = format!("Recreate {names} from the new image now?");
    let asked = || {
        if ctx.out.json() {
            return Ok(None);
        }
        crate::prompt::confirm(&question)
    };
    if !args.recreate && asked()? != Some(true) {
        for name in &built.containers {
            ctx.out.info(format!(
                "`ds01 container recreate {name}` makes it again from the new image"
            ));
        }
        return Ok(status);
    }
    // ds01d finds the containers made from the image and makes each again.
    let mut progress = ctx.out.progress();
    let recreate = RecreateFromImage {
        name: args.name.clone(),
    };
    let outcomes = ctx.client.progress(&recreate, |p| progress.report(p)).await;
    progress.finish();
    match super::container::outcomes_shown(ctx, &outcomes?)? {
        ExitStatus::Success => Ok(status),
        failed => Ok(failed),
    }
}

async fn list(ctx: &Context) -> Result<ExitStatus, CliError> {
    let rows = ctx.client.ask(&ListImages).await?;
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
        let id = row.id.as_deref().map(short_id).unwrap_or("(not built)");
        let size = row.size.map(human_size).unwrap_or_default();
        ctx.out
            .print(format!("{:<40} {:<14} {:>10}", row.image, id, size))?;
    }
    Ok(ExitStatus::Success)
}

/// DS01's own Dockerfile of an image, read here as the user: the service never reads
/// files in users' homes.
fn legacy_dockerfile(name: &ImageName) -> Option<(PathBuf, String)> {
    let path = home()?
        .join("dockerfiles")
        .join(format!("{name}.Dockerfile"));
    let text = super::read_user_file(&path).ok()?;
    Some((path, text))
}

async fn details(ctx: &Context, name: &ImageName) -> Result<ImageDetails, ApiError> {
    let name = name.clone();
    ctx.client.ask_api(&ShowImage { name }).await
}

async fn show(name: &ImageName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let found = details(ctx, name).await;
    let legacy = legacy_dockerfile(name);
    let d = match found {
        Ok(d) => d,
        Err(e) if e.code == ErrorCode::NotFound && legacy.is_some() => {
            let (path, text) = legacy.expect("checked");
            if ctx.out.json() {
                ctx.out.print_json(
                    &json!({"name": name.as_str(), "dockerfile_path": path, "dockerfile": text}),
                )?;
            } else {
                ctx.out.print(format!(
                    "dockerfile: {} (DS01's; not built by ds01)",
                    path.display()
                ))?;
            }
            return Ok(ExitStatus::Success);
        }
        Err(e) => return Err(e.into()),
    };
    if ctx.out.json() {
        ctx.out.print_json(&d)?;
        return Ok(ExitStatus::Success);
    }
    let field = |k: &str, v: String| format!("{} {v}", ctx.out.bold(&format!("{k:<11}")));
    ctx.out.print(field("image:", d.image.clone()))?;
    match &d.id {
        Some(id) => {
            ctx.out.print(field("id:", id.clone()))?;
            ctx.out
                .print(field("size:", human_size(d.size.unwrap_or(0))))?;
        }
        None => ctx.out.print(field("built:", "no".into()))?,
    }
    if let Some(spec) = &d.spec {
        ctx.out.print(ctx.out.bold("spec:"))?;
        let text = spec
            .to_toml_string()
            .map_err(|e| CliError::msg(e.to_string()))?;
        for line in text.lines() {
            ctx.out.print(format!("  {}", ds01_api::shown(line)))?;
        }
    }
    if !d.labels.is_empty() {
        ctx.out.print(ctx.out.bold("labels:"))?;
        for (k, v) in &d.labels {
            ctx.out
                .print(format!("  {}={}", ds01_api::shown(k), ds01_api::shown(v)))?;
        }
    }
    Ok(ExitStatus::Success)
}

async fn dockerfile(name: &ImageName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let text = match details(ctx, name).await {
        Ok(ImageDetails {
            dockerfile: Some(text),
            ..
        }) => text,
        Ok(_)
        | Err(ApiError {
            code: ErrorCode::NotFound,
            ..
        }) => match legacy_dockerfile(name) {
            Some((_, text)) => text,
            None => {
                return Err(CliError::msg(format!(
                    "no image spec {name}\n  create it with `ds01 image create {name}`"
                )))
            }
        },
        Err(e) => return Err(e.into()),
    };
    if ctx.out.json() {
        ctx.out
            .print_json(&json!({"name": name.as_str(), "dockerfile": text}))?;
    } else {
        print!("{text}");
    }
    Ok(ExitStatus::Success)
}

async fn delete(args: &DeleteArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    if !args.yes && !ctx.out.json() {
        let question = format!(
            "Delete your image {} and its spec (it cannot be rebuilt afterwards)?",
            args.name
        );
        if crate::prompt::confirm(&question)? == Some(false) {
            ctx.out.info("nothing deleted");
            return Ok(ExitStatus::Failure);
        }
    }
    let delete = DeleteImage {
        name: args.name.clone(),
        query: ForceQuery { force: args.force },
    };
    let removed = ctx.client.ask(&delete).await?;
    if ctx.out.json() {
        ctx.out
            .print_json(&json!({"image": removed.name, "deleted": true}))?;
    } else {
        ctx.out.success(format!("deleted {}", removed.name));
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
