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

/// A refused or failed request.
///
/// ```
/// use ds01_api::{ApiError, ErrorCode};
/// let e = ApiError::new(ErrorCode::NotFound, "no container thesis of yours").subject("thesis");
/// assert_eq!(e.code.http_status(), 404);
/// assert_eq!(e.to_string(), "no container thesis of yours");
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
}

impl ApiError {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            subject: None,
        }
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
