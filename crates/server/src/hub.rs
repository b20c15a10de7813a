//! The hub: who is online, which rooms exist, and who hears what.
//!
//! Protocol-agnostic shared state behind one short, non-async critical
//! section: users by id, the nickname index, rooms and their members. Sessions
//! call it synchronously; it never awaits and never writes to a socket. An
//! event is encoded once and the same bytes are queued on every receiver's
//! [`Outbox`]. Message ids are taken under the lock, so every member of a room
//! sees its messages in id order, and a join's history horizon splits
//! "replayed" from "live" exactly.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chatroom_proto::ErrorCode;
use chatroom_proto::json::{
    ChatMessage, DirectMessage, MemberInfo, Presence, PresenceEvent, RoomInfo, ServerFrame,
    encode_frame,
};
use chatroom_proto::nick::{self, NickError, SYSTEM_NICK};
use chatroom_proto::room::{self, LOBBY, MAX_TOPIC_CHARS, RoomNameError};
use parking_lot::Mutex;
use thiserror::Error;

use crate::clock::now_ms;
use crate::outbox::{CloseReason, Outbox};
use crate::store::{Loaded, Store, StoredMessage, StoredRoom};

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
}

impl HubError {
    /// The protocol error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            HubError::BadNick(_) => ErrorCode::InvalidNickname,
            HubError::NickTaken(_) => ErrorCode::NicknameTaken,
            HubError::BadRoom(_) => ErrorCode::InvalidRoomName,
            HubError::NoSuchRoom(_) => ErrorCode::NoSuchRoom,
            HubError::NotInRoom(_) => ErrorCode::NotInRoom,
            HubError::AlreadyInRoom(_) => ErrorCode::AlreadyInRoom,
            HubError::NoSuchUser(_) => ErrorCode::NoSuchUser,
            HubError::TopicTooLong => ErrorCode::InvalidField,
            HubError::Gone => ErrorCode::NotLoggedIn,
        }
    }
}

/// A message the hub accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    /// Its id.
    pub msg_id: u64,
    /// Its timestamp, in milliseconds since the Unix epoch.
    pub ts: i64,
}

/// What a joiner learns about the room.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The folded room key (for history requests).
    pub key: String,
    /// The room's display name.
    pub name: String,
    /// Its topic ("" when none).
    pub topic: String,
    /// Its members, the joiner included.
    pub members: Vec<MemberInfo>,
    /// Messages with ids below this were said before the join (replay them
    /// from history); later ones are delivered live.
    pub horizon: u64,
}

/// A room's topic as the protocol shows it.
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

struct User {
    member: Arc<Member>,
    nick: String,
    /// Keys of the rooms they are in.
    rooms: BTreeSet<String>,
}

struct Room {
    topic: Topic,
    members: HashMap<UserId, Arc<Member>>,
}

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    /// Folded nickname to id.
    nicks: HashMap<String, UserId>,
    /// By folded name. Kept while they have members or a topic (the lobby always).
    rooms: HashMap<String, Room>,
}

/// The shared state of one server.
pub struct Hub {
    state: Mutex<State>,
    next_user: AtomicU64,
    next_msg: AtomicU64,
    store: Store,
}

impl Hub {
    /// A hub continuing from what the store loaded.
    pub fn new(store: Store, loaded: &Loaded) -> Self {
        let mut state = State::default();
        for stored in &loaded.rooms {
            state.rooms.insert(
                stored.key.clone(),
                Room {
                    topic: Topic {
                        room: stored.name.clone(),
                        text: stored.topic.clone(),
                        set_by: stored.set_by.clone(),
                        set_at: stored.set_at,
                    },
                    members: HashMap::new(),
                },
            );
        }
        state.rooms.entry(LOBBY.to_owned()).or_insert_with(|| Room {
            topic: Topic {
                room: LOBBY.to_owned(),
                ..Topic::default()
            },
            members: HashMap::new(),
        });
        Hub {
            state: Mutex::new(state),
            next_user: AtomicU64::new(loaded.max_user_id + 1),
            next_msg: AtomicU64::new(loaded.max_message_id + 1),
            store,
        }
    }

    /// The history store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Logs a user in under `nick` and puts them in the lobby. `welcome`
    /// builds their first frame from their new id; it is queued before
    /// anything else can reach them, so the login reply is always the first
    /// thing a client reads. The lobby is told they joined.
    pub fn login(
        &self,
        nick: &str,
        peer: SocketAddr,
        outbox: Arc<Outbox>,
        welcome: impl FnOnce(UserId) -> Bytes,
    ) -> Result<Arc<Member>, HubError> {
        nick::validate(nick)?;
        let folded = nick::fold(nick);
        let mut state = self.state.lock();
        if state.nicks.contains_key(&folded) {
            return Err(HubError::NickTaken(nick.to_owned()));
        }
        let id = self.next_user.fetch_add(1, Ordering::Relaxed);
        outbox.push(welcome(id));
        let member = Arc::new(Member { id, peer, outbox });
        state.nicks.insert(folded, id);
        state.users.insert(
            id,
            User {
                member: member.clone(),
                nick: nick.to_owned(),
                rooms: BTreeSet::new(),
            },
        );
        state.enter(&member, nick, LOBBY);
        Ok(member)
    }

    /// Removes a user from every room and from the server. Everyone who
    /// shared a room with them is told once, except at shutdown, when
    /// everyone is leaving at once and is told so directly.
    pub fn leave(&self, member: &Member, reason: CloseReason) {
        let mut state = self.state.lock();
        let Some(user) = state.users.remove(&member.id) else {
            return;
        };
        state.nicks.remove(&nick::fold(&user.nick));
        let audience = state.audience(member.id, &user.rooms);
        for key in &user.rooms {
            state.remove_from_room(key, member.id);
        }
        if reason == CloseReason::Shutdown {
            return;
        }
        let notice = presence(
            PresenceEvent::Leave,
            None,
            member.id,
            &user.nick,
            format!("{}({}) left ({})", user.nick, member.id, reason.as_str()),
            |p| p.reason = Some(reason.as_str().to_owned()),
        );
        for other in audience {
            other.outbox.push(notice.clone());
        }
    }

    /// Relays `text` to everyone else in `room` (the lobby when `None`) and
    /// stores it.
    pub fn say(
        &self,
        member: &Member,
        room_name: Option<&str>,
        text: &str,
        action: bool,
    ) -> Result<Posted, HubError> {
        let state = self.state.lock();
        let user = state.user(member.id)?;
        let (key, room) = state.joined_room(member.id, room_name.unwrap_or(LOBBY))?;
        let posted = self.next_post();
        let frame = encode_frame(&ServerFrame::Message(ChatMessage {
            msg_id: posted.msg_id,
            ts: posted.ts,
            room: room.topic.room.clone(),
            sender_id: member.id,
            sender_nickname: user.nick.clone(),
            message: text.to_owned(),
            action,
            history: false,
        }));
        for (&id, other) in &room.members {
            if id != member.id {
                other.outbox.push(frame.clone());
            }
        }
        self.store.message(StoredMessage {
            id: posted.msg_id,
            ts: posted.ts,
            room: Some((key, room.topic.room.clone())),
            sender_id: member.id,
            sender_nick: user.nick.clone(),
            recipient: None,
            text: text.to_owned(),
            action,
        });
        Ok(posted)
    }

    /// Sends `text` privately to the user called `to`, and stores it.
    pub fn direct(
        &self,
        member: &Member,
        to: &str,
        text: &str,
        action: bool,
    ) -> Result<Posted, HubError> {
        let state = self.state.lock();
        let sender = state.user(member.id)?;
        let recipient = state
            .nicks
            .get(&nick::fold(to))
            .and_then(|id| state.users.get(id))
            .ok_or_else(|| HubError::NoSuchUser(to.to_owned()))?;
        let posted = self.next_post();
        recipient
            .member
            .outbox
            .push(encode_frame(&ServerFrame::Direct(DirectMessage {
                msg_id: posted.msg_id,
                ts: posted.ts,
                sender_id: member.id,
                sender_nickname: sender.nick.clone(),
                to_id: recipient.member.id,
                to_nickname: recipient.nick.clone(),
                message: text.to_owned(),
                action,
            })));
        self.store.message(StoredMessage {
            id: posted.msg_id,
            ts: posted.ts,
            room: None,
            sender_id: member.id,
            sender_nick: sender.nick.clone(),
            recipient: Some((recipient.member.id, recipient.nick.clone())),
            text: text.to_owned(),
            action,
        });
        Ok(posted)
    }

    /// Puts the user in a room, creating it if needed. `reply` builds the
    /// answer from what they learn; it is queued before any of the room's
    /// traffic can reach them. The room's members are told.
    pub fn join(
        &self,
        member: &Member,
        room_name: &str,
        reply: impl FnOnce(&Joined) -> Bytes,
    ) -> Result<Joined, HubError> {
        room::validate(room_name)?;
        let key = room::fold(room_name);
        let mut state = self.state.lock();
        let user = state.user(member.id)?;
        if user.rooms.contains(&key) {
            return Err(HubError::AlreadyInRoom(room_name.to_owned()));
        }
        let (arc, nick) = (user.member.clone(), user.nick.clone());
        state.enter(&arc, &nick, room_name);
        let (key, room) = state.joined_room(member.id, room_name)?;
        let joined = Joined {
            members: state.members_of(room),
            key,
            name: room.topic.room.clone(),
            topic: room.topic.text.clone(),
            horizon: self.next_msg.load(Ordering::Relaxed),
        };
        member.outbox.push(reply(&joined));
        Ok(joined)
    }

    /// Takes the user out of a room; its members are told.
    pub fn part(&self, member: &Member, room_name: &str) -> Result<String, HubError> {
        let mut state = self.state.lock();
        let nick = state.user(member.id)?.nick.clone();
        let (key, room) = state.joined_room(member.id, room_name)?;
        let name = room.topic.room.clone();
        let notice = presence(
            PresenceEvent::Leave,
            Some(&name),
            member.id,
            &nick,
            format!("{nick}({}) left {name}", member.id),
            |p| p.reason = Some("part".to_owned()),
        );
        for (&id, other) in &room.members {
            if id != member.id {
                other.outbox.push(notice.clone());
            }
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

    /// A room's display name and members.
    pub fn who(&self, room_name: &str) -> Result<(String, Vec<MemberInfo>), HubError> {
        let key = room::fold(room_name);
        let state = self.state.lock();
        match state.rooms.get(&key) {
            Some(room) if !room.members.is_empty() || key == LOBBY => {
                Ok((room.topic.room.clone(), state.members_of(room)))
            }
            _ => Err(HubError::NoSuchRoom(room_name.to_owned())),
        }
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
        let mut state = self.state.lock();
        let nick = state.user(member.id)?.nick.clone();
        let (key, _) = state.joined_room(member.id, room_name)?;
        let Some(room) = state.rooms.get_mut(&key) else {
            return Err(HubError::NotInRoom(room_name.to_owned()));
        };
        room.topic.text = text.to_owned();
        room.topic.set_by = Some(nick.clone());
        room.topic.set_at = Some(now_ms());
        let topic = room.topic.clone();
        let notice = presence(
            PresenceEvent::Topic,
            Some(&topic.room),
            member.id,
            &nick,
            format!(
                "{nick}({}) set the topic of {}: {text}",
                member.id, topic.room
            ),
            |p| p.topic = Some(text.to_owned()),
        );
        for (&id, other) in &room.members {
            if id != member.id {
                other.outbox.push(notice.clone());
            }
        }
        self.store.topic(StoredRoom {
            key,
            name: topic.room.clone(),
            topic: topic.text.clone(),
            set_by: topic.set_by.clone(),
            set_at: topic.set_at,
        });
        Ok(topic)
    }

    /// Changes the user's nickname; everyone sharing a room is told once.
    /// Returns the old nickname.
    pub fn rename(&self, member: &Member, new: &str) -> Result<String, HubError> {
        nick::validate(new)?;
        let folded = nick::fold(new);
        let mut state = self.state.lock();
        if state.nicks.get(&folded).is_some_and(|&id| id != member.id) {
            return Err(HubError::NickTaken(new.to_owned()));
        }
        let old = state.user(member.id)?.nick.clone();
        state.nicks.remove(&nick::fold(&old));
        state.nicks.insert(folded, member.id);
        let rooms = match state.users.get_mut(&member.id) {
            Some(user) => {
                user.nick = new.to_owned();
                user.rooms.clone()
            }
            None => return Ok(old),
        };
        let notice = presence(
            PresenceEvent::Nick,
            None,
            member.id,
            new,
            format!("{old}({}) is now known as {new}", member.id),
            |p| p.old_nickname = Some(old.clone()),
        );
        for other in state.audience(member.id, &rooms) {
            other.outbox.push(notice.clone());
        }
        Ok(old)
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

    /// The user's current nickname (`None` once they have left).
    pub fn nick(&self, member: &Member) -> Option<String> {
        self.state
            .lock()
            .users
            .get(&member.id)
            .map(|u| u.nick.clone())
    }

    /// How many users are online.
    pub fn online(&self) -> usize {
        self.state.lock().users.len()
    }

    fn next_post(&self) -> Posted {
        Posted {
            msg_id: self.next_msg.fetch_add(1, Ordering::Relaxed),
            ts: now_ms(),
        }
    }
}

impl State {
    /// The logged-in user with this id.
    fn user(&self, id: UserId) -> Result<&User, HubError> {
        self.users.get(&id).ok_or(HubError::Gone)
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

    /// Adds a member to a room (creating it under `name`) and tells the
    /// others.
    fn enter(&mut self, member: &Arc<Member>, nick: &str, name: &str) {
        let key = room::fold(name);
        if let Some(user) = self.users.get_mut(&member.id) {
            user.rooms.insert(key.clone());
        }
        let room = self.rooms.entry(key).or_insert_with(|| Room {
            topic: Topic {
                room: name.to_owned(),
                ..Topic::default()
            },
            members: HashMap::new(),
        });
        let notice = presence(
            PresenceEvent::Join,
            Some(&room.topic.room),
            member.id,
            nick,
            format!("{nick}({}) joined {}", member.id, room.topic.room),
            |_| {},
        );
        for other in room.members.values() {
            other.outbox.push(notice.clone());
        }
        room.members.insert(member.id, member.clone());
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

    /// A room's members, by nickname.
    fn members_of(&self, room: &Room) -> Vec<MemberInfo> {
        let mut members: Vec<MemberInfo> = room
            .members
            .keys()
            .filter_map(|&id| {
                self.users.get(&id).map(|user| MemberInfo {
                    id,
                    nickname: user.nick.clone(),
                })
            })
            .collect();
        members.sort_by(|a, b| a.nickname.cmp(&b.nickname));
        members
    }

    /// Everyone (but `id`) who shares at least one of `rooms`, once each.
    fn audience(&self, id: UserId, rooms: &BTreeSet<String>) -> Vec<Arc<Member>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for room in rooms.iter().filter_map(|key| self.rooms.get(key)) {
            for (&other, member) in &room.members {
                if other != id && seen.insert(other) {
                    out.push(member.clone());
                }
            }
        }
        out
    }
}

/// An encoded presence notice from System.
fn presence(
    event: PresenceEvent,
    room: Option<&str>,
    user_id: UserId,
    nick: &str,
    text: String,
    extra: impl FnOnce(&mut Presence),
) -> Bytes {
    let mut frame = Presence {
        event,
        room: room.map(str::to_owned),
        user_id,
        nickname: nick.to_owned(),
        ts: now_ms(),
        reason: None,
        old_nickname: None,
        topic: None,
        sender_id: 0,
        sender_nickname: SYSTEM_NICK.to_owned(),
        message: text,
    };
    extra(&mut frame);
    encode_frame(&ServerFrame::Presence(frame))
}
