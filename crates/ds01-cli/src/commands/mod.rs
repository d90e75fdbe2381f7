//! One module per noun; each turns its arguments into an [`ExitStatus`] or a [`CliError`].

pub mod admin;
pub mod container;
pub mod doctor;
pub mod events;
pub mod image;
pub mod status;
pub mod usage;
pub mod username;

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

/// Runs the command the user asked for.
pub fn run(cli: &Cli) -> Result<ExitStatus, CliError> {
    match &cli.command {
        Command::Username(args) => username::run(args, &cli.global),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            match crate::complete::registration(*shell) {
                Some(script) => out.write_all(&script).map_err(CliError::write)?,
                None => clap_complete::generate(*shell, &mut Cli::command(), "ds01", &mut out),
            }
            out.flush().map_err(CliError::write)?;
            Ok(ExitStatus::Success)
        }
        Command::Man { dir: Some(dir) } => {
            clap_mangen::generate_to(Cli::command(), dir).map_err(|e| {
                CliError::failure(format!("cannot write the pages into {}", dir.display()), e)
            })?;
            Ok(ExitStatus::Success)
        }
        Command::Man { dir: None } => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(CliError::write)?;
            Ok(ExitStatus::Success)
        }
        Command::Doctor => block_on(doctor::run(&cli.global)),
        Command::DockerEnv => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            doctor::docker_env(&ctx).await
        }),
        Command::Image(args) => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            image::run(args, &ctx).await
        }),
        Command::Events(args) => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            events::events(args, &ctx).await
        }),
        Command::Why { name } => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            events::why(name, &ctx).await
        }),
        Command::Status => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            status::status(&ctx).await
        }),
        Command::Limits => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            admin::limits(&ctx).await
        }),
        Command::Usage(args) => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            usage::own(args, &ctx).await
        }),
        Command::Admin(args) if !admin::needs_service(args) => {
            admin::import_limits(args, &crate::output::Output::new(&cli.global))
        }
        Command::Admin(args) => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            admin::run(args, &ctx).await
        }),
        Command::Container(args) => block_on(async {
            let ctx = Context::new(&cli.global).await?;
            container::run(args, &ctx).await
        }),
    }
}

fn block_on<F: std::future::Future<Output = Result<ExitStatus, CliError>>>(
    future: F,
) -> Result<ExitStatus, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure("cannot start the async runtime", e))?;
    let result = runtime.block_on(future);
    // A thread still blocked on stdin (`container open`) must not hold the exit.
    runtime.shutdown_background();
    result
}

/// The most of a file the user names (a catalog, a Dockerfile) that ds01 sends on: such
/// files are small, and the service must not be made to hold arbitrary amounts.
const MAX_USER_FILE: u64 = 4 << 20;

/// Reads a file the user names, as the user (this process), bounded in size.
pub fn read_user_file(path: &std::path::Path) -> Result<String, CliError> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::failure(format!("cannot read {}", path.display()), e))?;
    let mut text = String::new();
    file.take(MAX_USER_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| CliError::failure(format!("cannot read {}", path.display()), e))?;
    if text.len() as u64 > MAX_USER_FILE {
        return Err(CliError::msg(format!(
            "{} is larger than {} MiB",
            path.display(),
            MAX_USER_FILE >> 20
        )));
    }
    Ok(text)
}
