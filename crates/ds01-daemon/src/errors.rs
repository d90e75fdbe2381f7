//! The engine's errors as the API's: a code a client can act on, and the engine's own words.

use ds01_api::{ApiError, ErrorCode};
use ds01_engine::EngineError;

/// Maps an engine error to what the client is told.
pub fn from_engine(e: EngineError) -> ApiError {
    let message = e.to_string();
    let (code, subject) = match &e {
        EngineError::Connect { .. } | EngineError::EngineGone { .. } => {
            (ErrorCode::EngineUnavailable, None)
        }
        EngineError::ImageNotFound { image } | EngineError::PullFailed { image, .. } => {
            (ErrorCode::NotFound, Some(image.clone()))
        }
        EngineError::ContainerNotFound { name } => (ErrorCode::NotFound, Some(display(name))),
        EngineError::ContainerExists { display, .. } => {
            (ErrorCode::ContainerExists, Some(display.clone()))
        }
        EngineError::NotRunning { name } | EngineError::Running { name } => {
            (ErrorCode::Invalid, Some(display(name)))
        }
        EngineError::ImageInUse { image, .. } => (ErrorCode::ImageInUse, Some(image.clone())),
        EngineError::InvalidOption(_)
        | EngineError::MissingDirectory { .. }
        | EngineError::Spec(_)
        | EngineError::Catalog(_) => (ErrorCode::Invalid, None),
        EngineError::Interrupted => (ErrorCode::Interrupted, None),
        _ => (ErrorCode::Failed, None),
    };
    let mut error = ApiError::new(code, message);
    error.subject = subject;
    error
}

/// `thesis._.1000` → `thesis`: clients name containers without the UID.
fn display(docker_name: &str) -> String {
    docker_name
        .rsplit_once("._.")
        .map_or(docker_name, |(name, _)| name)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_subjects() {
        let e = from_engine(EngineError::ContainerNotFound {
            name: "thesis._.1000".into(),
        });
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.subject.as_deref(), Some("thesis"));
        let e = from_engine(EngineError::Running {
            name: "x._.1".into(),
        });
        assert_eq!(e.code, ErrorCode::Invalid);
        assert_eq!(
            from_engine(EngineError::Interrupted).code,
            ErrorCode::Interrupted
        );
    }
}
