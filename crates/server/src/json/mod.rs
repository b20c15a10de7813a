//! The JSON protocol's side of the server (docs/protocol.md): a session per
//! connection, requests in, hub calls, frames out; how events, answers and
//! refusals are written for JSON clients.
//!
//! Compatible with the source tutorial's client: `login` replies with a
//! `welcome` carrying `"status":"ok"` and a non-zero `id`; `broadcast` is
//! relayed to the room and answered only when it carries a `ref`; the
//! client's `sender_id` is ignored in favour of the session's own identity.
//! Keepalive pings go only to clients that declared protocol 2 or later at
//! login: the tutorial's client cannot answer them (TCP keepalive watches it).
//!
//! - [`session`]: the connection's life (decoding, dispatch, keepalive,
//!   costs, last words);
//! - [`accounts`]: login, registering, deleting an account;
//! - [`requests`]: what a logged-in user asks for;
//! - [`moderation`]: room modes, asked for and changed;
//! - [`history`]: reads from the store;
//! - [`read_markers`]: `mark_read`, `read_markers`, the marker after `join`;
//! - [`events`], [`replies`], [`errors`]: events, answers and refusals as
//!   JSON frames.

mod accounts;
pub mod errors;
pub mod events;
mod history;
mod moderation;
mod read_markers;
pub mod replies;
mod requests;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use chatroom_proto::json::{Envelope, JsonFramer, Limits, RequestError};

use crate::hub::{Client, Hub};
use crate::outbox::Outbox;

/// The deepest a `search` may page (its `cursor` counts results skipped).
const MAX_SEARCH_OFFSET: u32 = 10_000;

/// The server's name and version, as announced in `welcome`.
const SERVER_NAME: &str = concat!("chatroom ", env!("CARGO_PKG_VERSION"));

/// One unit of decoded client input.
pub enum Input {
    /// A well-formed request.
    Request(Envelope),
    /// A JSON object that is not a valid request.
    Invalid(RequestError),
    /// Bytes that were not a JSON object at all (skipped).
    Malformed,
    /// An object over the size cap.
    TooLarge,
}

/// What every JSON connection of one server shares.
#[derive(Debug, Clone)]
pub struct JsonSettings {
    /// The largest frame a client may send.
    pub max_frame: usize,
    /// How many stored messages a join replays.
    pub history_replay: u32,
    /// The limits `welcome` announces.
    pub limits: Limits,
}

/// The state of one JSON connection.
pub struct JsonSession {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    framer: JsonFramer,
    client: Option<Arc<Client>>,
    settings: Arc<JsonSettings>,
    /// The protocol version the client declared at login.
    protocol: u32,
    /// Whether an acknowledgement may still be on its way from the store
    /// (a goodbye waits for them).
    awaiting_receipts: bool,
    /// Wrong passwords (and attempts while told to wait) on this connection.
    wrong_passwords: u8,
    /// Read markers (`mark_read`).
    markers: crate::read_markers::ReadMarkers,
    /// The fingerprint of the TLS client certificate the connection
    /// presented, if any (`cert_add` without a fingerprint adds it).
    certfp: Option<crate::certfp::Fingerprint>,
}
