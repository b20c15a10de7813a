//! Saying things: messages to rooms and direct messages, relayed at once
//! and stored.

use std::sync::Arc;
use std::time::Instant;

use chatroom_proto::chat_text;
use chatroom_proto::nick;
use chatroom_proto::room::LOBBY;

use chatroom_proto::modes::Flag;
use chatroom_proto::room;

use super::Hub;
use super::publish::Audience;
use super::state::{Room, State};
use super::types::{Client, HubError, Posted, Style, UserId};
use crate::cluster::{Envelope, Recipients};
use crate::event::{Event, EventKind, TagTarget};
use crate::store::{Receipt, StoredKind, StoredMessage};

impl Hub {
    /// Refuses a text longer than the server allows.
    fn check_length(&self, text: &str) -> Result<(), HubError> {
        let max = self.settings.max_message_bytes;
        if max > 0 && text.len() > max {
            return Err(HubError::MessageTooLong(max));
        }
        Ok(())
    }

    /// Relays `text` to everyone else in `room` (the lobby when `None`) and
    /// stores it; `receipt` is told once it is durable.
    pub fn say(
        &self,
        client: &Client,
        room_name: Option<&str>,
        text: &str,
        style: Style,
        receipt: Option<Receipt>,
    ) -> Result<Posted, HubError> {
        self.check_length(text)?;
        client.touch();
        let text = chat_text::sanitize(text);
        let accepted = Instant::now();
        let state = self.state.lock();
        let from = state.user(client.id)?.person.clone();
        let (key, room) = speaking_room(&state, client.id, room_name.unwrap_or(LOBBY))?;
        // In a cluster Redis gives the id, and every node (this one too)
        // delivers the message in Redis's order.
        let cluster = self.cluster();
        let (msg_id, ts) = match cluster {
            Some(_) => (0, crate::clock::now_ms()),
            None => self.ids.message(),
        };
        let text: Arc<str> = text.as_ref().into();
        let name: Arc<str> = room.topic.room.as_str().into();
        let kind = EventKind::Message {
            msg_id,
            ts,
            room: name.clone(),
            from: from.clone(),
            text: text.clone(),
            action: style.action,
            notice: style.notice,
            tags: style.tags.clone(),
            lines: style.lines.clone(),
        };
        let stored = StoredMessage {
            id: msg_id,
            ts,
            room: Some((key.clone(), name.to_string())),
            sender_id: client.id,
            sender_nick: from.nick.to_string(),
            recipient: None,
            text: text.to_string(),
            action: style.action,
            kind: stored_kind(&style),
            tags: stored_tags(&style.tags),
        };
        if let Some(cluster) = cluster {
            let envelope = Envelope::said(
                cluster.node(),
                Recipients::Room(key.clone()),
                (!client.echo()).then_some(client.id),
                kind,
                Some(stored),
                ts,
            );
            cluster.to_room(&key, envelope, receipt);
            self.metrics.room_message(accepted);
            return Ok(Posted {
                msg_id,
                ts,
                away: None,
            });
        }
        let event = Event::new(kind, ts);
        let audience = if client.echo() {
            Audience::room(&key)
        } else {
            Audience::room_except(&key, client.id)
        };
        state.publish(audience, &event);
        self.metrics.room_message(accepted);
        self.store.message(stored, receipt);
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
        client: &Client,
        to: &str,
        text: &str,
        style: Style,
        reply: impl FnOnce(&str, Option<&str>) -> Option<Receipt>,
    ) -> Result<Posted, HubError> {
        self.check_length(text)?;
        client.touch();
        let text = chat_text::sanitize(text);
        let accepted = Instant::now();
        let state = self.state.lock();
        let from = state.user(client.id)?.person.clone();
        let recipient = state
            .nicks
            .get(&nick::fold(to))
            .and_then(|id| state.users.get(id));
        if let Some(cluster) = self.cluster() {
            // Wherever they are: the node holding their nickname's lease
            // gets it through its inbox, and Redis gives the id.
            let ts = crate::clock::now_ms();
            let (to_id, to_nick, away) = match recipient {
                Some(user) => (user.person.id, user.person.nick.clone(), user.away.clone()),
                None => (0, Arc::from(to), None),
            };
            let text: Arc<str> = text.as_ref().into();
            let receipt = reply(&to_nick, away.as_deref());
            let envelope = Envelope::said(
                cluster.node(),
                Recipients::User(to_id),
                None,
                EventKind::Direct {
                    msg_id: 0,
                    ts,
                    from: from.clone(),
                    to: (to_id, to_nick.clone()),
                    text: text.clone(),
                    action: style.action,
                    notice: style.notice,
                    tags: style.tags.clone(),
                    lines: style.lines.clone(),
                },
                Some(StoredMessage {
                    id: 0,
                    ts,
                    room: None,
                    sender_id: client.id,
                    sender_nick: from.nick.to_string(),
                    recipient: Some((to_id, to_nick.to_string())),
                    text: text.to_string(),
                    action: style.action,
                    kind: stored_kind(&style),
                    tags: stored_tags(&style.tags),
                }),
                ts,
            );
            let echo = client.echo().then_some(client.id);
            cluster.to_nick(&nick::fold(to), envelope, receipt, echo);
            self.metrics.direct_message(accepted);
            return Ok(Posted {
                msg_id: 0,
                ts,
                away,
            });
        }
        let recipient = recipient.ok_or_else(|| HubError::NoSuchUser(to.to_owned()))?;
        let (msg_id, ts) = self.ids.message();
        let text: Arc<str> = text.as_ref().into();
        let event = Event::new(
            EventKind::Direct {
                msg_id,
                ts,
                from: from.clone(),
                to: (recipient.person.id, recipient.person.nick.clone()),
                text: text.clone(),
                action: style.action,
                notice: style.notice,
                tags: style.tags.clone(),
                lines: style.lines.clone(),
            },
            ts,
        );
        if recipient.person.id == client.id {
            // To oneself: received, and echoed as well if asked.
            state.publish_to_self(&recipient.client, &event);
            if client.echo() {
                state.publish(Audience::User(client.id), &event);
            }
        } else {
            state.publish(Audience::User(recipient.person.id), &event);
            if client.echo() {
                state.publish(Audience::User(client.id), &event);
            }
        }
        self.metrics.direct_message(accepted);
        let receipt = reply(&recipient.person.nick, recipient.away.as_deref());
        self.store.message(
            StoredMessage {
                id: msg_id,
                ts,
                room: None,
                sender_id: client.id,
                sender_nick: from.nick.to_string(),
                recipient: Some((recipient.person.id, recipient.person.nick.to_string())),
                text: text.to_string(),
                action: style.action,
                kind: stored_kind(&style),
                tags: stored_tags(&style.tags),
            },
            receipt,
        );
        Ok(Posted {
            msg_id,
            ts,
            away: recipient.away.clone(),
        })
    }
}

impl Hub {
    /// Relays IRCv3 client-only `tags` without a message (`TAGMSG`) to a
    /// room (`to` a channel's room name) or a user, under the same rules
    /// as a message; nothing is stored. Only clients that take tags see it
    /// (the others' encodings are empty).
    pub fn tag_message(
        &self,
        client: &Client,
        to: TagTo<'_>,
        tags: Arc<[(String, Option<String>)]>,
    ) -> Result<(), HubError> {
        let state = self.state.lock();
        let from = state.user(client.id)?.person.clone();
        let cluster = self.cluster();
        let (msg_id, ts) = match cluster {
            Some(_) => (0, crate::clock::now_ms()),
            None => self.ids.message(),
        };
        // Reactions and the like are kept in history (shown to IRC
        // clients that ask for events); typing notifications are not.
        let kept = tags
            .iter()
            .any(|(key, _)| KEPT_TAGS.contains(&key.as_str()));
        let stored = kept.then(|| StoredMessage {
            id: msg_id,
            ts,
            room: None,
            sender_id: client.id,
            sender_nick: from.nick.to_string(),
            recipient: None,
            text: String::new(),
            action: false,
            kind: StoredKind::TagMsg,
            tags: tags.to_vec(),
        });
        let kind = |target, from| EventKind::TagMsg {
            msg_id,
            ts,
            from,
            target,
            tags,
        };
        let stored = match to {
            TagTo::Room(room_name) => {
                let (key, room) = speaking_room(&state, client.id, room_name)?;
                let kind = kind(TagTarget::Room(room.topic.room.as_str().into()), from);
                let stored = stored.map(|stored| StoredMessage {
                    room: Some((key.clone(), room.topic.room.clone())),
                    ..stored
                });
                if let Some(cluster) = cluster {
                    let envelope = Envelope::said(
                        cluster.node(),
                        Recipients::Room(key.clone()),
                        (!client.echo()).then_some(client.id),
                        kind,
                        stored,
                        ts,
                    );
                    cluster.to_room(&key, envelope, None);
                    return Ok(());
                }
                let event = Event::new(kind, ts);
                let audience = if client.echo() {
                    Audience::room(&key)
                } else {
                    Audience::room_except(&key, client.id)
                };
                state.publish(audience, &event);
                stored
            }
            TagTo::User(nick) => {
                if let Some(cluster) = cluster {
                    // Wherever they are, as a direct message goes.
                    let envelope = Envelope::said(
                        cluster.node(),
                        Recipients::User(0),
                        None,
                        kind(TagTarget::User(0, nick.into()), from),
                        stored.map(|stored| StoredMessage {
                            recipient: Some((0, nick.to_owned())),
                            ..stored
                        }),
                        ts,
                    );
                    let echo = client.echo().then_some(client.id);
                    cluster.to_nick(&nick::fold(nick), envelope, None, echo);
                    return Ok(());
                }
                let recipient = state.by_nick(nick)?;
                let id = recipient.person.id;
                let to_nick = recipient.person.nick.clone();
                let event = Event::new(kind(TagTarget::User(id, to_nick.clone()), from), ts);
                if id == client.id {
                    state.publish_to_self(&recipient.client, &event);
                } else {
                    state.publish(Audience::User(id), &event);
                }
                if client.echo() {
                    state.publish(Audience::User(client.id), &event);
                }
                stored.map(|stored| StoredMessage {
                    recipient: Some((id, to_nick.to_string())),
                    ..stored
                })
            }
        };
        // Queued under the hub's lock, as messages are: the store gets
        // them in the order of their ids.
        if let Some(stored) = stored {
            self.store.message(stored, None);
        }
        Ok(())
    }
}

/// The client-only tags that make a `TAGMSG` worth keeping in history:
/// reactions (IRCv3 `+draft/react`, and `+react` some clients send), and
/// `+draft/persist`, a sender's explicit ask to keep it.
pub const KEPT_TAGS: [&str; 3] = ["+draft/react", "+react", "+draft/persist"];

/// What a message is, as stored.
fn stored_kind(style: &Style) -> StoredKind {
    if style.notice {
        StoredKind::Notice
    } else {
        StoredKind::Message
    }
}

/// A message's client-only tags, as stored.
fn stored_tags(tags: &crate::event::ClientTags) -> Vec<(String, Option<String>)> {
    tags.as_deref().map(<[_]>::to_vec).unwrap_or_default()
}

/// Where a `TAGMSG` goes.
#[derive(Debug, Clone, Copy)]
pub enum TagTo<'a> {
    /// A room, by name.
    Room(&'a str),
    /// A user, by nickname.
    User(&'a str),
}

/// The room user `id` may say something in, by key: a member, unless the
/// room is moderated (operators and voiced members only) or a ban matches
/// them (unless they are an operator or voiced); someone outside, only if
/// the room takes messages from outside (`-n`) and does not ban them.
fn speaking_room<'a>(
    state: &'a State,
    id: UserId,
    room_name: &str,
) -> Result<(String, &'a Room), HubError> {
    let key = room::fold(room_name);
    let member = state.user(id)?.rooms.contains(&key);
    let room = match state.rooms.get(&key) {
        Some(room) if member || !room.settings.has(Flag::NoOutside) => room,
        _ => return Err(HubError::NotInRoom(room_name.to_owned())),
    };
    let settings = &room.settings;
    if settings.has(Flag::Moderated) || !settings.bans.is_empty() {
        let standing = room.standing(id);
        let name = || room.topic.room.clone();
        if settings.has(Flag::Moderated) && !standing.may_speak() {
            return Err(HubError::CannotSend(name(), "the room is moderated"));
        }
        if !standing.may_speak() && state.subject(id).is_some_and(|who| settings.bans_out(&who)) {
            return Err(HubError::CannotSend(name(), "you are banned from it"));
        }
    }
    Ok((key, room))
}
