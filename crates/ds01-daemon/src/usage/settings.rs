//! `[usage]`: how long a ledger record spans, and where the monthly report is posted.

use std::time::Duration;

use ds01_policy::Span;
use serde::Deserialize;

/// The `[usage]` table as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageSettings {
    /// The longest span one ledger record covers (default `1h`); it must divide a day, so
    /// that no record crosses a UTC midnight (and so a month).
    pub record_every: Option<String>,
    /// Where `ds01 admin report` posts the report's JSON: `http://HOST:PORT/PATH`.
    pub webhook: Option<String>,
}

/// The resolved `[usage]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageConfig {
    /// See [`UsageSettings::record_every`].
    pub record_every: Duration,
    /// See [`UsageSettings::webhook`].
    pub webhook: Option<Webhook>,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig {
            record_every: Duration::from_secs(3600),
            webhook: None,
        }
    }
}

/// A webhook's address, checked when the configuration is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL as configured.
    pub url: String,
    /// `HOST:PORT` to connect to.
    pub authority: String,
    /// The `Host` header.
    pub host: String,
    /// The request target (`/path?query`).
    pub target: String,
}

impl Webhook {
    /// Parses an `http://` URL. HTTPS is refused: ds01d carries no TLS stack, and a webhook
    /// that silently never arrives is worse than a refusal at start.
    pub fn parse(url: &str) -> Result<Webhook, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            if url.starts_with("https://") {
                "https is not supported (ds01d has no TLS client): give an http:// URL, e.g. of a relay on this host".to_owned()
            } else {
                "give an http:// URL".to_owned()
            }
        })?;
        let (authority, target) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.is_empty()
            || authority.contains('@')
            || !authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        {
            return Err("the URL has no valid host".to_owned());
        }
        if target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the URL's path holds spaces or control characters".to_owned());
        }
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        Ok(Webhook {
            url: url.to_owned(),
            authority: if has_port {
                authority.to_owned()
            } else {
                format!("{authority}:80")
            },
            host: authority.to_owned(),
            target: target.to_owned(),
        })
    }
}

impl UsageSettings {
    /// Checks every value, naming the key of the first one refused.
    pub fn resolve(&self) -> Result<UsageConfig, String> {
        let mut config = UsageConfig::default();
        if let Some(text) = &self.record_every {
            let span: Span = text
                .parse()
                .map_err(|e| format!("[usage] record_every = {text:?}: {e}"))?;
            if span.secs() == 0 || 86_400 % span.secs() != 0 {
                return Err(format!(
                    "[usage] record_every = {text:?}: give a span that divides a day (1s to 1d: 10m, 1h, 6h ...)"
                ));
            }
            config.record_every = Duration::from_secs(span.secs());
        }
        if let Some(url) = &self.webhook {
            config.webhook =
                Some(Webhook::parse(url).map_err(|e| format!("[usage] webhook = {url:?}: {e}"))?);
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<UsageConfig, String> {
        toml::from_str::<UsageSettings>(text).unwrap().resolve()
    }

    #[test]
    fn defaults_and_good_values() {
        assert_eq!(resolve("").unwrap(), UsageConfig::default());
        let c = resolve("record_every = \"10m\"\nwebhook = \"http://127.0.0.1:9000/hook?x=1\"")
            .unwrap();
        assert_eq!(c.record_every, Duration::from_secs(600));
        let hook = c.webhook.unwrap();
        assert_eq!(
            (hook.authority.as_str(), hook.target.as_str()),
            ("127.0.0.1:9000", "/hook?x=1")
        );
        let hook = Webhook::parse("http://reports.example").unwrap();
        assert_eq!(
            (
                hook.authority.as_str(),
                hook.host.as_str(),
                hook.target.as_str()
            ),
            ("reports.example:80", "reports.example", "/")
        );
        assert_eq!(
            Webhook::parse("http://[::1]/x").unwrap().authority,
            "[::1]:80"
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_key() {
        for (text, needle) in [
            ("record_every = \"7m\"", "record_every"),
            ("record_every = \"0s\"", "record_every"),
            ("record_every = \"2d\"", "record_every"),
            (
                "webhook = \"https://hooks.example/x\"",
                "https is not supported",
            ),
            ("webhook = \"ftp://x\"", "webhook"),
            ("webhook = \"http://user@host/\"", "webhook"),
            ("webhook = \"http:///x\"", "webhook"),
        ] {
            let e = resolve(text).unwrap_err();
            assert!(e.contains(needle) && e.contains("[usage]"), "{text}: {e}");
        }
        assert!(toml::from_str::<UsageSettings>("interval = 5").is_err());
    }
}
