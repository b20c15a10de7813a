//! What the hub delivers, built once and encoded at most once per wire format.
//!
//! The hub never knows which protocol a member speaks: it builds an [`Event`]
//! and queues `event.encoded(member.format())` for every receiver. The first
//! receiver of each format pays for the encoding; everyone else gets the same
//! reference-counted bytes.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use chatroom_proto::irc::{self, Message, Source};
use chatroom_proto::json::{
    ChatMessage, DirectMessage, MemberInfo, Presence, PresenceEvent, PresenceSummary, ServerFrame,
    encode_frame,
};
use chatroom_proto::nick::SYSTEM_NICK;

/// How a member wants events written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON frames, one per line.
    Json,
    /// IRC lines without tags.
    Irc,
    /// IRC lines with IRCv3 `time` and `msgid` tags (the client asked for
    /// `server-time` or `message-tags`).
    IrcTagged,
}

impl Format {
    fn index(self) -> usize {
        match self {
            Format::Json => 0,
            Format::Irc => 1,
            Format::IrcTagged => 2,
        }
    }
}

/// Who did something, as every protocol needs to show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// User id.
    pub id: u64,
    /// Nickname.
    pub nick: Arc<str>,
    /// IRC user name (the `user` in `nick!user@host`).
    pub user: Arc<str>,
    /// IRC host (a cloak, never the address).
    pub host: Arc<str>,
}

impl Who {
    fn source(&self) -> Source {
        Source::user(&*self.nick, &*self.user, &*self.host)
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// A message in a room.
    Message {
        /// Its id.
        msg_id: u64,
        /// Its time (ms since the epoch).
        ts: i64,
        /// The room's display name.
        room: Arc<str>,
        /// The sender.
        from: Who,
        /// The text.
        text: Arc<str>,
        /// A `/me` action.
        action: bool,
        /// Sent as an IRC NOTICE (never to be answered automatically).
        notice: bool,
    },
    /// A direct message.
    Direct {
        /// Its id.
        msg_id: u64,
        /// Its time.
        ts: i64,
        /// The sender.
        from: Who,
        /// The recipient's id and nickname.
        to: (u64, Arc<str>),
        /// The text.
        text: Arc<str>,
        /// A `/me` action.
        action: bool,
        /// Sent as an IRC NOTICE.
        notice: bool,
    },
    /// Someone joined a room.
    Join {
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Who,
    },
    /// Someone left a room (parted).
    Part {
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Who,
        /// Their reason, if they gave one.
        reason: Option<Arc<str>>,
    },
    /// Someone left the server.
    Quit {
        /// Who.
        who: Who,
        /// Why (`closed`, `logout`, a quit message...).
        reason: Arc<str>,
    },
    /// Someone changed nickname (`who` has the old one).
    Nick {
        /// Who, under their old nickname.
        who: Who,
        /// The new nickname.
        new: Arc<str>,
    },
    /// An operator removed someone from a room.
    Kick {
        /// The room.
        room: Arc<str>,
        /// The operator.
        by: Who,
        /// Who was removed.
        target: Who,
        /// Why.
        reason: Arc<str>,
    },
    /// In a large room: who joined and left since the last summary.
    Summary {
        /// The room.
        room: Arc<str>,
        /// How many joined and left, and how many are there now.
        counts: (u32, u32, u32),
        /// The first few who joined (id, nickname).
        joined: Vec<(u64, Arc<str>)>,
        /// The first few who left (id, nickname).
        left: Vec<(u64, Arc<str>)>,
    },
    /// Someone set a room's topic.
    Topic {
        /// The room.
        room: Arc<str>,
        /// Who.
        who: Who,
        /// The new topic.
        topic: Arc<str>,
    },
}

/// An event and its encodings.
pub struct Event {
    kind: EventKind,
    /// When it happened (ms since the epoch), for presence timestamps.
    ts: i64,
    cache: [OnceLock<Bytes>; 3],
}

impl Event {
    /// A new event, shared by every receiver.
    pub fn new(kind: EventKind, ts: i64) -> Arc<Event> {
        Arc::new(Event {
            kind,
            ts,
            cache: Default::default(),
        })
    }

    /// The event in `format`, encoded on first use.
    pub fn encoded(&self, format: Format) -> Bytes {
        self.cache[format.index()]
            .get_or_init(|| match format {
                Format::Json => self.json(),
                Format::Irc => self.irc(false),
                Format::IrcTagged => self.irc(true),
            })
            .clone()
    }

    fn json(&self) -> Bytes {
        let presence = |event, room: Option<&str>, who: &Who, message: String| Presence {
            event,
            room: room.map(str::to_owned),
            user_id: who.id,
            nickname: who.nick.to_string(),
            ts: self.ts,
            reason: None,
            old_nickname: None,
            topic: None,
            summary: None,
            sender_id: 0,
            sender_nickname: SYSTEM_NICK.to_owned(),
            message,
        };
        let frame = match &self.kind {
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
            EventKind::Join { room, who } => ServerFrame::Presence(presence(
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
                let mut p = presence(
                    PresenceEvent::Leave,
                    None,
                    who,
                    format!("{}({}) left ({reason})", who.nick, who.id),
                );
                p.reason = Some(reason.to_string());
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
            EventKind::Summary {
                room,
                counts: (joined, left, members),
                joined: joined_names,
                left: left_names,
            } => {
                let system = Who {
                    id: 0,
                    nick: SYSTEM_NICK.into(),
                    user: SYSTEM_NICK.into(),
                    host: SYSTEM_NICK.into(),
                };
                let mut p = presence(
                    PresenceEvent::Summary,
                    Some(room),
                    &system,
                    summary_text(*joined, joined_names, *left, left_names, *members),
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
            EventKind::Topic { room, who, topic } => {
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

    fn irc(&self, tagged: bool) -> Bytes {
        let mut out = Vec::with_capacity(128);
        let tag = |m: Message, msg_id: Option<u64>, ts: i64| {
            if !tagged {
                return m;
            }
            let m = m.with_tag("time", Some(&irc_time(ts)));
            match msg_id {
                Some(id) => m.with_tag("msgid", Some(&id.to_string())),
                None => m,
            }
        };
        match &self.kind {
            EventKind::Message {
                msg_id,
                ts,
                room,
                from,
                text,
                action,
                notice,
            } => {
                let template = Message::new(if *notice { "NOTICE" } else { "PRIVMSG" })
                    .with_source(from.source())
                    .param(irc::channel::room_to_channel(room));
                for line in irc_text_lines(&template, text, *action) {
                    tag(line, Some(*msg_id), *ts).encode_into(&mut out);
                }
            }
            EventKind::Direct {
                msg_id,
                ts,
                from,
                to,
                text,
                action,
                notice,
            } => {
                let template = Message::new(if *notice { "NOTICE" } else { "PRIVMSG" })
                    .with_source(from.source())
                    .param(&*to.1);
                for line in irc_text_lines(&template, text, *action) {
                    tag(line, Some(*msg_id), *ts).encode_into(&mut out);
                }
            }
            EventKind::Join { room, who } => {
                let m = Message::new("JOIN")
                    .with_source(who.source())
                    .param(irc::channel::room_to_channel(room));
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Part { room, who, reason } => {
                let mut m = Message::new("PART")
                    .with_source(who.source())
                    .param(irc::channel::room_to_channel(room));
                if let Some(reason) = reason {
                    m = m.trailing_param(&**reason);
                }
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Quit { who, reason } => {
                let m = Message::new("QUIT")
                    .with_source(who.source())
                    .trailing_param(quit_text(reason));
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Nick { who, new } => {
                let m = Message::new("NICK").with_source(who.source()).param(&**new);
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Kick {
                room,
                by,
                target,
                reason,
            } => {
                let m = Message::new("KICK")
                    .with_source(by.source())
                    .param(irc::channel::room_to_channel(room))
                    .param(&*target.nick)
                    .trailing_param(&**reason);
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Summary {
                room,
                counts: (joined, left, members),
                joined: joined_names,
                left: left_names,
            } => {
                let text = summary_text(*joined, joined_names, *left, left_names, *members);
                let m = Message::new("NOTICE")
                    .with_source(Source::server(SYSTEM_NICK))
                    .param(irc::channel::room_to_channel(room))
                    .trailing_param(format!("*** {text}"));
                tag(m, None, self.ts).encode_into(&mut out);
            }
            EventKind::Topic { room, who, topic } => {
                let m = Message::new("TOPIC")
                    .with_source(who.source())
                    .param(irc::channel::room_to_channel(room))
                    .trailing_param(&**topic);
                tag(m, None, self.ts).encode_into(&mut out);
            }
        }
        Bytes::from(out)
    }
}

/// A presence summary as text: `150 joined (a, b, ...), 3 left (c); 9876 here`.
fn summary_text(
    joined: u32,
    joined_names: &[(u64, Arc<str>)],
    left: u32,
    left_names: &[(u64, Arc<str>)],
    members: u32,
) -> String {
    let part = |count: u32, names: &[(u64, Arc<str>)], verb: &str| {
        let listed: Vec<&str> = names.iter().map(|(_, n)| &**n).collect();
        let more = if count as usize > names.len() {
            ", ..."
        } else {
            ""
        };
        format!("{count} {verb} ({}{more})", listed.join(", "))
    };
    let mut parts = Vec::new();
    if joined > 0 {
        parts.push(part(joined, joined_names, "joined"));
    }
    if left > 0 {
        parts.push(part(left, left_names, "left"));
    }
    format!("{}; {members} here", parts.join(", "))
}

/// A summary's users as the JSON protocol lists them.
fn member_infos(users: &[(u64, Arc<str>)]) -> Vec<MemberInfo> {
    users
        .iter()
        .map(|(id, nick)| MemberInfo {
            id: *id,
            nickname: nick.to_string(),
        })
        .collect()
}

/// IRCv3 `server-time`: `2026-11-24T12:34:56.789Z`.
pub fn irc_time(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// How a quit reason reads on IRC: the client's own message as `Quit: ...`,
/// the server's reasons as they are.
fn quit_text(reason: &str) -> String {
    match reason {
        "closed" => "Connection closed".to_owned(),
        "reset" => "Connection reset".to_owned(),
        "logout" => "Logged out".to_owned(),
        // The name IRC servers give this ("SendQ exceeded"), and what it
        // means for people who do not know it.
        "slow_consumer" => "SendQ exceeded (fell too far behind reading)".to_owned(),
        "flood" => "Excess flood (sent too fast)".to_owned(),
        "frame_too_large" => "Input line too long".to_owned(),
        "ping_timeout" => "Ping timeout".to_owned(),
        "login_timeout" => "Registration timeout".to_owned(),
        "killed" => "Killed by an operator".to_owned(),
        "banned" => "Banned".to_owned(),
        "shutdown" => "Server shutting down".to_owned(),
        other => other.to_owned(),
    }
}

/// A message's text as IRC lines: one per line of the text, each split to
/// fit the 512-byte limit, actions wrapped in CTCP ACTION.
pub fn irc_text_lines(template: &Message, text: &str, action: bool) -> Vec<Message> {
    let mut lines = Vec::new();
    for line in irc::text_lines(text) {
        if action {
            // Leave room for the two \x01 and "ACTION ".
            let inner = template.clone().trailing_param(String::new());
            let budget = irc::text_budget(&inner).saturating_sub(9).max(1);
            for piece in irc::split_text(line, budget) {
                lines.push(
                    template
                        .clone()
                        .trailing_param(format!("\u{1}ACTION {piece}\u{1}")),
                );
            }
        } else {
            lines.extend(irc::fit_text(template, line));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(nick: &str) -> Who {
        Who {
            id: 7,
            nick: nick.into(),
            user: "u".into(),
            host: "user/7".into(),
        }
    }

    fn message(text: &str, action: bool) -> Arc<Event> {
        Event::new(
            EventKind::Message {
                msg_id: 42,
                ts: 0,
                room: "lobby".into(),
                from: who("bob"),
                text: text.into(),
                action,
                notice: false,
            },
            0,
        )
    }

    #[test]
    fn quit_reasons_say_what_happened() {
        assert_eq!(
            quit_text("slow_consumer"),
            "SendQ exceeded (fell too far behind reading)"
        );
        assert_eq!(quit_text("flood"), "Excess flood (sent too fast)");
        assert_eq!(quit_text("ping_timeout"), "Ping timeout");
        assert_eq!(quit_text("Quit: bye"), "Quit: bye");
    }

    #[test]
    fn summaries_name_the_first_few_and_elide_the_rest() {
        let users = |names: &[&str]| -> Vec<(u64, Arc<str>)> {
            names.iter().map(|n| (1, Arc::from(*n))).collect()
        };
        assert_eq!(
            summary_text(3, &users(&["a", "b"]), 0, &[], 120),
            "3 joined (a, b, ...); 120 here"
        );
        assert_eq!(
            summary_text(1, &users(&["a"]), 2, &users(&["b", "c"]), 99),
            "1 joined (a), 2 left (b, c); 99 here"
        );
        assert_eq!(
            summary_text(0, &[], 1, &users(&["张三"]), 5),
            "1 left (张三); 5 here"
        );
    }

    #[test]
    fn each_format_is_encoded_once_and_shared() {
        let event = message("hi", false);
        let a = event.encoded(Format::Json);
        let b = event.encoded(Format::Json);
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, not a copy");
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["message"], "hi");
        assert_eq!(
            &event.encoded(Format::Irc)[..],
            b":bob!u@user/7 PRIVMSG #lobby :hi\r\n"
        );
        assert_eq!(
            &event.encoded(Format::IrcTagged)[..],
            b"@time=1970-01-01T00:00:00.000Z;msgid=42 :bob!u@user/7 PRIVMSG #lobby :hi\r\n"
        );
    }

    #[test]
    fn multi_line_text_and_actions_on_irc() {
        let text =
            String::from_utf8(message("one\ntwo", false).encoded(Format::Irc).to_vec()).unwrap();
        assert_eq!(
            text,
            ":bob!u@user/7 PRIVMSG #lobby :one\r\n:bob!u@user/7 PRIVMSG #lobby :two\r\n"
        );
        let text = String::from_utf8(message("waves", true).encoded(Format::Irc).to_vec()).unwrap();
        assert_eq!(
            text,
            ":bob!u@user/7 PRIVMSG #lobby :\u{1}ACTION waves\u{1}\r\n"
        );
    }

    #[test]
    fn long_text_is_split_within_the_line_limit() {
        let long = "字".repeat(400);
        let bytes = message(&long, false).encoded(Format::IrcTagged);
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert!(lines.len() > 1);
        let mut rebuilt = String::new();
        for line in &lines {
            let body = line.split_once(' ').unwrap().1;
            assert!(body.len() + 2 <= 512, "{}", body.len());
            rebuilt.push_str(
                line.rsplit_once(" :")
                    .map_or_else(|| line.rsplit_once(' ').unwrap().1, |p| p.1),
            );
        }
        assert_eq!(rebuilt, long);
    }

    #[test]
    fn presence_on_irc() {
        let quit = Event::new(
            EventKind::Quit {
                who: who("bob"),
                reason: "closed".into(),
            },
            0,
        );
        assert_eq!(
            &quit.encoded(Format::Irc)[..],
            b":bob!u@user/7 QUIT :Connection closed\r\n"
        );
        let nick = Event::new(
            EventKind::Nick {
                who: who("bob"),
                new: "rob".into(),
            },
            0,
        );
        assert_eq!(
            &nick.encoded(Format::Irc)[..],
            b":bob!u@user/7 NICK rob\r\n"
        );
        let v: serde_json::Value = serde_json::from_slice(&nick.encoded(Format::Json)).unwrap();
        assert_eq!(v["old_nickname"], "bob");
        assert_eq!(v["nickname"], "rob");
    }
}
