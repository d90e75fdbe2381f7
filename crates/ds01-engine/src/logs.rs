//! A user's container's output (`docker logs`), as a stream of stdout and stderr chunks.

use std::pin::Pin;

use bollard::query_parameters::LogsOptionsBuilder;
use ds01_api::OwnedContainer;
use futures_util::{Stream, StreamExt};

use crate::client::Engine;
use crate::error::{Context, Result};
use crate::session::Chunk;

impl Engine {
    /// The container's output so far (the last `tail` lines, else all), and with `follow`
    /// what it writes from now on, until it stops. A container with a terminal has one
    /// stream only, which comes as stdout.
    pub async fn container_logs(
        &self,
        container: &OwnedContainer,
        follow: bool,
        tail: Option<u32>,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<Chunk>> + Send>>> {
        let id = self.owned_container(container).await?.id;
        let docker_name = container.clone();
        let options = LogsOptionsBuilder::default()
            .follow(follow)
            .stdout(true)
            .stderr(true)
            .tail(&tail.map_or_else(|| "all".to_owned(), |n| n.to_string()))
            .build();
        let stream = self.docker().logs(&id, Some(options)).map(move |chunk| {
            chunk
                .map(|out| match out {
                    bollard::container::LogOutput::StdErr { message } => {
                        Chunk::Stderr(message.to_vec())
                    }
                    other => Chunk::Stdout(other.into_bytes().to_vec()),
                })
                .context(|| format!("reading the output of {docker_name}"))
        });
        Ok(Box::pin(stream))
    }
}
