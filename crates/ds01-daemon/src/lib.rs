//! `ds01d`: the root-owned service that is the only door to the Docker engine on a shared
//! GPU server.
//!
//! Users never get the engine's socket (it is root on the host). They talk to ds01d over a
//! Unix socket; ds01d learns who they are from the kernel (`SO_PEERCRED`) and NSS, applies
//! the admin's configuration, and runs ds01's engine flows for them: their images, their
//! containers, named `<name>._.<uid>` so that nobody can reach another's. Every request is
//! written to an audit log. The API is `ds01_api`'s types as JSON over HTTP (`docs/api.md`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! let settings = ds01_daemon::Settings {
//!     socket: "/run/ds01/ds01.sock".into(),
//!     config: "/etc/ds01/config.toml".into(),
//!     state_dir: "/var/lib/ds01".into(),
//!     docker_socket: Some("/run/ds01/docker.sock".into()),
//! };
//! ds01_daemon::run(settings, std::future::pending()).await
//! # }
//! ```

mod audit;
mod authz;
mod binds;
mod builds;
pub mod caller;
pub mod cluster;
pub mod config;
mod demand;
mod disk;
mod docker;
mod errors;
mod events;
pub mod firewall;
mod gpus;
mod metrics;
pub mod mounts;
mod notify;
mod ops;
mod reaper;
mod server;
mod sessions;
mod slices;
mod store;
mod stream;
mod usage;
mod user_lock;
mod volumes;
mod workspace;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ds01_engine::{Engine, VerdictCache};

use crate::audit::AuditLog;
use crate::config::Config;
use crate::sessions::Sessions;

/// Where ds01d listens and keeps its state.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The socket.
    pub socket: PathBuf,
    /// The configuration file.
    pub config: PathBuf,
    /// The state directory (journals, specs, verdicts, audit log); made `0700`.
    pub state_dir: PathBuf,
    /// The Docker-API socket, if one is served (else the configuration's `docker_socket`).
    pub docker_socket: Option<PathBuf>,
}

/// The running service's shared state.
pub struct Daemon {
    engine: Engine,
    config: Config,
    state_dir: PathBuf,
    audit: AuditLog,
    verdicts: Option<VerdictCache>,
    sessions: Sessions,
    operations: stream::Operations,
    gpus: gpus::Gpus,
    events: events::EventLog,
    watches: reaper::Watches,
    /// The engine's cgroup driver: `systemd` makes per-user slices possible.
    cgroup_driver: String,
    /// How the policy's `disk` is enforced on this engine.
    disk_mechanism: disk::Mechanism,
    /// JupyterLab servers started for users, and their loopback forwards.
    jupyters: ops::containers::jupyter::Jupyters,
    /// Each user's critical section for counting against their caps and acting on it.
    user_locks: user_lock::UserLocks,
    /// The image builds running now, per user (`max_builds`).
    builds: builds::BuildSlots,
    /// The usage ledger and its sampler.
    usage: usage::Usage,
    /// Where the Docker-API socket is, when ds01d serves one.
    docker_socket: Option<PathBuf>,
    /// What the Docker-API socket remembers (whose each exec is, users' network names).
    docker: docker::Door,
}

/// Makes `dir` a directory only its owner can enter.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Runs the service until `shutdown` completes.
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let config = Config::load(&settings.config).map_err(|e| e.to_string())?;
    private_dir(&settings.state_dir).map_err(|e| {
        format!(
            "cannot set up the state directory {}: {e}",
            settings.state_dir.display()
        )
    })?;
    binds::detach_stale(&settings.state_dir);
    if let Some(cluster) = &config.cluster {
        cluster.prepare()?;
    }
    // Before any container can join a user network: its bridges are closed to the host from
    // the first request on.
    firewall::install(&config.file.network.host_ports)
        .await
        .map_err(|e| format!("cannot install the firewall rules for the user networks: {e}"))?;
    let verdicts = VerdictCache::new(settings.state_dir.join("verdicts"));
    let engine = Engine::connect()
        .await
        .map_err(|e| e.to_string())?
        .with_state_dir(&settings.state_dir)
        .with_verdict_cache(verdicts.clone());
    // Many users' connections, each maybe with an engine connection of its own: the soft
    // limit (often 1024) is raised to the hard one, and the connection caps stay below it.
    let fd_limit = server::raise_fd_limit();
    let listener = server::listen(&settings.socket, server::MAIN_SOCKET_NAME)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.socket.display()))?;
    let docker_socket = settings
        .docker_socket
        .clone()
        .or_else(|| config.file.docker_socket.clone());
    let docker_listener = docker_socket
        .as_deref()
        .map(|path| {
            server::listen(path, server::DOCKER_SOCKET_NAME)
                .map_err(|e| format!("cannot listen on {}: {e}", path.display()))
        })
        .transpose()?;
    let info = engine.info().await.ok();
    let cgroup_driver = info
        .as_ref()
        .map(|i| i.cgroup_driver.clone())
        .unwrap_or_default();
    // Without an answer, no quota is assumed: the reaper measures instead.
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let disk_mechanism = info.as_ref().map_or(disk::Mechanism::Sampled, |i| {
        disk::Mechanism::of(i, &mounts)
    });
    let gpus = match &config.inventory {
        Some(inventory) => gpus::Gpus::new(inventory.devices(), gpus::Binding::Environment),
        None => nvml_gpus(),
    };
    let usage_config = config.usage.clone();
    let daemon = Arc::new(Daemon {
        gpus,
        events: events::EventLog::open(&settings.state_dir),
        watches: reaper::Watches::load(&settings.state_dir),
        cgroup_driver,
        disk_mechanism,
        audit: AuditLog::open(&settings.state_dir),
        engine,
        config,
        state_dir: settings.state_dir.clone(),
        verdicts: Some(verdicts),
        sessions: Sessions::default(),
        operations: stream::Operations::default(),
        jupyters: ops::containers::jupyter::Jupyters::default(),
        user_locks: user_lock::UserLocks::default(),
        builds: builds::BuildSlots::default(),
        usage: usage::Usage::open(&settings.state_dir, usage_config),
        docker: docker::Door::default(),
        docker_socket: docker_socket.clone(),
    });
    tracing::info!(
        "ds01d {} listening on {} (state in {}, audit log {})",
        env!("CARGO_PKG_VERSION"),
        settings.socket.display(),
        settings.state_dir.display(),
        daemon.audit.path().display()
    );
    if let Some(listen) = &daemon.config.metrics {
        metrics::start(daemon.clone(), listen, &settings.socket).await?;
    }
    if let Some(path) = &docker_socket {
        tracing::info!("Docker-API socket on {}", path.display());
    }
    tokio::spawn(reaper::run(daemon.clone()));
    server::serve(daemon, listener, docker_listener, fd_limit, shutdown)
        .await
        .map_err(|e| format!("serving {}: {e}", settings.socket.display()))
}

/// Without an inventory file, the GPUs NVML finds (when built with NVML support and a driver
/// is there), else none.
fn nvml_gpus() -> gpus::Gpus {
    #[cfg(feature = "nvml")]
    {
        use ds01_policy::GpuSource;
        match ds01_policy::NvmlSource::init().and_then(|s| s.devices()) {
            Ok(devices) => return gpus::Gpus::new(devices, gpus::Binding::DeviceRequest),
            Err(e) => tracing::info!("no GPUs from NVML: {e}"),
        }
    }
    gpus::Gpus::new(Vec::new(), gpus::Binding::Environment)
}
