//! WebSocket at `/ws`: the chat protocols over the message transport.
//!
//! The upgrade is checked (the page's origin; the handshake itself, whose
//! faults axum answers with the right status) and the subprotocol chosen:
//! `text.ircv3.net` or `binary.ircv3.net` speak IRC (one line per message,
//! as web IRC clients such as gamja and Kiwi IRC do), anything else the
//! JSON protocol (one frame per text message). The connection then runs in
//! the connection driver like any TCP client, through [`MessageStream`] and
//! [`MessageSink`] over the adapters here:
//!
//! - [`Incoming`] turns WebSocket messages into protocol frames and the
//!   problems the WebSocket layer finds into the close codes RFC 6455 gives
//!   them: a message over the size limit closes with 1009, text that is not
//!   UTF-8 with 1007, a broken frame with 1002, binary on the JSON protocol
//!   with 1003.
//! - [`Outgoing`] sends each protocol frame as one message; many queued
//!   frames are fed to the socket's write buffer and flushed once, in one
//!   write. It also sends keepalive pings and the closing frame.
//! - [`WsSession`] wraps the protocol session: its keepalive is a WebSocket
//!   ping (every browser answers one), and its close reason picks the close
//!   code.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::task::{Context, Poll, ready};

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use futures_util::StreamExt;
use futures_util::stream::{SplitSink, SplitStream};
use tokio_tungstenite::tungstenite;
use tracing::{debug, warn};

use super::{AppState, Connection};
use crate::conn::{Cost, Flow, MessageSink, MessageStream, Session, drive};
use crate::irc::IrcSession;
use crate::json::JsonSession;
use crate::outbox::{CloseReason, Outbox};
use crate::server::Wire;

/// The IRC subprotocols, in the order the server prefers them.
const IRC_SUBPROTOCOLS: [&str; 2] = ["text.ircv3.net", "binary.ircv3.net"];

/// Bytes of outgoing messages the socket's write buffer gathers before it
/// writes on its own (a flush writes whatever is gathered at once).
const WRITE_BUFFER: usize = 64 * 1024;

/// Bytes the socket reads at a time. tungstenite allocates its read buffer
/// up front for every connection (128 KiB by default), which an idle
/// member would hold for nothing; chat messages are small, and a larger
/// message still arrives whole (the buffer grows to hold it, up to the
/// message size limit).
const READ_BUFFER: usize = 4 * 1024;

/// Close codes (RFC 6455, section 7.4.1).
mod code {
    /// The connection did what it was for.
    pub const NORMAL: u16 = 1000;
    /// The server is going away (shutting down).
    pub const GOING_AWAY: u16 = 1001;
    /// The peer broke the WebSocket protocol.
    pub const PROTOCOL: u16 = 1002;
    /// A kind of message this endpoint does not take (binary on JSON).
    pub const UNSUPPORTED: u16 = 1003;
    /// Text that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The peer broke a rule of the server's (limits, bans, timeouts).
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
}

/// What the two halves of a WebSocket connection and its session share.
#[derive(Default)]
struct Shared {
    /// The close code to send; 0 until something decides it.
    close_code: AtomicU16,
    /// The session asked for a keepalive ping not yet sent.
    ping_wanted: AtomicBool,
    /// The peer sent its close frame (the reply goes out by itself).
    peer_closed: AtomicBool,
}

impl Shared {
    /// Sets the close code unless one is set already (the first cause
    /// found is the one the peer hears).
    fn close_with(&self, code: u16) {
        let _ = self
            .close_code
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// `GET /ws`: checks the origin, then upgrades.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Extension(connection): Extension<Arc<Connection>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let peer = connection.peer;
    let http = &state.shared.http;
    if let Err(origin) = http.origins.check(&headers) {
        warn!(%peer, %origin, "WebSocket from a foreign origin refused");
        return (StatusCode::FORBIDDEN, "this origin may not connect").into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            debug!(%peer, %rejection, "bad WebSocket upgrade");
            return rejection.into_response();
        }
    };
    let upgrade = upgrade
        .protocols(IRC_SUBPROTOCOLS)
        .max_message_size(http.max_message)
        .max_frame_size(http.max_message)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // The outbox bounds what waits for a slow reader; this only bounds
        // what one flush may hold on top of it.
        .max_write_buffer_size(WRITE_BUFFER + http.max_message * 2);
    let (wire, binary) = match upgrade.selected_protocol().map(|p| p.as_bytes()) {
        Some(b"text.ircv3.net") => (Wire::Irc, false),
        Some(b"binary.ircv3.net") => (Wire::Irc, true),
        _ => (Wire::Json, false),
    };
    // Taken now, while the HTTP connection's task is tracked, so shutdown
    // waits for the session too.
    let tracked = state.tasks.token();
    let shared = state.shared.clone();
    upgrade
        .on_failed_upgrade(move |e| debug!(%peer, error = %e, "WebSocket upgrade failed"))
        .on_upgrade(move |socket| async move {
            debug!(%peer, ?wire, binary, "WebSocket session");
            run(socket, wire, binary, &shared, connection).await;
            drop(tracked);
        })
}

/// Runs one WebSocket session in the connection driver.
async fn run(
    socket: WebSocket,
    wire: Wire,
    binary: bool,
    shared: &crate::server::Shared,
    connection: Arc<Connection>,
) {
    let peer = connection.peer;
    let state = Arc::new(Shared::default());
    let (sink, stream) = socket.split();
    let reader = MessageStream(Incoming {
        stream,
        wire,
        peer,
        state: state.clone(),
    });
    let writer = MessageSink(Outgoing {
        sink,
        binary,
        state: state.clone(),
        close_sent: false,
    });
    let outbox = Arc::new(Outbox::new(shared.outbox_bytes));
    let hub = shared.hub.clone();
    let settings = shared.driver.clone();
    match wire {
        Wire::Json => {
            let inner = JsonSession::new(hub, outbox.clone(), peer, shared.json.clone());
            let session = WsSession { inner, state };
            drive(reader, writer, outbox, session, settings, connection).await;
        }
        Wire::Irc => {
            let inner = IrcSession::new(hub, outbox.clone(), peer, shared.irc.clone());
            let session = WsSession { inner, state };
            drive(reader, writer, outbox, session, settings, connection).await;
        }
    }
}

/// The incoming messages as protocol frames.
struct Incoming {
    stream: SplitStream<WebSocket>,
    wire: Wire,
    peer: SocketAddr,
    state: Arc<Shared>,
}

impl Incoming {
    /// Ends the input because of a fault of the peer's, closing with `code`.
    fn fault(&self, code: u16, what: &str) -> Poll<Option<io::Result<Bytes>>> {
        warn!(peer = %self.peer, code, "{what}; closing the WebSocket");
        self.state.close_with(code);
        Poll::Ready(None)
    }
}

impl Stream for Incoming {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let message = ready!(self.stream.poll_next_unpin(cx));
        match message {
            None => Poll::Ready(None),
            Some(Ok(Message::Text(text))) => Poll::Ready(Some(Ok(Bytes::from(text)))),
            Some(Ok(Message::Binary(data))) => match self.wire {
                Wire::Irc => Poll::Ready(Some(Ok(data))),
                Wire::Json => self.fault(
                    code::UNSUPPORTED,
                    "binary message on the JSON protocol (it takes text)",
                ),
            },
            // The transport answers pings itself; both show the peer is
            // there, like any input (an empty frame is skipped).
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Poll::Ready(Some(Ok(Bytes::new()))),
            Some(Ok(Message::Close(_))) => {
                self.state.peer_closed.store(true, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                let inner = e.into_inner();
                match inner.downcast_ref::<tungstenite::Error>() {
                    Some(tungstenite::Error::Capacity(_)) => {
                        self.fault(code::TOO_BIG, "WebSocket message over the size limit")
                    }
                    Some(tungstenite::Error::Utf8(_)) => {
                        self.fault(code::INVALID_DATA, "WebSocket text that is not UTF-8")
                    }
                    Some(tungstenite::Error::Protocol(e)) => {
                        let what = format!("WebSocket protocol error ({e})");
                        self.fault(code::PROTOCOL, &what)
                    }
                    _ => Poll::Ready(Some(Err(io::Error::other(inner)))),
                }
            }
        }
    }
}

/// The outgoing protocol frames as messages.
struct Outgoing {
    sink: SplitSink<WebSocket, Message>,
    /// Send binary messages (`binary.ircv3.net`) instead of text.
    binary: bool,
    state: Arc<Shared>,
    close_sent: bool,
}

impl Outgoing {
    /// Sends a keepalive ping if one is wanted and the socket takes it.
    fn poll_ping(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
        if self.state.ping_wanted.load(Ordering::Relaxed) && !self.close_sent {
            ready!(Pin::new(&mut self.sink).poll_ready(cx))?;
            Pin::new(&mut self.sink).start_send(Message::Ping(Bytes::new()))?;
            self.state.ping_wanted.store(false, Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }
}

impl Sink<Bytes> for Outgoing {
    type Error = axum::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.sink).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, frame: Bytes) -> Result<(), Self::Error> {
        let message = if self.binary {
            Message::Binary(frame)
        } else {
            // Sessions only ever write UTF-8; were one not to, the peer
            // gets replacement characters rather than a broken message.
            let text = Utf8Bytes::try_from(frame.clone())
                .unwrap_or_else(|_| Utf8Bytes::from(String::from_utf8_lossy(&frame).into_owned()));
            Message::Text(text)
        };
        Pin::new(&mut self.sink).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        ready!(self.poll_ping(cx))?;
        Pin::new(&mut self.sink).poll_flush(cx)
    }

    /// Sends the close frame (unless the peer closed first: the transport
    /// has answered it) and flushes.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.close_sent && !self.state.peer_closed.load(Ordering::Relaxed) {
            ready!(Pin::new(&mut self.sink).poll_ready(cx))?;
            let code = match self.state.close_code.load(Ordering::Relaxed) {
                0 => code::NORMAL,
                code => code,
            };
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from_static(""),
            };
            Pin::new(&mut self.sink).start_send(Message::Close(Some(frame)))?;
            self.close_sent = true;
        }
        Pin::new(&mut self.sink).poll_flush(cx)
    }
}

/// A protocol session over WebSocket: WebSocket pings for keepalive, and
/// the close reason as the close code.
struct WsSession<S> {
    inner: S,
    state: Arc<Shared>,
}

impl<S: Session> Session for WsSession<S> {
    type Input = S::Input;

    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Self::Input>) {
        self.inner.decode(bytes, inputs);
    }

    fn handle(&mut self, input: Self::Input) -> impl Future<Output = Flow> + Send {
        self.inner.handle(input)
    }

    fn logged_in(&self) -> bool {
        self.inner.logged_in()
    }

    /// A WebSocket ping, which every client answers (the protocol's own
    /// ping is for clients that may not).
    fn ping(&mut self, _token: u64) -> bool {
        self.state.ping_wanted.store(true, Ordering::Relaxed);
        true
    }

    fn cost(&self, input: &Self::Input) -> Cost {
        self.inner.cost(input)
    }

    fn rate_limited(&mut self, input: Self::Input) {
        self.inner.rate_limited(input);
    }

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        self.state.close_with(close_code(reason));
        self.inner.finish(reason)
    }
}

/// The close code that tells a WebSocket client why its connection ends.
fn close_code(reason: CloseReason) -> u16 {
    match reason {
        CloseReason::Logout | CloseReason::Closed | CloseReason::Reset => code::NORMAL,
        CloseReason::Shutdown => code::GOING_AWAY,
        CloseReason::FrameTooLarge => code::TOO_BIG,
        CloseReason::SlowConsumer
        | CloseReason::LoginTimeout
        | CloseReason::PingTimeout
        | CloseReason::Flood
        | CloseReason::Killed
        | CloseReason::Banned
        | CloseReason::TooManyAttempts => code::POLICY,
    }
}
