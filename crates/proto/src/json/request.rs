//! Client requests: one JSON object in, one validated [`Request`] out.
//!
//! Every object needs a `type`; it may carry a `ref` (a string or number the
//! reply echoes, so a client can match replies to requests). Unknown fields
//! are ignored, which is how the tutorial client's `sender_id` is ignored:
//! the server always knows who sent a message. Each way a request can be
//! wrong has its own [`ErrorCode`].

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ErrorCode;

/// A client-chosen correlation value: echoed in the reply to its request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ref {
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string of at most [`Ref::MAX_LEN`] bytes.
    Text(String),
}

impl Ref {
    /// The longest string `ref` the server accepts.
    pub const MAX_LEN: usize = 64;
}

/// The most messages one `history` request may ask for.
pub const MAX_HISTORY_LIMIT: u32 = 500;

/// How many messages `history` returns when no `limit` is given.
pub const DEFAULT_HISTORY_LIMIT: u32 = 50;

/// The most results one `search` page may ask for.
pub const MAX_SEARCH_LIMIT: u32 = 50;

/// How many results a `search` page has when no `limit` is given.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;

/// The longest `search` text, in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

/// The longest away message, in characters.
pub const MAX_AWAY_CHARS: usize = 300;

/// The most peers one `conversations` request may ask for.
pub const MAX_CONVERSATIONS: u32 = 100;

/// How many peers `conversations` lists when no `limit` is given.
pub const DEFAULT_CONVERSATIONS: u32 = 20;

/// The most entries one `whowas` request may ask for.
pub const MAX_WHOWAS: u32 = 100;

/// How many entries `whowas` returns when no `limit` is given.
pub const DEFAULT_WHOWAS: u32 = 10;

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{"type":"login","nickname":"..."}`: take a nickname, get a user id.
    Login {
        /// The wanted nickname (not yet checked against the nickname rules).
        nickname: String,
        /// The account password, for a registered nickname.
        password: Option<Secret>,
        /// The protocol version the client speaks; clients that give 2 or
        /// more get keepalive pings. The tutorial's client gives none.
        protocol: Option<u32>,
    },
    /// `{"type":"broadcast","message":"...","room":"..."}`: say something in a room.
    Broadcast {
        /// The room; `None` means the lobby, as in the tutorial.
        room: Option<String>,
        /// The text; never empty.
        message: String,
        /// A `/me` action rather than a plain message.
        action: bool,
    },
    /// `{"type":"direct","to":"nick","message":"..."}`: a private message.
    Direct {
        /// The recipient's nickname.
        to: String,
        /// The text; never empty.
        message: String,
        /// A `/me` action rather than a plain message.
        action: bool,
    },
    /// `{"type":"join","room":"...","key":"..."}`: enter a room (creating
    /// it if needed); `key` for a room that has one.
    Join {
        /// The room.
        room: String,
        /// The room's key (`+k`), if it has one.
        key: Option<String>,
    },
    /// `{"type":"part","room":"..."}`: leave a room.
    Part {
        /// The room.
        room: String,
    },
    /// `{"type":"rooms"}`: list the rooms with member counts and topics.
    Rooms,
    /// `{"type":"who","room":"..."}`: list a room's members.
    Who {
        /// The room.
        room: String,
    },
    /// `{"type":"topic","room":"...","topic":"..."}`: read or set a room's topic.
    Topic {
        /// The room.
        room: String,
        /// The new topic; `None` asks for the current one.
        topic: Option<String>,
    },
    /// `{"type":"nick","nickname":"..."}`: change one's nickname.
    Nick {
        /// The wanted nickname.
        nickname: String,
    },
    /// `{"type":"history","room":"...","before":42,"limit":50}`: page back
    /// through a room's stored messages.
    History {
        /// The room.
        room: String,
        /// Only messages with ids below this one; `None` means the newest.
        before: Option<u64>,
        /// How many at most (1 to [`MAX_HISTORY_LIMIT`]).
        limit: u32,
    },
    /// `{"type":"history","with":"nick","before":42,"limit":50}`: page back
    /// through the stored direct messages between the user and `with`.
    DirectHistory {
        /// The other person's nickname.
        with: String,
        /// Only messages with ids below this one; `None` means the newest.
        before: Option<u64>,
        /// How many at most (1 to [`MAX_HISTORY_LIMIT`]).
        limit: u32,
    },
    /// `{"type":"conversations","limit":20,"after":...,"before":...,
    /// "rooms":true}`: the people the user has exchanged direct messages
    /// with (and, with `rooms`, the rooms they are in), each with its
    /// latest message, most recent first.
    Conversations {
        /// How many at most (1 to [`MAX_CONVERSATIONS`]).
        limit: u32,
        /// Only conversations whose latest message is later than this
        /// (ms since the epoch, not negative).
        after: Option<i64>,
        /// Only conversations whose latest message is earlier than this
        /// (ms since the epoch, not negative).
        before: Option<i64>,
        /// The rooms the user is in as well.
        rooms: bool,
    },
    /// `{"type":"search","text":"...","room":"...","with":"...","limit":20,
    /// "cursor":"..."}`: full-text search of the stored messages the user
    /// may read (the rooms they are in, their direct messages).
    Search {
        /// What to look for: words that must all appear, as substrings,
        /// in any case (1 to [`MAX_SEARCH_CHARS`] characters).
        text: String,
        /// Only this room (which the user must be in).
        room: Option<String>,
        /// Only direct messages with this nickname.
        with: Option<String>,
        /// How many results at most (1 to [`MAX_SEARCH_LIMIT`]).
        limit: u32,
        /// Where the previous page ended (its `search_end`'s `next`).
        cursor: Option<String>,
    },
    /// `{"type":"mark_read","room":"...","ts":1764028800000}` (or `with`
    /// a nickname): the user has read a room or a conversation up to the
    /// message of that time; the marker only moves forward.
    MarkRead {
        /// The room or the conversation.
        target: ReadTarget,
        /// The time of the last message read (ms since the epoch, not
        /// negative).
        ts: i64,
    },
    /// `{"type":"read_markers"}`: every read marker the user has.
    ReadMarkers,
    /// `{"type":"away","message":"..."}`: mark oneself away (shown to
    /// others: in `whois`, and to whoever sends a direct message), or back
    /// without a message.
    Away {
        /// Why; `None` (or empty) means back.
        message: Option<String>,
    },
    /// `{"type":"whois","nickname":"..."}`: what the server shows about an
    /// online user.
    Whois {
        /// Who.
        nickname: String,
    },
    /// `{"type":"whowas","nickname":"...","limit":10}`: who used a
    /// nickname before (the server's recent departures), most recent first.
    Whowas {
        /// The nickname.
        nickname: String,
        /// How many entries at most (1 to [`MAX_WHOWAS`]).
        limit: u32,
    },
    /// `{"type":"register","password":"..."}`: register the nickname (the
    /// current one, or `nickname` before login, which also logs in).
    Register {
        /// The nickname to register before login; `None` once logged in.
        nickname: Option<String>,
        /// The password.
        password: Secret,
    },
    /// `{"type":"unregister","password":"..."}`: delete one's own account
    /// (its password again, as proof); `{"type":"unregister","nickname":"..."}`:
    /// operators delete someone's.
    Unregister {
        /// Whose account, for an operator deleting another's.
        nickname: Option<String>,
        /// The account's password, for its owner.
        password: Option<Secret>,
    },
    /// `{"type":"cert_add"}`: let the TLS client certificate of this
    /// connection (or the one whose SHA-256 `fingerprint` is given) log
    /// into one's account without a password.
    CertAdd {
        /// The certificate's SHA-256 in hex; `None`: this connection's.
        fingerprint: Option<String>,
    },
    /// `{"type":"cert_del","fingerprint":"..."}`: take a certificate off
    /// one's account.
    CertDel {
        /// The certificate's SHA-256 in hex.
        fingerprint: String,
    },
    /// `{"type":"cert_list"}`: the certificates one's account lists.
    CertList,
    /// `{"type":"oper","name":"...","password":"..."}`: become a server
    /// operator with credentials from the server's configuration.
    Oper {
        /// The operator entry's name.
        name: String,
        /// Its password.
        password: Secret,
    },
    /// `{"type":"kick","room":"...","nickname":"...","reason":"..."}`:
    /// operators remove someone from a room.
    Kick {
        /// The room.
        room: String,
        /// Who.
        nickname: String,
        /// Why (shown to the room).
        reason: Option<String>,
    },
    /// `{"type":"kill","nickname":"...","reason":"..."}`: operators
    /// disconnect someone.
    Kill {
        /// Who.
        nickname: String,
        /// Why.
        reason: Option<String>,
    },
    /// `{"type":"ban","nickname":"..."}` or `{"type":"ban","ip":"..."}`:
    /// operators ban a nickname or an address (stored; online matches are
    /// disconnected).
    Ban {
        /// What to ban.
        target: BanTarget,
        /// Why.
        reason: Option<String>,
    },
    /// `{"type":"unban","nickname":"..."}` or `{"type":"unban","ip":"..."}`.
    Unban {
        /// What to unban.
        target: BanTarget,
    },
    /// `{"type":"mode","room":"..."}` asks for a room's modes;
    /// `{"type":"mode","room":"...","modes":"+o-v","args":["ann","bob"]}`
    /// changes them (IRC's mode letters, docs/protocol.md), and
    /// `"modes":"b"` lists its bans.
    Mode {
        /// The room.
        room: String,
        /// The mode string, if changing or listing.
        modes: Option<String>,
        /// The mode string's arguments, in order.
        args: Vec<String>,
    },
    /// `{"type":"invite","room":"...","nickname":"..."}`: invite someone
    /// into a room (past invite-only, a ban and the key).
    Invite {
        /// The room.
        room: String,
        /// Who.
        nickname: String,
    },
    /// `{"type":"logout"}`: leave; the server says goodbye and closes.
    Logout,
    /// `{"type":"ping"}`: asks for a `pong`, to check the connection.
    Ping,
    /// `{"type":"pong","ref":...}`: the answer to the server's keepalive ping.
    Pong,
}

/// What a ban applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanTarget {
    /// A nickname (and so its account).
    Nickname(String),
    /// An IP address.
    Ip(std::net::IpAddr),
}

/// A password: kept out of `Debug` output (and so out of logs).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Secret(password.into())
    }

    /// The password itself, for hashing and checking.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Which read marker a `mark_read` moves: a room's, or a conversation's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadTarget {
    /// A room (`room`).
    Room(String),
    /// Direct messages with a nickname (`with`).
    With(String),
}

/// A request with its correlation value.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The `ref` to echo, if the client sent one.
    pub reference: Option<Ref>,
    /// The request itself.
    pub request: Request,
}

/// A request the server refuses, with what to tell the client.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// The stable code.
    pub code: ErrorCode,
    /// A human-readable explanation.
    pub message: String,
    /// The request's `ref`, when it could be read.
    pub reference: Option<Ref>,
}

impl RequestError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            code,
            message: message.into(),
            reference: None,
        }
    }
}

impl Request {
    /// The request's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Request::Login { .. } => "login",
            Request::Broadcast { .. } => "broadcast",
            Request::Direct { .. } => "direct",
            Request::Join { .. } => "join",
            Request::Part { .. } => "part",
            Request::Rooms => "rooms",
            Request::Who { .. } => "who",
            Request::Topic { .. } => "topic",
            Request::Nick { .. } => "nick",
            Request::History { .. } | Request::DirectHistory { .. } => "history",
            Request::Conversations { .. } => "conversations",
            Request::Search { .. } => "search",
            Request::MarkRead { .. } => "mark_read",
            Request::ReadMarkers => "read_markers",
            Request::Away { .. } => "away",
            Request::Whois { .. } => "whois",
            Request::Whowas { .. } => "whowas",
            Request::Register { .. } => "register",
            Request::Unregister { .. } => "unregister",
            Request::CertAdd { .. } => "cert_add",
            Request::CertDel { .. } => "cert_del",
            Request::CertList => "cert_list",
            Request::Oper { .. } => "oper",
            Request::Kick { .. } => "kick",
            Request::Mode { .. } => "mode",
            Request::Invite { .. } => "invite",
            Request::Kill { .. } => "kill",
            Request::Ban { .. } => "ban",
            Request::Unban { .. } => "unban",
            Request::Logout => "logout",
            Request::Ping => "ping",
            Request::Pong => "pong",
        }
    }
}

/// Encodes a request as a client sends it: one JSON object and a newline
/// (the server needs no delimiter; the newline keeps logs and captures readable).
pub fn encode_request(request: &Request, reference: Option<&Ref>) -> Vec<u8> {
    let mut object = serde_json::Map::new();
    object.insert("type".into(), request.kind().into());
    if let Some(reference) = reference {
        object.insert("ref".into(), serde_json::json!(reference));
    }
    let mut put = |key: &str, value: serde_json::Value| {
        object.insert(key.to_owned(), value);
    };
    match request {
        Request::Login {
            nickname,
            password,
            protocol,
        } => {
            put("nickname", nickname.as_str().into());
            if let Some(password) = password {
                put("password", password.expose().into());
            }
            if let Some(protocol) = protocol {
                put("protocol", (*protocol).into());
            }
        }
        Request::Nick { nickname } => put("nickname", nickname.as_str().into()),
        Request::Broadcast {
            room,
            message,
            action,
        } => {
            if let Some(room) = room {
                put("room", room.as_str().into());
            }
            put("message", message.as_str().into());
            if *action {
                put("action", true.into());
            }
        }
        Request::Direct {
            to,
            message,
            action,
        } => {
            put("to", to.as_str().into());
            put("message", message.as_str().into());
            if *action {
                put("action", true.into());
            }
        }
        Request::Join { room, key } => {
            put("room", room.as_str().into());
            if let Some(key) = key {
                put("key", key.as_str().into());
            }
        }
        Request::Part { room } | Request::Who { room } => {
            put("room", room.as_str().into());
        }
        Request::Mode { room, modes, args } => {
            put("room", room.as_str().into());
            if let Some(modes) = modes {
                put("modes", modes.as_str().into());
            }
            if !args.is_empty() {
                put("args", args.clone().into());
            }
        }
        Request::Invite { room, nickname } => {
            put("room", room.as_str().into());
            put("nickname", nickname.as_str().into());
        }
        Request::Topic { room, topic } => {
            put("room", room.as_str().into());
            if let Some(topic) = topic {
                put("topic", topic.as_str().into());
            }
        }
        Request::History {
            room,
            before,
            limit,
        } => {
            put("room", room.as_str().into());
            if let Some(before) = before {
                put("before", (*before).into());
            }
            put("limit", (*limit).into());
        }
        Request::DirectHistory {
            with,
            before,
            limit,
        } => {
            put("with", with.as_str().into());
            if let Some(before) = before {
                put("before", (*before).into());
            }
            put("limit", (*limit).into());
        }
        Request::Conversations {
            limit,
            after,
            before,
            rooms,
        } => {
            put("limit", (*limit).into());
            if let Some(after) = after {
                put("after", (*after).into());
            }
            if let Some(before) = before {
                put("before", (*before).into());
            }
            if *rooms {
                put("rooms", true.into());
            }
        }
        Request::Search {
            text,
            room,
            with,
            limit,
            cursor,
        } => {
            put("text", text.as_str().into());
            if let Some(room) = room {
                put("room", room.as_str().into());
            }
            if let Some(with) = with {
                put("with", with.as_str().into());
            }
            put("limit", (*limit).into());
            if let Some(cursor) = cursor {
                put("cursor", cursor.as_str().into());
            }
        }
        Request::Away { message } => {
            if let Some(message) = message {
                put("message", message.as_str().into());
            }
        }
        Request::Whois { nickname } => put("nickname", nickname.as_str().into()),
        Request::Whowas { nickname, limit } => {
            put("nickname", nickname.as_str().into());
            put("limit", (*limit).into());
        }
        Request::Register { nickname, password } => {
            if let Some(nickname) = nickname {
                put("nickname", nickname.as_str().into());
            }
            put("password", password.expose().into());
        }
        Request::Unregister { nickname, password } => {
            if let Some(nickname) = nickname {
                put("nickname", nickname.as_str().into());
            }
            if let Some(password) = password {
                put("password", password.expose().into());
            }
        }
        Request::CertAdd { fingerprint } => {
            if let Some(fingerprint) = fingerprint {
                put("fingerprint", fingerprint.as_str().into());
            }
        }
        Request::CertDel { fingerprint } => put("fingerprint", fingerprint.as_str().into()),
        Request::Oper { name, password } => {
            put("name", name.as_str().into());
            put("password", password.expose().into());
        }
        Request::Kick {
            room,
            nickname,
            reason,
        } => {
            put("room", room.as_str().into());
            put("nickname", nickname.as_str().into());
            if let Some(reason) = reason {
                put("reason", reason.as_str().into());
            }
        }
        Request::Kill { nickname, reason } => {
            put("nickname", nickname.as_str().into());
            if let Some(reason) = reason {
                put("reason", reason.as_str().into());
            }
        }
        Request::Ban { target, reason } => {
            put_target(&mut put, target);
            if let Some(reason) = reason {
                put("reason", reason.as_str().into());
            }
        }
        Request::Unban { target } => put_target(&mut put, target),
        Request::MarkRead { target, ts } => {
            match target {
                ReadTarget::Room(room) => put("room", room.as_str().into()),
                ReadTarget::With(with) => put("with", with.as_str().into()),
            }
            put("ts", (*ts).into());
        }
        Request::Rooms
        | Request::ReadMarkers
        | Request::CertList
        | Request::Logout
        | Request::Ping
        | Request::Pong => {}
    }
    let mut out = serde_json::Value::Object(object).to_string().into_bytes();
    out.push(b'\n');
    out
}

fn put_target(put: &mut impl FnMut(&str, serde_json::Value), target: &BanTarget) {
    match target {
        BanTarget::Nickname(nick) => put("nickname", nick.as_str().into()),
        BanTarget::Ip(ip) => put("ip", ip.to_string().into()),
    }
}

/// Every field any request uses, each kept raw so that a wrong field can be
/// named in the error and the others (notably `ref`) still read.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a RawValue>,
    #[serde(rename = "ref", borrow)]
    reference: Option<&'a RawValue>,
    #[serde(borrow)]
    nickname: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    room: Option<&'a RawValue>,
    #[serde(borrow)]
    to: Option<&'a RawValue>,
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    #[serde(borrow)]
    topic: Option<&'a RawValue>,
    #[serde(borrow)]
    before: Option<&'a RawValue>,
    #[serde(borrow)]
    limit: Option<&'a RawValue>,
    #[serde(borrow)]
    password: Option<&'a RawValue>,
    #[serde(borrow)]
    protocol: Option<&'a RawValue>,
    #[serde(borrow)]
    reason: Option<&'a RawValue>,
    #[serde(borrow)]
    ip: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    with: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    cursor: Option<&'a RawValue>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
    #[serde(borrow)]
    modes: Option<&'a RawValue>,
    #[serde(borrow)]
    args: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    after: Option<&'a RawValue>,
    #[serde(borrow)]
    rooms: Option<&'a RawValue>,
    #[serde(borrow)]
    fingerprint: Option<&'a RawValue>,
}

/// Parses one framed JSON object (as cut by [`crate::json::JsonFramer`]).
pub fn parse_request(frame: &[u8]) -> Result<Envelope, RequestError> {
    let text = std::str::from_utf8(frame).map_err(|e| {
        RequestError::new(
            ErrorCode::InvalidUtf8,
            format!("frame is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let fields: Fields = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            RequestError::new(ErrorCode::InvalidField, format!("unusable field: {e}"))
        }
        _ => RequestError::new(ErrorCode::MalformedJson, format!("malformed JSON: {e}")),
    })?;
    let reference = match fields.reference {
        Some(raw) => Some(parse_ref(raw)?),
        None => None,
    };
    fields_to_request(&fields)
        .map(|request| Envelope {
            reference: reference.clone(),
            request,
        })
        .map_err(|mut e| {
            e.reference = reference;
            e
        })
}

fn parse_ref(raw: &RawValue) -> Result<Ref, RequestError> {
    match serde_json::from_str::<Ref>(raw.get()) {
        Ok(Ref::Text(s)) if s.len() > Ref::MAX_LEN => Err(RequestError::new(
            ErrorCode::InvalidField,
            format!("field `ref` is longer than {} bytes", Ref::MAX_LEN),
        )),
        Ok(r) => Ok(r),
        Err(_) => Err(RequestError::new(
            ErrorCode::InvalidField,
            "field `ref` must be a string or a number",
        )),
    }
}

fn fields_to_request(fields: &Fields) -> Result<Request, RequestError> {
    let kind: String = required(fields.kind, "type")?;
    let room = || required::<String>(fields.room, "room");
    Ok(match kind.as_str() {
        "login" => Request::Login {
            nickname: required(fields.nickname, "nickname")?,
            password: optional(fields.password, "password")?,
            protocol: optional(fields.protocol, "protocol")?,
        },
        "broadcast" => Request::Broadcast {
            room: optional(fields.room, "room")?,
            message: text(fields.message)?,
            action: optional(fields.action, "action")?.unwrap_or(false),
        },
        "direct" => Request::Direct {
            to: required(fields.to, "to")?,
            message: text(fields.message)?,
            action: optional(fields.action, "action")?.unwrap_or(false),
        },
        "join" => Request::Join {
            room: room()?,
            key: optional(fields.key, "key")?,
        },
        "mode" => Request::Mode {
            room: room()?,
            modes: optional(fields.modes, "modes")?,
            args: mode_args(fields)?,
        },
        "invite" => Request::Invite {
            room: room()?,
            nickname: required(fields.nickname, "nickname")?,
        },
        "part" => Request::Part { room: room()? },
        "rooms" => Request::Rooms,
        "who" => Request::Who { room: room()? },
        "topic" => Request::Topic {
            room: room()?,
            topic: optional(fields.topic, "topic")?,
        },
        "nick" => Request::Nick {
            nickname: required(fields.nickname, "nickname")?,
        },
        "history" => {
            let limit = limit(fields, DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT)?;
            let before = optional(fields.before, "before")?;
            match optional::<String>(fields.with, "with")? {
                None => Request::History {
                    room: room()?,
                    before,
                    limit,
                },
                Some(_) if fields.room.is_some() => {
                    return Err(RequestError::new(
                        ErrorCode::InvalidField,
                        "give either `room` or `with`, not both",
                    ));
                }
                Some(with) => Request::DirectHistory {
                    with,
                    before,
                    limit,
                },
            }
        }
        "conversations" => Request::Conversations {
            limit: limit(fields, DEFAULT_CONVERSATIONS, MAX_CONVERSATIONS)?,
            after: time(fields.after, "after")?,
            before: time(fields.before, "before")?,
            rooms: optional(fields.rooms, "rooms")?.unwrap_or(false),
        },
        "search" => {
            let text: String = required(fields.text, "text")?;
            let chars = text.trim().chars().count();
            if chars == 0 || chars > MAX_SEARCH_CHARS {
                return Err(RequestError::new(
                    ErrorCode::InvalidField,
                    format!("field `text` must have 1 to {MAX_SEARCH_CHARS} characters"),
                ));
            }
            let room = optional(fields.room, "room")?;
            let with = optional(fields.with, "with")?;
            if room.is_some() && with.is_some() {
                return Err(RequestError::new(
                    ErrorCode::InvalidField,
                    "give either `room` or `with`, not both",
                ));
            }
            Request::Search {
                text,
                room,
                with,
                limit: limit(fields, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT)?,
                cursor: optional(fields.cursor, "cursor")?,
            }
        }
        "away" => {
            let message: Option<String> = optional(fields.message, "message")?;
            if message
                .as_ref()
                .is_some_and(|m| m.chars().count() > MAX_AWAY_CHARS)
            {
                return Err(RequestError::new(
                    ErrorCode::InvalidField,
                    format!("field `message` has at most {MAX_AWAY_CHARS} characters"),
                ));
            }
            Request::Away {
                message: message.filter(|m| !m.is_empty()),
            }
        }
        "whois" => Request::Whois {
            nickname: required(fields.nickname, "nickname")?,
        },
        "whowas" => Request::Whowas {
            nickname: required(fields.nickname, "nickname")?,
            limit: limit(fields, DEFAULT_WHOWAS, MAX_WHOWAS)?,
        },
        "mark_read" => {
            let target = match (
                optional(fields.room, "room")?,
                optional(fields.with, "with")?,
            ) {
                (Some(room), None) => ReadTarget::Room(room),
                (None, Some(with)) => ReadTarget::With(with),
                (None, None) => {
                    return Err(RequestError::new(
                        ErrorCode::MissingField,
                        "field `room` (or `with`) is missing",
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(RequestError::new(
                        ErrorCode::InvalidField,
                        "give either `room` or `with`, not both",
                    ));
                }
            };
            let ts: i64 = required(fields.ts, "ts")?;
            if ts < 0 {
                return Err(RequestError::new(
                    ErrorCode::InvalidField,
                    "field `ts` must not be negative",
                ));
            }
            Request::MarkRead { target, ts }
        }
        "read_markers" => Request::ReadMarkers,
        "logout" => Request::Logout,
        "register" => Request::Register {
            nickname: optional(fields.nickname, "nickname")?,
            password: required(fields.password, "password")?,
        },
        "unregister" => {
            let nickname = optional(fields.nickname, "nickname")?;
            let password = optional(fields.password, "password")?;
            if nickname.is_none() && password.is_none() {
                return Err(RequestError::new(
                    ErrorCode::MissingField,
                    "field `password` is missing (or `nickname`, for an operator)",
                ));
            }
            Request::Unregister { nickname, password }
        }
        "cert_add" => Request::CertAdd {
            fingerprint: optional(fields.fingerprint, "fingerprint")?,
        },
        "cert_del" => Request::CertDel {
            fingerprint: required(fields.fingerprint, "fingerprint")?,
        },
        "cert_list" => Request::CertList,
        "oper" => Request::Oper {
            name: required(fields.name, "name")?,
            password: required(fields.password, "password")?,
        },
        "kick" => Request::Kick {
            room: room()?,
            nickname: required(fields.nickname, "nickname")?,
            reason: optional(fields.reason, "reason")?,
        },
        "kill" => Request::Kill {
            nickname: required(fields.nickname, "nickname")?,
            reason: optional(fields.reason, "reason")?,
        },
        "ban" => Request::Ban {
            target: ban_target(fields)?,
            reason: optional(fields.reason, "reason")?,
        },
        "unban" => Request::Unban {
            target: ban_target(fields)?,
        },
        "ping" => Request::Ping,
        "pong" => Request::Pong,
        other => {
            return Err(RequestError::new(
                ErrorCode::UnknownType,
                format!("unknown request type {other:?}"),
            ));
        }
    })
}

/// Reads the `args` of a `mode` request: strings, at most a few more than
/// a mode string may use.
fn mode_args(fields: &Fields) -> Result<Vec<String>, RequestError> {
    let args: Vec<String> = optional(fields.args, "args")?.unwrap_or_default();
    if args.len() > 2 * crate::modes::MAX_ARGUMENT_MODES {
        return Err(RequestError::new(
            ErrorCode::InvalidField,
            format!(
                "field `args` has at most {} entries",
                2 * crate::modes::MAX_ARGUMENT_MODES
            ),
        ));
    }
    Ok(args)
}

/// Reads the `limit` field: `default` when absent, else 1 to `max`.
fn limit(fields: &Fields, default: u32, max: u32) -> Result<u32, RequestError> {
    let limit: u32 = optional(fields.limit, "limit")?.unwrap_or(default);
    if !(1..=max).contains(&limit) {
        return Err(RequestError::new(
            ErrorCode::InvalidField,
            format!("field `limit` must be between 1 and {max}"),
        ));
    }
    Ok(limit)
}

/// Reads an optional time (ms since the epoch): an integer, not negative.
fn time(raw: Option<&RawValue>, name: &str) -> Result<Option<i64>, RequestError> {
    let ts: Option<i64> = optional(raw, name)?;
    if ts.is_some_and(|ts| ts < 0) {
        return Err(RequestError::new(
            ErrorCode::InvalidField,
            format!("field `{name}` must not be negative"),
        ));
    }
    Ok(ts)
}

/// Reads a ban's target: a `nickname` or an `ip` (exactly one).
fn ban_target(fields: &Fields) -> Result<BanTarget, RequestError> {
    let nickname: Option<String> = optional(fields.nickname, "nickname")?;
    let ip: Option<String> = optional(fields.ip, "ip")?;
    match (nickname, ip) {
        (Some(nick), None) => Ok(BanTarget::Nickname(nick)),
        (None, Some(ip)) => ip.parse().map(BanTarget::Ip).map_err(|_| {
            RequestError::new(
                ErrorCode::InvalidField,
                format!("field `ip` is not an IP address: {ip:?}"),
            )
        }),
        (Some(_), Some(_)) => Err(RequestError::new(
            ErrorCode::InvalidField,
            "give either `nickname` or `ip`, not both",
        )),
        (None, None) => Err(RequestError::new(
            ErrorCode::MissingField,
            "field `nickname` or `ip` is missing",
        )),
    }
}

/// Reads the `message` field: present, a string, not empty.
fn text(raw: Option<&RawValue>) -> Result<String, RequestError> {
    let message: String = required(raw, "message")?;
    if message.is_empty() {
        return Err(RequestError::new(
            ErrorCode::EmptyMessage,
            "field `message` is empty",
        ));
    }
    Ok(message)
}

/// Reads a field that may be absent or null as a `T`.
fn optional<T: for<'de> Deserialize<'de>>(
    raw: Option<&RawValue>,
    name: &str,
) -> Result<Option<T>, RequestError> {
    match raw {
        Some(raw) if raw.get() != "null" => required(Some(raw), name).map(Some),
        _ => Ok(None),
    }
}

/// Reads a field that must be present (and not null) as a `T`.
fn required<T: for<'de> Deserialize<'de>>(
    raw: Option<&RawValue>,
    name: &str,
) -> Result<T, RequestError> {
    let raw = raw.ok_or_else(|| {
        RequestError::new(
            ErrorCode::MissingField,
            format!("field `{name}` is missing"),
        )
    })?;
    serde_json::from_str(raw.get()).map_err(|_| {
        RequestError::new(
            ErrorCode::InvalidField,
            format!(
                "field `{name}` has the wrong type (found {})",
                json_kind(raw)
            ),
        )
    })
}

/// Names the kind of a JSON value for error messages, without echoing it.
fn json_kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b'{') => "an object",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request_strategy() -> impl Strategy<Value = Request> {
        let text = ".+";
        prop_oneof![
            (
                any::<String>(),
                proptest::option::of(any::<String>()),
                proptest::option::of(any::<u32>())
            )
                .prop_map(|(nickname, password, protocol)| Request::Login {
                    nickname,
                    password: password.map(Secret::new),
                    protocol,
                }),
            (proptest::option::of(any::<String>()), text, any::<bool>()).prop_map(
                |(room, message, action)| Request::Broadcast {
                    room,
                    message,
                    action
                }
            ),
            (any::<String>(), text, any::<bool>()).prop_map(|(to, message, action)| {
                Request::Direct {
                    to,
                    message,
                    action,
                }
            }),
            (any::<String>(), proptest::option::of(any::<String>()))
                .prop_map(|(room, key)| Request::Join { room, key }),
            (
                any::<String>(),
                proptest::option::of(any::<String>()),
                proptest::collection::vec(any::<String>(), 0..4)
            )
                .prop_map(|(room, modes, args)| Request::Mode { room, modes, args }),
            (any::<String>(), any::<String>())
                .prop_map(|(room, nickname)| Request::Invite { room, nickname }),
            any::<String>().prop_map(|room| Request::Part { room }),
            Just(Request::Rooms),
            any::<String>().prop_map(|room| Request::Who { room }),
            (any::<String>(), proptest::option::of(any::<String>()))
                .prop_map(|(room, topic)| Request::Topic { room, topic }),
            any::<String>().prop_map(|nickname| Request::Nick { nickname }),
            (
                any::<String>(),
                proptest::option::of(any::<u64>()),
                1..=MAX_HISTORY_LIMIT
            )
                .prop_map(|(room, before, limit)| Request::History {
                    room,
                    before,
                    limit
                }),
            (
                any::<String>(),
                proptest::option::of(any::<u64>()),
                1..=MAX_HISTORY_LIMIT
            )
                .prop_map(|(with, before, limit)| Request::DirectHistory {
                    with,
                    before,
                    limit
                }),
            (
                1..=MAX_CONVERSATIONS,
                proptest::option::of(0..i64::MAX),
                proptest::option::of(0..i64::MAX),
                any::<bool>()
            )
                .prop_map(|(limit, after, before, rooms)| Request::Conversations {
                    limit,
                    after,
                    before,
                    rooms
                }),
            (
                "[a-z你好]{1,20}",
                proptest::option::of(any::<String>()),
                1..=MAX_SEARCH_LIMIT,
                proptest::option::of(any::<String>())
            )
                .prop_map(|(text, with, limit, cursor)| Request::Search {
                    text,
                    room: None,
                    with,
                    limit,
                    cursor
                }),
            proptest::option::of(".{1,40}").prop_map(|message| Request::Away { message }),
            any::<String>().prop_map(|nickname| Request::Whois { nickname }),
            (any::<String>(), 1..=MAX_WHOWAS)
                .prop_map(|(nickname, limit)| Request::Whowas { nickname, limit }),
            (any::<String>(), 0..i64::MAX).prop_map(|(room, ts)| Request::MarkRead {
                target: ReadTarget::Room(room),
                ts
            }),
            (any::<String>(), 0..i64::MAX).prop_map(|(with, ts)| Request::MarkRead {
                target: ReadTarget::With(with),
                ts
            }),
            Just(Request::ReadMarkers),
            proptest::option::of(any::<String>())
                .prop_map(|fingerprint| Request::CertAdd { fingerprint }),
            any::<String>().prop_map(|fingerprint| Request::CertDel { fingerprint }),
            Just(Request::CertList),
            Just(Request::Logout),
            Just(Request::Ping),
            Just(Request::Pong),
            (proptest::option::of(any::<String>()), any::<String>()).prop_map(
                |(nickname, password)| Request::Register {
                    nickname,
                    password: Secret::new(password)
                }
            ),
            (any::<String>(), any::<String>()).prop_map(|(name, password)| Request::Oper {
                name,
                password: Secret::new(password)
            }),
            (proptest::option::of(any::<String>()), any::<String>()).prop_map(
                |(nickname, password)| Request::Unregister {
                    nickname,
                    password: Some(Secret::new(password))
                }
            ),
            (
                any::<String>(),
                any::<String>(),
                proptest::option::of(any::<String>())
            )
                .prop_map(|(room, nickname, reason)| Request::Kick {
                    room,
                    nickname,
                    reason
                }),
            (any::<String>(), proptest::option::of(any::<String>()))
                .prop_map(|(nickname, reason)| Request::Kill { nickname, reason }),
            (any::<String>(), proptest::option::of(any::<String>())).prop_map(|(nick, reason)| {
                Request::Ban {
                    target: BanTarget::Nickname(nick),
                    reason,
                }
            }),
            any::<[u8; 4]>().prop_map(|ip| Request::Unban {
                target: BanTarget::Ip(std::net::IpAddr::from(ip))
            }),
        ]
    }

    fn ref_strategy() -> impl Strategy<Value = Option<Ref>> {
        prop_oneof![
            Just(None),
            any::<u64>().prop_map(|n| Some(Ref::Number(n.into()))),
            "\\PC{0,16}".prop_map(|s| Some(Ref::Text(s))),
        ]
    }

    proptest! {
        #[test]
        fn encoded_requests_parse_back(request in request_strategy(), reference in ref_strategy()) {
            let bytes = encode_request(&request, reference.as_ref());
            let envelope = parse_request(bytes.trim_ascii_end()).unwrap();
            prop_assert_eq!(envelope.request, request);
            prop_assert_eq!(envelope.reference, reference);
        }
    }

    fn ok(json: &str) -> Envelope {
        parse_request(json.as_bytes()).unwrap()
    }

    fn err(json: &[u8]) -> RequestError {
        parse_request(json).unwrap_err()
    }

    #[test]
    fn tutorial_login_and_broadcast() {
        assert_eq!(
            ok(r#"{"type": "login", "nickname": "zhangsan"}"#).request,
            Request::Login {
                nickname: "zhangsan".into(),
                password: None,
                protocol: None,
            }
        );
        let modern = ok(r#"{"type":"login","nickname":"z","password":"hunter2","protocol":2}"#);
        assert_eq!(
            modern.request,
            Request::Login {
                nickname: "z".into(),
                password: Some(Secret::new("hunter2")),
                protocol: Some(2),
            }
        );
        assert!(
            !format!("{modern:?}").contains("hunter2"),
            "passwords stay out of Debug output"
        );

        // The tutorial client sends its own id; the server ignores it.
        assert_eq!(
            ok(r#"{"type": "broadcast", "sender_id": 99, "message": "你好"}"#).request,
            Request::Broadcast {
                room: None,
                message: "你好".into(),
                action: false,
            }
        );
    }

    #[test]
    fn ref_is_kept_and_echoed_on_errors() {
        let env = ok(r#"{"type":"ping","ref":"a1"}"#);
        assert_eq!(env.reference, Some(Ref::Text("a1".into())));
        let env = ok(r#"{"type":"ping","ref":7}"#);
        assert_eq!(env.reference, Some(Ref::Number(7.into())));
        let e = err(br#"{"type":"nope","ref":7}"#);
        assert_eq!(e.code, ErrorCode::UnknownType);
        assert_eq!(e.reference, Some(Ref::Number(7.into())));
    }

    #[test]
    fn each_mistake_has_its_code() {
        assert_eq!(err(br#"{"type":"login"}"#).code, ErrorCode::MissingField);
        assert_eq!(err(br#"{"nickname":"x"}"#).code, ErrorCode::MissingField);
        assert_eq!(
            err(br#"{"type":"login","nickname":null}"#).code,
            ErrorCode::MissingField
        );
        assert_eq!(
            err(br#"{"type":"login","nickname":5}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(err(br#"{"type":7}"#).code, ErrorCode::InvalidField);
        assert_eq!(err(br#"{"type":"fly"}"#).code, ErrorCode::UnknownType);
        assert_eq!(
            err(br#"{"type":"broadcast","message":""}"#).code,
            ErrorCode::EmptyMessage
        );
        assert_eq!(
            err(br#"{"type":"ping","ref":[1]}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"ping","ref":"#).code,
            ErrorCode::MalformedJson
        );
        assert_eq!(err(br#"{"type":"ping",}"#).code, ErrorCode::MalformedJson);
        assert_eq!(
            err(b"{\"type\":\"broadcast\",\"message\":\"\xff\"}").code,
            ErrorCode::InvalidUtf8
        );
        assert_eq!(
            err(br#"{"type":"ping","type":"ping"}"#).code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn room_requests() {
        assert_eq!(
            ok(r#"{"type":"broadcast","room":"rust","message":"waves","action":true}"#).request,
            Request::Broadcast {
                room: Some("rust".into()),
                message: "waves".into(),
                action: true
            }
        );
        assert_eq!(
            ok(r#"{"type":"direct","to":"bob","message":"psst"}"#).request,
            Request::Direct {
                to: "bob".into(),
                message: "psst".into(),
                action: false
            }
        );
        assert_eq!(
            ok(r#"{"type":"join","room":"rust"}"#).request,
            Request::Join {
                room: "rust".into(),
                key: None
            }
        );
        assert_eq!(ok(r#"{"type":"rooms"}"#).request, Request::Rooms);
        assert_eq!(
            ok(r#"{"type":"topic","room":"r"}"#).request,
            Request::Topic {
                room: "r".into(),
                topic: None
            }
        );
        assert_eq!(
            ok(r#"{"type":"topic","room":"r","topic":""}"#).request,
            Request::Topic {
                room: "r".into(),
                topic: Some(String::new())
            }
        );
        assert_eq!(
            ok(r#"{"type":"history","room":"r"}"#).request,
            Request::History {
                room: "r".into(),
                before: None,
                limit: DEFAULT_HISTORY_LIMIT
            }
        );
        assert_eq!(
            ok(r#"{"type":"history","room":"r","before":9,"limit":500}"#).request,
            Request::History {
                room: "r".into(),
                before: Some(9),
                limit: 500
            }
        );
    }

    #[test]
    fn room_request_mistakes() {
        assert_eq!(err(br#"{"type":"join"}"#).code, ErrorCode::MissingField);
        assert_eq!(
            err(br#"{"type":"direct","message":"x"}"#).code,
            ErrorCode::MissingField
        );
        assert_eq!(
            err(br#"{"type":"direct","to":"b","message":""}"#).code,
            ErrorCode::EmptyMessage
        );
        assert_eq!(
            err(br#"{"type":"broadcast","message":"x","action":"yes"}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"history","room":"r","limit":501}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"history","room":"r","limit":0}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"history","room":"r","before":-1}"#).code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn account_and_moderation_requests() {
        let r = ok(r#"{"type":"register","password":"s3cret-pass"}"#).request;
        assert_eq!(
            r,
            Request::Register {
                nickname: None,
                password: Secret::new("s3cret-pass")
            }
        );
        assert_eq!(
            ok(r#"{"type":"ban","ip":"10.1.2.3","reason":"spam"}"#).request,
            Request::Ban {
                target: BanTarget::Ip("10.1.2.3".parse().unwrap()),
                reason: Some("spam".into())
            }
        );
        assert_eq!(
            ok(r#"{"type":"unban","nickname":"troll"}"#).request,
            Request::Unban {
                target: BanTarget::Nickname("troll".into())
            }
        );
        assert_eq!(err(br#"{"type":"ban"}"#).code, ErrorCode::MissingField);
        assert_eq!(
            err(br#"{"type":"ban","nickname":"a","ip":"1.2.3.4"}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(
            err(br#"{"type":"ban","ip":"not-an-ip"}"#).code,
            ErrorCode::InvalidField
        );
        assert_eq!(err(br#"{"type":"register"}"#).code, ErrorCode::MissingField);
    }

    #[test]
    fn read_markers_name_a_room_or_a_nickname_and_a_time() {
        assert_eq!(
            ok(r#"{"type":"mark_read","room":"rust","ts":42}"#).request,
            Request::MarkRead {
                target: ReadTarget::Room("rust".into()),
                ts: 42
            }
        );
        assert_eq!(
            ok(r#"{"type":"mark_read","with":"bob","ts":0}"#).request,
            Request::MarkRead {
                target: ReadTarget::With("bob".into()),
                ts: 0
            }
        );
        assert_eq!(
            ok(r#"{"type":"read_markers"}"#).request,
            Request::ReadMarkers
        );
        for (bad, code) in [
            (r#"{"type":"mark_read","ts":1}"#, ErrorCode::MissingField),
            (
                r#"{"type":"mark_read","room":"r"}"#,
                ErrorCode::MissingField,
            ),
            (
                r#"{"type":"mark_read","room":"r","with":"b","ts":1}"#,
                ErrorCode::InvalidField,
            ),
            (
                r#"{"type":"mark_read","room":"r","ts":-1}"#,
                ErrorCode::InvalidField,
            ),
            (
                r#"{"type":"mark_read","room":"r","ts":1.5}"#,
                ErrorCode::InvalidField,
            ),
            (
                r#"{"type":"mark_read","room":"r","ts":"1"}"#,
                ErrorCode::InvalidField,
            ),
        ] {
            assert_eq!(err(bad.as_bytes()).code, code, "{bad}");
        }
    }

    #[test]
    fn search_away_whois_and_direct_history() {
        assert_eq!(
            ok(r#"{"type":"search","text":"你好世界"}"#).request,
            Request::Search {
                text: "你好世界".into(),
                room: None,
                with: None,
                limit: DEFAULT_SEARCH_LIMIT,
                cursor: None
            }
        );
        assert_eq!(
            ok(r#"{"type":"search","text":"x","room":"r","limit":5,"cursor":"20"}"#).request,
            Request::Search {
                text: "x".into(),
                room: Some("r".into()),
                with: None,
                limit: 5,
                cursor: Some("20".into())
            }
        );
        for bad in [
            r#"{"type":"search"}"#,
            r#"{"type":"search","text":"  "}"#,
            r#"{"type":"search","text":"x","limit":51}"#,
            r#"{"type":"search","text":"x","room":"r","with":"b"}"#,
            r#"{"type":"history","room":"r","with":"b"}"#,
            r#"{"type":"conversations","limit":0}"#,
        ] {
            assert!(parse_request(bad.as_bytes()).is_err(), "{bad}");
        }
        let long = format!(r#"{{"type":"search","text":"{}"}}"#, "x".repeat(201));
        assert_eq!(err(long.as_bytes()).code, ErrorCode::InvalidField);
        assert_eq!(
            ok(r#"{"type":"history","with":"bob"}"#).request,
            Request::DirectHistory {
                with: "bob".into(),
                before: None,
                limit: DEFAULT_HISTORY_LIMIT
            }
        );
        assert_eq!(
            ok(r#"{"type":"conversations"}"#).request,
            Request::Conversations {
                limit: DEFAULT_CONVERSATIONS,
                after: None,
                before: None,
                rooms: false
            }
        );
        assert_eq!(
            ok(r#"{"type":"conversations","after":5,"before":9,"rooms":true,"limit":3}"#).request,
            Request::Conversations {
                limit: 3,
                after: Some(5),
                before: Some(9),
                rooms: true
            }
        );
        for bad in [
            r#"{"type":"conversations","after":-1}"#,
            r#"{"type":"conversations","before":"soon"}"#,
            r#"{"type":"conversations","rooms":1}"#,
            r#"{"type":"conversations","limit":101}"#,
        ] {
            assert_eq!(err(bad.as_bytes()).code, ErrorCode::InvalidField, "{bad}");
        }
        assert_eq!(
            ok(r#"{"type":"away","message":"lunch"}"#).request,
            Request::Away {
                message: Some("lunch".into())
            }
        );
        assert_eq!(
            ok(r#"{"type":"away","message":""}"#).request,
            Request::Away { message: None }
        );
        let long = format!(r#"{{"type":"away","message":"{}"}}"#, "z".repeat(301));
        assert_eq!(err(long.as_bytes()).code, ErrorCode::InvalidField);
        assert_eq!(
            ok(r#"{"type":"whois","nickname":"bob"}"#).request,
            Request::Whois {
                nickname: "bob".into()
            }
        );
        assert_eq!(
            ok(r#"{"type":"whowas","nickname":"bob"}"#).request,
            Request::Whowas {
                nickname: "bob".into(),
                limit: DEFAULT_WHOWAS
            }
        );
        assert_eq!(err(br#"{"type":"whowas"}"#).code, ErrorCode::MissingField);
        assert_eq!(
            err(br#"{"type":"whowas","nickname":"bob","limit":0}"#).code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn long_string_ref_is_refused() {
        let json = format!(r#"{{"type":"ping","ref":"{}"}}"#, "x".repeat(65));
        assert_eq!(err(json.as_bytes()).code, ErrorCode::InvalidField);
    }

    #[test]
    fn nesting_as_deep_as_the_frame_cap_allows_is_no_crash() {
        // 64 KiB of brackets, in an ignored field and in a used one.
        let deep = format!("{}{}", "[".repeat(32 * 1024), "]".repeat(32 * 1024));
        let json = format!(r#"{{"type":"ping","x":{deep}}}"#);
        assert_eq!(ok(&json).request, Request::Ping);
        let json = format!(r#"{{"type":"broadcast","message":{deep}}}"#);
        let e = err(json.as_bytes());
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert_eq!(
            e.message,
            "field `message` has the wrong type (found an array)"
        );
    }

    #[test]
    fn escaped_text_is_unescaped() {
        assert_eq!(
            ok(r#"{"type":"broadcast","message":"a\"b\n\u4f60"}"#).request,
            Request::Broadcast {
                room: None,
                message: "a\"b\n你".into(),
                action: false,
            }
        );
    }
}
