//! `POST /v1/operations/{id}/cancel`: a long request of the caller's (or, for an admin,
//! anybody's) stopped; the stream then ends once the engine flow has removed what it made.

use ds01_api::{ApiError, Cancelled, ErrorCode};

use crate::caller::Caller;
use crate::Daemon;

/// Cancels operation `id`; one that is not the caller's is answered as one that is not
/// running.
pub fn cancel(d: &Daemon, caller: &Caller, id: String) -> Result<Cancelled, ApiError> {
    if d.operations.cancel(&id, caller.uid, caller.admin) {
        Ok(Cancelled {
            operation: id,
            cancelled: true,
        })
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no operation {} of yours is running", ds01_api::shown(&id)),
        ))
    }
}
