//! The hub's side of a cluster: what other nodes send is delivered here
//! through the same delivery path, and nicknames are claimed cluster-wide
//! before the hub gives them out.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chatroom_proto::{nick, room};

use super::Hub;
use super::publish::Audience;
use super::room_settings::RoomSettings;
use super::state::{RemoteMember, Room};
use super::types::{HubError, UserId};
use crate::clock::now_ms;
use crate::cluster::{Cluster, Envelope, Recipients, RoomState, SharedRoom};
use crate::event::{Event, EventKind, Person, QuitReason};
use crate::outbox::CloseReason;

impl Hub {
    /// Makes this hub one node of `cluster`: from now on its messages go
    /// through Redis and what happens here is passed on.
    pub fn join_cluster(&self, cluster: Arc<Cluster>) {
        let mut state = self.state.lock();
        for (key, room) in &state.rooms {
            if !room.members.is_empty() {
                cluster.watch(crate::cluster::Watch::Room(key.clone()));
            }
        }
        state.cluster = Some(cluster.clone());
        // Set once, before any connection is served.
        let _ = self.cluster.set(cluster);
    }

    /// The cluster this node is part of, if any.
    pub(crate) fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// Delivers what a node (`node` itself, for messages) sent through
    /// Redis to the users here it is for. Who is in which room on other
    /// nodes is kept from the joins, parts, kicks, quits and renames that
    /// come this way (large rooms count them for their summaries, as they
    /// do their own); a topic set elsewhere becomes this node's topic too.
    pub fn deliver_relayed(&self, envelope: Envelope, id: u64, node: &str) {
        let here = envelope.origin == node;
        if here && envelope.delivered_at_origin {
            return;
        }
        let mut state = self.state.lock();
        if let (Recipients::Room(key), true) = (&envelope.to, id > 0) {
            state.note_relayed(key, id);
        }
        let origin: Arc<str> = envelope.origin.as_str().into();
        let threshold = state.presence_threshold;
        if let (Recipients::Room(key), Some(shared)) = (&envelope.to, &envelope.room)
            && let Some(room) = state.rooms.get_mut(key)
        {
            take_shared(room, key, shared);
        }
        match (&envelope.to, &envelope.kind) {
            (Recipients::Room(key), EventKind::Join { who, .. }) => {
                let Some(room) = state.rooms.get_mut(key) else {
                    return;
                };
                room.remote.insert(
                    who.id,
                    RemoteMember {
                        node: origin,
                        person: who.clone(),
                    },
                );
                if room.is_large(threshold) {
                    return room.tally.joined(who);
                }
            }
            (Recipients::Room(key), EventKind::Part { who, .. }) => {
                let Some(room) = state.rooms.get_mut(key) else {
                    return;
                };
                let large = room.is_large(threshold);
                room.remote.remove(&who.id);
                room.operators.remove(&who.id);
                room.voiced.remove(&who.id);
                if large {
                    return room.tally.left(who);
                }
            }
            (Recipients::Room(key), EventKind::Kick { target, .. }) => {
                if let Some(room) = state.rooms.get_mut(key) {
                    room.remote.remove(&target.id);
                }
                // Everyone is told, the target too; then a target here is
                // out.
                let event = Event::new(envelope.kind.clone(), envelope.ts);
                state.publish_here(Audience::room(key), &event);
                if state.users.contains_key(&target.id) {
                    state.remove_from_room(key, target.id);
                }
                return;
            }
            (Recipients::Room(key), EventKind::Topic { who, topic, .. }) => {
                if let Some(room) = state.rooms.get_mut(key) {
                    room.topic.text = topic.to_string();
                    room.topic.set_by = Some(who.nick.to_string());
                    room.topic.set_at = Some(envelope.ts);
                }
            }
            (Recipients::Sharing { user, rooms }, EventKind::Quit { who, .. }) => {
                let small = state.forget_remote(*user, rooms, Some(who));
                let event = Event::new(envelope.kind, envelope.ts);
                let audience = Audience::Sharing {
                    user: *user,
                    rooms: &small,
                };
                return state.publish_here(audience, &event);
            }
            (Recipients::Sharing { user, rooms }, EventKind::Nick { new, .. }) => {
                for key in rooms {
                    if let Some(member) = state
                        .rooms
                        .get_mut(key)
                        .and_then(|room| room.remote.get_mut(user))
                    {
                        member.person.nick = new.clone();
                    }
                }
            }
            _ => {}
        }
        let event = Event::new(envelope.kind, envelope.ts);
        let audience = match &envelope.to {
            Recipients::Room(key) => Audience::Room {
                key,
                except: envelope.except.filter(|_| here),
            },
            Recipients::User(id) => Audience::User(*id),
            Recipients::Sharing { user, rooms } => Audience::Sharing { user: *user, rooms },
            Recipients::Everyone => Audience::Everyone,
        };
        state.publish_here(audience, &event);
    }

    /// Learns who is in room `key` on other nodes (when this node starts
    /// listening to it): `members` as Redis keeps them, this node's own
    /// left out.
    pub fn seed_room(&self, key: &str, members: Vec<(String, Person)>, node: &str) {
        let mut state = self.state.lock();
        let Some(room) = state.rooms.get_mut(key) else {
            return;
        };
        room.remote.clear();
        for (origin, person) in members {
            if origin != node {
                room.remote.insert(
                    person.id,
                    RemoteMember {
                        node: origin.as_str().into(),
                        person,
                    },
                );
            }
        }
    }

    /// In a cluster, before someone here joins `room_name`: if nobody here
    /// is in it yet, learns from Redis who is in it on other nodes and its
    /// topic, so that the join's member list and topic are the cluster's
    /// (and the joiner does not become the operator of a room others are
    /// in). A Redis that does not answer leaves the room as this node
    /// knows it.
    pub async fn prepare_join(&self, room_name: &str) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        if room::validate(room_name).is_err() {
            return;
        }
        let key = room::fold(room_name);
        let listening = self
            .state
            .lock()
            .rooms
            .get(&key)
            .is_some_and(|room| !room.members.is_empty());
        if listening {
            return;
        }
        cluster.listen(&key).await;
        let RoomState {
            members,
            topic,
            shared,
        } = match cluster.room_state(&key).await {
            Ok(found) => found,
            Err(e) => {
                return tracing::warn!(error = %e, room = key, "cluster: cannot read a room's state");
            }
        };
        if members.is_empty() && topic.is_none() && shared.is_none() {
            return;
        }
        {
            let mut state = self.state.lock();
            let room = state
                .rooms
                .entry(key.clone())
                .or_insert_with(|| Room::new(room_name, RoomSettings::new_room(now_ms())));
            if let Some(topic) = topic {
                room.topic.text = topic.text;
                room.topic.set_by = topic.set_by;
                room.topic.set_at = topic.set_at;
            }
            if let Some(shared) = &shared {
                take_shared(room, &key, shared);
            }
        }
        self.seed_room(&key, members, cluster.node());
    }

    /// Messages of room `key` with ids up to `id` were said before this
    /// node listened to it (a join's history horizon starts there).
    pub fn relayed_through(&self, key: &str, id: u64) {
        self.state.lock().note_relayed(key, id);
    }

    /// In a cluster, waits (a little) until this node's archive holds
    /// every message with an id below `horizon`, so that a join's replay
    /// shows everything said before it; messages from then on come live.
    pub async fn history_ready(&self, horizon: u64) {
        if self.cluster().is_none() {
            return;
        }
        self.store
            .done_through(horizon.saturating_sub(1), ARCHIVE_WAIT)
            .await;
    }

    /// Disconnects user `id`, whose nickname another node holds now.
    pub fn evict(&self, id: UserId) {
        if let Some(user) = self.state.lock().users.get(&id) {
            user.client.outbox.close(CloseReason::Killed);
        }
    }

    /// Whether anyone on this node is in room `key`.
    pub fn has_members_here(&self, key: &str) -> bool {
        self.state
            .lock()
            .rooms
            .get(key)
            .is_some_and(|room| !room.members.is_empty())
    }

    /// The other nodes this node knows users of.
    pub fn remote_nodes(&self) -> HashSet<Arc<str>> {
        let state = self.state.lock();
        state
            .rooms
            .values()
            .flat_map(|room| room.remote.values().map(|m| m.node.clone()))
            .collect()
    }

    /// A node stopped renewing its leases (it died or lost Redis): its
    /// users here are announced gone, as if each had quit. Returns the
    /// rooms (keys) and users, so Redis's member lists can forget them.
    pub fn node_gone(&self, gone: &str) -> Vec<(String, UserId)> {
        let mut state = self.state.lock();
        let mut rooms_of: HashMap<UserId, (Person, Vec<String>)> = HashMap::new();
        for (key, room) in &state.rooms {
            for (id, member) in &room.remote {
                if &*member.node == gone {
                    rooms_of
                        .entry(*id)
                        .or_insert_with(|| (member.person.clone(), Vec::new()))
                        .1
                        .push(key.clone());
                }
            }
        }
        let mut forgotten = Vec::new();
        for (id, (person, rooms)) in rooms_of {
            forgotten.extend(rooms.iter().map(|key| (key.clone(), id)));
            let small = state.forget_remote(id, &rooms, Some(&person));
            let event = Event::new(
                EventKind::Quit {
                    who: person,
                    reason: QuitReason::Closed(CloseReason::PingTimeout),
                },
                now_ms(),
            );
            let audience = Audience::Sharing {
                user: id,
                rooms: &small,
            };
            state.publish_here(audience, &event);
        }
        forgotten
    }

    /// Delivers `event` to user `id` if they are here.
    pub(crate) fn deliver_to(&self, id: UserId, event: &Arc<Event>) {
        self.state.lock().publish_here(Audience::User(id), event);
    }

    /// In a cluster, claims `nick` for a new user everywhere and returns
    /// their cluster-wide id; on a single node, `None` (the hub gives the
    /// id). A nickname held on another node is taken.
    pub async fn claim_nick(&self, nick: &str) -> Result<Option<UserId>, HubError> {
        let Some(cluster) = self.cluster() else {
            return Ok(None);
        };
        let normalized = nick::normalize(nick)?;
        match cluster.claim(&nick::fold(&normalized), None).await {
            Ok(Some(id)) => Ok(Some(id)),
            Ok(None) => Err(HubError::NickTaken(normalized)),
            Err(e) => Err(HubError::ClusterDown(e.to_string())),
        }
    }

    /// In a cluster, claims `new` for user `id` (a rename) everywhere;
    /// [`Hub::renamed_in_cluster`] follows.
    pub async fn claim_rename(&self, id: UserId, new: &str) -> Result<(), HubError> {
        let Some(cluster) = self.cluster() else {
            return Ok(());
        };
        let normalized = nick::normalize(new)?;
        let folded = nick::fold(&normalized);
        if self.state.lock().nicks.get(&folded) == Some(&id) {
            // A change of case: the lease is the same.
            return Ok(());
        }
        match cluster.claim(&folded, Some(id)).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(HubError::NickTaken(normalized)),
            Err(e) => Err(HubError::ClusterDown(e.to_string())),
        }
    }

    /// After a rename claimed with [`Hub::claim_rename`]: keeps the new
    /// lease and lets the old go if it `worked`, lets the new one go if
    /// not.
    pub fn renamed_in_cluster(&self, id: UserId, new: &str, worked: bool) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        let Ok(normalized) = nick::normalize(new) else {
            return;
        };
        let folded = nick::fold(&normalized);
        if worked {
            cluster.renamed(id, &folded);
        } else if self.state.lock().nicks.get(&folded) != Some(&id) {
            cluster.unclaim(&folded, id);
        }
    }

    /// Lets go of a nickname claimed for a login that did not happen.
    pub fn unclaim_nick(&self, id: UserId) {
        if let Some(cluster) = self.cluster() {
            cluster.release(id);
        }
    }
}

/// How long a join's replay waits for the archive to catch up (it is
/// milliseconds behind, unless Redis or the node just came back).
const ARCHIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Takes a room's modes and ranks as another node shared them.
fn take_shared(room: &mut Room, key: &str, shared: &SharedRoom) {
    room.settings = RoomSettings::from_stored(key, Some(&shared.settings), now_ms());
    room.operators = shared.operators.iter().copied().collect();
    room.voiced = shared.voiced.iter().copied().collect();
}
