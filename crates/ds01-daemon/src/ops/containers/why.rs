//! `GET /v1/containers/{name}/why`: the story of one container, in sentences, from the
//! event log.

use ds01_api::{ApiError, ErrorCode, OwnedContainer, Story};

use crate::caller::Acting;
use crate::Daemon;

/// Every event of the container, oldest first; a container ds01d has no record of is
/// answered as one that is not there. In cluster mode the user's job endings Slurm still
/// knows are recorded first.
pub async fn why(
    d: &Daemon,
    acting: &Acting,
    container: &OwnedContainer,
) -> Result<Story, ApiError> {
    if let Some(cluster) = &d.config.cluster {
        let jobs = crate::cluster::slurm::jobs(cluster, &acting.who).await?;
        crate::ops::cluster::observe::record_endings(d, acting, &jobs);
    }
    let story: Vec<String> = d
        .events
        .read(|e| e.container == container.as_str() && e.uid == container.uid())
        .into_iter()
        .map(|e| format!("{}: {}", crate::reaper::clock(e.ts), e.detail))
        .collect();
    if story.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("no container {container} of yours in ds01d's records"),
        )
        .subject(container.name().as_str()));
    }
    Ok(Story {
        container: container.to_string(),
        story,
    })
}
