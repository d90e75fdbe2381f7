//! Building an image from a ready tar context, Dockerfile and all, with nothing of ds01's
//! added: for images whose Dockerfile is written by hand on purpose (the test suites'
//! bases that behave oddly), never a user's, which is built from a spec by
//! [`Engine::build_image`].

use std::collections::{HashMap, VecDeque};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use crate::build::{build_failed, push_line, strip_ansi};
use crate::client::Engine;
use crate::error::{Context, EngineError, Result};

impl Engine {
    /// Builds the tar `context` (its `Dockerfile` at the top) into `tag`, labelled with
    /// `labels`, and returns the image ID. Nothing is checked or added: no account, no
    /// confinement of the steps, no ds01 labels. A failed build's step containers are
    /// removed, as `docker build` does; its untagged step images are left, as they are by
    /// `docker build`.
    ///
    /// ```no_run
    /// # async fn demo(engine: &ds01_engine::Engine, context: Vec<u8>) -> ds01_engine::Result<()> {
    /// let label = ("ds01.test".to_owned(), "odd-base-4242".to_owned());
    /// let id = engine
    ///     .build_from_context("ds01-test/odd-base:latest", context, &[label])
    ///     .await?;
    /// println!("built {id}");
    /// # Ok(()) }
    /// ```
    pub async fn build_from_context(
        &self,
        tag: &str,
        context: Vec<u8>,
        labels: &[(String, String)],
    ) -> Result<String> {
        let labels: HashMap<String, String> = labels.iter().cloned().collect();
        let options = BuildImageOptionsBuilder::default()
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&labels)
            .build();
        let mut stream =
            self.docker()
                .build_image(options, None, Some(bollard::body_full(context.into())));
        // Kept whole: these builds are a few steps long, and a failure is read from its end.
        let mut output = String::new();
        while let Some(item) = stream.next().await {
            let error = match item {
                Ok(info) => match info.error_detail.and_then(|d| d.message) {
                    Some(error) => error,
                    None => {
                        output.push_str(&info.stream.unwrap_or_default());
                        continue;
                    }
                },
                Err(bollard::errors::Error::DockerStreamError { error }) => error,
                Err(e) => return Err(e).context(|| format!("building {tag}")),
            };
            return Err(failed(tag, &output, error));
        }
        match self.image_info(tag).await? {
            Some(image) => Ok(image.id),
            None => Err(EngineError::ImageNotFound {
                image: tag.to_owned(),
            }),
        }
    }
}

/// The failure of a build whose output so far is `output`, in the words of a user's.
fn failed(tag: &str, output: &str, message: String) -> EngineError {
    let output = strip_ansi(output);
    let step = output.lines().rfind(|l| l.starts_with("Step "));
    let mut tail = VecDeque::new();
    for line in output.lines() {
        push_line(&mut tail, line);
    }
    build_failed(tag, step.map(str::to_owned), message, tail)
}
