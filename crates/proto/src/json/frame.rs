//! Server frames: everything the server writes to a JSON client.
//!
//! Each frame is one JSON object on one line, with a `type`. Frames a user
//! should see as chat lines (messages, presence, goodbyes) also carry the
//! tutorial's `sender_id`, `sender_nickname` and `message` fields, so the
//! tutorial's client prints them unchanged; notices from the server come from
//! `sender_id` 0, "System".

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::request::Ref;
use crate::ErrorCode;

/// One frame from the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Reply to a successful `login`.
    Welcome(Welcome),
    /// A chat message in a room (live, or replayed from history).
    Message(ChatMessage),
    /// A direct (private) message to this user.
    Direct(DirectMessage),
    /// Someone joined, left, changed nickname or set a topic.
    Presence(Presence),
    /// Reply to `join`: the room, its topic and members.
    Joined(Joined),
    /// End of a history replay (after `join` or `history`).
    HistoryEnd(HistoryEnd),
    /// Reply to `part`.
    Parted(Parted),
    /// Reply to `rooms`.
    RoomList(RoomList),
    /// Reply to `who`.
    MemberList(MemberList),
    /// Reply to `topic` (query or set).
    Topic(TopicInfo),
    /// Reply to `nick`.
    Renamed(Renamed),
    /// Reply to `register`.
    Registered(Registered),
    /// Reply to a request that has nothing more to say than that it was
    /// done (`kick`, `kill`, `ban`, `unban`).
    Done(Done),
    /// Reply to a `broadcast` that carried a `ref`: the message was accepted.
    Ack(Ack),
    /// One result of a `search` (results come best first, then `search_end`).
    SearchHit(SearchHit),
    /// The end of a page of `search` results.
    SearchEnd(SearchEnd),
    /// Reply to `conversations`.
    Conversations(ConversationList),
    /// Reply to `whois`.
    Whois(WhoisInfo),
    /// Reply to `whowas`.
    Whowas(WhowasList),
    /// Where a read marker stands: the reply to `mark_read`, after `join`
    /// of a room with a marker, and to the account's other sessions when
    /// one of them moves it.
    ReadMarker(ReadMarker),
    /// Reply to `read_markers`.
    ReadMarkers(ReadMarkerList),
    /// Reply to `cert_add`, `cert_del` and `cert_list`: the certificates
    /// one's account lists.
    Certs(CertList),
    /// The recipient of a `direct` is away (sent before its `ack`, with its
    /// `ref`).
    Away(AwayNotice),
    /// Reply to `ping`.
    Pong(Pong),
    /// Reply to `mode` without a mode string: the room's modes.
    Modes(RoomModes),
    /// Reply to `mode` with `b` or `e`: a room's ban or exception list.
    MaskList(MaskList),
    /// A keepalive from the server: answer with a `pong` request carrying
    /// the same `ref` (any request will do).
    Ping(Pong),

    /// A refused request or a dropped frame.
    Error(ErrorFrame),
    /// The server is closing this connection (logout or shutdown).
    Bye(Notice),
    /// A frame type this version does not know (read side only).
    #[serde(other)]
    Unknown,
}

/// `{"type":"welcome","status":"ok","id":1,...}`: the login succeeded.
///
/// `status` and a non-zero `id` are exactly what the tutorial's client checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// Always `"ok"`.
    pub status: String,
    /// The user id the server assigned; never 0 (0 is System).
    pub id: u64,
    /// The nickname as registered.
    pub nickname: String,
    /// The protocol version the server speaks ([`crate::PROTOCOL_VERSION`]).
    pub protocol: u32,
    /// The server software and version, e.g. `chatroom 0.1.0`.
    pub server: String,
    /// The rooms the user is in (the lobby, after login).
    #[serde(default)]
    pub rooms: Vec<String>,
    /// The server's epoch (16 hex digits): message ids never repeat within
    /// one epoch, so a client that remembers the ids it has seen forgets
    /// them when the epoch changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// What the server accepts, so that a client can refuse what it would
    /// refuse before sending it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// The request's `ref`, if it had one.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// The server's limits as `welcome` announces them; 0 means no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// The longest message text, in bytes of UTF-8.
    pub message_bytes: usize,
    /// The largest frame the client may send, in bytes.
    pub frame_bytes: usize,
    /// The most rooms one user may be in at once.
    pub rooms_per_user: usize,
    /// Chat messages per second, on average.
    pub messages_per_second: f64,
    /// Chat messages allowed at once after a quiet spell.
    pub message_burst: u32,
}

/// A chat message relayed to its receivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Server-assigned id, increasing in the order messages were accepted.
    pub msg_id: u64,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The room it was said in.
    pub room: String,
    /// Who said it.
    pub sender_id: u64,
    /// Their nickname at the time.
    pub sender_nickname: String,
    /// The text.
    pub message: String,
    /// A `/me` action rather than a plain message.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// Replayed from history rather than said just now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub history: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A direct message, as its recipient sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectMessage {
    /// Server-assigned id (from the same sequence as room messages).
    pub msg_id: u64,
    /// When the server accepted it, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// Who sent it.
    pub sender_id: u64,
    /// Their nickname at the time.
    pub sender_nickname: String,
    /// The recipient's id.
    pub to_id: u64,
    /// The recipient's nickname.
    pub to_nickname: String,
    /// The text.
    pub message: String,
    /// A `/me` action rather than a plain message.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// Replayed from history (`history` with `with`) rather than sent just now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub history: bool,
}

/// A user as member lists show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Their id.
    pub id: u64,
    /// Their nickname.
    pub nickname: String,
    /// One of the room's operators (member lists only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub operator: bool,
    /// Has voice in the room (member lists only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub voice: bool,
    /// Their away message, when they are away (member lists only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
}

/// Reply to `join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// The room, spelled as it was created.
    pub room: String,
    /// Its topic (empty when none).
    pub topic: String,
    /// Everyone in it, the joiner included.
    pub members: Vec<MemberInfo>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// The end of a history replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEnd {
    /// The room (empty, and left out, for direct messages).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub room: String,
    /// For direct messages: the other person, as the request named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// How many `message` frames the replay had.
    pub count: u32,
    /// Whether older messages exist before the oldest one sent.
    pub has_more: bool,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `part`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parted {
    /// The room left.
    pub room: String,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// One room in a `room_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name.
    pub name: String,
    /// How many users are in it.
    pub members: u32,
    /// Its topic (empty when none).
    pub topic: String,
}

/// Reply to `rooms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomList {
    /// Every room, by name.
    pub rooms: Vec<RoomInfo>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `who`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberList {
    /// The room.
    pub room: String,
    /// Its members, by nickname.
    pub members: Vec<MemberInfo>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `topic`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The room.
    pub room: String,
    /// The topic (empty when none).
    pub topic: String,
    /// Who set it, if anyone has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_by: Option<String>,
    /// When it was set, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<i64>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `nick`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renamed {
    /// The nickname before.
    pub old_nickname: String,
    /// The nickname now.
    pub nickname: String,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    /// The nickname now registered.
    pub nickname: String,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to a request that was carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    /// The request's `type`.
    pub request: String,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `{"type":"mode","room":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomModes {
    /// The room.
    pub room: String,
    /// Its modes as IRC writes them (`+klnt`).
    pub modes: String,
    /// The mode string's arguments (the key shows as `*` to non-members).
    #[serde(default)]
    pub args: Vec<String>,
    /// When the room was created, in milliseconds since the Unix epoch (0
    /// if unknown).
    pub created: i64,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// A room's ban (`b`) or exception (`e`) list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaskList {
    /// The room.
    pub room: String,
    /// `b` or `e`.
    pub list: String,
    /// The entries, oldest first.
    pub entries: Vec<MaskEntry>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// An entry of a ban or exception list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskEntry {
    /// The mask: `nick!user@host` with `*` and `?`, or `$a:account`.
    pub mask: String,
    /// Who set it.
    pub by: String,
    /// When, in milliseconds since the Unix epoch.
    pub at: i64,
}

/// What kind of presence change happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    /// A user came online / into the room.
    Join,
    /// A user went offline (no room) or out of the room.
    Leave,
    /// A user changed nickname (no room: sent once to each user who shares one).
    Nick,
    /// A user set a room's topic.
    Topic,
    /// In a large room: who joined and left over the last moment, in one
    /// notice instead of one per person.
    Summary,
    /// A room operator changed the room's modes (`mode`).
    Mode,
    /// Someone (the notice's user) invites you into the room.
    Invite,
    /// A user who shares a room with you went away (`away` holds their
    /// message); no room: sent once to each user who shares one.
    Away,
    /// A user who shares a room with you is back (no longer away).
    Back,
}

/// A notice from System that a user joined, left, changed nickname, set
/// a topic, went away or came back (see [`PresenceEvent`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    /// What happened.
    pub event: PresenceEvent,
    /// The room concerned; absent for events about the user as a whole (a
    /// disconnect, a nickname change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The user concerned.
    pub user_id: u64,
    /// Their nickname (the new one, for `nick`).
    pub nickname: String,
    /// When, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// Why they left (`part`, `logout`, `closed`, `reset`...), for leaves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The nickname before, for `nick`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_nickname: Option<String>,
    /// The new topic, for `topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The changes, for `mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Box<ModeChanges>>,
    /// For `summary`: the counts and some of the names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Box<PresenceSummary>>,
    /// Their away message, for `away`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
    /// Always 0: notices come from System.
    pub sender_id: u64,
    /// Always "System".
    pub sender_nickname: String,
    /// The notice as text, for clients that only print `message`.
    pub message: String,
}

/// Changes to a room's modes, as IRC writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeChanges {
    /// The mode string (`+o-v`).
    pub modes: String,
    /// Its arguments, in order (`["ann","bob"]`).
    #[serde(default)]
    pub args: Vec<String>,
}

/// Who came and went in a large room over the last moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceSummary {
    /// How many joined.
    pub joined: u32,
    /// How many left.
    pub left: u32,
    /// How many are in the room now.
    pub members: u32,
    /// The first few who joined (at most [`PresenceSummary::NAMES`]).
    pub joined_users: Vec<MemberInfo>,
    /// The first few who left (at most [`PresenceSummary::NAMES`]).
    pub left_users: Vec<MemberInfo>,
}

impl PresenceSummary {
    /// The most names a summary lists of each kind.
    pub const NAMES: usize = 10;
}

/// `{"type":"ack",...}`: a message was accepted and relayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
    /// The id the message got.
    pub msg_id: u64,
    /// The time it got, in milliseconds since the Unix epoch.
    pub ts: i64,
}

/// One message found by `search`: a room message (with `room`) or a direct
/// message (with `to_nickname`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The message's id.
    pub msg_id: u64,
    /// When it was said, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// The room, for a room message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Who said it.
    pub sender_id: u64,
    /// Their nickname at the time.
    pub sender_nickname: String,
    /// The recipient's nickname, for a direct message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_nickname: Option<String>,
    /// The text.
    pub message: String,
    /// A `/me` action.
    #[serde(default, skip_serializing_if = "is_false")]
    pub action: bool,
    /// The `search` request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// The end of a page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchEnd {
    /// The text searched for.
    pub text: String,
    /// How many `search_hit` frames the page had.
    pub count: u32,
    /// Pass this as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// One conversation: a person the user exchanged direct messages with
/// (`nickname`), or a room they are in (`room`, only when asked for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The person's nickname, as in the latest message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// The room's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The latest message's id.
    pub msg_id: u64,
    /// When it was sent, in milliseconds since the Unix epoch.
    pub ts: i64,
}

/// Reply to `conversations`: most recent first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationList {
    /// The conversations, most recent first.
    pub conversations: Vec<Conversation>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// `{"type":"read_marker","room":"rust","ts":...}`: the user has read the
/// room (or, with `with`, the conversation) up to the message of `ts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadMarker {
    /// The room, for a room's marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The other person, for a conversation's marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// The time of the last message read (ms since the epoch).
    pub ts: i64,
    /// The request's `ref` (none when another session moved it).
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `read_markers`: every marker the user has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadMarkerList {
    /// The markers (without `ref`s).
    pub markers: Vec<ReadMarker>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `cert_add`, `cert_del` and `cert_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertList {
    /// The SHA-256 fingerprints (lower-case hex) of the TLS client
    /// certificates that log into the account, in order.
    pub fingerprints: Vec<String>,
    /// The fingerprint of the certificate this connection presented, if
    /// it presented one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `whois`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoisInfo {
    /// Their nickname.
    pub nickname: String,
    /// Their user id.
    pub id: u64,
    /// Their away message, if they are away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
    /// The rooms they are in.
    pub rooms: Vec<String>,
    /// When they logged in, in milliseconds since the Unix epoch.
    pub since: i64,
    /// The account they are logged into, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Whether they are an operator.
    #[serde(default, skip_serializing_if = "is_false")]
    pub operator: bool,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Reply to `whowas`: who used a nickname before, most recent first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhowasList {
    /// The nickname asked about, as the request spelled it.
    pub nickname: String,
    /// Who had it, most recent first.
    pub entries: Vec<WhowasEntry>,
    /// The request's `ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Someone who gave up a nickname (by leaving or renaming).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhowasEntry {
    /// The nickname, as they spelled it.
    pub nickname: String,
    /// Their user name (IRC's; a JSON user's is their nickname).
    pub user: String,
    /// The host everyone saw (never their address).
    pub host: String,
    /// Their real name (IRC's; a JSON user's is their nickname).
    pub realname: String,
    /// When they gave it up, in milliseconds since the Unix epoch.
    pub ts: i64,
}

/// Someone is away: said to whoever sends them a direct message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AwayNotice {
    /// Who is away.
    pub nickname: String,
    /// Their away message.
    pub message: String,
    /// The `ref` of the `direct` this answers.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// `{"type":"pong"}`: the answer to a ping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pong {
    /// The request's `ref`, if it had one.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// `{"type":"error","code":"...","message":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The stable machine-readable code.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The failed request's `ref`, when it could be read.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// A line from System, e.g. the goodbye before the server closes a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Always 0: System.
    pub sender_id: u64,
    /// Always "System".
    pub sender_nickname: String,
    /// The text.
    pub message: String,
    /// The `ref` of the request this answers, if any.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Ref>,
}

/// Encodes a frame as one line: the JSON object followed by `\n`.
pub fn encode_frame(frame: &ServerFrame) -> Bytes {
    let mut out = Vec::with_capacity(128);
    // Writing our own plain structs into a Vec cannot fail: every key is a
    // string and every value a string, number, bool or nested struct.
    serde_json::to_writer(&mut out, frame).expect("server frames always serialise");
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_satisfies_the_tutorial_client() {
        let bytes = encode_frame(&ServerFrame::Welcome(Welcome {
            status: "ok".into(),
            id: 1,
            nickname: "zhangsan".into(),
            protocol: 1,
            server: "chatroom 0.1.0".into(),
            rooms: vec!["lobby".into()],
            epoch: Some("00000000000000ff".into()),
            limits: Some(Limits::default()),
            reference: None,
        }));
        assert!(bytes.ends_with(b"}\n"));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "welcome");
        assert_eq!(v["status"], "ok");
        assert_eq!(v["id"], 1);
        assert!(v.get("ref").is_none());
    }

    #[test]
    fn message_carries_the_tutorial_fields() {
        let frame = ServerFrame::Message(ChatMessage {
            msg_id: 9,
            ts: 1_700_000_000_000,
            room: "lobby".into(),
            sender_id: 3,
            sender_nickname: "李四".into(),
            message: "你好\n世界".into(),
            action: false,
            history: false,
        });
        let bytes = encode_frame(&frame);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["sender_id"], 3);
        assert_eq!(v["sender_nickname"], "李四");
        assert_eq!(v["message"], "你好\n世界");
        // Newlines inside text are escaped: one frame, one line.
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        // Flags that are false are left out.
        assert!(v.get("history").is_none() && v.get("action").is_none());
        let back: ServerFrame = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, frame);
    }

    #[test]
    fn unknown_frame_types_are_tolerated() {
        let back: ServerFrame = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(back, ServerFrame::Unknown);
    }

    #[test]
    fn error_frame_round_trip() {
        let frame = ServerFrame::Error(ErrorFrame {
            code: ErrorCode::NicknameTaken,
            message: "taken".into(),
            reference: Some(Ref::Text("r1".into())),
        });
        let text = String::from_utf8(encode_frame(&frame).to_vec()).unwrap();
        assert_eq!(
            text,
            "{\"type\":\"error\",\"code\":\"nickname_taken\",\"message\":\"taken\",\"ref\":\"r1\"}\n"
        );
        let back: ServerFrame = serde_json::from_str(&text).unwrap();
        assert_eq!(back, frame);
    }
}
