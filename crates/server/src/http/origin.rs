//! Which web pages may open a WebSocket to the server.
//!
//! A browser sends the origin of the page whose script opens a WebSocket,
//! and the page's cookies would go along: without this check any site its
//! visitors open could chat in their name. Allowed are: no `Origin` at all
//! (not a browser: such a client could send anything anyway), the server's
//! own origin (the `Origin`'s host and port are the request's `Host`; the
//! scheme is not compared, so a TLS-terminating reverse proxy in front
//! keeps working), and the configured allow-list.

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

/// The configured origins, normalised (lowercase, no trailing slash).
pub(crate) struct Origins {
    allowed: Vec<String>,
}

impl Origins {
    /// The allow-list as configured (`https://chat.example`, ...).
    pub(crate) fn new(allowed: &[String]) -> Self {
        Origins {
            allowed: allowed.iter().map(|o| normalise(o)).collect(),
        }
    }

    /// Whether a request with these headers may open a WebSocket; `Err`
    /// holds the foreign origin, for the log.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), String> {
        let Some(origin) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let origin = String::from_utf8_lossy(origin.as_bytes());
        let normalised = normalise(&origin);
        if self.allowed.contains(&normalised) {
            return Ok(());
        }
        let host = headers
            .get(HOST)
            .map(|h| String::from_utf8_lossy(h.as_bytes()).to_ascii_lowercase());
        let authority = normalised
            .strip_prefix("http://")
            .or_else(|| normalised.strip_prefix("https://"));
        match (authority, host) {
            (Some(authority), Some(host)) if !authority.is_empty() && authority == host => Ok(()),
            _ => Err(origin.into_owned()),
        }
    }
}

/// An origin as compared: trimmed, lowercase, without a trailing slash.
fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(
                ORIGIN,
                HeaderValue::from_str(origin).unwrap_or_else(|_| HeaderValue::from_static("x")),
            );
        }
        if let Some(host) = host {
            headers.insert(
                HOST,
                HeaderValue::from_str(host).unwrap_or_else(|_| HeaderValue::from_static("x")),
            );
        }
        headers
    }

    #[test]
    fn own_origin_and_the_allow_list_pass() {
        let origins = Origins::new(&["https://Chat.Example/".to_owned()]);
        assert!(
            origins
                .check(&headers(None, Some("127.0.0.1:8080")))
                .is_ok()
        );
        assert!(
            origins
                .check(&headers(
                    Some("http://127.0.0.1:8080"),
                    Some("127.0.0.1:8080")
                ))
                .is_ok()
        );
        assert!(
            origins
                .check(&headers(
                    Some("https://chat.example"),
                    Some("10.0.0.1:8080")
                ))
                .is_ok()
        );
    }

    #[test]
    fn foreign_origins_fail() {
        let origins = Origins::new(&[]);
        for (origin, host) in [
            ("http://evil.example", Some("127.0.0.1:8080")),
            ("http://127.0.0.1:8081", Some("127.0.0.1:8080")),
            ("null", Some("127.0.0.1:8080")),
            ("http://127.0.0.1:8080", None),
            ("file://127.0.0.1:8080", Some("127.0.0.1:8080")),
            ("http://", Some("")),
        ] {
            assert!(
                origins.check(&headers(Some(origin), host)).is_err(),
                "{origin} for {host:?}"
            );
        }
    }
}
