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
    Ack, AwayNotice, CertList, ChatMessage, Conversation, ConversationList, DirectMessage, Done,
    ErrorFrame, HistoryEnd, Joined, Limits, MaskEntry, MaskList, MemberInfo, MemberList,
    ModeChanges, Notice, Parted, Pong, Presence, PresenceEvent, PresenceSummary, ReadMarker,
    ReadMarkerList, Registered, Renamed, RoomInfo, RoomList, RoomModes, SearchEnd, SearchHit,
    ServerFrame, TopicInfo, Welcome, WhoisInfo, WhowasEntry, WhowasList, encode_frame,
};
pub use framer::{FrameError, JsonFramer};
pub use request::{
    BanTarget, DEFAULT_CONVERSATIONS, DEFAULT_HISTORY_LIMIT, DEFAULT_SEARCH_LIMIT, DEFAULT_WHOWAS,
    Envelope, MAX_AWAY_CHARS, MAX_CONVERSATIONS, MAX_HISTORY_LIMIT, MAX_SEARCH_CHARS,
    MAX_SEARCH_LIMIT, MAX_WHOWAS, ReadTarget, Ref, Request, RequestError, Secret, encode_request,
    parse_request,
};
