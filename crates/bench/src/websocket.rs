//! The bench's WebSocket client: `--proto ws` and `--proto irc-ws`.
//!
//! It exists because browsers reach the chat server another way than the
//! TCP clients do: through its HTTP listener, upgraded to a WebSocket at
//! `/ws`, each protocol frame one WebSocket message. That path (hyper's
//! upgrade, WebSocket framing and masking, one message per frame both
//! ways) has its own costs, and the web client's users get what it
//! delivers, so the bench drives it the same way it drives the TCP
//! listeners:
//!
//! - `ws`: the JSON protocol, no subprotocol; one JSON frame per text
//!   message, without a trailing newline.
//! - `irc-ws`: IRC with the subprotocol `text.ircv3.net` (as web IRC
//!   clients ask for it); one line per text message, without CRLF. PINGs
//!   are answered with PONGs as over TCP.
//!
//! No `Origin` header is sent: the server lets non-browser clients in
//! without one. WebSocket pings are answered by tungstenite as it reads.
//!
//! The rest of the bench keeps working on whole lines in their TCP form:
//! what it writes is split at its line ends into messages (all of one
//! write fed to the socket, then flushed once), and the messages read are
//! handed to the same stamp scanner, as many at once as have arrived.

use futures_util::stream::SplitStream;
use futures_util::{FutureExt, Sink, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Bytes, Message, Utf8Bytes};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use crate::session::{Reader, ReaderStats, telling};
use crate::wire::{LoginError, MAX_LOGIN_LINE, Proto, shown};

/// A WebSocket over a plain TCP connection.
pub type WsStream = WebSocketStream<TcpStream>;

/// Where the server takes WebSockets.
pub const PATH: &str = "/ws";

/// The subprotocol that makes the server speak IRC, one line per text
/// message.
pub const IRC_SUBPROTOCOL: &str = "text.ircv3.net";

/// The most messages a reader takes in one go (one clock reading, one
/// histogram lock and one update of the shared counters for all of them).
const MAX_BATCH: usize = 256;

/// The URL of the WebSocket endpoint of `server` (`HOST:PORT`).
pub fn url(server: &str) -> String {
    format!("ws://{server}{PATH}")
}

/// Upgrades a fresh connection to `server` to a WebSocket speaking
/// `proto`, reading with a buffer of `read_buffer` bytes.
pub async fn handshake(
    stream: TcpStream,
    proto: Proto,
    server: &str,
    read_buffer: usize,
) -> Result<WsStream, LoginError> {
    let url = url(server);
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| LoginError::WebSocket(format!("cannot make a request for {url}: {e}")))?;
    if proto.is_irc() {
        request.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(IRC_SUBPROTOCOL),
        );
    }
    // Messages as large as a login reply may be (the member list of a big
    // room); the read buffer as small as the kind of run allows.
    let config = WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .max_message_size(Some(MAX_LOGIN_LINE))
        .max_frame_size(Some(MAX_LOGIN_LINE));
    match client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _response)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) => Err(LoginError::Refused(refusal(
            &url,
            response.status(),
            response.body().as_deref(),
        ))),
        Err(tungstenite::Error::Io(e)) => Err(LoginError::Io(e)),
        Err(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_),
        )) => Err(LoginError::Refused(format!(
            "{url} did not take the WebSocket subprotocol {IRC_SUBPROTOCOL}"
        ))),
        Err(e) => Err(LoginError::WebSocket(format!(
            "WebSocket handshake with {url} failed: {e}"
        ))),
    }
}

/// What to say when the server answered the upgrade with another status:
/// the status and what the server said (a wrong port or path shows as a
/// 404 or as a server that does not speak HTTP, a foreign `Origin` as 403).
fn refusal(url: &str, status: StatusCode, body: Option<&[u8]>) -> String {
    let said = body.map(shown).filter(|text| !text.is_empty());
    match said {
        Some(text) => format!("{url} answered the WebSocket upgrade with HTTP {status}: {text}"),
        None => format!("{url} answered the WebSocket upgrade with HTTP {status}"),
    }
}

/// The next non-empty line the server sent during login: the text of a
/// message, without a line end should it have one.
pub async fn next_line(ws: &mut WsStream) -> Result<Vec<u8>, LoginError> {
    loop {
        let data = match ws.next().await {
            Some(Ok(Message::Text(text))) => Bytes::from(text),
            Some(Ok(Message::Binary(data))) => data,
            // Pings are answered by tungstenite.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                return Err(LoginError::Refused(closed_by(frame.as_ref())));
            }
            None => return Err(LoginError::Closed),
            Some(Err(tungstenite::Error::Io(e))) => return Err(LoginError::Io(e)),
            Some(Err(tungstenite::Error::Capacity(_))) => return Err(LoginError::LineTooLong),
            Some(Err(e)) => return Err(LoginError::WebSocket(e.to_string())),
        };
        if let Some(line) = lines(&data).next() {
            return Ok(data[line].to_vec());
        }
    }
}

/// Sends whole lines (in their TCP form, each with its line end) as one
/// text message each: fed to the socket one after another, flushed once.
/// Copies the bytes once, into one buffer the messages share.
pub async fn send_lines<S>(sink: &mut S, bytes: &[u8]) -> Result<(), String>
where
    S: Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let shared = Bytes::copy_from_slice(bytes);
    for line in lines(bytes) {
        let text = Utf8Bytes::try_from(shared.slice(line))
            .map_err(|e| format!("not sent: a line that is not UTF-8 ({e})"))?;
        sink.feed(Message::Text(text))
            .await
            .map_err(|e| format!("write failed: {e}"))?;
    }
    sink.flush().await.map_err(|e| format!("write failed: {e}"))
}

/// Where the non-empty lines of `bytes` are: split at each LF, a CR
/// before it left out; a last line without a line end counts too.
fn lines(bytes: &[u8]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        while start < bytes.len() {
            let rest = &bytes[start..];
            let (len, next) = match memchr::memchr(b'\n', rest) {
                Some(at) => (at, start + at + 1),
                None => (rest.len(), bytes.len()),
            };
            let mut end = start + len;
            if end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
            let line = start..end;
            start = next;
            if !line.is_empty() {
                return Some(line);
            }
        }
        None
    })
}

/// Why the server closed, from its close frame.
fn closed_by(frame: Option<&CloseFrame>) -> String {
    match frame {
        None => "the server closed the WebSocket".to_owned(),
        Some(frame) if frame.reason.is_empty() => format!(
            "the server closed the WebSocket with code {}",
            u16::from(frame.code)
        ),
        Some(frame) => format!(
            "the server closed the WebSocket with code {} ({})",
            u16::from(frame.code),
            shown(frame.reason.as_bytes())
        ),
    }
}

/// A reader over a WebSocket: hands every message to the reader's stamp
/// scanner, as many at once as have arrived, until the run stops or the
/// server closes; then hands its figures and its half back.
pub async fn read_loop(
    mut reader: Reader,
    mut stream: SplitStream<Box<WsStream>>,
) -> (ReaderStats, SplitStream<Box<WsStream>>) {
    let stop = reader.shared.stop.clone();
    let mut batch: Vec<Bytes> = Vec::with_capacity(MAX_BATCH);
    loop {
        let mut next = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            next = stream.next() => next,
        };
        let now_us = reader.shared.now_us();
        let ended = loop {
            match next {
                Some(Ok(Message::Text(text))) => batch.push(Bytes::from(text)),
                Some(Ok(Message::Binary(data))) => batch.push(data),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => break Some(closed_by(frame.as_ref())),
                None => break Some(closed_by(None)),
                Some(Err(e)) => break Some(format!("read failed: {e}")),
            }
            if batch.len() >= MAX_BATCH {
                break None;
            }
            // Only what has arrived already: the clock reading above is
            // theirs too.
            match stream.next().now_or_never() {
                Some(more) => next = more,
                None => break None,
            }
        };
        if !batch.is_empty() {
            reader.lines(&batch, now_us);
            // A batch is what one wake-up found, as a read is over TCP.
            reader.stats.reads += 1;
            reader.stats.bytes += batch.iter().map(|m| m.len() as u64).sum::<u64>();
        }
        if let Some(reason) = ended {
            let reason = match batch.last().and_then(|last| telling(last)) {
                Some(last) => format!("{reason}, after: {last}"),
                None => reason,
            };
            tracing::debug!(client = reader.index, "{reason}");
            reader.stats.closed = Some(reason);
            break;
        }
        batch.clear();
    }
    if reader.stats.closed.is_some() {
        reader
            .shared
            .dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    (reader.stats, stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

    fn split(bytes: &[u8]) -> Vec<&[u8]> {
        lines(bytes).map(|r| &bytes[r]).collect()
    }

    #[test]
    fn lines_are_split_at_their_ends_and_lose_them() {
        assert_eq!(
            split(b"NICK a\r\nUSER a 0 * :b\r\n"),
            [&b"NICK a"[..], b"USER a 0 * :b"]
        );
        assert_eq!(
            split(b"{\"type\":\"logout\"}\n"),
            [&b"{\"type\":\"logout\"}"[..]]
        );
        assert_eq!(split(b"PONG :x"), [&b"PONG :x"[..]]);
        assert_eq!(split(b"\r\n\n a \n\r\n"), [&b" a "[..]]);
        assert!(split(b"").is_empty());
    }

    #[test]
    fn refusals_say_the_status_and_the_reason() {
        assert_eq!(
            refusal(
                "ws://127.0.0.1:1/ws",
                StatusCode::FORBIDDEN,
                Some(b"this origin may not connect")
            ),
            "ws://127.0.0.1:1/ws answered the WebSocket upgrade with HTTP 403 Forbidden: \
             this origin may not connect"
        );
        assert_eq!(
            refusal("ws://h:2/ws", StatusCode::NOT_FOUND, Some(b"")),
            "ws://h:2/ws answered the WebSocket upgrade with HTTP 404 Not Found"
        );
        assert_eq!(url("[::1]:8080"), "ws://[::1]:8080/ws");
    }

    #[test]
    fn close_frames_give_their_code_and_reason() {
        assert_eq!(closed_by(None), "the server closed the WebSocket");
        let frame = CloseFrame {
            code: CloseCode::Policy,
            reason: Utf8Bytes::from_static(""),
        };
        assert_eq!(
            closed_by(Some(&frame)),
            "the server closed the WebSocket with code 1008"
        );
        let frame = CloseFrame {
            code: CloseCode::Away,
            reason: Utf8Bytes::from_static("shutting down"),
        };
        assert_eq!(
            closed_by(Some(&frame)),
            "the server closed the WebSocket with code 1001 (shutting down)"
        );
    }
}
