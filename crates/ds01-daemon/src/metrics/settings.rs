//! `[metrics]`: where ds01d serves its metrics, if anywhere.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// The `[metrics]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `IP:PORT` to serve `GET /metrics` on over TCP (`127.0.0.1:9401`), or the absolute
    /// path of a Unix socket that only root may connect to; unset: no metrics.
    pub listen: Option<String>,
}

/// Where the metrics are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsListen {
    /// TCP on this address.
    Tcp(SocketAddr),
    /// A root-only Unix socket at this path.
    Socket(PathBuf),
}

impl MetricsSettings {
    /// Checks `listen`, naming the key when it is refused.
    pub fn resolve(&self) -> Result<Option<MetricsListen>, String> {
        let Some(text) = &self.listen else {
            return Ok(None);
        };
        if text.starts_with('/') {
            return Ok(Some(MetricsListen::Socket(PathBuf::from(text))));
        }
        text.parse::<SocketAddr>()
            .map(|a| Some(MetricsListen::Tcp(a)))
            .map_err(|_| {
                format!(
                    "[metrics] listen = {text:?}: give an IP address and port (127.0.0.1:9401) or the absolute path of a socket"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<Option<MetricsListen>, String> {
        toml::from_str::<MetricsSettings>(text).unwrap().resolve()
    }

    #[test]
    fn off_by_default_tcp_or_a_socket_path_when_set() {
        assert_eq!(resolve("").unwrap(), None);
        assert_eq!(
            resolve("listen = \"127.0.0.1:9401\"").unwrap(),
            Some(MetricsListen::Tcp("127.0.0.1:9401".parse().unwrap()))
        );
        assert_eq!(
            resolve("listen = \"/run/ds01/metrics.sock\"").unwrap(),
            Some(MetricsListen::Socket("/run/ds01/metrics.sock".into()))
        );
        for bad in ["localhost:9401", "9401", "metrics.sock"] {
            let e = resolve(&format!("listen = \"{bad}\"")).unwrap_err();
            assert!(e.contains("[metrics] listen"), "{e}");
        }
        assert!(toml::from_str::<MetricsSettings>("port = 9401").is_err());
    }
}
