//! The engine's errors. Each message says what went wrong and, where there is one, what to
//! do next: they are shown to users as they are.

use std::path::PathBuf;

use ds01_api::OwnedContainer;

/// Everything an engine flow can fail with.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The daemon could not be reached or did not answer the version handshake.
    #[error("cannot reach the Docker engine at {host}: {source}")]
    Connect {
        /// Where ds01 looked (`DOCKER_HOST` or the local socket).
        host: String,
        /// What bollard reported.
        #[source]
        source: bollard::errors::Error,
    },
    /// A Docker API call failed for a reason ds01 has no better words for.
    #[error("{action} failed: {source}")]
    Docker {
        /// What ds01 was doing, e.g. "committing container x._.1000".
        action: String,
        /// The engine's answer.
        #[source]
        source: bollard::errors::Error,
    },
    /// The image does not exist locally (and could not be pulled, where pulling was tried).
    #[error("image {image} not found")]
    ImageNotFound {
        /// The reference as given.
        image: String,
    },
    /// The image is not here and pulling it failed.
    #[error("image {image} is not on this server, and pulling it failed: {message}")]
    PullFailed {
        /// The reference.
        image: String,
        /// What the engine said.
        message: String,
    },
    /// A container of that name exists already.
    #[error("container {name} already exists")]
    ContainerExists {
        /// The container.
        name: OwnedContainer,
    },
    /// No container of that name belongs to the user.
    #[error("no container {name} of yours")]
    ContainerNotFound {
        /// The Docker name looked for.
        name: OwnedContainer,
    },
    /// The container must run for this, and does not.
    #[error("container {name} is not running")]
    NotRunning {
        /// The Docker name.
        name: OwnedContainer,
    },
    /// The container must be stopped for this, and runs.
    #[error("container {name} is running")]
    Running {
        /// The Docker name.
        name: OwnedContainer,
    },
    /// A host directory to mount does not exist (Docker would create it, owned by root).
    #[error("{what} directory {path} does not exist")]
    MissingDirectory {
        /// "workspace", "data" or "models".
        what: &'static str,
        /// The path given.
        path: PathBuf,
    },
    /// The engine stopped answering in the middle of a call (daemon stopped or crashed).
    #[error("the Docker engine stopped answering while {action}: {source}; once it runs again, the same request removes what this one left")]
    EngineGone {
        /// What ds01 was doing.
        action: String,
        /// The transport error.
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine's storage ran out of space.
    #[error("the Docker engine ran out of disk space while {action}: {message}; nothing of this request was kept")]
    DiskFull {
        /// What ds01 was doing.
        action: String,
        /// The engine's message.
        message: String,
    },
    /// A user-supplied option was refused.
    #[error("{0}")]
    InvalidOption(String),
    /// The user-setup script failed inside the setup container.
    #[error("setting up user {user} in {image} failed (exit status {status}):\n{log_tail}")]
    SetupFailed {
        /// The account name.
        user: String,
        /// The image the setup ran on.
        image: String,
        /// The script's exit status.
        status: i64,
        /// The last lines the script printed.
        log_tail: String,
    },
    /// The sparse-file guard refused a commit.
    #[error("refusing to commit: {path} in the setup container has an apparent size of {size} bytes (limit {limit}); committing it would write that much to disk. The setup container was removed; report this image to your admin")]
    OversizedFile {
        /// The file.
        path: String,
        /// Its apparent size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The account the image or setup should carry is not there after all.
    #[error("the user account in {image} is not as expected: {reason}")]
    UserMismatch {
        /// The image checked.
        image: String,
        /// What did not match.
        reason: String,
    },
    /// An image build failed: which step, why, and the tail of the log.
    #[error(
        "building {image} failed{}: {}\n--- last lines of the build log ---\n{log_tail}",
        step.as_ref().map(|s| format!(" at {s}")).unwrap_or_default(),
        reason.as_deref().unwrap_or(message)
    )]
    BuildFailed {
        /// The tag that was being built.
        image: String,
        /// The step that failed, as `step 7/12, installing pip packages`.
        step: Option<String>,
        /// The failing step's own last error line (`DS01: error: ...`, pip's `ERROR: ...`,
        /// apt's `E: ...`), when it printed one.
        reason: Option<String>,
        /// The engine's error message.
        message: String,
        /// The tail of the build output.
        log_tail: String,
    },
    /// The image is still used by a container, so it is kept.
    #[error("image {image} is used by container(s) {containers}")]
    ImageInUse {
        /// The image.
        image: String,
        /// The containers using it, comma-separated.
        containers: String,
    },
    /// A network under the name of a user's private network exists but is not ds01's network
    /// for that user: joining it could put the user's containers next to someone else's.
    #[error("network {name} exists but is not ds01's private network for this account; an admin must remove it (`docker network rm {name}`) before this account's containers can be created")]
    NetworkNotOwned {
        /// The network's name.
        name: String,
    },
    /// The engine has no address range left for another user network.
    #[error("the Docker engine has no address range left for network {name}; an admin must give it more (`default-address-pools` in /etc/docker/daemon.json, e.g. {{\"base\": \"10.200.0.0/16\", \"size\": 24}} for 256 networks)")]
    NoNetworkAddresses {
        /// The network that could not be made.
        name: String,
    },
    /// The operation was interrupted (Ctrl-C); what it had made was removed.
    #[error("interrupted; everything this command had created was removed")]
    Interrupted,
    /// A command run inside a container failed.
    #[error("`{command}` failed in {container} with exit status {status}")]
    ExecFailed {
        /// The command line.
        command: String,
        /// The container.
        container: String,
        /// Its exit status.
        status: i64,
    },
    /// An image's file system could not be written out (a cluster bundle's root).
    #[error("cannot write the file system of {image} to {path}: {source}")]
    Export {
        /// The image.
        image: String,
        /// Where it was going.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The image spec could not be rendered.
    #[error(transparent)]
    Spec(#[from] ds01_dockerfile::SpecError),
    /// The AIME catalog lookup failed.
    #[error(transparent)]
    Catalog(#[from] ds01_dockerfile::CatalogError),
}

/// Shows outside text in a message with control characters escaped, so that a hostile name
/// (or an image's `/etc/passwd`) cannot drive the user's terminal.
pub(crate) fn shown(text: &str) -> String {
    ds01_api::shown(text)
}

/// Shorthand for results of engine flows.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

pub(crate) trait Context<T> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, bollard::errors::Error> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T> {
        use bollard::errors::Error as E;
        self.map_err(|source| match source {
            E::HyperLegacyError { .. }
            | E::HyperResponseError { .. }
            | E::IOError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_) => EngineError::EngineGone {
                action: action(),
                source,
            },
            E::DockerResponseServerError { ref message, .. }
            | E::DockerStreamError { error: ref message }
                if message.contains("no space left on device") =>
            {
                EngineError::DiskFull {
                    action: action(),
                    message: message.clone(),
                }
            }
            source => EngineError::Docker {
                action: action(),
                source,
            },
        })
    }
}

/// Whether an engine error is a "404 not found".
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Whether an engine error is a "409 conflict" (name taken, image in use).
pub(crate) fn is_conflict(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}
