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
pub const OPERATION_LABEL: &str = ds01_labels::ops::OPERATION;

/// The resources one call has created so far.
#[derive(Debug)]
pub(crate) struct Created {
    operation: String,
    containers: Vec<String>,
    images: Vec<String>,
    /// Tags this call put on images it did not make (a baked container's own tag): undone
    /// by untagging, never by removing the image.
    tags: Vec<String>,
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
            tags: Vec::new(),
        }
    }

    /// The resources of an earlier, dead operation, to be found by its label.
    pub(crate) fn of_dead_operation(operation: &str) -> Self {
        Created {
            operation: operation.to_owned(),
            containers: Vec::new(),
            images: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// This call's operation ID.
    pub(crate) fn operation(&self) -> &str {
        &self.operation
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

    pub(crate) fn tag(&mut self, reference: &str) {
        self.tags.push(reference.to_owned());
    }

    pub(crate) fn has_tag(&self, reference: &str) -> bool {
        self.tags.iter().any(|t| t == reference)
    }

    /// Forgets a tag that was removed on the normal path.
    pub(crate) fn tag_removed(&mut self, reference: &str) {
        self.tags.retain(|t| t != reference);
    }

    /// Forgets a container that was removed on the normal path.
    pub(crate) fn container_removed(&mut self, id: &str) {
        self.containers.retain(|c| c != id);
    }

    /// Ends a call: a failed one is rolled back, and the journal is emptied once nothing of
    /// the call can be left (success, or a rollback that reached the engine for everything).
    pub(crate) async fn settle<T>(
        self,
        outcome: crate::error::Result<T>,
        journal: &mut crate::journal::Journal,
        docker: &Docker,
    ) -> crate::error::Result<T> {
        let clean = match &outcome {
            Ok(_) => true,
            Err(_) => self.roll_back(docker).await.1,
        };
        if clean {
            journal.clear();
        }
        outcome
    }

    /// Removes everything recorded or labelled with this operation, containers first (they
    /// pin their images). Returns how many resources were removed and whether everything is
    /// gone for sure; errors are logged, not returned, since the caller is already
    /// reporting the failure that matters.
    pub(crate) async fn roll_back(mut self, docker: &Docker) -> (usize, bool) {
        let mut complete = self.find_by_label(docker).await;
        let mut removed = 0;
        let force = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        for id in self.containers.iter().rev() {
            match docker.remove_container(id, Some(force.clone())).await {
                Ok(()) => removed += 1,
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => {
                    complete = false;
                    tracing::warn!("could not remove container {id} while rolling back: {e}");
                }
            }
        }
        // Not forced: the tagged image is someone's build, which must stay.
        let untag = RemoveImageOptionsBuilder::default().build();
        for tag in self.tags.iter().rev() {
            match docker.remove_image(tag, Some(untag.clone()), None).await {
                Ok(_) => removed += 1,
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => {
                    complete = false;
                    tracing::warn!("could not untag {tag} while rolling back: {e}");
                }
            }
        }
        // By ID and forced: a freshly committed image may carry our tag; removing the ID
        // removes that tag with it. Only containers of this operation could use it.
        let force_image = RemoveImageOptionsBuilder::default().force(true).build();
        for id in self.images.iter().rev() {
            match docker
                .remove_image(id, Some(force_image.clone()), None)
                .await
            {
                Ok(_) => removed += 1,
                Err(e) if crate::error::is_not_found(&e) => {}
                Err(e) => {
                    complete = false;
                    tracing::warn!("could not remove image {id} while rolling back: {e}");
                }
            }
        }
        (removed, complete)
    }
}

impl Created {
    /// Adds what carries this call's operation label but was never recorded.
    async fn find_by_label(&mut self, docker: &Docker) -> bool {
        let filter = HashMap::from([(
            "label".to_owned(),
            vec![format!("{OPERATION_LABEL}={}", self.operation)],
        )]);
        let containers = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter)
            .build();
        let mut complete = true;
        match docker.list_containers(Some(containers)).await {
            Ok(found) => {
                for id in found.into_iter().filter_map(|c| c.id) {
                    if !self.containers.contains(&id) {
                        self.containers.push(id);
                    }
                }
            }
            Err(_) => complete = false,
        }
        let images = ListImagesOptionsBuilder::default().filters(&filter).build();
        match docker.list_images(Some(images)).await {
            Ok(found) => {
                for image in found {
                    if !self.images.contains(&image.id) {
                        self.images.push(image.id);
                    }
                }
            }
            Err(_) => complete = false,
        }
        complete
    }
}
