//! Wire formats of the chatroom server, kept free of sockets so that the server,
//! the clients, the load generator and the fuzzers all share one definition.
//!
//! - [`json`]: the JSON protocol (concatenated JSON objects in, newline-delimited
//!   JSON out), compatible with the Python client of the source tutorial.
//! - [`irc`]: the IRC client protocol, so IRC clients share the same rooms.
//! - [`nick`]: what a nickname may contain and how nicknames compare.
//! - [`room`]: what a room name may contain and how room names compare.
//! - [`chat_text`]: what of a message, topic or away text may reach other
//!   users' terminals.
//! - [`modes`]: room modes as IRC writes them, read once for IRC and JSON.
//! - [`websocket`]: the WebSocket frame header both our ends write.
//! - [`ErrorCode`]: the stable, machine-readable error codes every protocol uses.

pub mod chat_text;
mod error_code;
pub mod irc;
pub mod json;
pub mod modes;
pub mod nick;
pub mod room;
pub mod websocket;

pub use error_code::ErrorCode;

#[cfg(test)]
mod split;

/// The JSON protocol version this crate speaks; announced in the login reply
/// so a client can tell which requests the server understands.
pub const PROTOCOL_VERSION: u32 = 2;

/// Default cap on the size of one client frame (a JSON object or an IRC line
/// with tags): 64 KiB.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;
