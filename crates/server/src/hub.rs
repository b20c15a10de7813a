//! The hub: who is online, which rooms exist, and who hears what.
//!
//! Protocol-agnostic shared state behind one short, non-async critical
//! section: users by id, the nickname index, rooms and their members. Sessions
//! call it synchronously; it never awaits and never writes to a socket. Each
//! happening becomes one [`Event`], encoded at most once per wire format and
//! queued on every receiver's [`Outbox`]. Message ids are taken under the
//! lock, so every member of a room sees its messages in id order, and a
//! join's history horizon splits "replayed" from "live" exactly.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::chat_text;
use chatroom_proto::json::{BanTarget, MemberInfo, PresenceSummary, RoomInfo, Secret};
use chatroom_proto::nick::{self, NickError};
use chatroom_proto::room::{self, LOBBY, MAX_TOPIC_CHARS, RoomNameError};
use parking_lot::Mutex;
use thiserror::Error;

use crate::accounts::{AccountError, AccountSettings, Accounts, Ban, Identity};
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Format, Who};
use crate::limits::HourlyQuota;
use crate::outbox::{CloseReason, Outbox};
use crate::store::{Loaded, Receipt, Store, StoredMessage, StoredRoom};

/// A user id: 0 is System, users count up from 1.
pub type UserId = u64;

/// One logged-in connection, as the hub sees it.
pub struct Member {
    /// Their id, unique across restarts of a server with durable history.
    pub id: UserId,
    /// Where they connect from, for logs.
    pub peer: SocketAddr,
    /// Their outbound queue.
    pub outbox: Arc<Outbox>,
    format: AtomicU8,
    echo: AtomicBool,
}

impl Member {
    /// How events are written for this member.
    pub fn format(&self) -> Format {
        match self.format.load(Ordering::Relaxed) {
            0 => Format::Json,
            1 => Format::Irc,
            _ => Format::IrcTagged,
        }
    }

    /// Changes how events are written (an IRC client negotiating tags).
    pub fn set_format(&self, format: Format) {
        let n = match format {
            Format::Json => 0,
            Format::Irc => 1,
            Format::IrcTagged => 2,
        };
        self.format.store(n, Ordering::Relaxed);
    }

    /// Whether the member gets its own messages back (IRC `echo-message`).
    pub fn set_echo(&self, echo: bool) {
        self.echo.store(echo, Ordering::Relaxed);
    }

    fn echo(&self) -> bool {
        self.echo.load(Ordering::Relaxed)
    }

    fn deliver(&self, event: &Event) {
        self.outbox.push(event.encoded(self.format()));
    }
}

/// What a new connection tells the hub about itself.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The wanted nickname.
    pub nick: String,
    /// The IRC user name (JSON clients: their nickname).
    pub user: String,
    /// The real name, shown by WHOIS.
    pub realname: String,
    /// Where they connect from.
    pub peer: SocketAddr,
    /// How events are to be written for them.
    pub format: Format,
    /// Whether they get their own messages back.
    pub echo: bool,
    /// The account they proved they own (see [`Accounts::check`]).
    pub identity: Identity,
    /// Whether they gave a password (JSON): then the nickname must have an
    /// account, or they would believe it protected when it is not. (IRC's
    /// `PASS` is ignored for a nickname without one, as is usual on IRC.)
    pub password_given: bool,
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
    /// ([`Hub::flush_presence`]) instead of a notice per join and leave
    /// (0: always one notice each).
    pub presence_threshold: usize,
}

/// Why the hub refused a request.
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
}

impl HubError {
    /// The JSON protocol error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::BadNick(_) => ErrorCode::InvalidNickname,
            HubError::NickTaken(_) | HubError::LooksLike(_) => ErrorCode::NicknameTaken,
            HubError::BadRoom(_) => ErrorCode::InvalidRoomName,
            HubError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
            HubError::NotInRoom(_) => ErrorCode::NotInRoom,
            HubError::AlreadyInRoom(_) => ErrorCode::AlreadyInRoom,
            HubError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            HubError::TopicTooLong => ErrorCode::InvalidField,
            HubError::Gone => ErrorCode::NotLoggedIn,
            HubError::AccountRequired(_) => ErrorCode::AccountRequired,
            HubError::TooManyRooms(_) => ErrorCode::TooManyRooms,
            HubError::MessageTooLong(_) => ErrorCode::MessageTooLong,
            HubError::NotOperator => ErrorCode::NotOperator,
            HubError::TooManyNewRooms => ErrorCode::QuotaExceeded,
            HubError::Banned(_) => ErrorCode::Banned,
            HubError::NoAccount(_) => ErrorCode::NoAccount,
        }
    }
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// A `/me` action.
    pub action: bool,
    /// An IRC NOTICE (never to be answered automatically).
    pub notice: bool,
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
    pub members: Vec<MemberInfo>,
    /// Messages with ids below this were said before the join (replay them
    /// from history); later ones are delivered live.
    pub horizon: u64,
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

/// What WHO and WHOIS show about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// User id.
    pub id: UserId,
    /// Nickname.
    pub nick: String,
    /// IRC user name.
    pub user: String,
    /// IRC host (a cloak).
    pub host: String,
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
}

struct User {
    member: Arc<Member>,
    who: Who,
    identity: Identity,
    realname: String,
    away: Option<String>,
    since: i64,
    /// Keys of the rooms they are in.
    rooms: RoomKeys,
}

/// A user's room keys, kept sorted in a plain vector: users are in a few
/// rooms, and a B-tree node per user would cost more than the keys.
#[derive(Debug, Clone, Default)]
struct RoomKeys(Vec<String>);

impl RoomKeys {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|k| k.as_str().cmp(key))
    }

    fn contains(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn insert(&mut self, key: String) {
        if let Err(at) = self.find(&key) {
            self.0.insert(at, key);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Ok(at) = self.find(key) {
            self.0.remove(at);
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a RoomKeys {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

struct Room {
    topic: Topic,
    members: HashMap<UserId, Arc<Member>>,
    /// Joins and leaves waiting for the next summary (large rooms only).
    tally: Tally,
}

/// Who came and went in a large room since its last summary.
#[derive(Default)]
struct Tally {
    joined: u32,
    left: u32,
    joined_users: Vec<(UserId, Arc<str>)>,
    left_users: Vec<(UserId, Arc<str>)>,
}

impl Tally {
    fn count(count: &mut u32, users: &mut Vec<(UserId, Arc<str>)>, who: &Who) {
        *count += 1;
        if users.len() < PresenceSummary::NAMES {
            users.push((who.id, who.nick.clone()));
        }
    }
}

impl Room {
    fn new(name: &str) -> Room {
        Room {
            topic: Topic {
                room: name.to_owned(),
                ..Topic::default()
            },
            members: HashMap::new(),
            tally: Tally::default(),
        }
    }

    /// Whether joins and leaves are summarised rather than announced one by
    /// one: the room has at least `threshold` members (0: never).
    fn is_large(&self, threshold: usize) -> bool {
        threshold > 0 && self.members.len() >= threshold
    }

    /// Queues the event for every member but `except`.
    fn tell(&self, event: &Event, except: UserId) {
        for (&id, member) in &self.members {
            if id != except {
                member.deliver(event);
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// See [`HubSettings::presence_threshold`].
    presence_threshold: usize,
    /// Boxed: the table keeps spare slots as it grows, and a slot holding a
    /// pointer wastes less than one holding a whole user.
    users: HashMap<UserId, Box<User>>,
    /// Folded nickname to id.
    nicks: HashMap<String, UserId>,
    /// Online users by a hash of their nickname's look-alike skeleton:
    /// 16 bytes a user where the skeletons themselves would take a hundred
    /// (every idle connection pays for this). Candidates found by hash are
    /// checked against their real nickname (`nick::looks_alike`).
    skeletons: BTreeSet<(u64, UserId)>,
    /// By folded name. Kept while they have members or a topic (the lobby always).
    rooms: HashMap<String, Room>,
}

/// The shared state of one server.
pub struct Hub {
    state: Mutex<State>,
    next_user: AtomicU64,
    next_msg: AtomicU64,
    epoch: u64,
    store: Store,
    accounts: Accounts,
    /// Rooms created, per network.
    new_rooms: HourlyQuota,
    settings: HubSettings,
}

impl Hub {
    /// A hub continuing from what the store loaded (fails only if the
    /// password hashing threads cannot be started).
    pub fn new(store: Store, loaded: &Loaded, settings: HubSettings) -> std::io::Result<Self> {
        let mut state = State {
            presence_threshold: settings.presence_threshold,
            ..State::default()
        };
        for stored in &loaded.rooms {
            let mut room = Room::new(&stored.name);
            room.topic.text = stored.topic.clone();
            room.topic.set_by = stored.set_by.clone();
            room.topic.set_at = stored.set_at;
            state.rooms.insert(stored.key.clone(), room);
        }
        state
            .rooms
            .entry(LOBBY.to_owned())
            .or_insert_with(|| Room::new(LOBBY));
        let accounts = Accounts::new(
            store.clone(),
            &loaded.accounts,
            &loaded.bans,
            &settings.accounts,
        )?;
        Ok(Hub {
            state: Mutex::new(state),
            next_user: AtomicU64::new(loaded.ids.next_user),
            next_msg: AtomicU64::new(loaded.ids.next_message),
            epoch: loaded.ids.epoch,
            store,
            accounts,
            new_rooms: HourlyQuota::new(settings.rooms_per_hour),
            settings,
        })
    }

    /// The history store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Identifies this server's id space: message ids never repeat within
    /// one epoch (see `store::ids`), so clients that remember ids they have
    /// seen must forget them when the epoch changes.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// At a clean shutdown, once every connection has left: tells the store
    /// where ids continue, so that the next run leaves no gap.
    pub fn release_ids(&self) {
        self.store.release_ids(
            self.next_msg.load(Ordering::Relaxed),
            self.next_user.load(Ordering::Relaxed),
        );
    }

    /// Accounts, operators and bans.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// A nickname may be used by someone who logged into its account, or by
    /// anyone when it has none (unless every login needs an account: then
    /// only by its account's owner); banned nicknames by nobody.
    fn may_use(&self, nick: &str, identity: &Identity) -> Result<(), HubError> {
        if self.accounts.nick_ban(nick).is_some() {
            return Err(HubError::Banned(nick.to_owned()));
        }
        let owns = identity.account.as_deref() == Some(nick::fold(nick).as_str());
        if !owns && (self.settings.accounts.require_account || self.accounts.is_registered(nick)) {
            return Err(HubError::AccountRequired(nick.to_owned()));
        }
        Ok(())
    }

    fn check_length(&self, text: &str) -> Result<(), HubError> {
        let max = self.settings.max_message_bytes;
        if max > 0 && text.len() > max {
            return Err(HubError::MessageTooLong(max));
        }
        Ok(())
    }

    /// Logs a user in and puts them in the lobby. `welcome` builds their
    /// first frames from their new id and the lobby they are now in; it is
    /// queued before anything else can reach them, so the login reply is
    /// always the first thing a client reads. The lobby is told they joined.
    ///
    /// `welcome` runs under the hub's lock: it must not call the hub.
    pub fn login(
        &self,
        arrival: Arrival,
        outbox: Arc<Outbox>,
        welcome: impl FnOnce(&Member, &str, &Joined) -> Bytes,
    ) -> Result<Arc<Member>, HubError> {
        let nick = nick::normalize(&arrival.nick)?;
        self.may_use(&nick, &arrival.identity)?;
        let mut state = self.state.lock();
        self.free_for(&state, &nick, None)?;
        if arrival.password_given && arrival.identity.account.is_none() {
            return Err(HubError::NoAccount(nick));
        }
        let id = self.next_user.fetch_add(1, Ordering::Relaxed);
        self.store.user_id(id);
        let member = Arc::new(Member {
            id,
            peer: arrival.peer,
            outbox,
            format: AtomicU8::new(0),
            echo: AtomicBool::new(arrival.echo),
        });
        member.set_format(arrival.format);
        let who = Who {
            id,
            nick: nick.as_str().into(),
            user: arrival.user.as_str().into(),
            host: format!("user/{id}").into(),
        };
        state.nicks.insert(nick::fold(&nick), id);
        state.add_skeleton(&nick, id);
        state.users.insert(
            id,
            Box::new(User {
                member: member.clone(),
                who,
                identity: arrival.identity,
                realname: arrival.realname,
                away: None,
                since: now_ms(),
                rooms: RoomKeys::default(),
            }),
        );
        state.enter(id, LOBBY);
        let lobby = self.joined(&state, id, LOBBY)?;
        member.outbox.push(welcome(&member, &nick, &lobby));
        Ok(member)
    }

    /// Refuses `nick` if someone other than `me` is online with it, or with
    /// a name it looks like, or if it looks like a registered name that is
    /// not its own.
    fn free_for(&self, state: &State, nick: &str, me: Option<UserId>) -> Result<(), HubError> {
        if state
            .nicks
            .get(&nick::fold(nick))
            .is_some_and(|id| Some(*id) != me)
        {
            return Err(HubError::NickTaken(nick.to_owned()));
        }
        if state.lookalike_online(nick, me) || self.accounts.lookalike(nick).is_some() {
            return Err(HubError::LooksLike(nick.to_owned()));
        }
        Ok(())
    }

    /// Removes a user from every room and from the server. Everyone who
    /// shared a room with them is told once, except at shutdown, when
    /// everyone is leaving at once and is told so directly. `message` is a
    /// quit message of the user's own (IRC `QUIT :...`).
    pub fn leave(&self, member: &Member, reason: CloseReason, message: Option<&str>) {
        let mut state = self.state.lock();
        let Some(user) = state.users.remove(&member.id) else {
            return;
        };
        state.nicks.remove(&nick::fold(&user.who.nick));
        state.remove_skeleton(&user.who.nick, member.id);
        if reason == CloseReason::Shutdown {
            for key in &user.rooms {
                state.remove_from_room(key, member.id);
            }
            return;
        }
        // Large rooms count the departure for their next summary; everyone
        // sharing a small room with the user is told once, now.
        let threshold = state.presence_threshold;
        let (large, small): (Vec<String>, Vec<String>) = user
            .rooms
            .iter()
            .cloned()
            .partition(|key| state.rooms.get(key).is_some_and(|r| r.is_large(threshold)));
        let audience = state.audience(member.id, &small);
        for key in &large {
            if let Some(room) = state.rooms.get_mut(key) {
                let tally = &mut room.tally;
                Tally::count(&mut tally.left, &mut tally.left_users, &user.who);
            }
        }
        for key in &user.rooms {
            state.remove_from_room(key, member.id);
        }
        let reason = match message {
            Some(text) => format!("Quit: {}", chat_text::sanitize(text)),
            None => reason.as_str().to_owned(),
        };
        let event = Event::new(
            EventKind::Quit {
                who: user.who,
                reason: reason.into(),
            },
            now_ms(),
        );
        for other in audience {
            other.deliver(&event);
        }
    }

    /// Relays `text` to everyone else in `room` (the lobby when `None`) and
    /// stores it; `receipt` is told once it is durable.
    pub fn say(
        &self,
        member: &Member,
        room_name: Option<&str>,
        text: &str,
        style: Style,
        receipt: Option<Receipt>,
    ) -> Result<Posted, HubError> {
        self.check_length(text)?;
        let text = chat_text::sanitize(text);
        let state = self.state.lock();
        let from = state.user(member.id)?.who.clone();
        let (key, room) = state.joined_room(member.id, room_name.unwrap_or(LOBBY))?;
        let (msg_id, ts) = self.next_post();
        let text: Arc<str> = text.as_ref().into();
        let name: Arc<str> = room.topic.room.as_str().into();
        let event = Event::new(
            EventKind::Message {
                msg_id,
                ts,
                room: name.clone(),
                from: from.clone(),
                text: text.clone(),
                action: style.action,
                notice: style.notice,
            },
            ts,
        );
        let except = if member.echo() { 0 } else { member.id };
        room.tell(&event, except);
        self.store.message(
            StoredMessage {
                id: msg_id,
                ts,
                room: Some((key, name.to_string())),
                sender_id: member.id,
                sender_nick: from.nick.to_string(),
                recipient: None,
                text: text.to_string(),
                action: style.action,
            },
            receipt,
        );
        Ok(Posted {
            msg_id,
            ts,
            away: None,
        })
    }

    /// Sends `text` privately to the user called `to`, and stores it.
    /// `reply` learns the recipient (their nickname, and their away
    /// message if they are away) before the message is stored, and returns
    /// the receipt to tell once it is durable: what it queues for the
    /// sender comes before the acknowledgement.
    ///
    /// `reply` runs under the hub's lock: it must not call the hub.
    pub fn direct(
        &self,
        member: &Member,
        to: &str,
        text: &str,
        style: Style,
        reply: impl FnOnce(&str, Option<&str>) -> Option<Receipt>,
    ) -> Result<Posted, HubError> {
        self.check_length(text)?;
        let text = chat_text::sanitize(text);
        let state = self.state.lock();
        let from = state.user(member.id)?.who.clone();
        let recipient = state
            .nicks
            .get(&nick::fold(to))
            .and_then(|id| state.users.get(id))
            .ok_or_else(|| HubError::NoSuchUser(to.to_owned()))?;
        let (msg_id, ts) = self.next_post();
        let text: Arc<str> = text.as_ref().into();
        let event = Event::new(
            EventKind::Direct {
                msg_id,
                ts,
                from: from.clone(),
                to: (recipient.who.id, recipient.who.nick.clone()),
                text: text.clone(),
                action: style.action,
                notice: style.notice,
            },
            ts,
        );
        recipient.member.deliver(&event);
        if member.echo() && recipient.who.id != member.id {
            member.deliver(&event);
        }
        let receipt = reply(&recipient.who.nick, recipient.away.as_deref());
        self.store.message(
            StoredMessage {
                id: msg_id,
                ts,
                room: None,
                sender_id: member.id,
                sender_nick: from.nick.to_string(),
                recipient: Some((recipient.who.id, recipient.who.nick.to_string())),
                text: text.to_string(),
                action: style.action,
            },
            receipt,
        );
        Ok(Posted {
            msg_id,
            ts,
            away: recipient.away.clone(),
        })
    }

    /// Puts the user in a room, creating it if needed. `reply` builds the
    /// answer from what they learn; it is queued before any of the room's
    /// traffic can reach them. The room's members are told.
    ///
    /// `reply` runs under the hub's lock: it must not call the hub.
    pub fn join(
        &self,
        member: &Member,
        room_name: &str,
        reply: impl FnOnce(&Joined) -> Bytes,
    ) -> Result<Joined, HubError> {
        room::validate(room_name)?;
        let mut state = self.state.lock();
        let user = state.user(member.id)?;
        if user.rooms.contains(&room::fold(room_name)) {
            return Err(HubError::AlreadyInRoom(room_name.to_owned()));
        }
        let max = self.settings.max_rooms_per_user;
        if max > 0 && user.rooms.len() >= max {
            return Err(HubError::TooManyRooms(max));
        }
        if !state.rooms.contains_key(&room::fold(room_name))
            && !self
                .new_rooms
                .take(member.peer.ip(), std::time::Instant::now())
        {
            return Err(HubError::TooManyNewRooms);
        }
        state.enter(member.id, room_name);
        let joined = self.joined(&state, member.id, room_name)?;
        member.outbox.push(reply(&joined));
        Ok(joined)
    }

    /// Takes the user out of a room; its members are told.
    pub fn part(
        &self,
        member: &Member,
        room_name: &str,
        reason: Option<&str>,
    ) -> Result<String, HubError> {
        let mut state = self.state.lock();
        let who = state.user(member.id)?.who.clone();
        let (key, room) = state.joined_room(member.id, room_name)?;
        let name = room.topic.room.clone();
        if room.is_large(state.presence_threshold) {
            if let Some(room) = state.rooms.get_mut(&key) {
                let tally = &mut room.tally;
                Tally::count(&mut tally.left, &mut tally.left_users, &who);
            }
        } else {
            let event = Event::new(
                EventKind::Part {
                    room: name.as_str().into(),
                    who,
                    reason: reason.map(|r| chat_text::sanitize(r).as_ref().into()),
                },
                now_ms(),
            );
            room.tell(&event, member.id);
        }
        state.remove_from_room(&key, member.id);
        if let Some(user) = state.users.get_mut(&member.id) {
            user.rooms.remove(&key);
        }
        Ok(name)
    }

    /// Every room with members (and the lobby), by name.
    pub fn rooms(&self) -> Vec<RoomInfo> {
        let state = self.state.lock();
        let mut rooms: Vec<RoomInfo> = state
            .rooms
            .iter()
            .filter(|(key, room)| !room.members.is_empty() || key.as_str() == LOBBY)
            .map(|(_, room)| RoomInfo {
                name: room.topic.room.clone(),
                members: u32::try_from(room.members.len()).unwrap_or(u32::MAX),
                topic: room.topic.text.clone(),
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// A room's display name and its members' profiles, by nickname.
    pub fn who(&self, room_name: &str) -> Result<(String, Vec<Profile>), HubError> {
        let key = room::fold(room_name);
        let state = self.state.lock();
        match state.rooms.get(&key) {
            Some(room) if !room.members.is_empty() || key == LOBBY => {
                let mut members: Vec<Profile> = room
                    .members
                    .keys()
                    .filter_map(|id| state.profile(*id))
                    .collect();
                members.sort_by(|a, b| a.nick.cmp(&b.nick));
                Ok((room.topic.room.clone(), members))
            }
            _ => Err(HubError::NoSuchRoom(room_name.to_owned())),
        }
    }

    /// What WHOIS shows about the user called `nick`.
    pub fn whois(&self, nick: &str) -> Option<Profile> {
        let state = self.state.lock();
        state
            .nicks
            .get(&nick::fold(nick))
            .and_then(|id| state.profile(*id))
    }

    /// A room's topic.
    pub fn topic(&self, room_name: &str) -> Result<Topic, HubError> {
        let key = room::fold(room_name);
        let state = self.state.lock();
        state
            .rooms
            .get(&key)
            .map(|room| room.topic.clone())
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))
    }

    /// Sets a room's topic (members only); the other members are told and
    /// the topic is stored.
    pub fn set_topic(
        &self,
        member: &Member,
        room_name: &str,
        text: &str,
    ) -> Result<Topic, HubError> {
        if text.chars().count() > MAX_TOPIC_CHARS {
            return Err(HubError::TopicTooLong);
        }
        let text = &*chat_text::sanitize(text);
        let mut state = self.state.lock();
        let user = state.user(member.id)?;
        let who = user.who.clone();
        let key = room::fold(room_name);
        // Members set topics; operators set any room's topic.
        if !user.identity.operator {
            state.joined_room(member.id, room_name)?;
        }
        let Some(room) = state.rooms.get_mut(&key) else {
            return Err(HubError::NoSuchRoom(room_name.to_owned()));
        };
        room.topic.text = text.to_owned();
        room.topic.set_by = Some(who.nick.to_string());
        room.topic.set_at = Some(now_ms());
        let topic = room.topic.clone();
        let event = Event::new(
            EventKind::Topic {
                room: topic.room.as_str().into(),
                who,
                topic: text.into(),
            },
            now_ms(),
        );
        room.tell(&event, member.id);
        self.store.topic(StoredRoom {
            key,
            name: topic.room.clone(),
            topic: topic.text.clone(),
            set_by: topic.set_by.clone(),
            set_at: topic.set_at,
        });
        Ok(topic)
    }

    /// Changes the user's nickname (as normalized: see `nick::normalize`);
    /// everyone sharing a room is told once.
    pub fn rename(&self, member: &Member, new: &str) -> Result<Renamed, HubError> {
        let new = nick::normalize(new)?;
        let mut state = self.state.lock();
        self.may_use(&new, &state.user(member.id)?.identity)?;
        self.free_for(&state, &new, Some(member.id))?;
        let old = state.user(member.id)?.who.clone();
        state.nicks.remove(&nick::fold(&old.nick));
        state.remove_skeleton(&old.nick, member.id);
        state.nicks.insert(nick::fold(&new), member.id);
        state.add_skeleton(&new, member.id);
        let rooms = match state.users.get_mut(&member.id) {
            Some(user) => {
                user.who.nick = new.as_str().into();
                user.rooms.clone()
            }
            None => return Err(HubError::Gone),
        };
        let event = Event::new(
            EventKind::Nick {
                who: old.clone(),
                new: new.as_str().into(),
            },
            now_ms(),
        );
        for other in state.audience(member.id, &rooms) {
            other.deliver(&event);
        }
        Ok(Renamed {
            old: old.nick.to_string(),
            new,
        })
    }

    /// Removes `target` from `room_name` (operators only); the room, the
    /// target included, is told.
    pub fn kick(
        &self,
        op: &Member,
        room_name: &str,
        target: &str,
        reason: &str,
    ) -> Result<(), HubError> {
        let mut state = self.state.lock();
        let by = state.operator(op.id)?.who.clone();
        let target_who = state.by_nick(target)?.who.clone();
        let (key, room) = state.joined_room(target_who.id, room_name)?;
        let event = Event::new(
            EventKind::Kick {
                room: room.topic.room.as_str().into(),
                by,
                target: target_who.clone(),
                reason: chat_text::sanitize(reason).as_ref().into(),
            },
            now_ms(),
        );
        room.tell(&event, 0);
        state.remove_from_room(&key, target_who.id);
        if let Some(user) = state.users.get_mut(&target_who.id) {
            user.rooms.remove(&key);
        }
        Ok(())
    }

    /// Disconnects the user called `target` (operators only).
    pub fn kill(&self, op: &Member, target: &str) -> Result<(), HubError> {
        let state = self.state.lock();
        state.operator(op.id)?;
        state
            .by_nick(target)?
            .member
            .outbox
            .close(CloseReason::Killed);
        Ok(())
    }

    /// Bans a nickname (operators only), disconnecting whoever uses it.
    pub fn ban_nick(&self, op: &Member, target: &str, reason: &str) -> Result<(), HubError> {
        let state = self.state.lock();
        let by = state.operator(op.id)?.who.nick.to_string();
        self.accounts.ban_nick(
            target,
            Ban {
                reason: chat_text::sanitize(reason).into_owned(),
                by,
            },
        );
        if let Ok(user) = state.by_nick(target) {
            user.member.outbox.close(CloseReason::Banned);
        }
        Ok(())
    }

    /// Bans an address (operators only), disconnecting everyone from it.
    /// Returns how many were disconnected.
    pub fn ban_ip(&self, op: &Member, ip: IpAddr, reason: &str) -> Result<usize, HubError> {
        let state = self.state.lock();
        let by = state.operator(op.id)?.who.nick.to_string();
        self.accounts.ban_ip(
            ip,
            Ban {
                reason: chat_text::sanitize(reason).into_owned(),
                by,
            },
        );
        let mut count = 0;
        for user in state.users.values().filter(|u| u.member.peer.ip() == ip) {
            user.member.outbox.close(CloseReason::Banned);
            count += 1;
        }
        Ok(count)
    }

    /// Lifts a ban (operators only); false if there was none.
    pub fn unban(&self, op: &Member, target: &BanTarget) -> Result<bool, HubError> {
        self.state.lock().operator(op.id)?;
        Ok(match target {
            BanTarget::Nickname(nick) => self.accounts.unban_nick(nick),
            BanTarget::Ip(ip) => self.accounts.unban_ip(*ip),
        })
    }

    /// Registers an account: for a logged-in `member`, their own nickname
    /// (which they then own); before login, `nickname`, which nobody else
    /// may be online with.
    pub async fn register(
        &self,
        member: Option<&Member>,
        nickname: &str,
        password: &Secret,
        from: IpAddr,
    ) -> Result<Identity, AccountError> {
        // Someone else online with the name, or with one it looks like, has
        // the better claim to it.
        let someone_else = {
            let state = self.state.lock();
            let me = member.map(|m| m.id);
            let other = |owner: Option<&UserId>| owner.is_some_and(|id| Some(*id) != me);
            let typed = nick::normalize(nickname).map_err(AccountError::InvalidNickname)?;
            let own_name = me.is_none_or(|id| state.nicks.get(&nick::fold(&typed)) == Some(&id));
            !own_name
                || other(state.nicks.get(&nick::fold(&typed)))
                || state.lookalike_online(&typed, me)
        };
        if someone_else {
            return Err(AccountError::InUse(nickname.to_owned()));
        }
        let identity = self.accounts.register(nickname, password, from).await?;
        if let Some(member) = member
            && let Some(user) = self.state.lock().users.get_mut(&member.id)
        {
            user.identity = identity.clone();
        }
        Ok(identity)
    }

    /// Makes the user a server operator (their `OPER` credentials checked).
    pub fn promote(&self, member: &Member) -> Result<(), HubError> {
        let mut state = self.state.lock();
        let user = state.users.get_mut(&member.id).ok_or(HubError::Gone)?;
        user.identity.operator = true;
        Ok(())
    }

    /// Whether the user is an operator.
    pub fn is_operator(&self, member: &Member) -> bool {
        self.state.lock().operator(member.id).is_ok()
    }

    /// The account `key` (a folded nickname) was deleted: whoever is
    /// online logged into it is no longer, and loses the operator powers
    /// the account gave.
    pub fn forget_account(&self, key: &str) {
        let account_operator = self.accounts.is_operator_account(key);
        let mut state = self.state.lock();
        for user in state.users.values_mut() {
            if user.identity.account.as_deref() == Some(key) {
                user.identity.account = None;
                if account_operator {
                    user.identity.operator = false;
                }
            }
        }
    }

    /// Sends every large room its presence summary: who joined and left
    /// since the last one (called once a second by the server).
    pub fn flush_presence(&self) {
        let mut state = self.state.lock();
        for room in state.rooms.values_mut() {
            let tally = std::mem::take(&mut room.tally);
            if tally.joined == 0 && tally.left == 0 {
                continue;
            }
            let members = u32::try_from(room.members.len()).unwrap_or(u32::MAX);
            let event = Event::new(
                EventKind::Summary {
                    room: room.topic.room.as_str().into(),
                    counts: (tally.joined, tally.left, members),
                    joined: tally.joined_users,
                    left: tally.left_users,
                },
                now_ms(),
            );
            room.tell(&event, 0);
        }
    }

    /// Sets (`Some`) or clears (`None`) the user's away message.
    pub fn set_away(&self, member: &Member, message: Option<String>) {
        let message = message.map(|m| chat_text::sanitize(&m).into_owned());
        if let Some(user) = self.state.lock().users.get_mut(&member.id) {
            user.away = message;
        }
    }

    /// The room's key and display name, if the user is in it (history is
    /// only for members).
    pub fn membership(
        &self,
        member: &Member,
        room_name: &str,
    ) -> Result<(String, String), HubError> {
        let state = self.state.lock();
        let (key, room) = state.joined_room(member.id, room_name)?;
        Ok((key, room.topic.room.clone()))
    }

    /// Which of these nicknames are online, as currently spelled.
    pub fn online_nicks<'a>(&self, nicks: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let state = self.state.lock();
        nicks
            .into_iter()
            .filter_map(|n| state.nicks.get(&nick::fold(n)))
            .filter_map(|id| state.users.get(id))
            .map(|user| user.who.nick.to_string())
            .collect()
    }

    /// The user's current identity (`None` once they have left).
    pub fn identity(&self, member: &Member) -> Option<Who> {
        self.state
            .lock()
            .users
            .get(&member.id)
            .map(|u| u.who.clone())
    }

    /// How many users are online and how many rooms have members.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.state.lock();
        let rooms = state
            .rooms
            .values()
            .filter(|r| !r.members.is_empty())
            .count();
        (state.users.len(), rooms)
    }

    /// How many users are online.
    pub fn online(&self) -> usize {
        self.state.lock().users.len()
    }

    fn next_post(&self) -> (u64, i64) {
        (self.next_msg.fetch_add(1, Ordering::Relaxed), now_ms())
    }

    /// What a member of `room_name` learns about it.
    fn joined(&self, state: &State, id: UserId, room_name: &str) -> Result<Joined, HubError> {
        let (key, room) = state.joined_room(id, room_name)?;
        let mut members: Vec<MemberInfo> = room
            .members
            .keys()
            .filter_map(|id| state.users.get(id))
            .map(|user| MemberInfo {
                id: user.who.id,
                nickname: user.who.nick.to_string(),
            })
            .collect();
        members.sort_by(|a, b| a.nickname.cmp(&b.nickname));
        Ok(Joined {
            key,
            name: room.topic.room.clone(),
            topic: room.topic.clone(),
            members,
            horizon: self.next_msg.load(Ordering::Relaxed),
        })
    }
}

impl State {
    /// Whether someone other than `me` is online with a name `nick` looks
    /// like.
    fn lookalike_online(&self, nick: &str, me: Option<UserId>) -> bool {
        let hash = skeleton_hash(nick);
        self.skeletons
            .range((hash, UserId::MIN)..=(hash, UserId::MAX))
            .filter(|(_, id)| Some(*id) != me)
            .filter_map(|(_, id)| self.users.get(id))
            .any(|user| nick::looks_alike(nick, &user.who.nick))
    }

    fn add_skeleton(&mut self, nick: &str, id: UserId) {
        self.skeletons.insert((skeleton_hash(nick), id));
    }

    fn remove_skeleton(&mut self, nick: &str, id: UserId) {
        self.skeletons.remove(&(skeleton_hash(nick), id));
    }

    /// The logged-in user with this id.
    fn user(&self, id: UserId) -> Result<&User, HubError> {
        self.users
            .get(&id)
            .map(|user| &**user)
            .ok_or(HubError::Gone)
    }

    /// The logged-in user with this id, if they are an operator.
    fn operator(&self, id: UserId) -> Result<&User, HubError> {
        let user = self.user(id)?;
        if user.identity.operator {
            Ok(user)
        } else {
            Err(HubError::NotOperator)
        }
    }

    /// The online user with this nickname.
    fn by_nick(&self, nick: &str) -> Result<&User, HubError> {
        self.nicks
            .get(&nick::fold(nick))
            .and_then(|id| self.users.get(id))
            .map(|user| &**user)
            .ok_or_else(|| HubError::NoSuchUser(nick.to_owned()))
    }

    fn profile(&self, id: UserId) -> Option<Profile> {
        let user = self.users.get(&id)?;
        Some(Profile {
            id,
            nick: user.who.nick.to_string(),
            user: user.who.user.to_string(),
            host: user.who.host.to_string(),
            realname: user.realname.clone(),
            away: user.away.clone(),
            rooms: user
                .rooms
                .iter()
                .filter_map(|key| self.rooms.get(key))
                .map(|room| room.topic.room.clone())
                .collect(),
            since: user.since,
            account: user.identity.account.clone(),
            operator: user.identity.operator,
        })
    }

    /// The key of a room the user is in, and the room.
    fn joined_room(&self, id: UserId, room_name: &str) -> Result<(String, &Room), HubError> {
        let key = room::fold(room_name);
        if !self.user(id)?.rooms.contains(&key) {
            return Err(HubError::NotInRoom(room_name.to_owned()));
        }
        match self.rooms.get(&key) {
            Some(room) => Ok((key, room)),
            None => Err(HubError::NotInRoom(room_name.to_owned())),
        }
    }

    /// Adds a user to a room (creating it under `name`) and tells the others.
    fn enter(&mut self, id: UserId, name: &str) {
        let key = room::fold(name);
        let Some(user) = self.users.get_mut(&id) else {
            return;
        };
        user.rooms.insert(key.clone());
        let (member, who) = (user.member.clone(), user.who.clone());
        let room = self.rooms.entry(key).or_insert_with(|| Room::new(name));
        if room.is_large(self.presence_threshold) {
            let tally = &mut room.tally;
            Tally::count(&mut tally.joined, &mut tally.joined_users, &who);
        } else {
            let event = Event::new(
                EventKind::Join {
                    room: room.topic.room.as_str().into(),
                    who,
                },
                now_ms(),
            );
            room.tell(&event, id);
        }
        room.members.insert(id, member);
    }

    /// Removes a member from a room, forgetting the room if nothing is left
    /// of it.
    fn remove_from_room(&mut self, key: &str, id: UserId) {
        if let Some(room) = self.rooms.get_mut(key) {
            room.members.remove(&id);
            if room.members.is_empty() && room.topic.text.is_empty() && key != LOBBY {
                self.rooms.remove(key);
            }
        }
    }

    /// Everyone (but `id`) who shares at least one of `rooms`, once each.
    fn audience<'a>(
        &self,
        id: UserId,
        rooms: impl IntoIterator<Item = &'a String>,
    ) -> Vec<Arc<Member>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for room in rooms.into_iter().filter_map(|key| self.rooms.get(key)) {
            for (&other, member) in &room.members {
                if other != id && seen.insert(other) {
                    out.push(member.clone());
                }
            }
        }
        out
    }
}

/// A hash of a nickname's look-alike skeleton, for [`State::skeletons`].
fn skeleton_hash(nick: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(nick::skeleton(nick))
}
