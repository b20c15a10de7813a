//! The chatroom server as a library.
//!
//! The binary only parses flags and calls [`run`]; tests hand [`run`] a
//! listener bound to `127.0.0.1:0` and a shutdown future of their own.
//!
//! - [`hub`]: who is online, which rooms exist, who hears what (protocol-agnostic).
//! - [`outbox`]: each connection's bounded outbound queue.
//! - [`store`]: durable history in SQLite, written by one batching thread.
//! - `conn`: the per-connection I/O loop; `json_session`: the JSON protocol.

mod clock;
mod config;
mod conn;
pub mod hub;
mod json_session;
pub mod outbox;
mod server;
pub mod store;

pub use config::{Config, DEFAULT_HISTORY_REPLAY};
pub use server::{ServerError, run};
