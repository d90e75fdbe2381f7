//! The engine's errors as the API's: a code a client can act on, and the engine's own words.

use ds01_api::{ApiError, ErrorCode, Reason};
use ds01_engine::EngineError;

/// Maps an engine error to what the client is told.
pub fn from_engine(e: EngineError) -> ApiError {
    let message = e.to_string();
    let (code, subject, reason) = match &e {
        EngineError::Connect { .. } | EngineError::EngineGone { .. } => {
            (ErrorCode::EngineUnavailable, None, None)
        }
        EngineError::ImageNotFound { image } | EngineError::PullFailed { image, .. } => (
            ErrorCode::NotFound,
            Some(image.clone()),
            Some(Reason::NoImage),
        ),
        EngineError::ContainerNotFound { name } => (
            ErrorCode::NotFound,
            Some(name.name().to_string()),
            Some(Reason::NoContainer),
        ),
        EngineError::ContainerExists { name } => (
            ErrorCode::ContainerExists,
            Some(name.name().to_string()),
            None,
        ),
        EngineError::NotRunning { name } => (
            ErrorCode::Invalid,
            Some(name.name().to_string()),
            Some(Reason::NotRunning),
        ),
        EngineError::Running { name } => (
            ErrorCode::Invalid,
            Some(name.name().to_string()),
            Some(Reason::Running),
        ),
        EngineError::ImageInUse { image, .. } => (ErrorCode::ImageInUse, Some(image.clone()), None),
        EngineError::InvalidOption(_)
        | EngineError::MissingDirectory { .. }
        | EngineError::Spec(_)
        | EngineError::Catalog(_) => (ErrorCode::Invalid, None, None),
        EngineError::Interrupted => (ErrorCode::Interrupted, None, None),
        _ => (ErrorCode::Failed, None, None),
    };
    let mut error = ApiError::new(code, message);
    error.subject = subject;
    error.reason = reason;
    error
}

/// A policy refusal: it names the limit and where it comes from, and says which key.
pub fn from_limit(e: ds01_policy::LimitError) -> ApiError {
    let key = e.key.to_owned();
    ApiError::new(ErrorCode::Limit, e.to_string()).because(Reason::OverLimit { key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_subjects() {
        let owned = |text: &str| ds01_api::OwnedContainer::parse(text).unwrap();
        let e = from_engine(EngineError::ContainerNotFound {
            name: owned("thesis._.1000"),
        });
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.subject.as_deref(), Some("thesis"));
        let e = from_engine(EngineError::Running {
            name: owned("x._.1"),
        });
        assert_eq!(e.code, ErrorCode::Invalid);
        assert_eq!(e.reason, Some(Reason::Running));
        assert_eq!(
            from_engine(EngineError::NotRunning {
                name: owned("x._.1")
            })
            .reason,
            Some(Reason::NotRunning)
        );
        assert_eq!(
            from_engine(EngineError::Interrupted).code,
            ErrorCode::Interrupted
        );
    }
}
