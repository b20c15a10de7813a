//! Chatroom client library, shared by the `chatroom join` command, the load
//! generator and the tests.
//!
//! - [`connection`]: connect, send requests, read frames (bounded, hostile-safe).
//! - [`display`]: frames as the lines a person reads, control sequences removed.
//! - [`line`]: line mode, the tutorial's command-line client grown up.

pub mod connection;
pub mod display;
pub mod line;
