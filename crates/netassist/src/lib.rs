//! netassist: a terminal network debugging assistant.
//!
//! It plays the other end of a TCP or UDP conversation, like the NetAssist GUI
//! used by the chatroom tutorial (section 6), Packet Sender, ncat or socat: a
//! TCP client, a TCP server for many clients, or a UDP peer. It shows what
//! arrives (text in UTF-8/GBK/Latin-1 decoded as a stream, `hexdump -C` rows,
//! peer labels, timestamps), sends typed, piped or scheduled data, can answer
//! by itself (`--echo`, `--reply`), and keeps TX/RX counters and a transcript.
//! `--raw` makes it a byte-exact pipe like ncat, and `--tls` encrypts TCP.
//!
//! The library owns all the logic; the binary only parses flags and calls
//! [`app::run`]. Tests drive the modes in-process: bind a port-0 listener,
//! build a [`session::Session`] around a [`console::Console`] that writes into
//! [`console::Capture`] buffers, and call [`tcp_server::run`],
//! [`tcp_client::run`] or [`udp::run`] with a channel as input.

pub mod address;
pub mod app;
pub mod cli;
pub mod codec;
pub mod command;
pub mod conn;
pub mod console;
pub mod duration;
pub mod encoding;
pub mod error;
pub mod input;
pub mod macros;
pub mod options;
pub mod rules;
pub mod session;
pub mod settings;
pub mod stats;
pub mod tcp_client;
pub mod tcp_server;
pub mod terminal;
pub mod tls;
pub mod transcript;
pub mod udp;

pub use error::{Error, Outcome};
pub use options::Options;
