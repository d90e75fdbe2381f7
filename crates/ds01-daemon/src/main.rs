//! `ds01d`: parse the options, run the service until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The ds01 service: the only door to the Docker engine for the users of a shared GPU
/// server. Runs as root; users reach it with the `ds01` command.
#[derive(Debug, Parser)]
#[command(name = "ds01d", version)]
struct Args {
    /// The Unix socket to listen on (ignored under systemd socket activation)
    #[arg(long, value_name = "PATH", default_value = ds01_api::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The configuration file (root-owned; missing means built-in defaults)
    #[arg(long, value_name = "FILE", default_value = ds01_daemon::config::DEFAULT_CONFIG)]
    config: PathBuf,
    /// Also serve the Docker Engine API on this socket, for users' own docker CLI,
    /// docker-compose and SDKs (else the configuration's `docker_socket`, if set)
    #[arg(long, value_name = "PATH")]
    docker_socket: Option<PathBuf>,
    /// Where journals, image specs, verdicts and the audit log live
    #[arg(long, value_name = "DIR", default_value = ds01_engine::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// Check the configuration (and the GPU inventory it names) as a start would, say what
    /// is wrong with its key and file, and exit without starting
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        return match ds01_daemon::config::Config::load(&args.config) {
            Ok(config) => {
                match config.source {
                    Some(path) => println!("{}: ok", path.display()),
                    None => println!(
                        "{}: not there; ds01d would start with the built-in defaults",
                        args.config.display()
                    ),
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ds01d: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DS01D_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ds01d: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = ds01_daemon::Settings {
        socket: args.socket.clone(),
        config: args.config,
        state_dir: args.state_dir,
        docker_socket: args.docker_socket,
    };
    let result = runtime.block_on(ds01_daemon::run(settings, shutdown()));
    if let Err(e) = result {
        eprintln!("ds01d: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("ds01d: shutting down");
}
