//! The IRC client protocol (RFC 1459/2812 plus the IRCv3 basics), so that
//! IRC clients can join the same rooms as JSON clients.
//!
//! A byte stream from a client goes through [`IrcFramer`] (lines and their
//! length limits); every refusal maps to a numeric reply ([`numeric`]). All
//! of it is pure functions over bytes and strings: no sockets.

mod framer;
pub mod numeric;

pub use framer::{
    FrameError, IrcFramer, Limits, MAX_CLIENT_TAG_BYTES, MAX_LINE_BYTES, MAX_TAG_BYTES,
};
pub use numeric::Numeric;
