//! WebSocket at `/ws`: the chat protocols over the message transport.
//!
//! The upgrade is checked (the page's origin, then the handshake itself,
//! [`handshake`]) and the subprotocol chosen: `text.ircv3.net` or
//! `binary.ircv3.net` speak IRC (one line per message, as web IRC clients
//! such as gamja and Kiwi IRC do), anything else the JSON protocol (one
//! frame per text message). The connection then runs in the connection
//! driver like any TCP client, through its two halves:
//!
//! - [`incoming`]: tungstenite reads the client's messages (masking,
//!   fragments, limits, UTF-8) and its faults become close codes;
//! - [`outgoing`]: the server writes its frames itself ([`frame`]),
//!   gathered into one write per turn as over TCP, with the keepalive
//!   pings, the answers to the client's pings and the close frame among
//!   them; an idle connection holds no buffer of its own.
//!
//! [`WsSession`] wraps the protocol session: its keepalive is a WebSocket
//! ping (every browser answers one), and its close reason picks the close
//! code.

mod frame;
mod handshake;

pub(crate) use handshake::asks_for_websocket;
mod incoming;
mod outgoing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tracing::{debug, warn};

use self::incoming::{Incoming, ReadOnly};
use self::outgoing::Outgoing;
use super::{AppState, Connection};
use crate::conn::{Cost, Flow, MessageStream, Session, drive};
use crate::event::Framing;
use crate::irc::IrcSession;
use crate::json::JsonSession;
use crate::limits::Ticket;
use crate::metrics::Transport;
use crate::outbox::{CloseReason, Outbox};
use crate::server::Wire;

/// The IRC subprotocols (the client's order of preference decides).
const IRC_SUBPROTOCOLS: [&str; 2] = ["text.ircv3.net", "binary.ircv3.net"];

/// Bytes the socket reads at a time. tungstenite zeroes this much of its
/// read buffer every time the connection is polled for input, which the
/// driver does at every wake-up, also those for output: with its default
/// of 128 KiB, and still with 4 KiB, that was a large share of the
/// server's CPU under fan-out, and 128 KiB of memory per connection
/// (docs/benchmarks.md). Requests are small; a larger message still
/// arrives whole (the buffer grows to hold it, up to the message size
/// limit), in more reads.
const READ_BUFFER: usize = 512;

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

/// Each line of `lines` as one WebSocket message, binary or text, ready
/// for the writer to copy: how an event is framed once for all its
/// receivers over WebSocket (`Event::framed`).
pub(crate) fn websocket_messages(binary: bool, lines: &[u8]) -> Bytes {
    frame::messages(if binary { frame::BINARY } else { frame::TEXT }, lines)
}

/// What the two halves of a WebSocket connection and its session share.
#[derive(Default)]
struct Shared {
    /// The close code to send; 0 until something decides it.
    close_code: AtomicU16,
    /// The session asked for a keepalive ping not yet sent.
    ping_wanted: AtomicBool,
    /// The payload of the peer's latest ping, not answered yet.
    pong: Mutex<Option<Bytes>>,
    /// The code of the peer's close frame (sent back to it); 0 until the
    /// peer closes.
    peer_close_code: AtomicU16,
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

/// `GET /ws`: checks the origin and the handshake, then switches the
/// connection over and runs the session on it.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    Extension(connection): Extension<Arc<Connection>>,
    mut request: Request,
) -> Response {
    let peer = connection.peer;
    let http = &state.shared.http;
    let headers = request.headers();
    if let Err(origin) = http.origins.check(headers) {
        warn!(%peer, %origin, "WebSocket from a foreign origin refused");
        return (StatusCode::FORBIDDEN, "this origin may not connect").into_response();
    }
    let key = match handshake::key(headers) {
        Ok(key) => key.clone(),
        Err(refusal) => {
            debug!(%peer, reason = refusal.1, "bad WebSocket upgrade");
            return refusal.into_response();
        }
    };
    // Behind a trusted reverse proxy, the client's own address is the
    // one limits and bans apply to (the proxy's connection was admitted
    // for the proxy).
    let (peer, address_ticket) = if http.trusts(peer.ip()) {
        let client = super::forwarded::client(headers, |ip| http.trusts(ip)).unwrap_or(peer.ip());
        match state.shared.admit(client, true) {
            Ok(ticket) => (SocketAddr::new(client, peer.port()), Some(ticket)),
            Err(refused) => {
                let (code, text) = refused.told();
                warn!(%peer, %client, %code, "WebSocket refused");
                return (super::refusal_status(code), text).into_response();
            }
        }
    } else {
        (peer, None)
    };
    let protocol = handshake::subprotocol(headers, &IRC_SUBPROTOCOLS);
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return (
            StatusCode::UPGRADE_REQUIRED,
            "WebSocket request couldn't be upgraded since no upgrade state was present",
        )
            .into_response();
    };
    let (wire, binary) = match protocol {
        Some("text.ircv3.net") => (Wire::Irc, false),
        Some("binary.ircv3.net") => (Wire::Irc, true),
        _ => (Wire::Json, false),
    };
    // Spawned now, while the HTTP connection's task is tracked, so
    // shutdown waits for the session too.
    let shared = state.shared.clone();
    state.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                debug!(%peer, ?wire, binary, "WebSocket session");
                let socket = TokioIo::new(upgraded);
                run(
                    socket,
                    peer,
                    wire,
                    binary,
                    &shared,
                    (connection, address_ticket),
                )
                .await;
            }
            Err(e) => debug!(%peer, error = %e, "WebSocket upgrade failed"),
        }
    });
    handshake::switching(&key, protocol)
}

/// Runs one WebSocket session with the client at `peer` in the connection
/// driver; `places` (the HTTP connection, and behind a proxy the client's
/// own place) are held until it ends.
async fn run<S>(
    socket: S,
    peer: SocketAddr,
    wire: Wire,
    binary: bool,
    shared: &crate::server::Shared,
    places: (Arc<Connection>, Option<Ticket>),
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(Shared::default());
    let (read, write) = tokio::io::split(socket);
    let max_message = shared.http.max_message;
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message));
    let stream = WebSocketStream::from_raw_socket(ReadOnly(read), Role::Server, Some(config)).await;
    let reader = MessageStream(Incoming::new(stream, wire, peer, state.clone()));
    let writer = Outgoing::new(write, binary, state.clone());
    let outbox = Arc::new(Outbox::with_framing(
        shared.outbox_bytes,
        Framing::WebSocket { binary },
    ));
    let hub = shared.hub.clone();
    let settings = shared.driver.clone();
    let places = (
        places,
        shared.metrics.connections.open(Transport::WebSocket(wire)),
    );
    match wire {
        Wire::Json => {
            let inner = JsonSession::new(hub, outbox.clone(), peer, shared.json.clone());
            let session = WsSession { inner, state };
            drive(reader, writer, outbox, session, settings, places).await;
        }
        Wire::Irc => {
            let inner = IrcSession::new(hub, outbox.clone(), peer, shared.irc.clone());
            let session = WsSession { inner, state };
            drive(reader, writer, outbox, session, settings, places).await;
        }
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

    fn busy(&mut self, input: Self::Input) {
        self.inner.busy(input);
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
