//! The WebSocket opening handshake (RFC 6455, section 4.2): the checks of
//! the upgrade request, the subprotocol, and the `101` that switches the
//! connection over. A request that is not a valid upgrade gets `400`
//! with the reason (or `426` when the connection cannot be upgraded).

use axum::body::Body;
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Why an upgrade request is refused, as the client hears it.
pub(super) type Refusal = (StatusCode, &'static str);

/// Whether the comma-separated header `name` has `token` (in any case).
fn has_token(
    headers: &HeaderMap,
    name: impl axum::http::header::AsHeaderName,
    token: &str,
) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Whether a request asks to become a WebSocket (`Upgrade: websocket`),
/// so that a path serving something else too (`/`) can tell.
pub(crate) fn asks_for_websocket(headers: &HeaderMap) -> bool {
    has_token(headers, UPGRADE, "websocket")
}

/// Checks an upgrade request's headers; returns its key.
pub(super) fn key(headers: &HeaderMap) -> Result<&HeaderValue, Refusal> {
    if !has_token(headers, CONNECTION, "upgrade") {
        return Err((
            StatusCode::BAD_REQUEST,
            "Connection header did not include 'upgrade'",
        ));
    }
    if !asks_for_websocket(headers) {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Upgrade` header did not include 'websocket'",
        ));
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err((
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Version` header did not include '13'",
        ));
    }
    headers.get(SEC_WEBSOCKET_KEY).ok_or((
        StatusCode::BAD_REQUEST,
        "`Sec-WebSocket-Key` header missing",
    ))
}

/// The first subprotocol the client offered (in its order of preference,
/// as the IRCv3 WebSocket specification asks) that is one of `ours`.
pub(super) fn subprotocol(headers: &HeaderMap, ours: &[&'static str]) -> Option<&'static str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|offered| {
            ours.iter()
                .copied()
                .find(|p| offered.trim().eq_ignore_ascii_case(p))
        })
}

/// The `101 Switching Protocols` answering the request with `key`.
pub(super) fn switching(key: &HeaderValue, protocol: Option<&'static str>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    match HeaderValue::from_str(&derive_accept_key(key.as_bytes())) {
        Ok(accept) => {
            headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
        }
        // The key is base64 made into base64: always a valid header.
        Err(_) => return (StatusCode::BAD_REQUEST, "bad `Sec-WebSocket-Key`").into_response(),
    }
    if let Some(protocol) = protocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    }
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const GOOD: [(&str, &str); 4] = [
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_valid_request_gets_the_accept_key_of_rfc_6455() {
        let request = headers(&GOOD);
        let key = key(&request).unwrap();
        let response = switching(key, None);
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        // The example of RFC 6455, section 1.3.
        assert_eq!(
            response.headers()[SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(response.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
    }

    #[test]
    fn each_missing_piece_is_named() {
        for (leave_out, reason) in [
            (0, "Connection"),
            (1, "Upgrade"),
            (2, "Version"),
            (3, "Key"),
        ] {
            let pairs: Vec<_> = GOOD
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != leave_out)
                .map(|(_, p)| *p)
                .collect();
            let refused = key(&headers(&pairs)).unwrap_err();
            assert_eq!(refused.0, StatusCode::BAD_REQUEST);
            assert!(refused.1.contains(reason), "{}", refused.1);
        }
        let mut old = GOOD;
        old[2] = ("sec-websocket-version", "8");
        assert!(key(&headers(&old)).is_err());
    }

    #[test]
    fn the_clients_first_subprotocol_that_we_speak() {
        let ours = ["text.ircv3.net", "binary.ircv3.net"];
        let asked = headers(&[("sec-websocket-protocol", "binary.ircv3.net, text.ircv3.net")]);
        assert_eq!(subprotocol(&asked, &ours), Some("binary.ircv3.net"));
        let asked = headers(&[("sec-websocket-protocol", "chat, text.ircv3.net")]);
        assert_eq!(subprotocol(&asked, &ours), Some("text.ircv3.net"));
        let asked = headers(&[("sec-websocket-protocol", "binary.ircv3.net")]);
        assert_eq!(subprotocol(&asked, &ours), Some("binary.ircv3.net"));
        let asked = headers(&[("sec-websocket-protocol", "chat")]);
        assert_eq!(subprotocol(&asked, &ours), None);
        assert_eq!(subprotocol(&HeaderMap::new(), &ours), None);
    }
}
