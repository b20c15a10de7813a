//! The client's address behind a reverse proxy, from `X-Forwarded-For`.
//!
//! Each proxy on the way appends the address it received the request from,
//! so the list reads client first, nearest proxy last. Only entries added
//! by proxies the server trusts can be believed (anyone can send the header
//! with anything in it), so the client is the rightmost entry that is not
//! itself a trusted proxy. Only asked for when the connection comes from a
//! trusted proxy.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// The header proxies name the client in.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address `X-Forwarded-For` in `headers` gives for the client, with
/// `trusted` telling the server's own proxies; `None` when the header is
/// missing or its relevant entry is not an address (then the proxy's own
/// address stands for the client).
pub(crate) fn client(headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        entries.extend(value.to_str().ok()?.split(','));
    }
    for entry in entries.iter().rev() {
        let ip = address(entry.trim())?;
        if !trusted(ip) {
            return Some(ip);
        }
    }
    // Only trusted proxies: the first of them is as near the client as
    // the header goes.
    entries.first().and_then(|e| address(e.trim()))
}

/// One entry: an address, perhaps with a port (`[2001:db8::1]:443`).
fn address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(X_FORWARDED_FOR, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The proxies here: loopback and 10.0.0.2.
    fn ours(ip: IpAddr) -> bool {
        ip.is_loopback() || ip == "10.0.0.2".parse::<IpAddr>().unwrap()
    }

    #[test]
    fn the_rightmost_address_no_trusted_proxy_added_is_the_client() {
        assert_eq!(
            client(&headers(&["203.0.113.5"]), ours),
            Some(ip("203.0.113.5"))
        );
        // What the client claimed itself comes first and is passed over.
        assert_eq!(
            client(&headers(&["1.2.3.4, 203.0.113.5"]), ours),
            Some(ip("203.0.113.5"))
        );
        // Two proxies of ours in a row.
        assert_eq!(
            client(&headers(&["198.51.100.7, 10.0.0.2"]), ours),
            Some(ip("198.51.100.7"))
        );
        // Several header lines are one list.
        assert_eq!(
            client(&headers(&["1.2.3.4", "2001:db8::1"]), ours),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client(&headers(&["[2001:db8::1]:443"]), ours),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client(&headers(&["10.0.0.2, 127.0.0.1"]), ours),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn a_missing_or_broken_header_names_nobody() {
        assert_eq!(client(&HeaderMap::new(), ours), None);
        assert_eq!(client(&headers(&["unknown"]), ours), None);
        assert_eq!(client(&headers(&["203.0.113.5, garbage"]), ours), None);
        let mut map = HeaderMap::new();
        map.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(client(&map, ours), None);
    }
}
