//! The IRC client protocol (RFC 1459/2812 plus the IRCv3 basics), so that
//! IRC clients can join the same rooms as JSON clients.
//!
//! A byte stream from a client goes through [`IrcFramer`] (lines and their
//! length limits), [`parse`] (one line into a [`Message`]) and [`lookup`]
//! (the command table: known command, registration phase, parameter
//! count); every refusal on the way maps to a numeric reply ([`numeric`]).
//! Replies are built as [`Message`]s and written with [`Message::encode`];
//! [`fit_text`] and [`fit_words`] keep them within 512 bytes. The
//! [`channel`] helpers map channels to rooms (`#lobby` is `lobby`). All of
//! it is pure functions over bytes and strings: no sockets.

pub mod channel;
mod command;
mod framer;
mod message;
pub mod numeric;
mod text;

pub use command::{Command, CommandError, CommandErrorKind, CommandSpec, Phase, lookup};
pub use framer::{
    FrameError, IrcFramer, Limits, MAX_CLIENT_TAG_BYTES, MAX_LINE_BYTES, MAX_TAG_BYTES,
};
pub use message::{
    MAX_PARAMS, Message, ParseError, Source, Tag, escape_tag_value, parse, safe_param,
    unescape_tag_value,
};
pub use numeric::Numeric;
pub use text::{fit_text, fit_words, pack_words, split_text, text_budget, text_lines};
