//! Test harness shared by the workspace's integration tests: servers on
//! 127.0.0.1:0 and clients that panic with a clear message when the server
//! misbehaves. Only for tests: every failure here is a test failure, so the
//! crate unwraps freely.
//!
//! - [`TestServer`] (`server`): the server library running in the test's
//!   own process, with a JSON and an IRC listener.
//! - [`ServerProcess`] (`process`): the real `chatroom` binary as a child
//!   process, for signals, restarts, crashes, TLS and what it logs.
//! - [`RedisServer`] (`redis`): a real `redis-server` on loopback, which a
//!   test can restart, hold down and look inside.
//! - [`Raw`] (`json`): a JSON-protocol client.
//! - [`IrcRaw`] (`irc`): an IRC client, and helpers for reading its lines.
//! - [`Ws`] (`ws`): a WebSocket client of the HTTP listener's `/ws`.
//! - [`connect_from`] (`socket`): a socket from another loopback address.
#![allow(clippy::unwrap_used)]

mod irc;
mod json;
mod process;
mod redis;
mod server;
mod socket;
mod ws;

use std::time::Duration;

pub use irc::{IrcRaw, commands, last_param};
pub use json::Raw;
pub use process::{Exit, Listening, Serve, ServerProcess};
pub use redis::RedisServer;
pub use server::{TestServer, test_config};
pub use socket::connect_from;
pub use ws::{Ws, ws_url};

/// How long anything a test waits for may take. Generous: only a broken
/// server (or a broken test) takes this long.
pub const WAIT: Duration = Duration::from_secs(20);
