//! `POST /v1/containers/{name}/jupyter`: JupyterLab as the user in their container, reachable
//! on the host's loopback only.
//!
//! Containers have a network of their own and ports cannot be published on an existing
//! container, so ds01d listens on `127.0.0.1:PORT` itself and copies each connection to the
//! container's address (the same port inside). The forward ends when the container stops or
//! is removed. Every local user can connect to a loopback port: the token, which ds01d makes
//! (24 random bytes) and hands to the owner only, is what keeps them out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ds01_api::{ApiError, ContainerName, ErrorCode, JupyterServer, OwnedContainer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::caller::Acting;
use crate::errors::from_engine;
use crate::Daemon;

/// Ports tried first when the user names none: the ones people recognise as Jupyter's.
const PREFERRED_PORTS: std::ops::RangeInclusive<u16> = 8888..=8999;
/// How long JupyterLab may take to answer after it was started (a first start builds its
/// asset caches; on a busy server that takes a while).
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Where the log is, as the user reads it inside the container.
const LOG: &str = "~/.ds01/jupyter.log";

/// Run as the user: stop a JupyterLab this script started before (the container's or a
/// previous ds01d's), then start one in the workspace (else the home) with its log in
/// `~/.ds01`. `$1` is the address to listen on, `$2` the port; the token comes in
/// `JUPYTER_TOKEN`, not on the command line, which every local user can read in `ps`.
const SCRIPT: &str = r#"dir="$HOME/.ds01"
if ! { mkdir -p "$dir" 2>/dev/null && [ -w "$dir" ]; }; then dir="/tmp/ds01-$(id -u)"; mkdir -p "$dir"; fi
if [ -f "$dir/jupyter.pid" ]; then
  old=$(cat "$dir/jupyter.pid")
  if grep -q jupyter "/proc/$old/cmdline" 2>/dev/null; then
    kill "$old" 2>/dev/null
    i=0; while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  fi
fi
echo $$ > "$dir/jupyter.pid"
root="$HOME"
if [ -d /workspace ] && [ -w /workspace ]; then root=/workspace; fi
cd "$root" || exit 1
exec jupyter-lab --no-browser --ip="$1" --port="$2" --ServerApp.port_retries=0 --ServerApp.root_dir="$root" >"$dir/jupyter.log" 2>&1
"#;

/// The JupyterLab servers ds01d started, by container Docker name.
#[derive(Default)]
pub struct Jupyters {
    running: Mutex<HashMap<String, Running>>,
}

struct Running {
    server: JupyterServer,
    container_id: String,
    exec_id: String,
    forward: tokio::task::AbortHandle,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

impl Jupyters {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts JupyterLab in the acting user's container (starting the container first if
/// needed) and answers once it answers; a server started before and still running is
/// handed out again.
pub async fn jupyter(
    d: Arc<Daemon>,
    acting: &Acting,
    container: &OwnedContainer,
    port: Option<u16>,
) -> Result<JupyterServer, ApiError> {
    if d.config.cluster.is_some() {
        return Err(crate::ops::cluster::jupyter::jupyter(container));
    }
    let who = &acting.who;
    let (name, key) = (container.name(), container);
    let mut reach = d.engine.reach(key).await.map_err(from_engine)?;
    if !reach.running {
        super::start::start(&d, acting, key).await?;
        reach = d.engine.reach(key).await.map_err(from_engine)?;
    }
    if let Some(server) = still_running(&d, key, &reach.id, port).await {
        return Ok(server);
    }
    let found = d
        .engine
        .exec(
            who,
            name,
            &["sh".into(), "-c".into(), "command -v jupyter-lab".into()],
            false,
        )
        .await
        .map_err(from_engine)?;
    if found.status != 0 {
        return Err(ApiError::invalid(format!(
            "JupyterLab is not installed in {key}'s image {}: there is no `jupyter-lab` on its PATH",
            reach.image
        ))
        .subject(name.as_str())
        .because(ds01_api::Reason::NoJupyter));
    }
    // A server of ours for an older container, or on another port, is replaced.
    d.jupyters.lock().remove(key.as_str());

    let token = token()?;
    let (listener, listen_ip, port) = if reach.host_network {
        // The container's servers listen on the host itself: on its loopback only.
        let port = free_port(port).await?;
        (None, "127.0.0.1", port)
    } else {
        let listener = bind(port).await?;
        let port = listener.local_addr().map_err(io_failed)?.port();
        (Some(listener), "0.0.0.0", port)
    };
    let target = match (reach.host_network, reach.address) {
        (true, _) => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        (false, Some(ip)) => SocketAddr::new(ip, port),
        (false, None) => {
            return Err(ApiError::new(
                ErrorCode::Failed,
                format!("{key} has no network address that ds01d can forward to"),
            ))
        }
    };
    let command = vec![
        "sh".into(),
        "-c".into(),
        SCRIPT.into(),
        "ds01-jupyter".into(),
        listen_ip.into(),
        port.to_string(),
    ];
    let exec_id = d
        .engine
        .start_background(who, name, command, vec![format!("JUPYTER_TOKEN={token}")])
        .await
        .map_err(from_engine)?;
    wait_ready(&d, acting, name, &exec_id, target).await?;

    let server = JupyterServer {
        name: key.to_string(),
        port,
        url: format!("http://127.0.0.1:{port}/lab?token={token}"),
        ssh: format!(
            "ssh -L {port}:127.0.0.1:{port} {}@{}",
            who.login(),
            hostname()
        ),
        token,
        log: LOG.to_owned(),
        reused: false,
    };
    let forward = tokio::spawn(forward(
        d.clone(),
        key.to_string(),
        reach.id.clone(),
        exec_id.clone(),
        listener,
        target,
    ))
    .abort_handle();
    d.jupyters.lock().insert(
        key.to_string(),
        Running {
            server: server.clone(),
            container_id: reach.id,
            exec_id,
            forward,
        },
    );
    d.events.record_for(
        acting,
        key,
        "jupyter",
        format!("JupyterLab started on 127.0.0.1:{port}"),
    );
    Ok(server)
}

/// The server already running for this container (and port, if one is asked for).
async fn still_running(
    d: &Daemon,
    key: &str,
    container_id: &str,
    port: Option<u16>,
) -> Option<JupyterServer> {
    let (server, exec_id) = {
        let running = d.jupyters.lock();
        let r = running.get(key)?;
        if r.container_id != container_id || port.is_some_and(|p| p != r.server.port) {
            return None;
        }
        (r.server.clone(), r.exec_id.clone())
    };
    match d.engine.session_status(&exec_id).await {
        Ok(None) => Some(JupyterServer {
            reused: true,
            ..server
        }),
        _ => None,
    }
}

/// Waits until JupyterLab answers HTTP at `target`; fails with its log's tail when it
/// ends first or does not answer in time.
async fn wait_ready(
    d: &Daemon,
    acting: &Acting,
    name: &ContainerName,
    exec_id: &str,
    target: SocketAddr,
) -> Result<(), ApiError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if answers(target).await {
            return Ok(());
        }
        let ended = matches!(d.engine.session_status(exec_id).await, Ok(Some(_)));
        if ended || Instant::now() > deadline {
            let why = if ended {
                "JupyterLab ended before it answered"
            } else {
                "JupyterLab did not answer in time"
            };
            let tail = log_tail(d, acting, name).await;
            return Err(ApiError::new(
                ErrorCode::Failed,
                format!("{why}; the end of {LOG}:\n{tail}"),
            )
            .subject(name.as_str()));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn log_tail(d: &Daemon, acting: &Acting, name: &ContainerName) -> String {
    let command = "tail -n 20 \"$HOME/.ds01/jupyter.log\" 2>/dev/null || tail -n 20 \"/tmp/ds01-$(id -u)/jupyter.log\"";
    match d
        .engine
        .exec(
            &acting.who,
            name,
            &["sh".into(), "-c".into(), command.into()],
            false,
        )
        .await
    {
        Ok(out) => out.stdout,
        Err(e) => format!("(cannot read it: {e})"),
    }
}

/// Copies connections from the loopback listener to the container until the container
/// stops or is removed, then forgets the server.
async fn forward(
    d: Arc<Daemon>,
    key: String,
    container_id: String,
    exec_id: String,
    listener: Option<TcpListener>,
    target: SocketAddr,
) {
    let stopped = d.engine.stopped(&container_id);
    tokio::pin!(stopped);
    match listener {
        None => stopped.await,
        Some(listener) => loop {
            tokio::select! {
                _ = &mut stopped => break,
                accepted = listener.accept() => {
                    let Ok((mut inbound, _)) = accepted else { continue };
                    tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            }
        },
    }
    let mut running = d.jupyters.lock();
    if running.get(&key).is_some_and(|r| r.exec_id == exec_id) {
        // Dropping it aborts this very task, which ends here anyway.
        running.remove(&key);
    }
}

/// Whether an HTTP server answers `GET /api` at `target` (JupyterLab does, without a
/// token, with its version).
async fn answers(target: SocketAddr) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect(target).await.ok()?;
        stream
            .write_all(b"GET /api HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.") && &head[9..12] == b"200")
    };
    tokio::time::timeout(Duration::from_secs(3), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Listens on the host's loopback: on `port`, else the first free preferred port, else
/// any free port.
async fn bind(port: Option<u16>) -> Result<TcpListener, ApiError> {
    let at = |p: u16| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p);
    if let Some(p) = port {
        return TcpListener::bind(at(p)).await.map_err(|e| {
            ApiError::new(
                ErrorCode::Busy,
                format!("port {p} on 127.0.0.1 is not free: {e}"),
            )
        });
    }
    for p in PREFERRED_PORTS {
        if let Ok(listener) = TcpListener::bind(at(p)).await {
            return Ok(listener);
        }
    }
    TcpListener::bind(at(0)).await.map_err(io_failed)
}

/// A free loopback port for a server in a container on the host's network.
async fn free_port(port: Option<u16>) -> Result<u16, ApiError> {
    let listener = bind(port).await?;
    listener.local_addr().map(|a| a.port()).map_err(io_failed)
}

/// 24 random bytes from the kernel, in hex.
fn token() -> Result<String, ApiError> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(io_failed)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "SERVER".to_owned())
}

fn io_failed(e: std::io::Error) -> ApiError {
    ApiError::new(ErrorCode::Failed, format!("setting up the forward: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_hex_and_differ() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 48);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
