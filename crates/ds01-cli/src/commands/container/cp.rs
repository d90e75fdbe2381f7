//! `ds01 container cp NAME:/path LOCAL` and `cp LOCAL NAME:/path`. This process runs as the
//! user, so it reads and writes the host's files itself, with the user's rights; ds01d runs
//! `tar` inside the container as the user too. Between them flows a tar stream in frames,
//! a chunk at a time, so large files are never held in memory whole.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use clap::Args;
use ds01_api::endpoints::{CopyIn, CopyOut};
use ds01_api::frames::{encode, Decoder, Frame};
use ds01_api::{ContainerName, CopyRequest, COPY_ROOT_HEADER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::context::Context;
use crate::exit::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub(super) struct CpArgs {
    /// What to copy: NAME:/path in a container, or a local path
    #[arg(value_name = "SRC")]
    source: String,
    /// Where to: a local path, or NAME:/path in a container
    #[arg(value_name = "DEST")]
    destination: String,
}

/// `NAME:/path`, or `None` for a local path (local paths with a `:` start with `/` or `.`).
fn container_side(arg: &str) -> Result<Option<(ContainerName, String)>, CliError> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Ok(None);
    }
    let Some((name, path)) = arg.split_once(':') else {
        return Ok(None);
    };
    let name: ContainerName = name
        .parse()
        .map_err(|e: ds01_api::ContainerNameError| CliError::usage(e.to_string()))?;
    Ok(Some((name, path.to_owned())))
}

pub(super) async fn cp(args: &CpArgs, ctx: &Context) -> Result<ExitStatus, CliError> {
    match (
        container_side(&args.source)?,
        container_side(&args.destination)?,
    ) {
        (Some((name, path)), None) => {
            copy_out(ctx, &name, path, Path::new(&args.destination)).await
        }
        (None, Some((name, path))) => copy_in(ctx, Path::new(&args.source), &name, path).await,
        _ => Err(CliError::usage(
            "give exactly one side as NAME:/path in a container and the other as a local path",
        )),
    }
}

type Io = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// Container → here. `local` is a directory to copy into, or a new name in one.
async fn copy_out(
    ctx: &Context,
    name: &ContainerName,
    path: String,
    local: &Path,
) -> Result<ExitStatus, CliError> {
    let (dir, rename) = if local.is_dir() {
        (local.to_path_buf(), None)
    } else {
        let parent = match local.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file = local
            .file_name()
            .ok_or_else(|| CliError::usage(format!("{} names no file", local.display())))?;
        if !parent.is_dir() {
            return Err(CliError::msg(format!(
                "no directory {} here to copy into",
                parent.display()
            )));
        }
        (parent, Some(file.to_owned()))
    };
    let request = CopyRequest { path, name: None };
    let (io, _) = ctx
        .client
        .frames(&CopyOut::new(name.clone(), request))
        .await?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
    let unpacker = std::thread::spawn(move || unpack(ChannelReader::new(rx), &dir, rename));
    let (mut from_service, _to_service) = tokio::io::split(io);
    let mut tx = Some(tx);
    let outcome = read_frames(&mut from_service, |bytes| {
        let tx = tx.clone();
        async move {
            // A closed channel: the unpacker failed; its error is reported below.
            if let Some(tx) = tx {
                let _ = tx.send(bytes).await;
            }
        }
    })
    .await;
    tx.take();
    let unpacked = unpacker
        .join()
        .map_err(|_| CliError::msg("unpacking the copy failed"))?;
    let (status, stderr) = outcome?;
    unpacked?;
    finish(status, &stderr)
}

/// Here → container.
async fn copy_in(
    ctx: &Context,
    local: &Path,
    name: &ContainerName,
    path: String,
) -> Result<ExitStatus, CliError> {
    let meta = std::fs::metadata(local)
        .map_err(|e| CliError::failure(format!("cannot read {}", local.display()), e))?;
    let file_name = std::fs::canonicalize(local)
        .ok()
        .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
        .ok_or_else(|| CliError::usage(format!("{} names no file", local.display())))?;
    let request = CopyRequest {
        path,
        name: Some(file_name),
    };
    let (io, headers) = ctx
        .client
        .frames(&CopyIn::new(name.clone(), request))
        .await?;
    let root = headers
        .get(COPY_ROOT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| CliError::msg("ds01d did not say where to copy to"))?;
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(16);
    let source = local.to_path_buf();
    let packer = std::thread::spawn(move || -> Result<(), CliError> {
        let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(
            256 * 1024,
            ChannelWriter { tx },
        ));
        builder.follow_symlinks(false);
        let failed = |e| CliError::failure(format!("cannot read {}", source.display()), e);
        if meta.is_dir() {
            builder.append_dir_all(&root, &source).map_err(failed)?;
        } else {
            builder
                .append_path_with_name(&source, &root)
                .map_err(failed)?;
        }
        builder
            .into_inner()
            .map_err(failed)?
            .flush()
            .map_err(failed)
    });
    let (mut from_service, mut to_service) = tokio::io::split(io);
    let broken = |e: std::io::Error| CliError::failure("the stream to ds01d broke off", e);
    // Send the tar, then its end; tar's answer (errors, exit status) comes after.
    let sending = async {
        while let Some(chunk) = rx.recv().await {
            for part in chunk.chunks(256 * 1024) {
                to_service
                    .write_all(&encode(&Frame::Stdin(part.to_vec())))
                    .await
                    .map_err(broken)?;
            }
        }
        to_service
            .write_all(&encode(&Frame::StdinEof))
            .await
            .map_err(broken)?;
        Ok::<_, CliError>(to_service)
    };
    let reading = read_frames(&mut from_service, |_| async {});
    let (sent, outcome) = tokio::join!(sending, reading);
    let _keep_open = sent?;
    packer
        .join()
        .map_err(|_| CliError::msg("packing the copy failed"))??;
    let (status, stderr) = outcome?;
    finish(status, &stderr)
}

fn finish(status: i32, stderr: &[u8]) -> Result<ExitStatus, CliError> {
    if status == 0 {
        return Ok(ExitStatus::Success);
    }
    Err(CliError::msg(format!(
        "copying failed in the container (tar exit status {status}): {}",
        ds01_api::shown(String::from_utf8_lossy(stderr).trim())
    )))
}

/// Reads frames until the exit status: stdout goes to `out`, stderr is kept.
async fn read_frames<F, Fut>(
    from_service: &mut tokio::io::ReadHalf<Io>,
    mut out: F,
) -> Result<(i32, Vec<u8>), CliError>
where
    F: FnMut(Vec<u8>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut decoder = Decoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut stderr = Vec::new();
    loop {
        let n = from_service
            .read(&mut buf)
            .await
            .map_err(|e| CliError::failure("the stream from ds01d broke off", e))?;
        if n == 0 {
            return Err(CliError::msg("ds01d ended the copy without an exit status"));
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder
            .next_frame()
            .map_err(|e| CliError::msg(e.to_string()))?
        {
            match frame {
                Frame::Stdout(bytes) => out(bytes).await,
                Frame::Stderr(bytes) if stderr.len() < 64 * 1024 => stderr.extend(bytes),
                Frame::Exit(status) => return Ok((status, stderr)),
                Frame::Error(e) => return Err(e.into()),
                _ => {}
            }
        }
    }
}

/// Unpacks the tar into `dir`, its top entry renamed to `rename` if given. Only plain
/// relative paths, never through a symbolic link: a container's files cannot steer the
/// copy elsewhere (and it runs with the user's rights anyway).
fn unpack(
    reader: ChannelReader,
    dir: &Path,
    rename: Option<std::ffi::OsString>,
) -> Result<(), CliError> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    let failed = |what: &Path, e: std::io::Error| {
        CliError::failure(format!("cannot write {}", what.display()), e)
    };
    let entries = archive
        .entries()
        .map_err(|e| CliError::failure("reading the copy", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| CliError::failure("reading the copy", e))?;
        let path = entry
            .path()
            .map_err(|e| CliError::failure("reading the copy", e))?
            .into_owned();
        let mut relative = PathBuf::new();
        for (i, c) in path.components().enumerate() {
            match c {
                Component::Normal(part) => match (&rename, i) {
                    (Some(new), 0) => relative.push(new),
                    _ => relative.push(part),
                },
                Component::CurDir => {}
                _ => {
                    return Err(CliError::msg(format!(
                        "refusing the entry {} of the copy: not a plain relative path",
                        ds01_api::shown(&path.to_string_lossy())
                    )))
                }
            }
        }
        if relative.as_os_str().is_empty() {
            continue;
        }
        let mut at = dir.to_path_buf();
        let parts: Vec<_> = relative.components().collect();
        for part in &parts[..parts.len() - 1] {
            at.push(part);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(CliError::msg(format!(
                    "refusing to copy through the symbolic link {}",
                    at.display()
                )));
            }
        }
        let target = dir.join(&relative);
        entry.unpack(&target).map_err(|e| failed(&target, e))?;
    }
    Ok(())
}

/// The tar stream as it arrives, for the blocking unpacker.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The tar stream as it is made, for the sender.
struct ChannelWriter {
    tx: mpsc::Sender<Vec<u8>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(buf.to_vec())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "ds01d went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
