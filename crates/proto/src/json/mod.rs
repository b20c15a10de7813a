//! The JSON protocol: what clients send, what the server sends back.
//!
//! Client to server is a stream of JSON objects separated by nothing,
//! whitespace or newlines (the source tutorial's client sends them back to
//! back); [`JsonFramer`] cuts that stream into objects and [`parse_request`]
//! turns one object into a [`Request`]. Server to client is one JSON object
//! per line ([`ServerFrame`], [`encode_frame`]). `docs/protocol.md` is the
//! normative description.

mod frame;
mod framer;
mod request;

pub use frame::{
    Ack, ChatMessage, DirectMessage, Done, ErrorFrame, HistoryEnd, Joined, Limits, MemberInfo,
    MemberList, Notice, Parted, Pong, Presence, PresenceEvent, PresenceSummary, Registered,
    Renamed, RoomInfo, RoomList, ServerFrame, TopicInfo, Welcome, encode_frame,
};
pub use framer::{FrameError, JsonFramer};
pub use request::{
    BanTarget, DEFAULT_HISTORY_LIMIT, Envelope, MAX_HISTORY_LIMIT, Ref, Request, RequestError,
    Secret, encode_request, parse_request,
};
