//! `POST /v1/containers?dry_run=true`: the create request worked out as a create would,
//! changing nothing: no container, no volume, no workspace directory, no GPU reservation.

use ds01_api::{ApiError, ContainerCreate};
use ds01_engine::CreateRequest;
use ds01_policy::Allocation;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::gpus;
use crate::Daemon;

impl Daemon {
    /// The planned create: `{"name", "user_setup", "pull", "gpus", "create"}`, where
    /// `create` is the engine's request for the final container. GPUs are shown as asked:
    /// devices are picked only when a real create reserves them.
    pub async fn plan_container(
        &self,
        acting: &Acting,
        request: ContainerCreate,
    ) -> Result<ds01_api::CreatePlan, ApiError> {
        let effective = self.effective(acting);
        let (image, provenance, pull, arch) = self.choose_image(acting, &request).await?;
        gpus::ask(request.gpus.as_ref(), self.gpus.devices())?;
        let (options, _nothing_made) = self
            .container_options(
                acting,
                &effective,
                &request,
                arch,
                &Allocation::default(),
                false,
            )
            .await?;
        let create = CreateRequest {
            name: request.name.clone(),
            image,
            provenance,
            pull_if_missing: pull,
            options,
            resource_labels: self.resource_labels(),
        };
        let plan = self
            .engine
            .plan_create(&acting.who, &create)
            .await
            .map_err(from_engine)?;
        Ok(ds01_api::CreatePlan {
            name: plan.name,
            user_setup: plan.user_setup,
            pull: plan.pull,
            gpus: request.gpus,
            create: plan.create,
        })
    }
}
