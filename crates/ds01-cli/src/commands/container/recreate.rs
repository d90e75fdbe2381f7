//! `ds01 container recreate`: ds01d makes the container again with the options it was
//! created with; also offered by `ds01 image update`.

use ds01_api::endpoints::RecreateContainer;
use ds01_api::{ContainerName, CreatedContainer};

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

pub(super) const RECREATE_AFTER_HELP: &str = "\
The container is stopped, removed and created again from its image as it is now (after
`ds01 image update`, the new build), with every option it was created with, its GPUs
bound again by ds01d, its home volume and workspace kept. It is started again if it ran.

With --json: the same object as `container create --json`.

Example:
  ds01 image update thesis --add 'numpy>=2' && ds01 container recreate thesis";

pub(super) async fn recreate(name: &ContainerName, ctx: &Context) -> Result<ExitStatus, CliError> {
    let created = recreate_one(name, ctx).await?;
    if ctx.out.json() {
        ctx.out.print_json(&created)?;
    } else {
        ctx.out.success(format!(
            "recreated {} from {} ({})",
            created.name,
            created.image,
            created.user_setup.as_str()
        ));
    }
    Ok(ExitStatus::Success)
}

/// One recreate request, with its progress shown.
async fn recreate_one(name: &ContainerName, ctx: &Context) -> Result<CreatedContainer, CliError> {
    let mut progress = ctx.out.progress();
    let created = ctx
        .client
        .progress(&RecreateContainer::new(name.clone()), |p| {
            progress.report(p)
        })
        .await;
    progress.finish();
    created
}
