//! `POST /v1/containers/{name}/logs` in cluster mode: the container's output is its newest
//! job's output file, `<bundle>/slurm-<job>.out` (the batch script's line, then what the
//! container's step prints), sent in the frames of one server's logs: stdout frames, then
//! exit 0. `--tail N` starts N lines from the end; `-f` polls the file until the job ends
//! or the client goes.
//!
//! The bundle directory is the user's to write and ds01d reads as root: the file is opened
//! without following a symbolic link and without blocking on a FIFO, and read only if it
//! is a regular file of the container's owner (as Slurm writes it, as the user), so that a
//! name planted in the bundle cannot make ds01d read anything the user could not.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use axum::response::Response;
use ds01_api::frames::{encode, Frame};
use ds01_api::{ApiError, ErrorCode, LogsRequest, OwnedContainer};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::caller::Acting;
use crate::cluster::{bundle, slurm, ClusterConfig};

/// How often `-f` reads what the job wrote since.
const POLL: Duration = Duration::from_secs(1);

/// How many polls between two looks at whether the job still runs (each is an squeue).
const POLLS_A_CHECK: u32 = 5;

/// Finds the output and answers `101`; the frames run on their own task.
pub async fn logs(
    cluster: ClusterConfig,
    acting: Acting,
    container: OwnedContainer,
    request: LogsRequest,
    on_upgrade: OnUpgrade,
) -> Result<Response, ApiError> {
    let job = super::newest_job(&cluster, &acting, &container).await?;
    let dir = bundle::dir(&cluster, &container);
    // Slurm's newest job, else (Slurm has forgotten it) the newest file a job left.
    let id = job.as_ref().map(|j| j.id).or_else(|| newest_output(&dir));
    // Off the runtime: a long tail of a big file reads many blocks.
    let (opened, uid, tail) = (dir.clone(), container.uid(), request.tail);
    let file = tokio::task::spawn_blocking(move || -> Result<Option<File>, ApiError> {
        let Some(mut f) = id
            .map(|id| open_output(&opened, id, uid))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        if let Some(n) = tail {
            tail_offset(&mut f, n)
                .and_then(|from| f.seek(SeekFrom::Start(from)))
                .map_err(|e| read_failed(&opened, e))?;
        }
        Ok(Some(f))
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Failed, format!("reading the job's output: {e}")))??;
    let live = request.follow && job.as_ref().is_some_and(|j| j.is_live());
    let output = Output {
        cluster,
        acting,
        dir,
        id,
        file: file.map(tokio::fs::File::from_std),
        live,
    };
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut from_client, mut to_client) = tokio::io::split(TokioIo::new(upgraded));
        let last = tokio::select! {
            last = output.relay(&mut to_client) => last,
            // The client sends nothing; a read that ends means it has gone (Ctrl-C).
            () = gone(&mut from_client) => return,
        };
        if let Some(last) = last {
            let _ = to_client.write_all(&encode(&last)).await;
            let _ = to_client.shutdown().await;
        }
    });
    Ok(crate::ops::containers::exec::switching())
}

/// Ends when the client has closed its side.
async fn gone(from_client: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 1024];
    while !matches!(from_client.read(&mut buf).await, Ok(0) | Err(_)) {}
}

/// The output being relayed.
struct Output {
    cluster: ClusterConfig,
    acting: Acting,
    dir: std::path::PathBuf,
    id: Option<u64>,
    file: Option<tokio::fs::File>,
    /// Following a job that runs or waits.
    live: bool,
}

impl Output {
    /// Sends what the file holds, and with `live` what comes until the job ends; answers the
    /// last frame, or `None` when the client has gone.
    async fn relay(mut self, to: &mut (impl AsyncWrite + Unpin)) -> Option<Frame> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut polls = 0u32;
        loop {
            if let Some(f) = self.file.as_mut() {
                loop {
                    match f.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => {
                            let frame = encode(&Frame::Stdout(buf[..n].to_vec()));
                            to.write_all(&frame).await.ok()?;
                        }
                        Err(e) => return Some(Frame::Error(read_failed(&self.dir, e))),
                    }
                }
            }
            if !self.live {
                return Some(Frame::Exit(0));
            }
            tokio::time::sleep(POLL).await;
            polls += 1;
            if let (None, Some(id)) = (&self.file, self.id) {
                // A waiting job has no file yet.
                match open_output(&self.dir, id, self.acting.who.uid()) {
                    Ok(f) => self.file = f.map(tokio::fs::File::from_std),
                    Err(e) => return Some(Frame::Error(e)),
                }
            }
            if polls.is_multiple_of(POLLS_A_CHECK) {
                match slurm::jobs(&self.cluster, &self.acting.who).await {
                    // Once it has ended, the loop reads what it wrote last and stops.
                    Ok(jobs) => {
                        self.live = jobs.iter().any(|j| Some(j.id) == self.id && j.is_live())
                    }
                    Err(e) => return Some(Frame::Error(e)),
                }
            }
        }
    }
}

/// The name of job `id`'s output file, as sbatch's `--output=<bundle>/slurm-%j.out`.
fn output_name(id: u64) -> String {
    format!("slurm-{id}.out")
}

/// The job ID of the newest output file in `dir`.
fn newest_output(dir: &Path) -> Option<u64> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("slurm-")?
                .strip_suffix(".out")?
                .parse::<u64>()
                .ok()
        })
        .max()
}

/// Opens job `id`'s output in `dir`, if there is one: a regular file owned by `uid`, not
/// reached through a symbolic link. Anything else there is refused, never read.
fn open_output(dir: &Path, id: u64, uid: u32) -> Result<Option<File>, ApiError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = dir.join(output_name(id));
    let refused = |what: &str| {
        ApiError::new(
            ErrorCode::Failed,
            format!(
                "{} is {what}, not the job's output: ds01d does not read it",
                output_name(id)
            ),
        )
    };
    let file = match std::fs::OpenOptions::new()
        .read(true)
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            return Err(refused("a symbolic link"))
        }
        Err(e) => return Err(read_failed(dir, e)),
    };
    let meta = file.metadata().map_err(|e| read_failed(dir, e))?;
    if !meta.file_type().is_file() {
        return Err(refused("not a regular file"));
    }
    if meta.uid() != uid {
        return Err(refused("not the container owner's file"));
    }
    Ok(Some(file))
}

fn read_failed(dir: &Path, e: std::io::Error) -> ApiError {
    ApiError::new(
        ErrorCode::Failed,
        format!("cannot read the job's output in {}: {e}", dir.display()),
    )
}

/// Where the last `n` lines of `f` start (a last line without its newline counts).
fn tail_offset(f: &mut (impl Read + Seek), n: u32) -> std::io::Result<u64> {
    let len = f.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    const BLOCK: u64 = 64 * 1024;
    let mut buf = vec![0u8; BLOCK as usize];
    let mut end = len;
    let mut newlines = 0u32;
    // The file's own last newline ends its last line; it starts none.
    let mut skip_last = true;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let block = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(block)?;
        for (i, b) in block.iter().enumerate().rev() {
            let at = start + i as u64;
            if *b != b'\n' {
                skip_last = false;
                continue;
            }
            if skip_last && at + 1 == len {
                skip_last = false;
                continue;
            }
            newlines += 1;
            if newlines == n {
                return Ok(at + 1);
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn tail(text: &str, n: u32) -> String {
        let mut c = Cursor::new(text.as_bytes().to_vec());
        let from = tail_offset(&mut c, n).unwrap() as usize;
        text[from..].to_owned()
    }

    #[test]
    fn tail_starts_n_lines_from_the_end() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 9), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc\n", 0), "");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("\n\n", 1), "\n");
        // Across the read blocks.
        let long: String = (0..100_000).map(|i| format!("{i}\n")).collect();
        assert_eq!(tail(&long, 3), "99997\n99998\n99999\n");
    }

    #[test]
    fn only_the_owners_regular_file_is_read() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let me = std::fs::metadata(dir.path()).unwrap().uid();
        assert!(open_output(dir.path(), 7, me).unwrap().is_none());
        std::fs::write(dir.path().join("slurm-7.out"), "hi\n").unwrap();
        let mut text = String::new();
        open_output(dir.path(), 7, me)
            .unwrap()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hi\n");
        let e = open_output(dir.path(), 7, me + 1).unwrap_err();
        assert!(
            e.message.contains("not the container owner's"),
            "{}",
            e.message
        );
        // A link planted under the output's name is never followed.
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "secret\n").unwrap();
        std::os::unix::fs::symlink(&secret, dir.path().join("slurm-8.out")).unwrap();
        let e = open_output(dir.path(), 8, me).unwrap_err();
        assert!(e.message.contains("symbolic link"), "{}", e.message);
        // Nor a FIFO waited on.
        nix::unistd::mkfifo(
            &dir.path().join("slurm-9.out"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        let e = open_output(dir.path(), 9, me).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{}", e.message);
        assert_eq!(newest_output(dir.path()), Some(9));
    }
}
