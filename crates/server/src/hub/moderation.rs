//! Room moderation, for every protocol: a room's operators give and take
//! operator status and voice, set its modes (topic lock, no messages from
//! outside, moderated, invite-only, key, member limit, secret), keep its
//! ban and exception lists, invite and kick. A server operator may do all
//! of it in any room. What is set is stored with the room (`room_settings`).

use chatroom_proto::chat_text;
use chatroom_proto::modes::{Change, Flag, Rank};
use chatroom_proto::{nick, room};

use super::Hub;
use super::masks::Mask;
use super::publish::Audience;
use super::room_settings::{ListEntry, MAX_LIST_ENTRIES};
use super::state::{Room, State};
use super::types::{Client, HubError, MaskEntry, ModeOutcome, RoomModes, UserId};
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Person};
use crate::store::StoredRoom;

impl Hub {
    /// A room's modes; its key shows only to members and server operators.
    pub fn modes(&self, client: &Client, room_name: &str) -> Result<RoomModes, HubError> {
        let key = room::fold(room_name);
        let state = self.state.lock();
        let room = visible_room(&state, client.id, &key, room_name)?;
        let insider = room.members.contains_key(&client.id) || state.operator(client.id).is_ok();
        let (modes, args) = room.settings.mode_string(insider);
        Ok(RoomModes {
            room: room.topic.room.clone(),
            modes,
            args,
            created: room.settings.created,
        })
    }

    /// Makes the `changes` to a room's modes (its operators only, but
    /// anyone may see its lists), announces what changed to its members
    /// and stores it. A change that cannot be made (someone not in the
    /// room, a full list) is refused alone; the rest still apply.
    pub fn change_modes(
        &self,
        client: &Client,
        room_name: &str,
        changes: &[Change],
    ) -> Result<ModeOutcome, HubError> {
        let key = room::fold(room_name);
        let mut state = self.state.lock();
        let by = state.user(client.id)?.person.clone();
        let room = visible_room(&state, client.id, &key, room_name)?;
        let mut outcome = ModeOutcome {
            room: room.topic.room.clone(),
            ..ModeOutcome::default()
        };
        let changing = changes.iter().any(|c| !matches!(c, Change::Show(_)));
        if changing && !state.moderates(client.id, room) {
            return Err(HubError::NotRoomOperator(outcome.room));
        }
        for change in changes {
            if let Change::Show(list) = change {
                let entries = room.settings.list(*list).iter().map(entry).collect();
                outcome.lists.push((*list, entries));
            }
        }
        let targets: Vec<Option<(UserId, Option<String>)>> = changes
            .iter()
            .map(|c| match c {
                Change::Rank(_, _, nick) => state
                    .by_nick(nick)
                    .ok()
                    .map(|u| (u.person.id, u.identity.account.clone()))
                    .or_else(|| {
                        // A member on another node of the cluster.
                        let remote = room.remote_by_nick(nick)?;
                        Some((remote.id, remote.account.as_deref().map(nick::fold)))
                    }),
                _ => None,
            })
            .collect();
        let Some(room) = state.rooms.get_mut(&key) else {
            return Err(HubError::NoSuchRoom(room_name.to_owned()));
        };
        for (change, target) in changes.iter().zip(targets) {
            match apply(room, change, target, &by.nick) {
                Ok(Some(done)) => outcome.applied.push(done),
                Ok(None) => {}
                Err(e) => outcome.refused.push((change.clone(), e)),
            }
        }
        if outcome.applied.is_empty() {
            return Ok(outcome);
        }
        let (modes, args) = chatroom_proto::modes::render(&outcome.applied);
        let event = Event::new(
            EventKind::Mode {
                room: outcome.room.as_str().into(),
                by,
                modes: modes.into(),
                args: args.into_iter().map(Into::into).collect(),
            },
            now_ms(),
        );
        state.publish(Audience::room(&key), &event);
        if !state
            .rooms
            .get(&key)
            .is_some_and(|r| r.members.contains_key(&client.id))
        {
            state.publish(Audience::User(client.id), &event);
        }
        self.store_room(&state, &key);
        Ok(outcome)
    }

    /// Invites the user called `nick` into a room: a member may invite,
    /// and in an invite-only room only its operators. The invitee is told
    /// and may then join past the invite-only mode, a ban and the key.
    /// Returns the room's display name and the invitee.
    pub fn invite(
        &self,
        client: &Client,
        room_name: &str,
        nick: &str,
    ) -> Result<(String, Person), HubError> {
        let key = room::fold(room_name);
        let mut state = self.state.lock();
        let by = state.user(client.id)?.person.clone();
        let target = state.by_nick(nick)?.person.clone();
        let room = state
            .rooms
            .get(&key)
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))?;
        let server_operator = state.operator(client.id).is_ok();
        if !room.members.contains_key(&client.id) && !server_operator {
            return Err(HubError::NotInRoom(room_name.to_owned()));
        }
        if room.settings.has(Flag::InviteOnly) && !state.moderates(client.id, room) {
            return Err(HubError::NotRoomOperator(room.topic.room.clone()));
        }
        let name = room.topic.room.clone();
        if room.members.contains_key(&target.id) {
            return Err(HubError::TheyAreInRoom(target.nick.to_string(), name));
        }
        if let Some(room) = state.rooms.get_mut(&key) {
            room.invited.insert(target.id);
        }
        if let Some(user) = state.users.get_mut(&target.id) {
            user.invited_to.insert(key.clone());
        }
        let event = Event::new(
            EventKind::Invite {
                room: name.as_str().into(),
                by,
                target: target.clone(),
            },
            now_ms(),
        );
        state.publish(Audience::User(target.id), &event);
        // The room's members who asked (IRC's invite-notify) hear of it.
        let notice = Event::new(
            EventKind::Invited {
                room: name.as_str().into(),
                by: state.user(client.id)?.person.clone(),
                target: target.clone(),
            },
            now_ms(),
        );
        state.publish(Audience::room_except(&key, client.id), &notice);
        Ok((name, target))
    }

    /// The rooms (display names, sorted) the client is invited to and has
    /// not joined yet.
    pub fn invitations(&self, client: &Client) -> Vec<String> {
        let state = self.state.lock();
        let Some(user) = state.users.get(&client.id) else {
            return Vec::new();
        };
        let mut rooms: Vec<String> = user
            .invited_to
            .iter()
            .filter_map(|key| state.rooms.get(key))
            .filter(|room| room.invited.contains(&client.id))
            .map(|room| room.topic.room.clone())
            .collect();
        rooms.sort();
        rooms
    }

    /// Removes `target` from `room_name` (the room's operators, or a
    /// server operator); the room, the target included, is told.
    pub fn kick(
        &self,
        op: &Client,
        room_name: &str,
        target: &str,
        reason: &str,
    ) -> Result<(), HubError> {
        let key = room::fold(room_name);
        let mut state = self.state.lock();
        let by = state.user(op.id)?.person.clone();
        let room = state
            .rooms
            .get(&key)
            .ok_or_else(|| HubError::NoSuchRoom(room_name.to_owned()))?;
        let name = room.topic.room.clone();
        let server_operator = state.operator(op.id).is_ok();
        if !room.members.contains_key(&op.id) && !server_operator {
            return Err(HubError::NotInRoom(room_name.to_owned()));
        }
        if !state.moderates(op.id, room) {
            return Err(HubError::NotRoomOperator(name));
        }
        let target = match state.by_nick(target) {
            Ok(user) => user.person.clone(),
            // A member on another node of the cluster.
            Err(e) => room.remote_by_nick(target).cloned().ok_or(e)?,
        };
        if !room.members.contains_key(&target.id) && !room.remote.contains_key(&target.id) {
            return Err(HubError::TheyAreNotInRoom(target.nick.to_string(), name));
        }
        let event = Event::new(
            EventKind::Kick {
                room: name.as_str().into(),
                by,
                target: target.clone(),
                reason: chat_text::sanitize(reason).as_ref().into(),
            },
            now_ms(),
        );
        state.publish(Audience::room(&key), &event);
        state.remove_from_room(&key, target.id);
        if let Some(room) = state.rooms.get_mut(&key) {
            room.remote.remove(&target.id);
        }
        Ok(())
    }

    /// Stores room `key`'s topic and settings.
    pub(super) fn store_room(&self, state: &State, key: &str) {
        if let Some(room) = state.rooms.get(key) {
            self.store.room(StoredRoom {
                key: key.to_owned(),
                name: room.topic.room.clone(),
                topic: room.topic.text.clone(),
                set_by: room.topic.set_by.clone(),
                set_at: room.topic.set_at,
                settings: Some(room.settings.to_stored()),
            });
        }
    }
}

/// Room `key` as user `id` may see it: a secret room is hidden from
/// non-members (but not from server operators).
fn visible_room<'a>(
    state: &'a State,
    id: UserId,
    key: &str,
    room_name: &str,
) -> Result<&'a Room, HubError> {
    match state.rooms.get(key) {
        Some(room)
            if !room.settings.has(Flag::Secret)
                || room.members.contains_key(&id)
                || state.operator(id).is_ok() =>
        {
            Ok(room)
        }
        _ => Err(HubError::NoSuchRoom(room_name.to_owned())),
    }
}

/// A list entry as the hub's vocabulary says it.
fn entry(e: &ListEntry) -> MaskEntry {
    MaskEntry {
        mask: e.mask.as_str().to_owned(),
        by: e.by.clone(),
        at: e.at,
    }
}

/// Makes one change to `room`, and returns it as it is announced (a mask
/// in its full form), or `None` if it changed nothing (a flag already set,
/// a mask already listed). `target` is the online user a rank change names
/// (their id and account).
fn apply(
    room: &mut Room,
    change: &Change,
    target: Option<(UserId, Option<String>)>,
    by: &str,
) -> Result<Option<Change>, HubError> {
    let settings = &mut room.settings;
    let changed = match change {
        Change::Flag(flag, on) => settings.set(*flag, *on),
        Change::Key(key) => {
            let changed = settings.key != *key;
            settings.key.clone_from(key);
            changed
        }
        Change::Limit(limit) => {
            let changed = settings.limit != *limit;
            settings.limit = *limit;
            changed
        }
        Change::Rank(rank, on, nick) => {
            let Some((id, account)) = target else {
                return Err(HubError::NoSuchUser(nick.clone()));
            };
            if !room.members.contains_key(&id) && !room.remote.contains_key(&id) {
                return Err(HubError::TheyAreNotInRoom(
                    nick.clone(),
                    room.topic.room.clone(),
                ));
            }
            let set = match rank {
                Rank::Operator => &mut room.operators,
                Rank::Voice => &mut room.voiced,
            };
            let changed = if *on { set.insert(id) } else { set.remove(&id) };
            if *rank == Rank::Operator
                && let Some(account) = account
            {
                if *on {
                    settings.operators.insert(account);
                } else {
                    settings.operators.remove(&account);
                }
            }
            changed
        }
        Change::Mask(list, on, mask) => {
            let entries = settings.list_mut(*list);
            let at = entries.iter().position(|e| e.mask.same(mask));
            match (on, at) {
                (true, Some(_)) | (false, None) => false,
                (true, None) => {
                    if entries.len() >= MAX_LIST_ENTRIES {
                        return Err(HubError::ListFull(room.topic.room.clone(), list.letter()));
                    }
                    let mask = Mask::new(mask);
                    let text = mask.as_str().to_owned();
                    entries.push(ListEntry {
                        mask,
                        by: by.to_owned(),
                        at: now_ms(),
                    });
                    return Ok(Some(Change::Mask(*list, true, text)));
                }
                (false, Some(at)) => {
                    let removed = entries.remove(at);
                    return Ok(Some(Change::Mask(
                        *list,
                        false,
                        removed.mask.as_str().to_owned(),
                    )));
                }
            }
        }
        Change::Show(_) => false,
    };
    Ok(changed.then(|| change.clone()))
}
