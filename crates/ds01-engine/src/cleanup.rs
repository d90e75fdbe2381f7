//! Undo for half-done flows: whatever a call created is recorded here and removed again if
//! the call fails or is interrupted, so a retry never trips over debris. Only what this call
//! created is ever removed.

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder,
};
use bollard::Docker;
use std::collections::HashMap;

/// Label carried by everything one call creates, with a value unique to the call: a
/// request cut off mid-flight (Ctrl-C while the engine is still creating) leaves no ID in
/// our hands, but its result carries this label and is found by it.
pub const OPERATION_LABEL: &str = "ds01.operation";

/// The resources one call has created so far.
#[derive(Debug)]
pub(crate) struct Created {
    operation: String,
    containers: Vec<String>,
    images: Vec<String>,
}

impl Created {
    pub(crate) fn new() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Created {
            operation: format!("{nanos:x}-{:x}-{n}", std::process::id()),
            containers: Vec::new(),
            images: Vec::new(),
        }
    }

    /// The label pair that marks this call's resources.
    pub(crate) fn operation_label(&self) -> (String, String) {
        (OPERATION_LABEL.to_owned(), self.operation.clone())
    }

    pub(crate) fn container(&mut self, id: &str) {
        self.containers.push(id.to_owned());
    }

    pub(crate) fn image(&mut self, id: &str) {
        self.images.push(id.to_owned());
    }

    /// Forgets a container that was removed on the normal path.
    pub(crate) fn container_removed(&mut self, id: &str) {
        self.containers.retain(|c| c != id);
    }

    /// Removes everything recorded, containers first (they pin their images). Errors are
    /// logged, not returned: the caller is already reporting the failure that matters.
    pub(crate) async fn roll_back(mut self, docker: &Docker) {
        self.find_by_label(docker).await;
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        for id in self.containers.iter().rev() {
            if let Err(e) = docker.remove_container(id, Some(force.clone())).await {
                if !crate::error::is_not_found(&e) {
                    tracing::warn!("could not remove container {id} while rolling back: {e}");
                }
            }
        }
        // By ID and forced: a freshly committed image may carry our tag; removing the ID
        // removes that tag with it. No other container can use an image this young.
        let force_image = RemoveImageOptionsBuilder::default().force(true).build();
        for id in self.images.iter().rev() {
            if let Err(e) = docker
                .remove_image(id, Some(force_image.clone()), None)
                .await
            {
                if !crate::error::is_not_found(&e) {
                    tracing::warn!("could not remove image {id} while rolling back: {e}");
                }
            }
        }
    }
}

impl Created {
    /// Adds what carries this call's operation label but was never recorded.
    async fn find_by_label(&mut self, docker: &Docker) {
        let filter = HashMap::from([(
            "label".to_owned(),
            vec![format!("{OPERATION_LABEL}={}", self.operation)],
        )]);
        let containers = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter)
            .build();
        if let Ok(found) = docker.list_containers(Some(containers)).await {
            for id in found.into_iter().filter_map(|c| c.id) {
                if !self.containers.contains(&id) {
                    self.containers.push(id);
                }
            }
        }
        let images = ListImagesOptionsBuilder::default().filters(&filter).build();
        if let Ok(found) = docker.list_images(Some(images)).await {
            for image in found {
                if !self.images.contains(&image.id) {
                    self.images.push(image.id);
                }
            }
        }
    }
}
