//! The connection to the Docker engine.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::verdicts::VerdictCache;
use bollard::Docker;
use std::time::Duration;

/// How long one API request may take. Commits of large images and builds stream for
/// minutes; bollard's default of 120 s would cut them off half-way.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);

/// A connected, version-negotiated Docker engine.
///
/// ```no_run
/// # async fn demo() -> ds01_engine::Result<()> {
/// let engine = ds01_engine::Engine::connect().await?;
/// println!("API {}", engine.api_version());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    verdicts: Option<VerdictCache>,
    state_dir: PathBuf,
    /// Whether the engine's storage (containers' upper directories, the image store) is
    /// this host's to read: see [`Engine::with_storage_access`].
    storage_access: bool,
    /// Where the engine keeps image configurations, once looked up ([`crate::load`]).
    pub(crate) image_store: Arc<tokio::sync::OnceCell<Option<PathBuf>>>,
}

/// Where journals live unless [`Engine::with_state_dir`] says otherwise: root's, never a
/// directory any local user could create first (such as one under `/tmp`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/ds01";

impl Engine {
    /// Connects the way the `docker` CLI does: `DOCKER_HOST` if set, else the local socket;
    /// then negotiates the API version down to what the daemon speaks (1.41 for Engine 20.10).
    pub async fn connect() -> Result<Self> {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        Self::connect_to(&host).await
    }

    /// Connects to an explicit host such as `unix:///run/ds01-test/docker.sock`.
    pub async fn connect_to(host: &str) -> Result<Self> {
        let connect_err = |source| EngineError::Connect {
            host: host.to_owned(),
            source,
        };
        let docker = Docker::connect_with_host(host)
            .map_err(connect_err)?
            .with_timeout(REQUEST_TIMEOUT)
            .negotiate_version()
            .await
            .map_err(connect_err)?;
        Ok(Engine {
            docker,
            host: host.to_owned(),
            verdicts: None,
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            // The paths an engine reports are its host's: only a local socket's are ours.
            storage_access: host.starts_with("unix://"),
            image_store: Arc::default(),
        })
    }

    /// Remembers verified accounts in `cache`, so that creating from the same image again
    /// skips reading its `/etc/passwd` (the baked path then costs little more than a bare
    /// `docker create`).
    pub fn with_verdict_cache(mut self, cache: VerdictCache) -> Self {
        self.verdicts = Some(cache);
        self
    }

    /// Keeps journals (and, with [`Engine::with_verdict_cache`], verdicts) under `dir`, which
    /// must be writable by this process only: what is found there is trusted.
    pub fn with_state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.state_dir = dir.into();
        self
    }

    /// Whether the commit flow may read the engine's storage directly (the setup
    /// container's writes from its overlay upper directory, image configurations from the
    /// image store), which spares `docker commit` and `docker diff`. On by default for an
    /// engine on a local socket, since ds01d runs as root next to it; off, everything goes
    /// through the engine's API (slower on fuse-overlayfs, the same result).
    pub fn with_storage_access(mut self, allowed: bool) -> Self {
        self.storage_access = allowed;
        self
    }

    pub(crate) fn storage_access(&self) -> bool {
        self.storage_access
    }

    pub(crate) fn journal_dir(&self) -> PathBuf {
        self.state_dir.join("journals")
    }

    pub(crate) fn verdicts(&self) -> Option<&VerdictCache> {
        self.verdicts.as_ref()
    }

    /// The negotiated API version, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// Where the engine was reached.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The underlying bollard client, for callers that need an API ds01 does not wrap.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }
}
