//! The connection to ds01d: JSON over HTTP on its Unix socket. Without a running service,
//! root (who may use the engine anyway) gets a private ds01d for the one command; everyone
//! else gets an error that names the socket and how to start the service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ds01_api::endpoints::CancelOperation;
use ds01_api::{
    Answering, ApiError, Endpoint, Method as ApiMethod, Progress, StreamItem, ACT_AS_HEADER,
    DEFAULT_SOCKET, SYSTEM_CONFIG,
};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

use crate::exit::CliError;

/// Where the socket is named: the environment (tests, staging), else the system file.
const SOCKET_ENV: &str = "DS01_SOCKET";

/// A client of ds01d.
pub struct Client {
    socket: PathBuf,
    act_as: Option<String>,
    _private: Option<PrivateDaemon>,
}

/// The socket ds01 talks to: `DS01_SOCKET`, else `socket` in the system configuration,
/// else the default.
pub fn socket_path() -> PathBuf {
    if let Some(s) = std::env::var_os(SOCKET_ENV).filter(|s| !s.is_empty()) {
        return PathBuf::from(s);
    }
    std::fs::read_to_string(SYSTEM_CONFIG)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("socket").and_then(|s| s.as_str()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

impl Client {
    /// Connects to the service (see the module docs for what happens without one).
    pub async fn connect(act_as: Option<String>) -> Result<Client, CliError> {
        let socket = socket_path();
        match tokio::net::UnixStream::connect(&socket).await {
            Ok(_) => Ok(Client {
                socket,
                act_as,
                _private: None,
            }),
            Err(e) if nix::unistd::geteuid().is_root() => {
                let private = PrivateDaemon::start().map_err(|why| {
                    CliError::msg(format!(
                        "ds01d does not answer on {} ({e}), and a private one could not be started: {why}",
                        socket.display()
                    ))
                })?;
                Ok(Client {
                    socket: private.socket.clone(),
                    act_as,
                    _private: Some(private),
                })
            }
            Err(e) => Err(CliError::msg(format!(
                "cannot reach the ds01 service at {}: {e}\n  ds01 works through the ds01d service; ask your admin to start it (`systemctl enable --now ds01d.socket`)",
                socket.display()
            ))),
        }
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, CliError> {
        let unreachable = |e: &dyn std::fmt::Display| {
            CliError::msg(format!(
                "lost the connection to ds01d at {}: {e}",
                self.socket.display()
            ))
        };
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(connection.with_upgrades());
        sender
            .send_request(request)
            .await
            .map_err(|e| unreachable(&e))
    }

    fn request(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://ds01d{path}"))
            .header("host", "ds01d");
        if let Some(who) = &self.act_as {
            builder = builder.header(ACT_AS_HEADER, who);
        }
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("a request from parts that were checked")
    }

    fn endpoint_request<E: Endpoint>(&self, endpoint: &E) -> Request<Full<Bytes>> {
        let method = match E::METHOD {
            ApiMethod::Get => Method::GET,
            ApiMethod::Post => Method::POST,
            ApiMethod::Delete => Method::DELETE,
        };
        let body = endpoint
            .body()
            .map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.request(method, &endpoint.path(), body)
    }

    /// A request with one JSON answer.
    pub async fn ask<E: Endpoint>(&self, endpoint: &E) -> Result<E::Answer, CliError> {
        debug_assert_eq!(E::ANSWERING, Answering::Json, "{}", E::ROUTE);
        let response = self.send(self.endpoint_request(endpoint)).await?;
        let status = response.status();
        let bytes = read_all(response).await?;
        decode(status, &bytes)
    }

    /// A request with one JSON answer, with the service's error as it is (for callers that
    /// handle some codes).
    pub async fn ask_api<E: Endpoint>(&self, endpoint: &E) -> Result<E::Answer, ApiError> {
        debug_assert_eq!(E::ANSWERING, Answering::Json, "{}", E::ROUTE);
        let failed = |e: CliError| ApiError::new(ds01_api::ErrorCode::Failed, e.to_string());
        let response = self
            .send(self.endpoint_request(endpoint))
            .await
            .map_err(failed)?;
        let status = response.status();
        let bytes = read_all(response).await.map_err(failed)?;
        decode_api(status, &bytes)
    }

    /// A request with a streamed answer: progress goes to `progress`, the result is returned.
    pub async fn progress<E: Endpoint>(
        &self,
        endpoint: &E,
        mut progress: impl FnMut(Progress),
    ) -> Result<E::Answer, CliError> {
        debug_assert_eq!(E::ANSWERING, Answering::Progress, "{}", E::ROUTE);
        let response = self.send(self.endpoint_request(endpoint)).await?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let bytes = read_all(response).await?;
            return decode(status, &bytes);
        }
        let mut body = response.into_body();
        let mut pending: Vec<u8> = Vec::new();
        // Ctrl-C asks ds01d to cancel, then waits for its answer: the service removes what
        // the request made, and only then does ds01 end. A second Ctrl-C stops waiting.
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| CliError::failure("watching for Ctrl-C", e))?;
        let mut operation: Option<String> = None;
        let mut cancelling = false;
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                _ = interrupt.recv() => {
                    if cancelling {
                        return Err(CliError::msg("interrupted again; ds01d goes on removing what the request made"));
                    }
                    cancelling = true;
                    progress(Progress::Stage("interrupting; removing what was made".into()));
                    match &operation {
                        Some(id) => {
                            let _ = self.ask(&CancelOperation { id: id.clone() }).await;
                        }
                        None => return Err(CliError::msg("interrupted")),
                    }
                    continue;
                }
            };
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| CliError::msg(format!("ds01d broke off: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<StreamItem<E::Answer>>(&line) {
                    Ok(StreamItem::Operation(id)) => operation = Some(id),
                    Ok(StreamItem::Progress(p)) => progress(p),
                    Ok(StreamItem::Result(value)) => return Ok(value),
                    Ok(StreamItem::Error(e)) => return Err(e.into()),
                    Err(e) => {
                        return Err(CliError::msg(format!(
                            "ds01d sent an answer this ds01 does not understand: {e}"
                        )))
                    }
                }
            }
        }
        Err(CliError::msg(
            "ds01d ended the answer without a result (did the service stop?)",
        ))
    }

    /// A request whose answer is JSON lines as things happen; the body, once the status
    /// says it is not an error.
    pub async fn lines<E: Endpoint>(&self, endpoint: &E) -> Result<Incoming, CliError> {
        debug_assert_eq!(E::ANSWERING, Answering::Lines, "{}", E::ROUTE);
        let response = self.send(self.endpoint_request(endpoint)).await?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let bytes = read_all(response).await?;
            return decode::<()>(status, &bytes)
                .and(Err(CliError::msg("ds01d refused the stream")));
        }
        Ok(response.into_body())
    }

    /// Starts a frame stream (exec, logs, copy) and returns the upgraded connection with
    /// the headers of ds01d's `101` answer.
    pub async fn frames<E: Endpoint>(
        &self,
        endpoint: &E,
    ) -> Result<(TokioIo<hyper::upgrade::Upgraded>, hyper::HeaderMap), CliError> {
        debug_assert_eq!(E::ANSWERING, Answering::Frames, "{}", E::ROUTE);
        let mut request = self.endpoint_request(endpoint);
        request
            .headers_mut()
            .insert(CONNECTION, "upgrade".parse().expect("a valid header"));
        request
            .headers_mut()
            .insert(UPGRADE, "ds01-exec".parse().expect("a valid header"));
        let response = self.send(request).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status();
            let bytes = read_all(response).await?;
            return decode::<()>(status, &bytes)
                .and(Err(CliError::msg("ds01d did not start the session")));
        }
        let headers = response.headers().clone();
        let upgraded = hyper::upgrade::on(response)
            .await
            .map_err(|e| CliError::msg(format!("ds01d did not start the session: {e}")))?;
        Ok((TokioIo::new(upgraded), headers))
    }
}

async fn read_all(response: Response<Incoming>) -> Result<Bytes, CliError> {
    Ok(response
        .into_body()
        .collect()
        .await
        .map_err(|e| CliError::msg(format!("ds01d broke off: {e}")))?
        .to_bytes())
}

fn decode<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, CliError> {
    decode_api(status, bytes).map_err(CliError::from)
}

fn decode_api<T: DeserializeOwned>(status: StatusCode, bytes: &[u8]) -> Result<T, ApiError> {
    let failed = |message: String| ApiError::new(ds01_api::ErrorCode::Failed, message);
    if status.is_success() {
        return serde_json::from_slice(bytes).map_err(|e| {
            failed(format!(
                "ds01d sent an answer this ds01 does not understand: {e}"
            ))
        });
    }
    match serde_json::from_slice::<ApiError>(bytes) {
        Ok(e) => Err(e),
        Err(_) => Err(failed(format!(
            "ds01d answered {status}: {}",
            ds01_api::shown(&String::from_utf8_lossy(bytes))
        ))),
    }
}

/// A ds01d started for one command of root's, on a socket in a directory only root can
/// enter; stopped when the command ends.
struct PrivateDaemon {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl PrivateDaemon {
    fn start() -> Result<PrivateDaemon, String> {
        let binary = daemon_binary().ok_or("no `ds01d` next to `ds01` or on PATH")?;
        let dir = private_dir()?;
        let socket = dir.join("ds01.sock");
        let log = std::fs::File::create(dir.join("ds01d.log")).map_err(|e| e.to_string())?;
        let mut command = Command::new(&binary);
        command.arg("--socket").arg(&socket);
        // Root's own settings: these reach only a daemon root starts for itself.
        if let Some(config) = std::env::var_os("DS01_SYSTEM_CONFIG") {
            command.arg("--config").arg(config);
        }
        if let Some(state) = std::env::var_os("DS01_STATE_DIR") {
            command.arg("--state-dir").arg(state);
        }
        // The private service must not outlive this command, however it ends (a SIGKILL
        // included): the kernel sends it SIGTERM when ds01 dies.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
        let child = command
            .env("DS01D_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        let mut daemon = PrivateDaemon { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&daemon.socket).is_ok() {
                return Ok(daemon);
            }
            if let Ok(Some(_)) = daemon.child.try_wait() {
                let log = std::fs::read_to_string(daemon.dir.join("ds01d.log")).unwrap_or_default();
                return Err(format!("it exited: {}", log.trim()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err("it did not answer within 20 s".into())
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn daemon_binary() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()?
        .parent()
        .map(|d| d.join("ds01d"))
        .filter(|p| p.is_file());
    beside.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("ds01d"))
                .find(|p| p.is_file())
        })
    })
}

/// A fresh directory only root can enter; `create_dir` refuses an existing path, so a
/// planted directory or link is never used.
fn private_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = Path::new("/run").join("ds01-private");
    let parent = if std::fs::DirBuilder::new().mode(0o700).create(&base).is_ok() || base.is_dir() {
        base
    } else {
        std::env::temp_dir()
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = parent.join(format!("ds01-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}
