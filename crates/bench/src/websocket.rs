//! The bench's WebSocket client: `--proto ws` and `--proto irc-ws`.
//!
//! It exists because browsers reach the chat server another way than the
//! TCP clients do: through its HTTP listener, upgraded to a WebSocket at
//! `/ws`, each protocol frame one WebSocket message. That path (the
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
//! without one.
//!
//! The client is as lean as the TCP one, so that the bench, not the
//! server, is not what limits a run: the opening handshake is written and
//! read by hand over the socket, and frames are parsed in place in the
//! reader's buffer ([`ws_frame`]). The rest of the bench keeps working on
//! whole lines in their TCP form: what it writes is split at its line ends
//! into one masked text frame each, all of one write sent in one write;
//! the run's reader hands the messages of each read to the same stamp
//! scanner as slices of its buffer, and answers WebSocket pings with pongs
//! through the writer.

use std::ops::Range;

use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::session::{Reader, ReaderStats, telling};
use crate::wire::{LoginError, Proto, shown};
use crate::ws_frame::{self, Decoder, Event};

/// Where the server takes WebSockets.
pub const PATH: &str = "/ws";

/// The subprotocol that makes the server speak IRC, one line per text
/// message.
pub const IRC_SUBPROTOCOL: &str = "text.ircv3.net";

/// The longest response head to an upgrade accepted.
const MAX_HEAD: usize = 16 * 1024;

/// The most of a refusal's body read (the server's reason).
const MAX_REFUSAL_BODY: usize = 4 * 1024;

/// Reads are never smaller than this: when less room is left at the end
/// of the buffer, the unfinished frame is moved to the front.
const MIN_READ: usize = 8 * 1024;

/// How much a login read may add to the buffer.
const LOGIN_READ: usize = 16 * 1024;

/// The URL of the WebSocket endpoint of `server` (`HOST:PORT`).
pub fn url(server: &str) -> String {
    format!("ws://{server}{PATH}")
}

/// A WebSocket client's connection while it logs in, and again while it
/// logs out.
#[derive(Debug)]
pub struct WsConn {
    stream: TcpStream,
    /// Read and not yet handled from `start` on.
    buf: Vec<u8>,
    start: usize,
    decoder: Decoder,
}

/// Upgrades a fresh connection to `server` to a WebSocket speaking
/// `proto`.
pub async fn handshake(
    mut stream: TcpStream,
    proto: Proto,
    server: &str,
) -> Result<WsConn, LoginError> {
    let url = url(server);
    let key = generate_key();
    stream
        .write_all(request(server, &key, proto).as_bytes())
        .await?;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(at) = memmem::find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        let seen = buf.len().min(5);
        if buf[..seen] != b"HTTP/"[..seen] {
            return Err(failed(
                &url,
                &format!("the answer is not HTTP: {}", shown(&buf)),
            ));
        }
        if buf.len() > MAX_HEAD {
            return Err(failed(
                &url,
                &format!("a response head longer than {MAX_HEAD} bytes"),
            ));
        }
        buf.reserve(4096);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(failed(&url, "the server closed before it answered"));
        }
    };
    match answer(&buf[..head_end], &key, proto, &url)? {
        Answer::Switched => Ok(WsConn {
            stream,
            buf,
            start: head_end,
            decoder: Decoder::default(),
        }),
        Answer::Refused { status, body_len } => {
            let bound = body_len.unwrap_or(MAX_REFUSAL_BODY).min(MAX_REFUSAL_BODY);
            let mut body = buf.split_off(head_end);
            while body.len() < bound {
                body.reserve(bound - body.len());
                match stream.read_buf(&mut body).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            body.truncate(bound);
            Err(LoginError::Refused(refusal(&url, status, &body)))
        }
    }
}

/// The upgrade request.
fn request(server: &str, key: &str, proto: Proto) -> String {
    let subprotocol = if proto.is_irc() {
        format!("Sec-WebSocket-Protocol: {IRC_SUBPROTOCOL}\r\n")
    } else {
        String::new()
    };
    format!(
        "GET {PATH} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: {key}\r\n{subprotocol}\r\n"
    )
}

/// What the server answered the upgrade with.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// 101: the connection is a WebSocket now.
    Switched,
    /// Another status; the body (the reason) is this long if it said.
    Refused {
        /// The status.
        status: StatusCode,
        /// Its `Content-Length`.
        body_len: Option<usize>,
    },
}

/// A handshake that went wrong, with what went wrong.
fn failed(url: &str, what: &str) -> LoginError {
    LoginError::WebSocket(format!("WebSocket handshake with {url} failed: {what}"))
}

/// Reads the response head (up to and with its empty line) to the upgrade
/// sent with `key`: a 101 must accept that key, with the subprotocol
/// asked for.
fn answer(head: &[u8], key: &str, proto: Proto, url: &str) -> Result<Answer, LoginError> {
    let head =
        std::str::from_utf8(head).map_err(|_| failed(url, "a response head not in UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.splitn(3, ' ');
    let version = words.next().unwrap_or_default();
    let code = words.next().unwrap_or_default();
    let status = match code.parse::<u16>().map(StatusCode::from_u16) {
        Ok(Ok(status)) if version.starts_with("HTTP/1.") && code.len() == 3 => status,
        _ => {
            return Err(failed(
                url,
                &format!("not an HTTP status line: {}", shown(status_line.as_bytes())),
            ));
        }
    };
    let headers: Vec<(&str, &str)> = lines
        .filter(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
        .collect();
    let header = |wanted: &str| {
        headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|&(_, value)| value)
    };
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Answer::Refused {
            status,
            body_len: header("content-length").and_then(|len| len.parse().ok()),
        });
    }
    let upgraded = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header("connection").is_some_and(|v| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
        });
    if !upgraded {
        return Err(failed(url, "a 101 without Upgrade: websocket"));
    }
    if header("sec-websocket-accept") != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Err(failed(url, "a wrong Sec-WebSocket-Accept"));
    }
    let subprotocol = header("sec-websocket-protocol");
    match (proto.is_irc(), subprotocol) {
        (true, Some(IRC_SUBPROTOCOL)) | (false, None) => Ok(Answer::Switched),
        (true, _) => Err(LoginError::Refused(format!(
            "{url} did not take the WebSocket subprotocol {IRC_SUBPROTOCOL}"
        ))),
        (false, Some(other)) => Err(failed(
            url,
            &format!("a subprotocol not asked for: {}", shown(other.as_bytes())),
        )),
    }
}

/// What to say when the server answered the upgrade with another status:
/// the status and what the server said (a wrong port or path shows as a
/// 404 or as a server that does not speak HTTP, a foreign `Origin` as 403).
fn refusal(url: &str, status: StatusCode, body: &[u8]) -> String {
    let said = shown(body);
    if said.is_empty() {
        format!("{url} answered the WebSocket upgrade with HTTP {status}")
    } else {
        format!("{url} answered the WebSocket upgrade with HTTP {status}: {said}")
    }
}

impl WsConn {
    /// Sends whole lines (in their TCP form, each with its line end) as one
    /// text message each, in one write.
    pub async fn send_lines(&mut self, bytes: &[u8]) -> Result<(), LoginError> {
        let mut out = Vec::with_capacity(bytes.len() + 64);
        push_lines(&mut out, bytes);
        Ok(self.stream.write_all(&out).await?)
    }

    /// The next non-empty line the server sent during login: the text of a
    /// message, without a line end should it have one. Pings are answered.
    pub async fn next_line(&mut self) -> Result<Vec<u8>, LoginError> {
        loop {
            while let Some((event, len)) = self.decoder.next(&self.buf[self.start..])? {
                let at = self.start;
                self.start += len;
                let payload = |range: Range<usize>| at + range.start..at + range.end;
                let message = match event {
                    Event::Message(range) => &self.buf[payload(range)],
                    Event::Assembled => self.decoder.assembled(),
                    Event::Ping(range) => {
                        let mut pong = Vec::new();
                        ws_frame::push(&mut pong, ws_frame::PONG, &self.buf[payload(range)]);
                        self.stream.write_all(&pong).await?;
                        continue;
                    }
                    Event::Close(range) => {
                        return Err(LoginError::Refused(closed_by(&self.buf[payload(range)])));
                    }
                    Event::Fragment | Event::Pong => continue,
                };
                if let Some(line) = lines(message).next() {
                    return Ok(message[line].to_vec());
                }
            }
            self.buf.drain(..self.start);
            self.start = 0;
            self.buf.reserve(LOGIN_READ);
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(LoginError::Closed);
            }
        }
    }

    /// The two halves for the run's reader and writer, and the bytes read
    /// past the last message handed out (which belong to the run).
    pub fn split(self) -> (WsRead, WsWrite, Vec<u8>) {
        let (read, write) = self.stream.into_split();
        let leftover = self.buf[self.start..].to_vec();
        let read = WsRead {
            half: read,
            decoder: self.decoder,
        };
        let write = WsWrite {
            half: write,
            out: Vec::new(),
        };
        (read, write, leftover)
    }

    /// The connection of two halves that [`WsConn::split`] made of one.
    pub fn reunite(read: WsRead, write: WsWrite) -> Option<WsConn> {
        let stream = read.half.reunite(write.half).ok()?;
        Some(WsConn {
            stream,
            buf: Vec::new(),
            start: 0,
            decoder: read.decoder,
        })
    }

    /// Sends `goodbye` and a close frame, and reads until the server
    /// closes (its close frame, or the end of the stream). True when the
    /// server closed cleanly.
    pub async fn close(mut self, goodbye: &[u8]) -> bool {
        if self.send_lines(goodbye).await.is_err() {
            return false;
        }
        // The server may close first, after the goodbye: then this close
        // is its answer, and fails harmlessly.
        let mut close = Vec::new();
        ws_frame::push(
            &mut close,
            ws_frame::CLOSE,
            &ws_frame::NORMAL_CLOSURE.to_be_bytes(),
        );
        let _ = self.stream.write_all(&close).await;
        loop {
            loop {
                match self.decoder.next(&self.buf[self.start..]) {
                    Ok(Some((Event::Close(_), _))) => return true,
                    Ok(Some((_, len))) => self.start += len,
                    Ok(None) => break,
                    Err(_) => return false,
                }
            }
            self.buf.drain(..self.start);
            self.start = 0;
            self.buf.reserve(LOGIN_READ);
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }
}

/// The reading end of a WebSocket during the run.
#[derive(Debug)]
pub struct WsRead {
    half: OwnedReadHalf,
    decoder: Decoder,
}

/// The writing end of a WebSocket during the run.
#[derive(Debug)]
pub struct WsWrite {
    half: OwnedWriteHalf,
    /// The frames of one write (kept for the next).
    out: Vec<u8>,
}

impl WsWrite {
    /// Writes whole lines (in their TCP form) as one text message each, in
    /// one write.
    pub async fn write_lines(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.out.clear();
        push_lines(&mut self.out, bytes);
        self.half.write_all(&self.out).await
    }

    /// Writes bytes as they are (frames made by the reader).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.half.write_all(bytes).await
    }
}

/// Appends each non-empty line of `bytes` (whole lines in their TCP form)
/// to `out` as a masked text frame, without its line end. The bench's
/// lines are made from strings, so they are UTF-8.
pub fn push_lines(out: &mut Vec<u8>, bytes: &[u8]) {
    for line in lines(bytes) {
        ws_frame::push(out, ws_frame::TEXT, &bytes[line]);
    }
}

/// Where the non-empty lines of `bytes` are: split at each LF, a CR
/// before it left out; a last line without a line end counts too.
fn lines(bytes: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
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

/// Why the server closed, from the payload of its close frame (a code and
/// a reason, or nothing).
fn closed_by(payload: &[u8]) -> String {
    match payload {
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if reason.is_empty() {
                format!("the server closed the WebSocket with code {code}")
            } else {
                format!(
                    "the server closed the WebSocket with code {code} ({})",
                    shown(reason)
                )
            }
        }
        _ => "the server closed the WebSocket".to_owned(),
    }
}

/// A reader over a WebSocket: reads into a buffer of `read_buffer` bytes
/// (after `leftover`, what login read ahead) and hands the messages of
/// each read to the reader's stamp scanner in one batch, as slices of the
/// buffer, until the run stops or the server closes; answers pings; then
/// hands its figures and its half back.
pub async fn read_loop(
    mut reader: Reader,
    mut half: WsRead,
    leftover: Vec<u8>,
    read_buffer: usize,
) -> (ReaderStats, WsRead) {
    // A frame is at most a header and MAX_LOGIN_LINE bytes (longer ones are
    // refused as soon as their header is read), so the buffer stops there.
    let most = crate::wire::MAX_LOGIN_LINE + ws_frame::MAX_HEADER + MIN_READ;
    let mut buf = vec![0u8; read_buffer.max(leftover.len() + MIN_READ)];
    buf[..leftover.len()].copy_from_slice(&leftover);
    // buf[..start] has been handled, buf[start..end] is an unfinished frame.
    let mut start = 0;
    let mut end = leftover.len();
    let mut messages: Vec<Range<usize>> = Vec::new();
    let stop = reader.shared.stop.clone();
    loop {
        let now_us = reader.shared.now_us();
        let mut ended = None;
        messages.clear();
        loop {
            let (event, len) = match half.decoder.next(&buf[start..end]) {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(e) => {
                    ended = Some(e.to_string());
                    break;
                }
            };
            let at = start;
            start += len;
            let payload = |range: Range<usize>| at + range.start..at + range.end;
            match event {
                Event::Message(range) => messages.push(payload(range)),
                Event::Assembled => reader.lines(std::iter::once(half.decoder.assembled()), now_us),
                Event::Ping(range) => {
                    let mut pong = Vec::new();
                    ws_frame::push(&mut pong, ws_frame::PONG, &buf[payload(range)]);
                    reader.reply(pong);
                }
                Event::Fragment | Event::Pong => {}
                Event::Close(range) => {
                    ended = Some(closed_by(&buf[payload(range)]));
                    break;
                }
            }
        }
        if !messages.is_empty() {
            reader.lines(messages.iter().map(|m| &buf[m.clone()]), now_us);
        }
        if let Some(reason) = ended {
            stopped(
                &mut reader,
                reason,
                messages.last().map(|m| &buf[m.clone()]),
            );
            break;
        }
        if buf.len() - end < MIN_READ {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if buf.len() - end < MIN_READ {
                buf.resize((buf.len() * 2).min(most), 0);
            }
        }
        let read = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            read = half.half.read(&mut buf[end..]) => read,
        };
        match read {
            Ok(0) => {
                stopped(&mut reader, closed_by(&[]), None);
                break;
            }
            Ok(n) => {
                end += n;
                reader.stats.bytes += n as u64;
                reader.stats.reads += 1;
            }
            Err(e) => {
                stopped(&mut reader, format!("read failed: {e}"), None);
                break;
            }
        }
    }
    if reader.stats.closed.is_some() {
        reader
            .shared
            .dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    (reader.stats, half)
}

/// Notes why the connection ended, with the last message when it says why.
fn stopped(reader: &mut Reader, reason: String, last: Option<&[u8]>) {
    let reason = match last.and_then(telling) {
        Some(last) => format!("{reason}, after: {last}"),
        None => reason,
    };
    tracing::debug!(client = reader.index, "{reason}");
    reader.stats.closed = Some(reason);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

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
    fn lines_are_sent_as_one_text_frame_each() {
        let mut out = Vec::new();
        push_lines(&mut out, b"NICK a\r\n\r\nUSER a 0 * :b\r\n");
        let mut decoder = Decoder::default();
        // Unmask by hand: the decoder refuses masked frames.
        let mut sent = Vec::new();
        let mut at = 0;
        while at < out.len() {
            assert_eq!(out[at], 0x81);
            let len = usize::from(out[at + 1] & 0x7F);
            let key = &out[at + 2..at + 6];
            let payload: Vec<u8> = out[at + 6..at + 6 + len]
                .iter()
                .zip(key.iter().cycle())
                .map(|(b, k)| b ^ k)
                .collect();
            sent.push(payload);
            at += 6 + len;
        }
        assert_eq!(sent, [&b"NICK a"[..], b"USER a 0 * :b"]);
        assert!(decoder.next(&out).is_err());
    }

    /// A response head to the upgrade sent with `key`.
    fn head(status: &str, headers: &[&str]) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {status}\r\n");
        for header in headers {
            head.push_str(header);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }

    const URL: &str = "ws://127.0.0.1:1/ws";

    #[test]
    fn a_101_that_accepts_the_key_is_a_websocket() {
        let key = generate_key();
        let accept = format!(
            "Sec-WebSocket-Accept: {}",
            derive_accept_key(key.as_bytes())
        );
        let ok = head(
            "101 Switching Protocols",
            &["upgrade: WebSocket", "Connection: upgrade", &accept],
        );
        assert_eq!(answer(&ok, &key, Proto::Ws, URL).unwrap(), Answer::Switched);
        // IRC needs its subprotocol back.
        let err = answer(&ok, &key, Proto::IrcWs, URL)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "refused: ws://127.0.0.1:1/ws did not take the WebSocket subprotocol text.ircv3.net"
        );
        let irc = head(
            "101 Switching Protocols",
            &[
                "Upgrade: websocket",
                "Connection: Upgrade",
                &accept,
                "Sec-WebSocket-Protocol: text.ircv3.net",
            ],
        );
        assert_eq!(
            answer(&irc, &key, Proto::IrcWs, URL).unwrap(),
            Answer::Switched
        );
        assert!(answer(&irc, &key, Proto::Ws, URL).is_err());
    }

    #[test]
    fn a_wrong_accept_key_fails_the_handshake() {
        let key = generate_key();
        let other = derive_accept_key(generate_key().as_bytes());
        let wrong = head(
            "101 Switching Protocols",
            &[
                "Upgrade: websocket",
                "Connection: Upgrade",
                &format!("Sec-WebSocket-Accept: {other}"),
            ],
        );
        assert_eq!(
            answer(&wrong, &key, Proto::Ws, URL)
                .unwrap_err()
                .to_string(),
            "WebSocket handshake with ws://127.0.0.1:1/ws failed: a wrong Sec-WebSocket-Accept"
        );
        let missing = head(
            "101 Switching Protocols",
            &["Upgrade: websocket", "Connection: Upgrade"],
        );
        assert!(answer(&missing, &key, Proto::Ws, URL).is_err());
        let not_http = answer(b"{\"type\":\"error\"}\r\n\r\n", &key, Proto::Ws, URL)
            .unwrap_err()
            .to_string();
        assert!(
            not_http.starts_with("WebSocket handshake with ws://127.0.0.1:1/ws failed: "),
            "{not_http}"
        );
    }

    #[test]
    fn a_refusal_says_its_status_and_body() {
        let key = generate_key();
        let refused = head(
            "503 Service Unavailable",
            &["content-type: text/plain", "content-length: 38"],
        );
        assert_eq!(
            answer(&refused, &key, Proto::Ws, URL).unwrap(),
            Answer::Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                body_len: Some(38)
            }
        );
        assert_eq!(
            refusal(
                URL,
                StatusCode::SERVICE_UNAVAILABLE,
                b"too many connections from your address"
            ),
            "ws://127.0.0.1:1/ws answered the WebSocket upgrade with HTTP 503 Service \
             Unavailable: too many connections from your address"
        );
        assert_eq!(
            refusal(URL, StatusCode::FORBIDDEN, b"this origin may not connect"),
            "ws://127.0.0.1:1/ws answered the WebSocket upgrade with HTTP 403 Forbidden: \
             this origin may not connect"
        );
        assert_eq!(
            refusal("ws://h:2/ws", StatusCode::NOT_FOUND, b""),
            "ws://h:2/ws answered the WebSocket upgrade with HTTP 404 Not Found"
        );
        assert_eq!(url("[::1]:8080"), "ws://[::1]:8080/ws");
    }

    #[test]
    fn close_frames_give_their_code_and_reason() {
        assert_eq!(closed_by(b""), "the server closed the WebSocket");
        assert_eq!(
            closed_by(&1008u16.to_be_bytes()),
            "the server closed the WebSocket with code 1008"
        );
        assert_eq!(
            closed_by(b"\x03\xE9shutting down"),
            "the server closed the WebSocket with code 1001 (shutting down)"
        );
    }
}
