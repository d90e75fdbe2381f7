//! `POST /v1/images/{name}/recreate`: every one of the user's containers made from their
//! image, made again from it as it is now (after an `image update`), one after the other.
//! One that fails does not stop the others; each answers for itself.

use ds01_api::{ApiError, BulkOutcome};
use ds01_dockerfile::ImageName;

use crate::caller::Acting;
use crate::stream::Reporter;
use crate::Daemon;

/// Recreates the acting user's containers made from image `name`.
pub async fn recreate(
    d: &Daemon,
    acting: &Acting,
    name: &ImageName,
    reporter: Reporter,
) -> Result<Vec<BulkOutcome>, ApiError> {
    let mut outcomes = Vec::new();
    for container in super::made_from(d, acting, name).await? {
        reporter.report(ds01_api::Progress::Stage(format!(
            "recreating {} from the new image",
            container.name()
        )));
        let made =
            crate::ops::containers::recreate::recreate(d, acting, &container, reporter.clone())
                .await;
        outcomes.push(BulkOutcome {
            name: container.to_string(),
            action: if made.is_ok() { "recreated" } else { "failed" }.to_owned(),
            error: made.err(),
        });
    }
    Ok(outcomes)
}
