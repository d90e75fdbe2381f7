//! `POST /build` (`docker build`, the SDK's `images.build`): the Dockerfile of the context
//! built by `ops::images::create`, as `ds01 image create --dockerfile` builds it: confined
//! to the user's limits, the account baked in, named in the caller's repository
//! (`-t web` is `ds01-<uid>/web:latest`). Its progress is rendered as Docker's JSON
//! messages. The context's other files are not sent to the build, so a Dockerfile that
//! copies them is refused before anything runs.

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use ds01_api::{ImageCreate, Progress, StreamItem};
use ds01_dockerfile::{ImageName, UserDockerfile};
use serde_json::{json, Value};

use super::{acting, Answer, Caller, DockerError};
use crate::Daemon;

/// The largest context read (only its Dockerfile is used).
pub(crate) const MAX_CONTEXT: usize = 64 << 20;

/// Query parameters that would change what is built in ways ds01's builds do not offer.
const REFUSED: &[(&str, &str)] = &[
    ("remote", "the context comes with the request"),
    (
        "buildargs",
        "build arguments are not offered; write the values into the Dockerfile",
    ),
    (
        "target",
        "build the whole Dockerfile; a stage of it cannot be picked",
    ),
    ("platform", "images are built for this server"),
    ("networkmode", "builds use ds01's build network"),
    ("extrahosts", "builds use ds01's build network"),
    ("cgroupparent", "builds run in your slice"),
    ("squash", "the image's layers are ds01's"),
    ("outputs", "the image goes to your repository"),
];

/// `POST /build?t=NAME[:latest]&dockerfile=PATH&nocache=1`.
pub(crate) async fn build(
    State(d): State<Arc<Daemon>>,
    Extension(ctx): Caller,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Answer {
    let acting = acting(&ctx)?;
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "{}" && *v != "null")
    };
    for (key, why) in REFUSED {
        if value(key).is_some() {
            return Err(DockerError::refused(key, why));
        }
    }
    let name = image_name(value("t"), acting.who.uid())?;
    let dockerfile_path = value("dockerfile").unwrap_or("Dockerfile");
    let text = dockerfile(&body, dockerfile_path)?;
    let parsed = UserDockerfile::parse(&text).map_err(|e| DockerError::invalid(e.to_string()))?;
    if parsed.copies_context_files() {
        return Err(DockerError::invalid(
            "ds01 builds from the Dockerfile alone: COPY and ADD of the build context's files are not offered (copy from an image with --from=, or fetch files in a RUN step)",
        ));
    }
    let no_cache = value("nocache").is_some_and(|v| matches!(v, "1" | "true" | "True"));
    // A Docker build makes what its Dockerfile says: no JupyterLab added.
    let request = ImageCreate {
        jupyter: Some(false),
        no_cache,
        ..ImageCreate::from_dockerfile(name, text)
    };
    let (reporter, mut lines, keep) = crate::stream::Reporter::channel();
    let work = tokio::spawn(async move {
        let _keep = keep;
        crate::ops::images::create::create(&d, &acting, request, reporter).await
    });
    // ds01's progress lines, then the outcome, as Docker's build messages.
    let stream = async_stream(move |tx| async move {
        while let Some(line) = lines.recv().await {
            if let Some(message) = docker_message(&line) {
                let _ = tx.send(message);
            }
        }
        let end = match work.await {
            Ok(Ok(built)) => {
                let id = built.id.unwrap_or_default();
                let short = id
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect::<String>();
                vec![
                    json!({ "aux": { "ID": id } }),
                    json!({ "stream": format!("Successfully built {short}\n") }),
                    json!({ "stream": format!("Successfully tagged {}\n", built.image) }),
                ]
            }
            Ok(Err(e)) => {
                vec![json!({ "errorDetail": { "message": e.message }, "error": e.message })]
            }
            Err(e) => vec![json!({ "error": format!("the build failed: {e}") })],
        };
        for message in end {
            let _ = tx.send(message);
        }
    });
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(stream)
        .unwrap_or_default()
        .into_response())
}

/// A body fed by `produce`, one JSON message a line.
fn async_stream<F, Fut>(produce: F) -> Body
where
    F: FnOnce(tokio::sync::mpsc::UnboundedSender<Value>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    tokio::spawn(produce(tx));
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let message = rx.recv().await?;
        let mut line = serde_json::to_vec(&message).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), rx))
    });
    Body::from_stream(frames)
}

/// One of ds01's progress lines as Docker's build message.
fn docker_message(line: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<StreamItem<Value>>(line).ok()? {
        StreamItem::Progress(Progress::BuildOutput(text)) => {
            Some(json!({ "stream": format!("{}\n", text.trim_end_matches('\n')) }))
        }
        StreamItem::Progress(Progress::Stage(text)) => {
            Some(json!({ "stream": format!("ds01: {text}\n") }))
        }
        _ => None,
    }
}

/// The image the build makes: `-t NAME` (a tag other than `latest` is refused, as ds01's
/// images are `:latest`), or `ds01-<uid>/NAME` written out.
fn image_name(tag: Option<&str>, uid: u32) -> Result<ImageName, DockerError> {
    let Some(tag) = tag else {
        return Err(DockerError::invalid(
            "name the image (`docker build -t NAME .`): it becomes ds01-<uid>/NAME:latest",
        ));
    };
    let own = format!("ds01-{uid}/");
    let bare = tag.strip_prefix(own.as_str()).unwrap_or(tag);
    let (name, version) = bare.split_once(':').unwrap_or((bare, "latest"));
    if version != "latest" {
        return Err(DockerError::invalid(format!(
            "your images are tagged `latest` (ds01-{uid}/NAME:latest); build `{name}` without `:{version}`"
        )));
    }
    ImageName::parse(name).map_err(|e| DockerError::invalid(e.to_string()))
}

/// The Dockerfile's text from a context (a tar, gzip-compressed or not).
fn dockerfile(context: &[u8], path: &str) -> Result<String, DockerError> {
    if context.len() > MAX_CONTEXT {
        return Err(DockerError::invalid(format!(
            "the build context is over {} MiB; ds01 builds from the Dockerfile alone, so send a directory holding little else",
            MAX_CONTEXT >> 20
        )));
    }
    let reader: Box<dyn Read> = if context.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(context))
    } else {
        Box::new(context)
    };
    let wanted = path.trim_start_matches("./");
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|e| DockerError::invalid(format!("the build context is not a tar: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| DockerError::invalid(format!("reading the build context: {e}")))?;
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.trim_start_matches("./") == wanted && entry.header().entry_type().is_file() {
            let mut text = String::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| DockerError::invalid(format!("reading {wanted}: {e}")))?;
            return Ok(text);
        }
    }
    Err(DockerError::invalid(format!(
        "the build context has no {}",
        ds01_api::shown(wanted)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_callers_repository_and_latest() {
        assert_eq!(image_name(Some("web"), 1000).unwrap().as_str(), "web");
        assert_eq!(
            image_name(Some("ds01-1000/web:latest"), 1000)
                .unwrap()
                .as_str(),
            "web"
        );
        assert!(image_name(Some("web:v2"), 1000).is_err());
        assert!(image_name(Some("ds01-1001/web"), 1000).is_err());
        assert!(image_name(None, 1000).is_err());
    }

    #[test]
    fn the_dockerfile_is_read_from_the_context() {
        let mut tar = tar::Builder::new(Vec::new());
        let text = b"FROM debian:12\nRUN true\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "Dockerfile", &text[..])
            .unwrap();
        let context = tar.into_inner().unwrap();
        assert_eq!(
            dockerfile(&context, "Dockerfile").unwrap(),
            "FROM debian:12\nRUN true\n"
        );
        assert!(dockerfile(&context, "Other.Dockerfile").is_err());
    }
}
