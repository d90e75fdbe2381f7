//! A create request worked out without making anything: what `container create --dry-run`
//! prints. Only the image is inspected (never pulled), so the plan names the path the flow
//! would take and the exact request it would send for the final container.

use crate::client::Engine;
use crate::container_spec::ContainerSpec;
use crate::create::{baked_claim, now_utc, Claim, CreateRequest};
use crate::error::{is_not_found, Context, Result};
use crate::setup;
use ds01_api::UserSetup;
use ds01_dockerfile::Identity;

/// What a create would do: the API's answer to a dry run, of which the engine leaves only
/// `gpus` (the request's, which ds01d knows) unset.
pub use ds01_api::CreatePlan;

impl Engine {
    /// Works out `request` for `who`, changing nothing.
    pub async fn plan_create(&self, who: &Identity, request: &CreateRequest) -> Result<CreatePlan> {
        // The default workspace is made only by a real create: a missing one is fine here.
        let mut checked = request.options.clone();
        checked.workspace = checked.workspace.filter(|w| w.is_dir());
        checked.validate()?;
        let docker_name = request.name.owned_by(who.uid());
        let reference = request.image.to_string();
        let base = match self.docker().inspect_image(&reference).await {
            Ok(found) => Some(found),
            Err(e) if is_not_found(&e) && request.pull_if_missing => None,
            Err(e) if is_not_found(&e) => {
                return Err(crate::error::EngineError::ImageNotFound { image: reference })
            }
            Err(e) => return Err(e).context(|| format!("inspecting image {reference}")),
        };
        let user_setup = match base.as_ref().map(|b| baked_claim(b, who)) {
            Some(Claim::Matches) => UserSetup::Baked,
            _ => UserSetup::Committed,
        };
        // Both paths end on `<repository>:<name>._.<uid>`: the baked container's own tag or
        // the committed image.
        let image = setup::commit_target(&request.image, &docker_name)?.to_string();
        let now = now_utc();
        let spec = ContainerSpec {
            who,
            name: &request.name,
            image: &image,
            provenance: &request.provenance,
            options: &request.options,
            user_setup,
            resource_labels: &request.resource_labels,
            created_at: &now,
        };
        Ok(CreatePlan {
            name: docker_name.into(),
            user_setup,
            pull: base.is_none(),
            gpus: None,
            create: serde_json::to_value(spec.body()).unwrap_or_default(),
        })
    }
}
