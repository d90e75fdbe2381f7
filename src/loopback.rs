//! Plain HTTP on loopback TCP for the tests of ds01d's outward sides: a `GET` (the metrics
//! listener, Prometheus' query API) and a server that records what is posted to it (the
//! report's webhook). Every wait is bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

/// `GET path` from `address` with `Connection: close`: the status and the (de-chunked)
/// body.
pub fn get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    crate::daemon::parse_response(&raw)
}

/// A request the [`Recorder`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /hook HTTP/1.1`.
    pub request_line: String,
    /// The headers, as sent.
    pub headers: Vec<String>,
    /// The body (by `Content-Length`).
    pub body: Vec<u8>,
}

/// An HTTP server on `127.0.0.1` that answers every request `204 No Content` and keeps it;
/// it stops with the test process (its thread only waits on its own socket).
pub struct Recorder {
    address: SocketAddr,
    received: mpsc::Receiver<Received>,
}

impl Recorder {
    /// Listens on a free loopback port.
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("its address");
        let (tx, received) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                if let Some(r) = read_request(stream) {
                    if tx.send(r).is_err() {
                        return;
                    }
                }
            }
        });
        Recorder { address, received }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The next request received within `wait`.
    pub fn next(&self, wait: Duration) -> Option<Received> {
        self.received.recv_timeout(wait).ok()
    }
}

fn read_request(mut stream: TcpStream) -> Option<Received> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 || raw.len() > 1 << 20 {
            return None;
        }
        raw.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n").map(str::to_owned);
    let request_line = lines.next()?;
    let headers: Vec<String> = lines.collect();
    let length: usize = headers
        .iter()
        .find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    Some(Received {
        request_line,
        headers,
        body,
    })
}
