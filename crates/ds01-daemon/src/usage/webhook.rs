//! Posting the monthly report to the admin's webhook: one HTTP/1.1 POST of its JSON, with a
//! time limit, answered by the status of the reply.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::settings::Webhook;

/// How long connecting, sending and the reply's status line may take together.
const LIMIT: Duration = Duration::from_secs(10);

/// Posts `body` (JSON); the reply's HTTP status, or why there was none.
pub(crate) async fn post(hook: &Webhook, body: &[u8]) -> Result<u16, String> {
    tokio::time::timeout(LIMIT, exchange(hook, body))
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", LIMIT.as_secs())))
}

async fn exchange(hook: &Webhook, body: &[u8]) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(&hook.authority)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", hook.authority))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ds01d/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        hook.target,
        hook.host,
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .and(stream.write_all(body).await)
        .map_err(|e| format!("sending: {e}"))?;
    // Only the status line matters; the rest of the reply is not read.
    let mut reply = Vec::new();
    let mut chunk = [0u8; 512];
    while !reply.windows(2).any(|w| w == b"\r\n") && reply.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
    }
    status(&reply).ok_or_else(|| "the answer is not HTTP".to_owned())
}

fn status(reply: &[u8]) -> Option<u16> {
    let line = reply.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split(' ');
    words.next().filter(|w| w.starts_with("HTTP/1."))?;
    words.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_comes_from_the_status_line() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n\r\n"), Some(204));
        assert_eq!(status(b"HTTP/1.0 500 Oops\r\n"), Some(500));
        assert_eq!(status(b"SSH-2.0-OpenSSH\r\n"), None);
    }
}
