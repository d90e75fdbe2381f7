//! `ds01 container cp`: files in and out of a user's container, **as the user** on both
//! sides. The client reads and writes the host's files itself (it runs as the user) and
//! sends or receives a tar stream; inside the container, `tar` runs through exec as the
//! user's UID and GID, never as root and never through the engine's archive API (which
//! writes as root and follows the container's paths as root). So a copy can write only
//! where the account may write, in the container as on the host.

use std::path::{Component, Path};
use std::sync::Arc;

use axum::http::HeaderValue;
use axum::response::Response;
use ds01_api::{ApiError, CopyRequest, ErrorCode, OwnedContainer, COPY_ROOT_HEADER};
use ds01_engine::SessionSpec;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Which way the files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Container → client.
    Out,
    /// Client → container.
    In,
}

/// Run as the user before copying out: is the path there and readable?
const PROBE_OUT: &str = r#"command -v tar >/dev/null 2>&1 || { echo notar; exit 0; }
p="$1"
if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo missing
elif [ ! -r "$p" ] || { [ -d "$p" ] && [ ! -x "$p" ]; }; then echo denied
else echo ok; fi"#;

/// Run as the user before copying in: a directory to copy into, or a new name in a
/// directory the user may write.
const PROBE_IN: &str = r#"command -v tar >/dev/null 2>&1 || { echo notar; exit 0; }
p="$1"
if [ -d "$p" ]; then
  if [ -w "$p" ] && [ -x "$p" ]; then echo dir; else echo "denied $p"; fi
else
  d=$(dirname -- "$p")
  if [ ! -d "$d" ]; then echo "missing $d"
  elif [ ! -w "$d" ] || [ ! -x "$d" ]; then echo "denied $d"
  else echo new; fi
fi"#;

/// Checks the path as the user, starts `tar` as the user, answers `101` and relays the
/// tar stream (stdout frames out, stdin frames in) until tar's exit status.
pub async fn copy(
    d: Arc<Daemon>,
    acting: Acting,
    container: OwnedContainer,
    direction: Direction,
    request: CopyRequest,
    on_upgrade: OnUpgrade,
) -> Result<Response, ApiError> {
    let who = &acting.who;
    let name = container.name();
    let path = container_path(&request.path)?;
    let (parent, base) = split(path);
    let probe = |script: &str| {
        vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "sh".to_owned(),
            path.to_owned(),
        ]
    };
    let script = match direction {
        Direction::Out => PROBE_OUT,
        Direction::In => PROBE_IN,
    };
    let answer = d
        .engine
        .exec(who, name, &probe(script), false)
        .await
        .map_err(from_engine)?;
    let verdict = answer.stdout.trim().to_owned();
    let refuse = |code, message: String| Err(ApiError::new(code, message).subject(path));
    let (command, root) = match (direction, verdict.as_str()) {
        (_, "notar") => {
            return refuse(
                ErrorCode::Failed,
                format!("{name} has no `tar`, which copying needs; install it in the image"),
            )
        }
        (Direction::Out, "missing") => {
            return refuse(ErrorCode::NotFound, format!("no {path} in {name}"))
        }
        (Direction::Out, "denied") => {
            return refuse(
                ErrorCode::Forbidden,
                format!("your account may not read {path} in {name}"),
            )
        }
        (Direction::Out, "ok") => (vec!["tar", "-C", parent, "-cf", "-", "--", base], None),
        (Direction::In, "dir") => {
            let name = request.name.as_deref().unwrap_or_default();
            entry_name(name)?;
            (vec!["tar", "-C", path, "-xpf", "-"], Some(name.to_owned()))
        }
        (Direction::In, "new") => (
            vec!["tar", "-C", parent, "-xpf", "-"],
            Some(base.to_owned()),
        ),
        (Direction::In, v) if v.starts_with("missing ") => {
            return refuse(
                ErrorCode::NotFound,
                format!("no directory {} in {name}", &v["missing ".len()..]),
            )
        }
        (Direction::In, v) if v.starts_with("denied ") => {
            return refuse(
                ErrorCode::Forbidden,
                format!(
                    "your account may not write {path} in {name} ({} is not writable for it)",
                    &v["denied ".len()..]
                ),
            )
        }
        _ => {
            return refuse(
                ErrorCode::Failed,
                format!(
                    "checking {path} in {name} failed: {}",
                    ds01_api::shown(answer.stderr.trim())
                ),
            )
        }
    };
    let spec = SessionSpec {
        command: command.into_iter().map(str::to_owned).collect(),
        tty: false,
        stdin: direction == Direction::In,
        env: Vec::new(),
        workdir: None,
    };
    let session = d
        .engine
        .start_session(who, name, &spec)
        .await
        .map_err(from_engine)?;
    let key = container.clone();
    let daemon = d.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        super::exec::pump(&daemon, TokioIo::new(upgraded), session, &key).await;
    });
    let mut response = super::exec::switching();
    if let Some(root) = root {
        let value = HeaderValue::from_str(&root).map_err(|_| {
            ApiError::invalid(format!(
                "{} cannot be a file name here",
                ds01_api::shown(&root)
            ))
        })?;
        response.headers_mut().insert(COPY_ROOT_HEADER, value);
    }
    Ok(response)
}

/// An absolute path without `..`, control characters or a trailing `/`-only root.
fn container_path(path: &str) -> Result<&str, ApiError> {
    let refuse = |why: &str| {
        Err(
            ApiError::invalid(format!("container path `{}` {why}", ds01_api::shown(path)))
                .subject(path),
        )
    };
    if !path.starts_with('/') {
        return refuse("must be absolute (start with /)");
    }
    if path.chars().any(char::is_control) {
        return refuse("has a control character");
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return refuse("may not contain `..`");
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || Path::new(trimmed).file_name().is_none() {
        return refuse("names no file or directory");
    }
    Ok(trimmed)
}

/// `/a/b` → (`/a`, `b`); `/b` → (`/`, `b`).
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", base)) => ("/", base),
        Some((parent, base)) => (parent, base),
        None => (".", path),
    }
}

/// The name of a tar's top entry: one plain path component.
fn entry_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(format!(
            "`{}` is not a file name to copy",
            ds01_api::shown(name)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_absolute_plain_and_split() {
        assert_eq!(container_path("/tmp/x/").unwrap(), "/tmp/x");
        assert!(container_path("tmp/x").is_err());
        assert!(container_path("/tmp/../etc").is_err());
        assert!(container_path("/").is_err());
        assert!(container_path("/a\nb").is_err());
        assert_eq!(split("/etc/passwd"), ("/etc", "passwd"));
        assert_eq!(split("/x"), ("/", "x"));
        assert!(
            entry_name("a/b").is_err() && entry_name("..").is_err() && entry_name("ok.txt").is_ok()
        );
    }
}
