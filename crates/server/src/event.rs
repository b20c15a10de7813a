//! What the hub delivers, built once and encoded at most once per wire format.
//!
//! The hub never knows which protocol a client speaks: it builds an [`Event`]
//! and queues `event.encoded(client.format())` for every receiver. The first
//! receiver of each format pays for the encoding (`json::events`,
//! `irc::events`); everyone else gets the same reference-counted bytes. The
//! [`EventKind`] itself is plain data that serde can carry, so that another
//! node (a broker) can deliver the same happening to its own clients.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::outbox::CloseReason;

/// How a client wants events written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// JSON frames, one per line.
    Json,
    /// IRC lines, shaped by the client's capabilities.
    Irc(IrcFormat),
}

/// What a client's transport takes its events as: lines (a byte stream:
/// TCP, TLS), or WebSocket messages, one per line, which the event frames
/// once for all its receivers over WebSocket ([`Event::framed`]) so that
/// their writers copy them as a byte stream's do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Framing {
    /// The lines as they are.
    #[default]
    Lines,
    /// One WebSocket message per line: binary ones (`binary.ircv3.net`)
    /// or text.
    WebSocket {
        /// Binary messages rather than text.
        binary: bool,
    },
}

/// Which tags IRC lines carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum IrcTags {
    /// None.
    #[default]
    None,
    /// IRCv3 `time` and `msgid` (the client asked for `server-time`).
    ServerTime,
    /// The server's tags and the senders' client-only tags (the client
    /// asked for `message-tags`), and `TAGMSG`s.
    MessageTags,
}

/// What an IRC client's capabilities change in the lines it is sent: each
/// combination is encoded at most once per event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IrcFormat {
    /// The tags lines carry.
    pub tags: IrcTags,
    /// IRCv3 `account-tag`: lines from someone logged into an account
    /// carry `account=`.
    pub account_tag: bool,
    /// IRCv3 `extended-join`: JOIN lines carry the account and real name.
    pub extended_join: bool,
    /// IRCv3 `draft/multiline` (with `batch`): a message of several lines
    /// comes as one `draft/multiline` batch.
    pub multiline: bool,
}

impl Format {
    /// How many encodings an event keeps: JSON, and per tag level with and
    /// without accounts, with and without the one capability that matters
    /// to its kind ([`Format::for_kind`]).
    const SLOTS: usize = 13;

    /// The format's number, how a client handle stores it in one atomic
    /// byte.
    pub fn index(self) -> u8 {
        match self {
            Format::Json => 0,
            Format::Irc(irc) => {
                1 + Self::tag_level(irc.tags) * 8
                    + u8::from(irc.account_tag) * 4
                    + u8::from(irc.extended_join) * 2
                    + u8::from(irc.multiline)
            }
        }
    }

    /// The format numbered `index` (see [`Format::index`]).
    pub fn from_index(index: u8) -> Format {
        let Some(irc) = index.checked_sub(1) else {
            return Format::Json;
        };
        Format::Irc(IrcFormat {
            tags: match irc / 8 {
                0 => IrcTags::None,
                1 => IrcTags::ServerTime,
                _ => IrcTags::MessageTags,
            },
            account_tag: irc & 4 != 0,
            extended_join: irc & 2 != 0,
            multiline: irc & 1 != 0,
        })
    }

    fn tag_level(tags: IrcTags) -> u8 {
        match tags {
            IrcTags::None => 0,
            IrcTags::ServerTime => 1,
            IrcTags::MessageTags => 2,
        }
    }

    /// The format as far as it changes how `kind` is written, so that
    /// clients whose differences do not matter to it share one encoding
    /// (`extended-join` changes only JOINs, `draft/multiline` only
    /// messages), and its slot in the event's cache.
    fn for_kind(self, kind: &EventKind) -> (Format, usize) {
        let Format::Irc(mut irc) = self else {
            return (self, 0);
        };
        let joins = matches!(kind, EventKind::Join { .. });
        let says = matches!(kind, EventKind::Message { .. } | EventKind::Direct { .. });
        irc.extended_join &= joins;
        irc.multiline &= says;
        let slot = 1
            + usize::from(Self::tag_level(irc.tags)) * 4
            + usize::from(irc.account_tag) * 2
            + usize::from(irc.extended_join || irc.multiline);
        (Format::Irc(irc), slot)
    }
}

/// Someone as every protocol shows them: in events, member lists and
/// summaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// User id (0 is System).
    pub id: u64,
    /// Nickname.
    pub nick: Arc<str>,
    /// IRC user name (the `user` in `nick!user@host`; a JSON client's is
    /// its nickname).
    pub user: Arc<str>,
    /// IRC host: a cloak made from the id ([`Person::cloak`]), never the
    /// address.
    pub host: Arc<str>,
    /// A bot (IRCv3 bot mode: user mode `B`); its messages carry the `bot`
    /// tag.
    #[serde(default)]
    pub bot: bool,
    /// The account they are logged into, if any (IRCv3 `account-tag` and
    /// `extended-join` show it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Arc<str>>,
}

impl Person {
    /// The host shown for user `id` instead of their address:
    /// `user-7.chatroom`, a name shaped like a host name (letters, digits,
    /// `-` and `.`), as IRC clients and RFC 2812 expect.
    pub fn cloak(id: u64) -> Arc<str> {
        format!("user-{id}.chatroom").into()
    }
}

/// IRCv3 client-only tags (`+draft/reply=42`) a sender put on a message,
/// relayed as they came to recipients who take tags (none: `None`).
pub type ClientTags = Option<Arc<[(String, Option<String>)]>>;

/// How an IRC client wrote a message in lines (IRCv3 `draft/multiline`):
/// each line, and whether it continues the one before without a line
/// break (`draft/multiline-concat`); the message's text is the lines
/// joined. `None` for a message written as one text.
pub type Lines = Option<Arc<[(Arc<str>, bool)]>>;

/// Notifications only some clients take (IRCv3 `away-notify`,
/// `account-notify`, `invite-notify`, `setname`): an event kind that needs
/// one reaches a client only if it asked for it (`Client::set_wants`).
pub mod wants {
    /// Others going away and coming back.
    pub const AWAY: u32 = 1;
    /// Others logging into and out of accounts.
    pub const ACCOUNT: u32 = 1 << 1;
    /// Invitations into rooms one is in.
    pub const INVITE: u32 = 1 << 2;
    /// Others changing their real name.
    pub const SETNAME: u32 = 1 << 3;
    /// Server operators' messages to everyone listening (IRC user mode
    /// `w`).
    pub const WALLOPS: u32 = 1 << 4;
    /// What the people one watches (IRC `MONITOR`) do to themselves (away,
    /// account, real name), as if one shared a room with them (IRCv3
    /// `extended-monitor`; each still needs its own bit above).
    pub const EXTENDED_MONITOR: u32 = 1 << 5;
    /// One's own read markers moved by another session of the same account
    /// (IRCv3 `draft/read-marker`; every JSON session).
    pub const READ_MARKER: u32 = 1 << 6;
    /// Others' hosts changed by an operator (IRCv3 `chghost`).
    pub const CHGHOST: u32 = 1 << 7;
}

/// Whose messages a read marker is about: a room or a conversation with
/// someone, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MarkerTarget {
    /// A room (its name, without IRC's `#`).
    Room(Arc<str>),
    /// Direct messages with this nickname.
    Nick(Arc<str>),
}

/// Who a `TAGMSG` is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagTarget {
    /// A room's members (its display name).
    Room(Arc<str>),
    /// One user (their id and nickname).
    User(u64, Arc<str>),
}

/// Why someone left the server, as others are told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuitReason {
    /// The server closed the connection, or saw it closed, for this reason.
    Closed(CloseReason),
    /// The user quit with a message of their own (IRC `QUIT :...`).
    Said(Arc<str>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A message in a room.
    Message {
        /// Its id.
        msg_id: u64,
        /// Its time (ms since the epoch).
        ts: i64,
        /// The room's display name.
        room: Arc<str>,
        /// The sender.
        from: Person,
        /// The text.
        text: Arc<str>,
        /// A `/me` action.
        action: bool,
        /// Sent as an IRC NOTICE (never to be answered automatically).
        notice: bool,
        /// The sender's client-only tags.
        tags: ClientTags,
        /// How it was written in lines, if it came as a multiline batch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines: Lines,
    },
    /// A direct message.
    Direct {
        /// Its id.
        msg_id: u64,
        /// Its time.
        ts: i64,
        /// The sender.
        from: Person,
        /// The recipient's id and nickname.
        to: (u64, Arc<str>),
        /// The text.
        text: Arc<str>,
        /// A `/me` action.
        action: bool,
        /// Sent as an IRC NOTICE.
        notice: bool,
        /// The sender's client-only tags.
        tags: ClientTags,
        /// How it was written in lines, if it came as a multiline batch.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines: Lines,
    },
    /// Tags without a message (IRCv3 `TAGMSG`: typing notifications,
    /// reactions); only clients that take tags see it.
    TagMsg {
        /// Its id.
        msg_id: u64,
        /// Its time.
        ts: i64,
        /// The sender.
        from: Person,
        /// A room, or one user.
        target: TagTarget,
        /// The client-only tags.
        tags: Arc<[(String, Option<String>)]>,
    },
    /// Someone joined a room.
    Join {
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Person,
        /// Their real name (IRCv3 `extended-join` shows it).
        #[serde(default)]
        realname: Arc<str>,
    },
    /// Someone left a room (parted).
    Part {
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Person,
        /// Their reason, if they gave one.
        reason: Option<Arc<str>>,
    },
    /// Someone left the server.
    Quit {
        /// Who.
        who: Person,
        /// Why.
        reason: QuitReason,
    },
    /// Someone changed nickname (`who` has the old one).
    Nick {
        /// Who, under their old nickname.
        who: Person,
        /// The new nickname.
        new: Arc<str>,
    },
    /// An operator removed someone from a room.
    Kick {
        /// The room.
        room: Arc<str>,
        /// The operator.
        by: Person,
        /// Who was removed.
        target: Person,
        /// Why.
        reason: Arc<str>,
    },
    /// A room operator changed the room's modes.
    Mode {
        /// The room.
        room: Arc<str>,
        /// Who changed them.
        by: Person,
        /// The changes as a mode string (`+o-v`).
        modes: Arc<str>,
        /// Its arguments, in order.
        args: Vec<Arc<str>>,
    },
    /// Someone invited the receiver into a room.
    Invite {
        /// The room.
        room: Arc<str>,
        /// Who invited.
        by: Person,
        /// Who is invited.
        target: Person,
    },
    /// Someone went away (`message`) or came back (`None`).
    Away {
        /// Who.
        who: Person,
        /// Their away message.
        message: Option<Arc<str>>,
    },
    /// Someone logged into an account (or out of one: `None`).
    Account {
        /// Who.
        who: Person,
        /// The account.
        account: Option<Arc<str>>,
    },
    /// Someone was invited into a room the receiver is in.
    Invited {
        /// The room.
        room: Arc<str>,
        /// Who invited.
        by: Person,
        /// Who is invited.
        target: Person,
    },
    /// A server operator changed the host others see for someone.
    Host {
        /// Who, with the host they had.
        who: Person,
        /// The new host.
        host: Arc<str>,
    },
    /// The receiver's own host, as others now see it.
    OwnHost {
        /// The server's name (the source of the IRC line).
        server: Arc<str>,
        /// The receiver's nickname.
        nick: Arc<str>,
        /// The host.
        host: Arc<str>,
    },
    /// Someone changed their real name.
    Realname {
        /// Who.
        who: Person,
        /// The new real name.
        realname: Arc<str>,
    },
    /// A server operator's message to everyone who listens for them.
    Wallops {
        /// The operator.
        from: Person,
        /// The text.
        text: Arc<str>,
    },
    /// A nickname its receiver watches (IRC `MONITOR`) is now someone's.
    Online {
        /// The server's name (the source of the notice).
        server: Arc<str>,
        /// Who has it.
        who: Person,
    },
    /// A nickname its receiver watches was given up.
    Offline {
        /// The server's name.
        server: Arc<str>,
        /// The nickname, as its last holder spelled it.
        nick: Arc<str>,
    },
    /// In a large room: who joined and left since the last summary.
    Summary {
        /// The room.
        room: Arc<str>,
        /// How many joined and left, and how many are there now.
        counts: (u32, u32, u32),
        /// The first few who joined (id, nickname).
        joined: Vec<(u64, Arc<str>)>,
        /// The first few who left (id, nickname).
        left: Vec<(u64, Arc<str>)>,
    },
    /// Someone set a room's topic.
    Topic {
        /// The change's id (it is kept in the room's history).
        #[serde(default)]
        msg_id: u64,
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Person,
        /// The new topic.
        topic: Arc<str>,
    },
    /// The receiver's own read marker moved (another session of their
    /// account set it).
    ReadMarker {
        /// The server's name (the source of the IRC line).
        server: Arc<str>,
        /// Which conversation.
        target: MarkerTarget,
        /// Where the marker stands now (ms since the epoch).
        ts: i64,
    },
}

impl EventKind {
    /// Who did it, if someone did (the source of IRC's line about it).
    pub fn actor(&self) -> Option<&Person> {
        match self {
            EventKind::Message { from, .. }
            | EventKind::Direct { from, .. }
            | EventKind::TagMsg { from, .. }
            | EventKind::Wallops { from, .. } => Some(from),
            EventKind::Join { who, .. }
            | EventKind::Part { who, .. }
            | EventKind::Quit { who, .. }
            | EventKind::Nick { who, .. }
            | EventKind::Topic { who, .. }
            | EventKind::Away { who, .. }
            | EventKind::Account { who, .. }
            | EventKind::Host { who, .. }
            | EventKind::Realname { who, .. } => Some(who),
            EventKind::Kick { by, .. }
            | EventKind::Mode { by, .. }
            | EventKind::Invite { by, .. }
            | EventKind::Invited { by, .. } => Some(by),
            EventKind::Summary { .. }
            | EventKind::Online { .. }
            | EventKind::Offline { .. }
            | EventKind::OwnHost { .. }
            | EventKind::ReadMarker { .. } => None,
        }
    }
}

/// An event and its encodings.
pub struct Event {
    kind: EventKind,
    /// When it happened (ms since the epoch), for presence timestamps.
    ts: i64,
    cache: [OnceLock<Bytes>; Format::SLOTS],
    /// The encodings as WebSocket messages, text then binary, made when
    /// the first receiver over WebSocket needs one.
    websocket: OnceLock<Box<[OnceLock<Bytes>; 2 * Format::SLOTS]>>,
}

impl Event {
    /// A new event, shared by every receiver.
    pub fn new(kind: EventKind, ts: i64) -> Arc<Event> {
        Arc::new(Event {
            kind,
            ts,
            cache: Default::default(),
            websocket: OnceLock::new(),
        })
    }

    /// What happened.
    pub fn kind(&self) -> &EventKind {
        &self.kind
    }

    /// Who did it, if someone did: a client gets the events it caused back
    /// as answers to its request (IRC's labeled-response).
    pub fn actor(&self) -> Option<u64> {
        self.kind.actor().map(|person| person.id)
    }

    /// The notification a client must want to get this (0: everyone
    /// gets it); see [`wants`].
    pub fn wanted(&self) -> u32 {
        match self.kind {
            EventKind::Away { .. } => wants::AWAY,
            EventKind::Account { .. } => wants::ACCOUNT,
            EventKind::Invited { .. } => wants::INVITE,
            EventKind::Realname { .. } => wants::SETNAME,
            EventKind::Wallops { .. } => wants::WALLOPS,
            EventKind::ReadMarker { .. } => wants::READ_MARKER,
            EventKind::Host { .. } => wants::CHGHOST,
            _ => 0,
        }
    }

    /// When it happened (ms since the epoch).
    pub fn ts(&self) -> i64 {
        self.ts
    }

    /// The event in `format`, encoded on first use.
    pub fn encoded(&self, format: Format) -> Bytes {
        let (format, slot) = format.for_kind(&self.kind);
        self.cache[slot]
            .get_or_init(|| match format {
                Format::Json => crate::json::events::encode(&self.kind, self.ts),
                Format::Irc(irc) => crate::irc::events::encode(&self.kind, self.ts, irc),
            })
            .clone()
    }

    /// The event in `format`, framed as `framing` says: over WebSocket,
    /// each line as one message, made on first use from [`Event::encoded`].
    pub fn framed(&self, format: Format, framing: Framing) -> Bytes {
        let Framing::WebSocket { binary } = framing else {
            return self.encoded(format);
        };
        let (_, slot) = format.for_kind(&self.kind);
        let slots = self.websocket.get_or_init(Default::default);
        slots[usize::from(binary) * Format::SLOTS + slot]
            .get_or_init(|| crate::http::websocket_messages(binary, &self.encoded(format)))
            .clone()
    }
}

/// A presence summary as text: `150 joined (a, b, ...), 3 left (c); 9876 here`.
pub fn summary_text(
    joined: u32,
    joined_names: &[(u64, Arc<str>)],
    left: u32,
    left_names: &[(u64, Arc<str>)],
    members: u32,
) -> String {
    let part = |count: u32, names: &[(u64, Arc<str>)], verb: &str| {
        let listed: Vec<&str> = names.iter().map(|(_, n)| &**n).collect();
        let more = if count as usize > names.len() {
            ", ..."
        } else {
            ""
        };
        format!("{count} {verb} ({}{more})", listed.join(", "))
    };
    let mut parts = Vec::new();
    if joined > 0 {
        parts.push(part(joined, joined_names, "joined"));
    }
    if left > 0 {
        parts.push(part(left, left_names, "left"));
    }
    format!("{}; {members} here", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bob() -> Person {
        Person {
            id: 7,
            nick: "bob".into(),
            user: "u".into(),
            host: Person::cloak(7),
            bot: false,
            account: None,
        }
    }

    #[test]
    fn each_format_is_encoded_once_and_shared() {
        let event = Event::new(
            EventKind::Join {
                room: "lobby".into(),
                who: bob(),
                realname: "Bob".into(),
            },
            0,
        );
        let a = event.encoded(Format::Json);
        let b = event.encoded(Format::Json);
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, not a copy");
        let c = event.encoded(Format::Irc(IrcFormat::default()));
        assert_eq!(
            c.as_ptr(),
            event.encoded(Format::Irc(IrcFormat::default())).as_ptr()
        );
        assert_ne!(a, c);
    }

    #[test]
    fn each_framing_is_made_once_from_its_format_and_shared() {
        let event = Event::new(
            EventKind::Join {
                room: "lobby".into(),
                who: bob(),
                realname: "Bob".into(),
            },
            0,
        );
        let irc = Format::Irc(IrcFormat::default());
        for format in [Format::Json, irc] {
            let lines = event.encoded(format);
            assert_eq!(
                event.framed(format, Framing::Lines).as_ptr(),
                lines.as_ptr()
            );
            for binary in [false, true] {
                let framing = Framing::WebSocket { binary };
                let framed = event.framed(format, framing);
                assert_eq!(framed, crate::http::websocket_messages(binary, &lines));
                assert_eq!(
                    framed.as_ptr(),
                    event.framed(format, framing).as_ptr(),
                    "the same bytes, not a copy"
                );
            }
        }
        // Text and binary, JSON and IRC: four encodings, none shared.
        let all: std::collections::HashSet<Bytes> = [Format::Json, irc]
            .into_iter()
            .flat_map(|format| {
                [false, true].map(|binary| event.framed(format, Framing::WebSocket { binary }))
            })
            .collect();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn summaries_name_the_first_few_and_elide_the_rest() {
        let users = |names: &[&str]| -> Vec<(u64, Arc<str>)> {
            names.iter().map(|n| (1, Arc::from(*n))).collect()
        };
        assert_eq!(
            summary_text(3, &users(&["a", "b"]), 0, &[], 120),
            "3 joined (a, b, ...); 120 here"
        );
        assert_eq!(
            summary_text(1, &users(&["a"]), 2, &users(&["b", "c"]), 99),
            "1 joined (a), 2 left (b, c); 99 here"
        );
        assert_eq!(
            summary_text(0, &[], 1, &users(&["张三"]), 5),
            "1 left (张三); 5 here"
        );
    }

    #[test]
    fn formats_round_trip_through_their_index() {
        let mut seen = std::collections::HashSet::new();
        for index in 0..25 {
            let format = Format::from_index(index);
            assert_eq!(format.index(), index);
            assert!(seen.insert(format), "{format:?} twice");
        }
    }

    #[test]
    fn formats_that_write_an_event_alike_share_its_slot() {
        let join = EventKind::Join {
            room: "lobby".into(),
            who: bob(),
            realname: "Bob".into(),
        };
        let mut slots = std::collections::HashMap::new();
        for index in 0..25 {
            let format = Format::from_index(index);
            let (written, slot) = format.for_kind(&join);
            assert!(slot < Format::SLOTS);
            if let Format::Irc(irc) = written {
                assert!(!irc.multiline, "multiline changes no JOIN");
            }
            assert_eq!(*slots.entry(slot).or_insert(written), written);
        }
        assert_eq!(slots.len(), Format::SLOTS);
    }

    #[test]
    fn events_can_be_carried_as_data() {
        let kind = EventKind::Quit {
            who: bob(),
            reason: QuitReason::Closed(CloseReason::SlowConsumer),
        };
        let text = serde_json::to_string(&kind).unwrap();
        let back: EventKind = serde_json::from_str(&text).unwrap();
        assert_eq!(back, kind);
    }
}
