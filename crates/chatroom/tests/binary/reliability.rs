//! The reliability suite: what a crash, a restart and an attacker must not
//! break, through the real binary. Every load here is bounded in count and
//! time and talks only to servers on 127.0.0.1.
//!
//! - `crash`: `kill -9` under pipelined load loses no acknowledged message,
//!   and ids never go backwards after it.
//! - `backup`: `chatroom backup` under write load restores consistently.
//! - `ids`: user and message ids across clean restarts, crashes and
//!   in-memory servers.
//! - `history`: messages and topics across restarts, retention at startup.
//! - `guessing`: password guessing is slow, cheap and harmless to others.
//! - `lookalikes`: nicknames that look like others' are refused.
//! - `escapes`: terminal escapes in user text reach nobody raw.

mod backup;
mod crash;
mod escapes;
mod guessing;
mod history;
mod ids;
mod lookalikes;
mod support;
