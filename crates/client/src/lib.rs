//! Chatroom client library, shared by the `chatroom join` command, the load
//! generator and the tests.
//!
//! - [`command`]: the slash commands, one table for both faces of the client.
//! - [`config`]: the configuration file, `~/.config/chatroom/client.toml`.
//! - [`connection`]: connect, send requests, read frames (bounded, hostile-safe).
//! - [`display`]: frames as the lines a person reads, control sequences removed.
//! - [`moderation`]: room moderation in words: mode changes, `@`/`+` prefixes.
//! - [`mod@line`]: line mode, the tutorial's command-line client grown up.
//! - [`tui`]: the full-screen terminal client (windows, scrollback, reconnect).
//! - [`tls`]: which server certificates a `--tls` client trusts.

pub mod command;
pub mod config;
pub mod connection;
pub mod display;
pub mod line;
pub mod moderation;
pub mod tls;
pub mod tui;
