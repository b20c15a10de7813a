//! The chatroom server as a library.
//!
//! The binary only parses flags and calls [`run`]; tests hand [`run`] a
//! listener bound to `127.0.0.1:0` and a shutdown future of their own.
//!
//! - [`hub`]: who is online, which rooms exist, who hears what (protocol-agnostic).
//! - [`outbox`]: each connection's bounded outbound queue.
//! - [`store`]: durable history in SQLite, written by one batching thread.
//! - [`event`]: what the hub delivers, encoded once per wire format.
//! - `conn`: the per-connection I/O loop; `json` and `irc`: the two
//!   protocols' sides of a connection; `http`: the web client and both
//!   protocols over WebSocket.

pub mod accounts;
pub mod certfp;
mod clock;
pub mod cluster;

mod config;
mod conn;
pub mod event;
mod http;
pub mod hub;
mod irc;
mod json;
pub mod limits;
mod metrics;

pub mod outbox;
mod read_markers;
mod server;
pub mod store;
#[cfg(test)]
mod testing;
pub mod tls;

pub use config::{Config, DEFAULT_HISTORY_REPLAY, default_motd};
pub use server::{Listener, Protocol, ServerError, run};
