//! Errors as data: a code a client can act on, the subject it concerns, and a message that
//! says what went wrong without naming any client's flags (the client adds its hints).

use serde::{Deserialize, Serialize};

/// What kind of failure an [`ApiError`] is. The set only grows; clients treat an unknown
/// code as [`ErrorCode::Failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a value in it is refused (HTTP 400).
    Invalid,
    /// The caller may not do this (HTTP 403): another user's resource, an admin-only
    /// option, a path outside what the caller may mount.
    Forbidden,
    /// No such container or image of the caller's (HTTP 404).
    NotFound,
    /// A container of that name exists already (HTTP 409).
    ContainerExists,
    /// An image exists already (HTTP 409).
    ImageExists,
    /// An image is still used by containers (HTTP 409).
    ImageInUse,
    /// Another request works on the same name right now (HTTP 409).
    Busy,
    /// A policy limit refuses the request (HTTP 403).
    Limit,
    /// The Docker engine is not reachable or stopped answering (HTTP 503).
    EngineUnavailable,
    /// The request was cancelled; what it had made was removed.
    Interrupted,
    /// The work failed (a build, a setup, a command): the message says why (HTTP 500).
    #[serde(other)]
    Failed,
}

impl ErrorCode {
    /// The HTTP status the service answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Invalid => 400,
            ErrorCode::Forbidden | ErrorCode::Limit => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::ContainerExists
            | ErrorCode::ImageExists
            | ErrorCode::ImageInUse
            | ErrorCode::Busy => 409,
            ErrorCode::EngineUnavailable => 503,
            ErrorCode::Interrupted => 499,
            ErrorCode::Failed => 500,
        }
    }
}

/// Why a request failed, more precisely than its [`ErrorCode`]: what a client matches its
/// hints on, never the message's words. The set only grows; a reason a client does not know
/// reads as none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The container is not running, and the request needs it to.
    NotRunning,
    /// The container is running, and the request needs it stopped.
    Running,
    /// No container of that name is the caller's.
    NoContainer,
    /// No image of that name (or reference) is one the caller may use.
    NoImage,
    /// No image spec of that name is the caller's.
    NoImageSpec,
    /// The create named no image, and the caller has none of the container's name.
    NoImageGiven,
    /// The container's image has no JupyterLab.
    NoJupyter,
    /// The server has no GPUs that ds01d knows of.
    NoGpus,
    /// Root (or an admin) acting as nobody, where only a user can own things.
    NoOwner,
    /// A value that must be positive was not.
    NotPositive {
        /// The request's field (`cpus`, `pids_limit`).
        field: String,
    },
    /// A policy limit refuses the request.
    OverLimit {
        /// The policy key (`max_containers`, `memory`).
        key: String,
    },
}

/// A refused or failed request.
///
/// ```
/// use ds01_api::{ApiError, ErrorCode, Reason};
/// let e = ApiError::new(ErrorCode::NotFound, "no container thesis of yours")
///     .subject("thesis")
///     .because(Reason::NoContainer);
/// assert_eq!(e.code.http_status(), 404);
/// assert_eq!(e.to_string(), "no container thesis of yours");
/// let wire = serde_json::to_string(&e).unwrap();
/// assert!(wire.contains(r#""reason":"no_container""#), "{wire}");
/// // A reason this client does not know is no reason, not a broken answer.
/// let newer = r#"{"code":"invalid","message":"m","reason":{"from_the_future":{}}}"#;
/// assert_eq!(serde_json::from_str::<ApiError>(newer).unwrap().reason, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What went wrong, in a sentence or more (control characters of outside text escaped).
    pub message: String,
    /// The name the error is about (a container or image name), for the client's hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Why, for the client's hint.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "known_reason"
    )]
    pub reason: Option<Reason>,
}

/// A reason this build knows, else none: newer services may say more.
fn known_reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Reason>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

impl ApiError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            subject: None,
            reason: None,
        }
    }

    /// Says why, for the client's hint.
    pub fn because(mut self, reason: Reason) -> ApiError {
        self.reason = Some(reason);
        self
    }

    /// Names what the error is about.
    pub fn subject(mut self, subject: impl Into<String>) -> ApiError {
        self.subject = Some(subject.into());
        self
    }

    /// A refused request.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Invalid, message)
    }

    /// Something the caller may not do.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::Forbidden, message)
    }
}
