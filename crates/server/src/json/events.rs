//! Events as the JSON protocol writes them: `message`, `direct` and
//! `presence` frames (docs/protocol.md).

use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::json::{
    ChatMessage, DirectMessage, MemberInfo, ModeChanges, Presence, PresenceEvent, PresenceSummary,
    ReadMarker, ServerFrame, encode_frame,
};
use chatroom_proto::nick::SYSTEM_NICK;

use crate::event::{self, EventKind, MarkerTarget, Person, QuitReason};

/// The frame for `kind`, which happened at `ts` (ms since the epoch).
pub fn encode(kind: &EventKind, ts: i64) -> Bytes {
    let presence = |event, room: Option<&str>, who: &Person, message: String| Presence {
        event,
        room: room.map(str::to_owned),
        user_id: who.id,
        nickname: who.nick.to_string(),
        ts,
        reason: None,
        old_nickname: None,
        topic: None,
        mode: None,
        summary: None,
        away: None,
        sender_id: 0,
        sender_nickname: SYSTEM_NICK.to_owned(),
        message,
    };
    let frame = match kind {
        // Tags without a message, and the notifications only IRC clients
        // ask for, say nothing in JSON.
        EventKind::TagMsg { .. }
        | EventKind::Account { .. }
        | EventKind::Invited { .. }
        | EventKind::Realname { .. }
        | EventKind::Wallops { .. }
        | EventKind::Online { .. }
        | EventKind::Offline { .. }
        | EventKind::Host { .. }
        | EventKind::OwnHost { .. } => return Bytes::new(),
        EventKind::ReadMarker { target, ts, .. } => {
            ServerFrame::ReadMarker(read_marker(target, *ts))
        }
        EventKind::Message {
            msg_id,
            ts,
            room,
            from,
            text,
            action,
            ..
        } => ServerFrame::Message(ChatMessage {
            msg_id: *msg_id,
            ts: *ts,
            room: room.to_string(),
            sender_id: from.id,
            sender_nickname: from.nick.to_string(),
            message: text.to_string(),
            action: *action,
            history: false,
        }),
        EventKind::Direct {
            msg_id,
            ts,
            from,
            to,
            text,
            action,
            ..
        } => ServerFrame::Direct(DirectMessage {
            msg_id: *msg_id,
            ts: *ts,
            sender_id: from.id,
            sender_nickname: from.nick.to_string(),
            to_id: to.0,
            to_nickname: to.1.to_string(),
            message: text.to_string(),
            action: *action,
            history: false,
        }),
        EventKind::Join { room, who, .. } => ServerFrame::Presence(presence(
            PresenceEvent::Join,
            Some(room),
            who,
            format!("{}({}) joined {room}", who.nick, who.id),
        )),
        EventKind::Part { room, who, reason } => {
            let mut p = presence(
                PresenceEvent::Leave,
                Some(room),
                who,
                format!("{}({}) left {room}", who.nick, who.id),
            );
            p.reason = Some(reason.as_deref().unwrap_or("part").to_owned());
            ServerFrame::Presence(p)
        }
        EventKind::Quit { who, reason } => {
            let reason = match reason {
                QuitReason::Closed(why) => why.as_str().to_owned(),
                QuitReason::Said(text) => format!("Quit: {text}"),
            };
            let mut p = presence(
                PresenceEvent::Leave,
                None,
                who,
                format!("{}({}) left ({reason})", who.nick, who.id),
            );
            p.reason = Some(reason);
            ServerFrame::Presence(p)
        }
        EventKind::Away { who, message } => {
            let (event, text) = match message {
                Some(away) => (
                    PresenceEvent::Away,
                    format!("{}({}) is away: {away}", who.nick, who.id),
                ),
                None => (
                    PresenceEvent::Back,
                    format!("{}({}) is back", who.nick, who.id),
                ),
            };
            let mut p = presence(event, None, who, text);
            p.away = message.as_deref().map(str::to_owned);
            ServerFrame::Presence(p)
        }
        EventKind::Nick { who, new } => {
            let mut p = presence(
                PresenceEvent::Nick,
                None,
                who,
                format!("{}({}) is now known as {new}", who.nick, who.id),
            );
            p.nickname = new.to_string();
            p.old_nickname = Some(who.nick.to_string());
            ServerFrame::Presence(p)
        }
        EventKind::Kick {
            room,
            by,
            target,
            reason,
        } => {
            let mut p = presence(
                PresenceEvent::Leave,
                Some(room),
                target,
                format!(
                    "{}({}) was kicked from {room} by {}: {reason}",
                    target.nick, target.id, by.nick
                ),
            );
            p.reason = Some(format!("kicked by {}: {reason}", by.nick));
            ServerFrame::Presence(p)
        }
        EventKind::Mode {
            room,
            by,
            modes,
            args,
        } => {
            let shown: Vec<&str> = std::iter::once(&**modes)
                .chain(args.iter().map(|a| &**a))
                .collect();
            let mut p = presence(
                PresenceEvent::Mode,
                Some(room),
                by,
                format!(
                    "{}({}) sets mode {} on {room}",
                    by.nick,
                    by.id,
                    shown.join(" ")
                ),
            );
            p.mode = Some(Box::new(ModeChanges {
                modes: modes.to_string(),
                args: args.iter().map(|a| a.to_string()).collect(),
            }));
            ServerFrame::Presence(p)
        }
        EventKind::Invite { room, by, target } => ServerFrame::Presence(presence(
            PresenceEvent::Invite,
            Some(room),
            by,
            format!("{}({}) invites {} into {room}", by.nick, by.id, target.nick),
        )),
        EventKind::Summary {
            room,
            counts: (joined, left, members),
            joined: joined_names,
            left: left_names,
        } => {
            let system = Person {
                id: 0,
                nick: SYSTEM_NICK.into(),
                user: SYSTEM_NICK.into(),
                host: SYSTEM_NICK.into(),
                bot: false,
                account: None,
            };
            let mut p = presence(
                PresenceEvent::Summary,
                Some(room),
                &system,
                event::summary_text(*joined, joined_names, *left, left_names, *members),
            );
            p.summary = Some(Box::new(PresenceSummary {
                joined: *joined,
                left: *left,
                members: *members,
                joined_users: member_infos(joined_names),
                left_users: member_infos(left_names),
            }));
            ServerFrame::Presence(p)
        }
        EventKind::Topic {
            room, who, topic, ..
        } => {
            let mut p = presence(
                PresenceEvent::Topic,
                Some(room),
                who,
                format!("{}({}) set the topic of {room}: {topic}", who.nick, who.id),
            );
            p.topic = Some(topic.to_string());
            ServerFrame::Presence(p)
        }
    };
    encode_frame(&frame)
}

/// A summary's users as the JSON protocol lists them.
fn member_infos(users: &[(u64, Arc<str>)]) -> Vec<MemberInfo> {
    users
        .iter()
        .map(|(id, nick)| MemberInfo {
            operator: false,
            voice: false,
            away: None,
            id: *id,
            nickname: nick.to_string(),
        })
        .collect()
}

/// The `read_marker` frame for `target` (no `ref`: add the request's when
/// it answers one).
pub fn read_marker(target: &MarkerTarget, ts: i64) -> ReadMarker {
    let (room, with) = match target {
        MarkerTarget::Room(name) => (Some(name.to_string()), None),
        MarkerTarget::Nick(nick) => (None, Some(nick.to_string())),
    };
    ReadMarker {
        room,
        with,
        ts,
        reference: None,
    }
}
