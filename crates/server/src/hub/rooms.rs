//! Rooms: joining, leaving, listing, members and topics.

use bytes::Bytes;
use chatroom_proto::chat_text;
use chatroom_proto::room::{self, LOBBY, MAX_TOPIC_CHARS};

use super::Hub;
use super::publish::Audience;
use super::state::State;
use super::types::{Client, HubError, Joined, Profile, RoomSummary, Topic, UserId};
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Person};
use crate::store::StoredRoom;

impl Hub {
    /// Puts the user in a room, creating it if needed. `reply` builds the
    /// answer from what they learn; it is queued before any of the room's
    /// traffic can reach them. The room's members are told.
    ///
    /// `reply` runs under the hub's lock: it must not call the hub.
    pub fn join(
        &self,
        client: &Client,
        room_name: &str,
        reply: impl FnOnce(&Joined) -> Bytes,
    ) -> Result<Joined, HubError> {
        room::validate(room_name)?;
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
        if !state.rooms.contains_key(&key)
            && !self
                .new_rooms
                .take(client.address.ip(), std::time::Instant::now())
        {
            return Err(HubError::TooManyNewRooms);
        }
        state.enter(client.id, room_name);
        let joined = self.joined(&state, client.id, room_name)?;
        client.outbox.push(reply(&joined));
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
        if room.is_large(state.presence_threshold) {
            if let Some(room) = state.rooms.get_mut(&key) {
                room.tally.left(&who);
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
            state.publish(Audience::room_except(&key, client.id), &event);
        }
        state.remove_from_room(&key, client.id);
        Ok(name)
    }

    /// Every room with members (and the lobby), by name.
    pub fn rooms(&self) -> Vec<RoomSummary> {
        let state = self.state.lock();
        let mut rooms: Vec<RoomSummary> = state
            .rooms
            .iter()
            .filter(|(key, room)| !room.members.is_empty() || key.as_str() == LOBBY)
            .map(|(_, room)| RoomSummary {
                name: room.topic.room.clone(),
                members: room.members.len(),
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
                members.sort_by(|a, b| a.person.nick.cmp(&b.person.nick));
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

    /// Sets a room's topic (members only; operators for any room); the
    /// other members are told and the topic is stored.
    pub fn set_topic(
        &self,
        client: &Client,
        room_name: &str,
        text: &str,
    ) -> Result<Topic, HubError> {
        if text.chars().count() > MAX_TOPIC_CHARS {
            return Err(HubError::TopicTooLong);
        }
        let text = &*chat_text::sanitize(text);
        let mut state = self.state.lock();
        let user = state.user(client.id)?;
        let who = user.person.clone();
        let key = room::fold(room_name);
        if !user.identity.operator {
            state.joined_room(client.id, room_name)?;
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
        state.publish(Audience::room_except(&key, client.id), &event);
        self.store.topic(StoredRoom {
            key,
            name: topic.room.clone(),
            topic: topic.text.clone(),
            set_by: topic.set_by.clone(),
            set_at: topic.set_at,
        });
        Ok(topic)
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

    /// What a member of `room_name` learns about it.
    pub(super) fn joined(
        &self,
        state: &State,
        id: UserId,
        room_name: &str,
    ) -> Result<Joined, HubError> {
        let (key, room) = state.joined_room(id, room_name)?;
        let mut members: Vec<Person> = room
            .members
            .keys()
            .filter_map(|id| state.users.get(id))
            .map(|user| user.person.clone())
            .collect();
        members.sort_by(|a, b| a.nick.cmp(&b.nick));
        Ok(Joined {
            key,
            name: room.topic.room.clone(),
            topic: room.topic.clone(),
            members,
            horizon: self.ids.message_horizon(),
        })
    }
}
