//! Integration tests of the server library: real servers on 127.0.0.1:0 in
//! this process ([`chatroom_testkit::TestServer`]), real clients over real
//! sockets, in both protocols. One module per subject:
//!
//! - `json_protocol`, `irc`: each protocol, request by request;
//!   `irc_options`: the IRC listener's start channels and server password;
//!   `irc_tags`: IRCv3 client-only tags and TAGMSG; `irc_sasl`: SASL PLAIN;
//!   `irc_sasl_external`: TLS client certificates and SASL EXTERNAL;
//!   `irc_chathistory`: CHATHISTORY; `irc_notify`: the notification capabilities;
//!   `irc_labels`: labeled-response; `irc_multiline`: draft/multiline; `irc_queries`: IRC's query and
//!   information commands; `read_marker`: read markers in both protocols.
//! - `rooms`, `presence`, `search`: rooms, history, presence summaries,
//!   search and direct-message history.
//! - `history_store`: the store on its own with a generated history.
//! - `accounts`: accounts, passwords and what operators may do.
//! - `cluster`: several nodes sharing one chat through a real Redis.
//! - `moderation`: room operators, voice, modes, bans, invites and kicks.
//! - `limits`, `security`, `hostile`: every limit crossed, the security
//!   properties, and the hostile-input corpus.
//! - `tutorial_client`: the source tutorial's own Python client.
//! - `websocket`: the HTTP listener: the page, WebSocket for both protocols
//!   and its limits; `websocket_hostile`: the hostile-input corpus over it.
//! - `metrics`: the operators' endpoints: `/metrics` counting what clients
//!   did, `/healthz` and `/readyz`.
#![allow(clippy::unwrap_used)]

mod accounts;
mod cluster;
mod history_store;
mod hostile;
mod irc;
mod irc_chathistory;
mod irc_labels;
mod irc_monitor;
mod irc_multiline;
mod irc_notify;
mod irc_options;
mod irc_queries;
mod irc_sasl;
mod irc_sasl_external;
mod irc_tags;
mod json_protocol;
mod limits;
mod metrics;
mod moderation;
mod presence;
mod proxy;
mod read_marker;
mod rooms;
mod search;
mod security;
mod support;
mod tutorial_client;
mod websocket;
mod websocket_hostile;
