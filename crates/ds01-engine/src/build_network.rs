//! The bridge network users' builds run on.
//!
//! On the engine's default bridge a build step could connect to every container there. On
//! a bridge of its own, with inter-container traffic off, a step reaches the outside (apt,
//! pip) but neither another build nor any container on another bridge: the engine keeps
//! bridges apart.

use std::collections::HashMap;

use bollard::models::NetworkCreateRequest;

use crate::client::Engine;
use crate::error::{Context, EngineError, Result};

/// The bridge driver's option that turns traffic between its containers on or off.
const ICC: &str = "com.docker.network.bridge.enable_icc";

/// Serialises the look-then-create: engine 20.10 lets two networks share a name, after
/// which neither can be named.
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Engine {
    /// Makes sure the build network `name` exists, labelled with `labels`, and that it is
    /// a bridge without inter-container traffic; one of that name that is not is refused
    /// rather than used.
    pub async fn ensure_build_network(
        &self,
        name: &str,
        labels: &[(String, String)],
    ) -> Result<()> {
        let _one_at_a_time = CREATING.lock().await;
        match self.docker().inspect_network(name, None).await {
            Ok(network) => {
                let options = network.options.unwrap_or_default();
                let bridge = network.driver.as_deref() == Some("bridge");
                if bridge && options.get(ICC).map(String::as_str) == Some("false") {
                    return Ok(());
                }
                return Err(EngineError::InvalidOption(format!(
                    "the build network {name} exists but is not a bridge with {ICC}=false; \
                     remove it (docker network rm {name}) and ds01d makes it again"
                )));
            }
            Err(e) if crate::error::is_not_found(&e) => {}
            Err(e) => return Err(e).context(|| format!("inspecting the build network {name}")),
        }
        let request = NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".into()),
            options: Some(HashMap::from([(ICC.to_owned(), "false".to_owned())])),
            labels: Some(labels.iter().cloned().collect()),
            ..NetworkCreateRequest::default()
        };
        self.docker()
            .create_network(request)
            .await
            .context(|| format!("creating the build network {name}"))?;
        Ok(())
    }
}
