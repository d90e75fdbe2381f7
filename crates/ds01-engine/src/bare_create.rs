//! A container with nothing of ds01's in it: what `docker create --name NAME --label K=V
//! IMAGE` asks of the engine. ds01 never makes a user's container this way; it is the floor
//! that ds01's own create is measured against.

use std::collections::HashMap;

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;

use crate::client::Engine;
use crate::error::{Context, Result};

impl Engine {
    /// Creates the container `name` of `image` with `labels` and returns its ID: one engine
    /// call, no account, no checks, no rollback. Over the same connection as
    /// [`Engine::create_container`], so that timing both leaves ds01's own work as the
    /// difference (`benches/create.rs`).
    ///
    /// ```no_run
    /// # async fn demo(engine: &ds01_engine::Engine) -> ds01_engine::Result<()> {
    /// let label = ("ds01.test".to_owned(), "bench-create-4242".to_owned());
    /// let id = engine
    ///     .create_bare_container("bench-bare-0", "ds01-fixture/debian11:latest", &[label])
    ///     .await?;
    /// println!("created {id}");
    /// # Ok(()) }
    /// ```
    pub async fn create_bare_container(
        &self,
        name: &str,
        image: &str,
        labels: &[(String, String)],
    ) -> Result<String> {
        let body = ContainerCreateBody {
            image: Some(image.to_owned()),
            labels: Some(labels.iter().cloned().collect::<HashMap<_, _>>()),
            ..Default::default()
        };
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        let created = self
            .docker()
            .create_container(Some(options), body)
            .await
            .context(|| format!("creating container {name}"))?;
        Ok(created.id)
    }
}
