//! The hub's vocabulary: what sessions hand it and what it answers, in its
//! own words (no wire format's types).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU32, Ordering};

use chatroom_proto::nick::NickError;
use chatroom_proto::room::{MAX_TOPIC_CHARS, RoomNameError};
use thiserror::Error;

use crate::accounts::{AccountSettings, Identity};
use crate::certfp::Fingerprint;
use crate::event::{Event, Format, Framing, Person};
use crate::outbox::Outbox;

/// A user id: 0 is System, users count up from 1.
pub type UserId = u64;

/// A logged-in client, as the hub reaches it: its id and its outbound
/// queue. Sessions hold one for the life of a login; rooms hold one per
/// member to deliver to.
pub struct Client {
    /// Their id, unique across restarts of a server with durable history.
    pub id: UserId,
    /// Where they connect from: for logs, address bans and the per-address
    /// quotas.
    pub address: SocketAddr,
    /// Their outbound queue.
    pub outbox: Arc<Outbox>,
    format: AtomicU8,
    /// What its transport takes events as: its outbox's, copied here so
    /// that a delivery reads it from the client's line, not from another
    /// of the outbox's (which a fan-out would then miss in the cache).
    framing: Framing,
    echo: AtomicBool,
    wants: AtomicU32,
    /// Whether what the client's own request causes is being gathered
    /// (checked before taking `answers`' lock, so that delivery costs
    /// nothing more when no request is labeled).
    gathering: AtomicBool,
    /// The answers to the request being handled (IRC's labeled-response).
    answers: parking_lot::Mutex<Vec<bytes::Bytes>>,
    /// When they last said something (ms since the epoch), for idle times.
    active: AtomicI64,
}

impl Client {
    /// A client writing events in `format`; `echo` sends it its own
    /// messages back.
    pub(super) fn new(
        id: UserId,
        address: SocketAddr,
        outbox: Arc<Outbox>,
        format: Format,
        echo: bool,
    ) -> Client {
        Client {
            id,
            address,
            format: AtomicU8::new(format.index()),
            framing: outbox.framing(),
            echo: AtomicBool::new(echo),
            wants: AtomicU32::new(0),
            gathering: AtomicBool::new(false),
            answers: parking_lot::Mutex::new(Vec::new()),
            active: AtomicI64::new(crate::clock::now_ms()),
            outbox,
        }
    }

    /// How events are written for this client.
    pub fn format(&self) -> Format {
        Format::from_index(self.format.load(Ordering::Relaxed))
    }

    /// Changes how events are written (an IRC client negotiating tags).
    pub fn set_format(&self, format: Format) {
        self.format.store(format.index(), Ordering::Relaxed);
    }

    /// Whether the client gets its own messages back (IRC `echo-message`).
    pub fn set_echo(&self, echo: bool) {
        self.echo.store(echo, Ordering::Relaxed);
    }

    /// Notes that the client said something now (its idle time restarts).
    pub(super) fn touch(&self) {
        self.active.store(crate::clock::now_ms(), Ordering::Relaxed);
    }

    /// When the client last said something (or logged in), in ms since
    /// the epoch.
    pub fn active(&self) -> i64 {
        self.active.load(Ordering::Relaxed)
    }

    pub(super) fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    /// Which notifications the client takes (`event::wants` bits: IRC's
    /// `away-notify` and the like).
    pub fn set_wants(&self, wants: u32) {
        self.wants.store(wants, Ordering::Relaxed);
    }

    /// Queues `event` for this client in its format, unless it is a
    /// notification the client did not ask for. What the client caused
    /// itself is an answer to its request (see [`Client::answer`]).
    pub(super) fn deliver(&self, event: &Event) {
        if self.gathering.load(Ordering::Relaxed) && event.actor() == Some(self.id) {
            if self.takes(event) {
                self.answer(event.encoded(self.format()));
            }
        } else {
            self.receive(event);
        }
    }

    /// Starts loading what [`Client::deliver`] reads of the client (its
    /// flags and where its outbox is), for a fan-out some members ahead of
    /// its deliveries (see [`Outbox`](crate::outbox::Outbox)).
    pub(super) fn prefetch(&self) {
        chatroom_prefetch::prefetch(&self.gathering);
        chatroom_prefetch::prefetch(&self.wants);
        chatroom_prefetch::prefetch(&self.outbox);
    }

    /// Queues `event` as something the client receives, never as an
    /// answer to its request (a message to oneself, as its recipient),
    /// framed for its transport.
    pub(super) fn receive(&self, event: &Event) {
        if self.takes(event) {
            self.outbox.push(event.framed(self.format(), self.framing));
        }
    }

    /// Which notifications the client takes (`event::wants` bits).
    pub(super) fn wants(&self) -> u32 {
        self.wants.load(Ordering::Relaxed)
    }

    /// Whether the client takes `event`: not a notification it did not ask
    /// for.
    fn takes(&self, event: &Event) -> bool {
        let wanted = event.wanted();
        wanted == 0 || self.wants.load(Ordering::Relaxed) & wanted != 0
    }

    /// Queues an answer to the client's own request: gathered while a
    /// labeled request is handled ([`Client::gather`]), queued otherwise.
    pub fn answer(&self, bytes: bytes::Bytes) {
        if self.gathering.load(Ordering::Relaxed) {
            self.answers.lock().push(bytes);
        } else {
            self.outbox.push(bytes);
        }
    }

    /// Starts (`true`) or ends gathering the answers to a request; ending
    /// returns what was gathered.
    pub fn gather(&self, on: bool) -> Vec<bytes::Bytes> {
        self.gathering.store(on, Ordering::Relaxed);
        std::mem::take(&mut *self.answers.lock())
    }
}

/// What a new connection tells the hub about itself at login.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The wanted nickname.
    pub nick: String,
    /// The IRC user name (JSON clients: their nickname).
    pub user: String,
    /// The real name, shown by WHOIS.
    pub realname: String,
    /// Where they connect from.
    pub address: SocketAddr,
    /// How events are to be written for them.
    pub format: Format,
    /// Whether they get their own messages back.
    pub echo: bool,
    /// The account they proved they own (see `Accounts::check`).
    pub identity: Identity,
    /// Whether they start in the lobby (JSON users always, as the tutorial's
    /// chat is the lobby; IRC users join their own list of channels).
    pub enter_lobby: bool,
    /// Whether they gave a password (JSON): then the nickname must have an
    /// account, or they would believe it protected when it is not. (IRC's
    /// `PASS` is ignored for a nickname without one, as is usual on IRC.)
    pub password_given: bool,
    /// The fingerprint of the TLS client certificate their connection
    /// presented, if any (IRC's WHOIS shows it to them and to operators).
    pub certfp: Option<Fingerprint>,
    /// Their id, when the cluster gave it with their nickname's lease
    /// (`Hub::claim_nick`); the hub makes one otherwise.
    pub id: Option<UserId>,
}

/// The hub's own limits.
#[derive(Debug, Clone)]
pub struct HubSettings {
    /// Most rooms one user may be in at once (0: no limit).
    pub max_rooms_per_user: usize,
    /// Longest message text, in bytes (0: no limit beyond the frame size).
    pub max_message_bytes: usize,
    /// How accounts are protected.
    pub accounts: AccountSettings,
    /// Rooms one address may create an hour (0: no limit).
    pub rooms_per_hour: u32,
    /// Rooms with at least this many members get presence summaries
    /// (`Hub::flush_presence`) instead of a notice per join and leave
    /// (0: always one notice each).
    pub presence_threshold: usize,
    /// The server's name, the source of what it says itself on IRC
    /// (MONITOR's notices).
    pub server_name: std::sync::Arc<str>,
}

/// Why the hub refused a request. Each protocol says it in its own words
/// (`json::errors`, `irc::errors`).
#[derive(Debug, Error)]
pub enum HubError {
    /// The nickname breaks the nickname rules.
    #[error(transparent)]
    BadNick(#[from] NickError),
    /// Someone online already has that nickname (compared case-insensitively).
    #[error("the nickname {0:?} is already in use")]
    NickTaken(String),
    /// The nickname looks like one someone online has, or a registered one
    /// (Unicode confusables: `Ьоb` with Cyrillic letters beside `bob`).
    #[error("the nickname {0:?} looks too much like one already in use")]
    LooksLike(String),
    /// The room name breaks the room name rules.
    #[error(transparent)]
    BadRoom(#[from] RoomNameError),
    /// No such room exists.
    #[error("there is no room {0:?}")]
    NoSuchRoom(String),
    /// The user is not in that room.
    #[error("you are not in {0:?}")]
    NotInRoom(String),
    /// The user is already in that room.
    #[error("you are already in {0:?}")]
    AlreadyInRoom(String),
    /// Nobody with that nickname is online.
    #[error("nobody called {0:?} is online")]
    NoSuchUser(String),
    /// The topic is too long.
    #[error("a topic has at most {MAX_TOPIC_CHARS} characters")]
    TopicTooLong,
    /// The session is no longer logged in (it is leaving).
    #[error("not logged in")]
    Gone,
    /// The nickname is registered to an account the user has not logged into.
    #[error("the nickname {0:?} is registered: log in with its password")]
    AccountRequired(String),
    /// The user is in as many rooms as allowed.
    #[error("you may be in at most {0} rooms")]
    TooManyRooms(usize),
    /// The message is too long.
    #[error("a message has at most {0} bytes")]
    MessageTooLong(usize),
    /// The request needs an operator.
    #[error("only operators may do that")]
    NotOperator,
    /// The user's address created as many rooms as allowed in an hour.
    #[error("too many new rooms from your address; join an existing one or try again later")]
    TooManyNewRooms,
    /// The nickname is banned.
    #[error("the nickname {0:?} is banned")]
    Banned(String),
    /// A password came with a nickname that has no account.
    #[error("the nickname {0:?} has no account: log in without a password, then register it")]
    NoAccount(String),
    /// The request needs an operator of the room.
    #[error("you are not an operator of {0:?}")]
    NotRoomOperator(String),
    /// The room does not take this user's messages (moderated, banned, or
    /// messages from outside).
    #[error("you cannot send to {0:?}: {1}")]
    CannotSend(String, &'static str),
    /// A ban of the room matches the user.
    #[error("you are banned from {0:?}")]
    BannedFromRoom(String),
    /// The room is invite-only and the user was not invited.
    #[error("{0:?} is invite-only: ask one of its operators for an invite")]
    InviteOnly(String),
    /// The room has a key and the user gave another (or none).
    #[error("{0:?} needs the right key")]
    BadKey(String),
    /// The room has as many members as its limit.
    #[error("{0:?} is full")]
    RoomFull(String),
    /// That user (`.0`) is not in the room (`.1`).
    #[error("{0:?} is not in {1:?}")]
    TheyAreNotInRoom(String, String),
    /// That user (`.0`) is already in the room (`.1`).
    #[error("{0:?} is already in {1:?}")]
    TheyAreInRoom(String, String),
    /// The room's ban (`b`) or exception (`e`) list is full.
    #[error("the list of {0:?} is full")]
    ListFull(String, char),
    /// The cluster's Redis could not be reached: nothing was done.
    #[error("the cluster is unreachable ({0}); try again")]
    ClusterDown(String),
}

/// A message the hub accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// Its id.
    pub msg_id: u64,
    /// Its timestamp, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// For direct messages: the recipient's away message, if they are away.
    pub away: Option<String>,
}

/// A nickname change the hub made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The nickname before.
    pub old: String,
    /// The nickname now, as normalized (what the user typed may differ:
    /// fullwidth letters, decomposed accents).
    pub new: String,
}

/// How a message is to be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    /// A `/me` action.
    pub action: bool,
    /// An IRC NOTICE (never to be answered automatically).
    pub notice: bool,
    /// IRCv3 client-only tags to relay with it.
    pub tags: crate::event::ClientTags,
    /// The lines it was written in (an IRC multiline batch).
    pub lines: crate::event::Lines,
}

impl Style {
    /// A chat message, `/me` action or not (never a notice: only IRC sends
    /// those), without tags.
    pub fn chat(action: bool) -> Self {
        Style {
            action,
            ..Style::default()
        }
    }
}

/// A member of a room, as a joiner learns of them.
#[derive(Debug, Clone)]
pub struct Member {
    /// Who they are.
    pub person: Person,
    /// Their standing in the room.
    pub standing: Standing,
    /// Their away message, if they are away (this node's users only: a
    /// cluster does not share who is away).
    pub away: Option<String>,
}

/// What a joiner learns about the room.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The folded room key (for history requests).
    pub key: String,
    /// The room's display name.
    pub name: String,
    /// Its topic.
    pub topic: Topic,
    /// Its members, the joiner included, by nickname.
    pub members: Vec<Member>,
    /// Whether the room is secret (hidden from those outside).
    pub secret: bool,
    /// Messages with ids below this were said before the join (replay them
    /// from history); later ones are delivered live.
    pub horizon: u64,
}

/// A member's standing in a room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// One of the room's operators (`@`).
    pub operator: bool,
    /// Has voice (`+`).
    pub voice: bool,
}

impl Standing {
    /// The nickname prefixes: the highest only (`@`), or every one
    /// (`@+`, IRCv3 `multi-prefix`).
    pub fn prefixes(self, all: bool) -> &'static str {
        match (self.operator, self.voice, all) {
            (true, true, true) => "@+",
            (true, _, _) => "@",
            (false, true, _) => "+",
            (false, false, _) => "",
        }
    }

    /// Whether they speak in a moderated room, and despite a ban.
    pub fn may_speak(self) -> bool {
        self.operator || self.voice
    }
}

/// A room's modes as a member or a passer-by sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomModes {
    /// The room's display name.
    pub room: String,
    /// The mode string (`+klnt`).
    pub modes: String,
    /// Its arguments (the key as `*` for non-members).
    pub args: Vec<String>,
    /// When the room was created (ms since the epoch; 0 if unknown).
    pub created: i64,
}

/// An entry of a room's ban or exception list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskEntry {
    /// The mask (`nick!user@host`, `$a:account`).
    pub mask: String,
    /// Who set it.
    pub by: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// What a mode request did.
#[derive(Debug, Default)]
pub struct ModeOutcome {
    /// The room's display name.
    pub room: String,
    /// The changes made (announced to the room).
    pub applied: Vec<chatroom_proto::modes::Change>,
    /// Changes refused one by one, and why (the others still applied).
    pub refused: Vec<(chatroom_proto::modes::Change, HubError)>,
    /// Lists asked for (`MODE #r b`).
    pub lists: Vec<(chatroom_proto::modes::List, Vec<MaskEntry>)>,
}

/// A room's topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topic {
    /// The room's display name.
    pub room: String,
    /// The text ("" when none).
    pub text: String,
    /// Who set it.
    pub set_by: Option<String>,
    /// When, in milliseconds since the Unix epoch.
    pub set_at: Option<i64>,
}

/// A room as a list of rooms shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// The room's display name.
    pub name: String,
    /// How many are in it.
    pub members: usize,
    /// Its topic ("" when none).
    pub topic: String,
    /// When it was created (ms since the epoch; 0 if unknown).
    pub created: i64,
    /// When its topic was set, if it has one.
    pub topic_set_at: Option<i64>,
}

/// Someone with what WHO and WHOIS show about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Who they are.
    pub person: Person,
    /// Real name.
    pub realname: String,
    /// Their away message, if away.
    pub away: Option<String>,
    /// The rooms they are in (display names).
    pub rooms: Vec<String>,
    /// When they logged in (ms since the epoch).
    pub since: i64,
    /// The account they are logged into.
    pub account: Option<String>,
    /// Whether they are an operator.
    pub operator: bool,
    /// Whether they hide from searches by people who share no room with
    /// them (IRC user mode `+i`).
    pub invisible: bool,
    /// When they last said something, or logged in (ms since the epoch).
    pub active: i64,
    /// The fingerprint of their TLS client certificate, if they presented
    /// one.
    pub certfp: Option<Fingerprint>,
}

/// Someone who left or gave up a nickname, as the nickname history
/// (IRC `WHOWAS`) remembers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    /// The nickname they had.
    pub nick: String,
    /// Their IRC user name.
    pub user: String,
    /// The host everyone saw.
    pub host: String,
    /// Their real name.
    pub realname: String,
    /// When they left it (ms since the epoch).
    pub at: i64,
}

/// How many are online and in rooms, as IRC's `LUSERS` tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Users online.
    pub users: usize,
    /// Of them, those invisible (IRC user mode `+i`).
    pub invisible: usize,
    /// Of them, server operators.
    pub operators: usize,
    /// Rooms with members.
    pub rooms: usize,
    /// The most users online at once since the server started.
    pub peak: usize,
}

impl Census {
    /// The counts once one more user is online (for a welcome built just
    /// before the login that makes it true).
    pub fn with_arrival(self) -> Census {
        let users = self.users + 1;
        Census {
            users,
            peak: self.peak.max(users),
            ..self
        }
    }
}

/// What a ban is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanTarget {
    /// A nickname (and its look-alikes).
    Nickname(String),
    /// An address.
    Address(IpAddr),
}
