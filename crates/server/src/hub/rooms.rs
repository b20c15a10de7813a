//! Rooms: joining, leaving, listing, members and topics.

use bytes::Bytes;
use chatroom_proto::chat_text;
use chatroom_proto::modes::Flag;
use chatroom_proto::room::{self, LOBBY, MAX_TOPIC_CHARS};

use super::Hub;
use super::publish::Audience;
use super::state::{Room, State};
use super::types::{
    Client, HubError, Joined, Member, Profile, RoomSummary, Standing, Topic, UserId,
};
use crate::clock::now_ms;
use crate::cluster::{Envelope, Recipients};
use crate::event::{Event, EventKind};
use crate::store::{Reader, StoredKind, StoredMessage};

impl Hub {
    /// Puts the user in a room, creating it if needed (they are then its
    /// operator); `key` is the room's key, if it has one. `reply` builds
    /// the answer from what they learn; it is queued before any of the
    /// room's traffic can reach them. The room's members are told.
    ///
    /// `reply` runs under the hub's lock: it must not call the hub.
    pub fn join(
        &self,
        client: &Client,
        room_name: &str,
        key: Option<&str>,
        reply: impl FnOnce(&Joined) -> Bytes,
    ) -> Result<Joined, HubError> {
        room::validate(room_name)?;
        let key_given = key;
        let key = room::fold(room_name);
        let mut state = self.state.lock();
        let user = state.user(client.id)?;
        if user.rooms.contains(&key) {
            return Err(HubError::AlreadyInRoom(room_name.to_owned()));
        }
        let max = self.settings.max_rooms_per_user;
        if max > 0 && user.rooms.len() >= max {
            return Err(HubError::TooManyRooms(max));
        }
        let created = match state.rooms.get(&key) {
            Some(room) => {
                admit(&state, room, client.id, key_given)?;
                false
            }
            None if self
                .new_rooms
                .take(client.address.ip(), std::time::Instant::now()) =>
            {
                true
            }
            None => return Err(HubError::TooManyNewRooms),
        };
        state.enter(client.id, room_name);
        let joined = self.joined(&state, client.id, room_name)?;
        client.answer(reply(&joined));
        if created
            && state
                .rooms
                .get(&joined.key)
                .is_some_and(Room::worth_keeping)
        {
            // A room made by someone with an account is theirs across
            // restarts.
            self.store_room(&state, &joined.key);
        }
        Ok(joined)
    }

    /// Takes the user out of a room; its members are told. Returns the
    /// room's display name.
    pub fn part(
        &self,
        client: &Client,
        room_name: &str,
        reason: Option<&str>,
    ) -> Result<String, HubError> {
        let mut state = self.state.lock();
        let who = state.user(client.id)?.person.clone();
        let (key, room) = state.joined_room(client.id, room_name)?;
        let name = room.topic.room.clone();
        let event = Event::new(
            EventKind::Part {
                room: name.as_str().into(),
                who: who.clone(),
                reason: reason.map(|r| chat_text::sanitize(r).as_ref().into()),
            },
            now_ms(),
        );
        if room.is_large(state.presence_threshold) {
            state.pass_on(Audience::room_except(&key, client.id), &event);
            if let Some(room) = state.rooms.get_mut(&key) {
                room.tally.left(&who);
            }
        } else {
            state.publish(Audience::room_except(&key, client.id), &event);
        }
        state.remove_from_room(&key, client.id);
        Ok(name)
    }

    /// Every room with members (and the lobby), by name; secret rooms only
    /// for their members (and server operators).
    pub fn rooms(&self, viewer: &Client) -> Vec<RoomSummary> {
        let state = self.state.lock();
        let insider = state.operator(viewer.id).is_ok();
        let mut rooms: Vec<RoomSummary> = state
            .rooms
            .iter()
            .filter(|(key, room)| room.occupied() || key.as_str() == LOBBY)
            .filter(|(_, room)| {
                insider || !room.settings.has(Flag::Secret) || room.members.contains_key(&viewer.id)
            })
            .map(|(_, room)| RoomSummary {
                name: room.topic.room.clone(),
                members: room.members.len() + room.remote.len(),
                topic: room.topic.text.clone(),
                created: room.settings.created,
                topic_set_at: room.topic.set_at.filter(|_| !room.topic.text.is_empty()),
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// A room's display name and its members' profiles and standing, by
    /// nickname. A secret room shows its members only to its members (and
    /// server operators); invisible members show only to them too.
    pub fn who(
        &self,
        viewer: &Client,
        room_name: &str,
    ) -> Result<(String, Vec<(Profile, Standing)>), HubError> {
        let key = room::fold(room_name);
        let state = self.state.lock();
        let insider = state.operator(viewer.id).is_ok();
        match state.rooms.get(&key) {
            Some(room)
                if (room.occupied() || key == LOBBY)
                    && (insider
                        || !room.settings.has(Flag::Secret)
                        || room.members.contains_key(&viewer.id)) =>
            {
                // Invisible members only show to those inside.
                let inside = insider || room.members.contains_key(&viewer.id);
                let mut members: Vec<(Profile, Standing)> = room
                    .members
                    .keys()
                    .filter_map(|id| Some((state.profile(*id)?, room.standing(*id))))
                    .filter(|(p, _)| inside || !p.invisible)
                    .chain(
                        room.remote
                            .values()
                            .map(|r| (r.profile(), room.standing(r.person.id))),
                    )
                    .collect();
                members.sort_by(|a, b| a.0.person.nick.cmp(&b.0.person.nick));
                Ok((room.topic.room.clone(), members))
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

    /// Sets a room's topic (members only, and only its operators when the
    /// topic is locked; server operators for any room); the other members
    /// are told and the topic is stored, and the change is kept in the
    /// room's history as an event. Returns the topic and the change's id.
    pub fn set_topic(
        &self,
        client: &Client,
        room_name: &str,
        text: &str,
    ) -> Result<(Topic, u64), HubError> {
        if text.chars().count() > MAX_TOPIC_CHARS {
            return Err(HubError::TopicTooLong);
        }
        let text = &*chat_text::sanitize(text);
        let mut state = self.state.lock();
        let user = state.user(client.id)?;
        let who = user.person.clone();
        let key = room::fold(room_name);
        if !user.identity.operator {
            let (_, room) = state.joined_room(client.id, room_name)?;
            if room.settings.has(Flag::TopicLock) && !state.moderates(client.id, room) {
                return Err(HubError::NotRoomOperator(room.topic.room.clone()));
            }
        }
        let Some(room) = state.rooms.get_mut(&key) else {
            return Err(HubError::NoSuchRoom(room_name.to_owned()));
        };
        // In a cluster the change goes the way of a message: Redis gives
        // its id and every node delivers it in the room's order.
        let cluster = self.cluster();
        let (msg_id, ts) = match cluster {
            Some(_) => (0, now_ms()),
            None => self.ids.message(),
        };
        room.topic.text = text.to_owned();
        room.topic.set_by = Some(who.nick.to_string());
        room.topic.set_at = Some(ts);
        let topic = room.topic.clone();
        let kind = EventKind::Topic {
            msg_id,
            room: topic.room.as_str().into(),
            who: who.clone(),
            topic: text.into(),
        };
        let stored = StoredMessage {
            id: msg_id,
            ts,
            room: Some((key.clone(), topic.room.clone())),
            sender_id: client.id,
            sender_nick: who.nick.to_string(),
            recipient: None,
            text: text.to_owned(),
            action: false,
            kind: StoredKind::Topic,
            tags: Vec::new(),
        };
        self.store_room(&state, &key);
        match cluster {
            Some(cluster) => {
                let envelope = Envelope::said(
                    cluster.node(),
                    Recipients::Room(key.clone()),
                    Some(client.id),
                    kind,
                    Some(stored),
                    ts,
                );
                cluster.to_room(&key, envelope, None);
            }
            None => {
                let event = Event::new(kind, ts);
                state.publish(Audience::room_except(&key, client.id), &event);
                self.store.message(stored, None);
            }
        }
        Ok((topic, msg_id))
    }

    /// The room's key and display name, if the user is in it (history is
    /// only for members).
    pub fn membership(
        &self,
        client: &Client,
        room_name: &str,
    ) -> Result<(String, String), HubError> {
        let state = self.state.lock();
        let (key, room) = state.joined_room(client.id, room_name)?;
        Ok((key, room.topic.room.clone()))
    }

    /// Whose messages this user may read in history and search: this
    /// session's, their account's, and those of the rooms they are in now.
    pub fn reader(&self, client: &Client) -> Result<Reader, HubError> {
        let state = self.state.lock();
        let user = state.user(client.id)?;
        Ok(Reader {
            user_id: client.id,
            account: user.identity.account.clone(),
            rooms: user.rooms.iter().cloned().collect(),
        })
    }

    /// What a member of `room_name` learns about it.
    pub(super) fn joined(
        &self,
        state: &State,
        id: UserId,
        room_name: &str,
    ) -> Result<Joined, HubError> {
        let (key, room) = state.joined_room(id, room_name)?;
        let horizon = match self.cluster() {
            // In a cluster, after the room's messages that reached this
            // node: later ones come live through its subscription.
            Some(_) => state.relayed.get(&key).copied().unwrap_or(0) + 1,
            None => self.ids.message_horizon(),
        };
        let mut members: Vec<Member> = room
            .members
            .keys()
            .filter_map(|id| state.users.get(id))
            .map(|user| Member {
                person: user.person.clone(),
                standing: room.standing(user.person.id),
                away: user.away.clone(),
            })
            .chain(room.remote.values().map(|r| Member {
                person: r.person.clone(),
                standing: room.standing(r.person.id),
                away: None,
            }))
            .collect();
        members.sort_by(|a, b| a.person.nick.cmp(&b.person.nick));
        Ok(Joined {
            key,
            name: room.topic.room.clone(),
            topic: room.topic.clone(),
            members,
            secret: room.settings.has(Flag::Secret),
            horizon,
        })
    }
}

/// Whether user `id` may join `room`, whose `key` they gave: invited users
/// and server operators pass every check; otherwise a ban (unless an
/// exception matches), invite-only, the key and the member limit, in that
/// order (as IRC servers check them).
fn admit(state: &State, room: &Room, id: UserId, key: Option<&str>) -> Result<(), HubError> {
    let name = || room.topic.room.clone();
    if room.invited.contains(&id) || state.operator(id).is_ok() {
        return Ok(());
    }
    let settings = &room.settings;
    if state.subject(id).is_some_and(|who| settings.bans_out(&who)) {
        return Err(HubError::BannedFromRoom(name()));
    }
    if settings.has(Flag::InviteOnly) {
        return Err(HubError::InviteOnly(name()));
    }
    if settings.key.as_deref().is_some_and(|k| Some(k) != key) {
        return Err(HubError::BadKey(name()));
    }
    if settings
        .limit
        .is_some_and(|limit| room.members.len() + room.remote.len() >= limit as usize)
    {
        return Err(HubError::RoomFull(name()));
    }
    Ok(())
}
