//! What the hub's lock protects: users online, their nicknames, rooms and
//! their members.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chatroom_proto::nick;
use chatroom_proto::room::{self, LOBBY};

use super::masks::Subject;
use super::monitor::Watches;
use super::presence::Tally;
use super::publish::Audience;
use super::room_settings::RoomSettings;
use super::types::{Client, HubError, Profile, Standing, Topic, UserId};
use super::whowas::Whowas;
use crate::accounts::Identity;
use crate::clock::now_ms;
use crate::cluster::Watch;
use crate::event::{Event, EventKind, Person};

/// An online user.
pub(super) struct User {
    pub client: Arc<Client>,
    pub person: Person,
    pub identity: Identity,
    pub realname: String,
    pub away: Option<String>,
    /// When they logged in (ms since the epoch).
    pub since: i64,
    /// Keys of the rooms they are in.
    pub rooms: RoomKeys,
    /// Keys of the rooms they are invited to and have not joined: their
    /// invitations end when they leave the server.
    pub invited_to: RoomKeys,
    /// Hidden from searches by people who share no room with them.
    pub invisible: bool,
    /// Their TLS client certificate's fingerprint, if any.
    pub certfp: Option<crate::certfp::Fingerprint>,
}

/// A user's room keys, kept sorted in a plain vector: users are in a few
/// rooms, and a B-tree node per user would cost more than the keys.
#[derive(Debug, Clone, Default)]
pub(super) struct RoomKeys(Vec<String>);

impl RoomKeys {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|k| k.as_str().cmp(key))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn insert(&mut self, key: String) {
        if let Err(at) = self.find(&key) {
            self.0.insert(at, key);
        }
    }

    pub fn remove(&mut self, key: &str) {
        if let Ok(at) = self.find(key) {
            self.0.remove(at);
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a RoomKeys {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A room with its members.
pub(super) struct Room {
    pub topic: Topic,
    pub members: HashMap<UserId, Arc<Client>>,
    /// Joins and leaves waiting for the next summary (large rooms only).
    pub tally: Tally,
    /// Modes, operator accounts, bans: what is stored with the topic.
    pub settings: RoomSettings,
    /// Members who are its operators now.
    pub operators: HashSet<UserId>,
    /// Members with voice now.
    pub voiced: HashSet<UserId>,
    /// Users invited and not yet joined.
    pub invited: HashSet<UserId>,
    /// Members on other nodes of the cluster (see `relay`).
    pub remote: HashMap<UserId, RemoteMember>,
}

/// A member of a room on another node of the cluster.
pub(super) struct RemoteMember {
    /// The node they are on (its run's identity).
    pub node: Arc<str>,
    /// Who they are.
    pub person: Person,
}

impl RemoteMember {
    /// What this node can say about them (it knows no more than who they
    /// are).
    pub fn profile(&self) -> Profile {
        Profile {
            person: self.person.clone(),
            realname: self.person.nick.to_string(),
            away: None,
            rooms: Vec::new(),
            since: 0,
            account: self.person.account.as_deref().map(str::to_owned),
            operator: false,
            invisible: false,
            active: 0,
            certfp: None,
        }
    }
}

impl Room {
    pub fn new(name: &str, settings: RoomSettings) -> Room {
        Room {
            topic: Topic {
                room: name.to_owned(),
                ..Topic::default()
            },
            members: HashMap::new(),
            tally: Tally::default(),
            settings,
            operators: HashSet::new(),
            voiced: HashSet::new(),
            invited: HashSet::new(),
            remote: HashMap::new(),
        }
    }

    /// A member on another node, by nickname.
    pub fn remote_by_nick(&self, nick: &str) -> Option<&Person> {
        let folded = nick::fold(nick);
        self.remote
            .values()
            .map(|member| &member.person)
            .find(|person| nick::fold(&person.nick) == folded)
    }

    /// Whether anyone is in it, here or on another node.
    pub fn occupied(&self) -> bool {
        !self.members.is_empty() || !self.remote.is_empty()
    }

    /// A member's operator status and voice.
    pub fn standing(&self, id: UserId) -> Standing {
        Standing {
            operator: self.operators.contains(&id),
            voice: self.voiced.contains(&id),
        }
    }

    /// Whether the room is kept with no one in it: it has a topic or
    /// operator accounts (the lobby is always kept).
    pub fn worth_keeping(&self) -> bool {
        !self.topic.text.is_empty() || !self.settings.operators.is_empty()
    }

    /// Whether joins and leaves are summarised rather than announced one by
    /// one: the room has at least `threshold` members (0: never).
    pub fn is_large(&self, threshold: usize) -> bool {
        threshold > 0 && self.members.len() + self.remote.len() >= threshold
    }
}

/// Everything behind the hub's lock.
#[derive(Default)]
pub(super) struct State {
    /// See [`super::HubSettings::presence_threshold`].
    pub presence_threshold: usize,
    /// Boxed: the table keeps spare slots as it grows, and a slot holding a
    /// pointer wastes less than one holding a whole user.
    pub users: HashMap<UserId, Box<User>>,
    /// Folded nickname to id.
    pub nicks: HashMap<String, UserId>,
    /// Online users by a hash of their nickname's look-alike skeleton:
    /// 16 bytes a user where the skeletons themselves would take a hundred
    /// (every idle connection pays for this). Candidates found by hash are
    /// checked against their real nickname (`nick::looks_alike`).
    skeletons: BTreeSet<(u64, UserId)>,
    /// By folded name. Kept while they have members or a topic (the lobby always).
    pub rooms: HashMap<String, Room>,
    /// Events queued for recipients (see `publish`).
    pub deliveries: prometheus_client::metrics::counter::Counter,
    /// The most users online at once.
    pub peak_users: usize,
    /// Nicknames given up, most recent last.
    pub whowas: Whowas,
    /// Who watches which nicknames (IRC `MONITOR`).
    pub watches: Watches,
    /// The cluster this node is part of, if any: rooms gaining their first
    /// member here or losing their last are listened to or let go, and
    /// what others should hear is passed on (see `publish`).
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// In a cluster: by room, the highest message id this node delivered
    /// live or knew said before it listened (a join's history horizon).
    pub relayed: HashMap<String, u64>,
}

impl State {
    /// No one online yet; rooms this large summarise presence.
    pub fn new(presence_threshold: usize) -> Self {
        State {
            presence_threshold,
            ..State::default()
        }
    }

    /// The logged-in user with this id.
    pub fn user(&self, id: UserId) -> Result<&User, HubError> {
        self.users
            .get(&id)
            .map(|user| &**user)
            .ok_or(HubError::Gone)
    }

    /// The logged-in user with this id, if they are an operator.
    pub fn operator(&self, id: UserId) -> Result<&User, HubError> {
        let user = self.user(id)?;
        if user.identity.operator {
            Ok(user)
        } else {
            Err(HubError::NotOperator)
        }
    }

    /// The online user with this nickname.
    pub fn by_nick(&self, nick: &str) -> Result<&User, HubError> {
        self.nicks
            .get(&nick::fold(nick))
            .and_then(|id| self.users.get(id))
            .map(|user| &**user)
            .ok_or_else(|| HubError::NoSuchUser(nick.to_owned()))
    }

    /// What WHO and WHOIS show about user `id`.
    pub fn profile(&self, id: UserId) -> Option<Profile> {
        let user = self.users.get(&id)?;
        Some(Profile {
            person: user.person.clone(),
            realname: user.realname.clone(),
            away: user.away.clone(),
            rooms: user
                .rooms
                .iter()
                .filter_map(|key| self.rooms.get(key))
                .map(|room| room.topic.room.clone())
                .collect(),
            since: user.since,
            account: user.person.account.as_deref().map(str::to_owned),
            operator: user.identity.operator,
            invisible: user.invisible,
            active: user.client.active(),
            certfp: user.certfp.clone(),
        })
    }

    /// The key of a room the user is in, and the room.
    pub fn joined_room(&self, id: UserId, room_name: &str) -> Result<(String, &Room), HubError> {
        let key = room::fold(room_name);
        if !self.user(id)?.rooms.contains(&key) {
            return Err(HubError::NotInRoom(room_name.to_owned()));
        }
        match self.rooms.get(&key) {
            Some(room) => Ok((key, room)),
            None => Err(HubError::NotInRoom(room_name.to_owned())),
        }
    }

    /// Adds a user to a room (creating it under `name`, with them as its
    /// operator) and tells the others (a large room counts them for its
    /// next summary instead). They are the room's operator if their
    /// account is one of its operators.
    pub fn enter(&mut self, id: UserId, name: &str) {
        let key = room::fold(name);
        let Some(user) = self.users.get_mut(&id) else {
            return;
        };
        user.rooms.insert(key.clone());
        user.invited_to.remove(&key);
        let (client, who) = (user.client.clone(), user.person.clone());
        let account = user.identity.account.clone();
        let realname: Arc<str> = user.realname.as_str().into();
        let away = user.away.clone();
        let threshold = self.presence_threshold;
        let room = self.rooms.entry(key.clone()).or_insert_with(|| {
            let mut room = Room::new(name, RoomSettings::new_room(now_ms()));
            room.operators.insert(id);
            room.settings.operators.extend(account.clone());
            room
        });
        room.invited.remove(&id);
        if account.is_some_and(|a| room.settings.operators.contains(&a)) {
            room.operators.insert(id);
        }
        let event = Event::new(
            EventKind::Join {
                room: room.topic.room.as_str().into(),
                who: who.clone(),
                realname,
            },
            now_ms(),
        );
        if room.is_large(threshold) {
            room.tally.joined(&who);
            self.pass_on(Audience::room_except(&key, id), &event);
        } else {
            self.publish(Audience::room_except(&key, id), &event);
            if let Some(message) = away {
                // Those who follow who is away (IRC's away-notify) learn
                // that the newcomer is.
                let event = Event::new(
                    EventKind::Away {
                        who,
                        message: Some(message.into()),
                    },
                    now_ms(),
                );
                self.publish(Audience::room_except(&key, id), &event);
            }
        }
        if let Some(room) = self.rooms.get_mut(&key) {
            room.members.insert(id, client);
            if room.members.len() == 1
                && let Some(cluster) = &self.cluster
            {
                cluster.watch(Watch::Room(key));
            }
        }
    }

    /// Removes a member from a room (their own list of rooms too),
    /// forgetting the room if nothing is left of it: no members and no
    /// topic (the lobby always stays).
    pub fn remove_from_room(&mut self, key: &str, id: UserId) {
        if let Some(room) = self.rooms.get_mut(key) {
            if room.members.remove(&id).is_some()
                && room.members.is_empty()
                && let Some(cluster) = &self.cluster
            {
                // Nobody here listens any more: who is in it elsewhere
                // would go stale (it is learned again at the next join).
                cluster.watch(Watch::Unroom(key.to_owned()));
                room.remote.clear();
                self.relayed.remove(key);
            }
            room.operators.remove(&id);
            room.voiced.remove(&id);
            if !room.occupied() && !room.worth_keeping() && key != LOBBY {
                self.rooms.remove(key);
            }
        }
        if let Some(user) = self.users.get_mut(&id) {
            user.rooms.remove(key);
        }
    }

    /// Notes that room `key`'s messages up to `id` reached this node.
    pub fn note_relayed(&mut self, key: &str, id: u64) {
        match self.relayed.get_mut(key) {
            Some(through) => *through = (*through).max(id),
            None => {
                self.relayed.insert(key.to_owned(), id);
            }
        }
    }

    /// Forgets remote user `id` in `rooms`; those large enough count
    /// `who`'s departure for their summary. Returns the others, where the
    /// departure is to be announced.
    pub fn forget_remote(
        &mut self,
        id: UserId,
        rooms: &[String],
        who: Option<&Person>,
    ) -> Vec<String> {
        let threshold = self.presence_threshold;
        let mut small = Vec::new();
        for key in rooms {
            let Some(room) = self.rooms.get_mut(key) else {
                continue;
            };
            let large = room.is_large(threshold);
            if room.remote.remove(&id).is_none() {
                continue;
            }
            match who {
                Some(who) if large => room.tally.left(who),
                _ => small.push(key.clone()),
            }
        }
        small
    }

    /// Tells everyone sharing a room with user `id` (and, if it wants the
    /// notification, the user too) about `event`: something about the user
    /// as a whole (away, real name, host).
    pub fn tell_sharing(&self, id: UserId, event: &Event) {
        self.tell_others(id, event);
        self.publish(Audience::User(id), event);
    }

    /// Tells everyone sharing a room with user `id`, and those who watch
    /// them, about `event`, but not the user: their account changing, which
    /// their own client learns from the answer to its request (IRC's
    /// `900`, `REGISTER SUCCESS`).
    pub fn tell_others(&self, id: UserId, event: &Event) {
        let Some(user) = self.users.get(&id) else {
            return;
        };
        self.publish(
            Audience::Sharing {
                user: id,
                rooms: user.rooms.as_slice(),
            },
            event,
        );
        self.tell_extended_watchers(id, event);
    }

    /// User `id` as ban masks see them.
    pub fn subject(&self, id: UserId) -> Option<Subject<'_>> {
        let user = self.users.get(&id)?;
        Some(Subject {
            nick: &user.person.nick,
            user: &user.person.user,
            host: &user.person.host,
            ip: user.client.address.ip(),
            account: user.identity.account.as_deref(),
        })
    }

    /// Whether user `id` may moderate room `key`: one of its operators, or
    /// a server operator.
    pub fn moderates(&self, id: UserId, room: &Room) -> bool {
        room.operators.contains(&id) || self.users.get(&id).is_some_and(|u| u.identity.operator)
    }

    /// Whether user `viewer` shares a room with user `id`.
    pub fn shares_room(&self, viewer: UserId, id: UserId) -> bool {
        match (self.users.get(&viewer), self.users.get(&id)) {
            (Some(a), Some(b)) => a.rooms.iter().any(|key| b.rooms.contains(key)),
            _ => false,
        }
    }

    /// Whether someone other than `me` is online with a name `nick` looks
    /// like.
    pub fn lookalike_online(&self, nick: &str, me: Option<UserId>) -> bool {
        let hash = skeleton_hash(nick);
        self.skeletons
            .range((hash, UserId::MIN)..=(hash, UserId::MAX))
            .filter(|(_, id)| Some(*id) != me)
            .filter_map(|(_, id)| self.users.get(id))
            .any(|user| nick::looks_alike(nick, &user.person.nick))
    }

    /// Indexes an online user's nickname (see [`State::nicks`] and the
    /// look-alike index).
    pub fn add_name(&mut self, nick: &str, id: UserId) {
        self.nicks.insert(nick::fold(nick), id);
        self.skeletons.insert((skeleton_hash(nick), id));
    }

    /// Forgets an online user's nickname.
    pub fn remove_name(&mut self, nick: &str, id: UserId) {
        self.nicks.remove(&nick::fold(nick));
        self.skeletons.remove(&(skeleton_hash(nick), id));
    }
}

/// A hash of a nickname's look-alike skeleton, for the look-alike index.
fn skeleton_hash(nick: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(nick::skeleton(nick))
}
