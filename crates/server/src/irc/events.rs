//! Events as IRC writes them: PRIVMSG, NOTICE, JOIN, PART, QUIT, NICK,
//! KICK, TOPIC, with IRCv3 `time` and `msgid` tags for clients that asked.

use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::irc::{self, Message, Source, numeric};
use chatroom_proto::nick::SYSTEM_NICK;

use crate::event::{self, EventKind, IrcFormat, IrcTags, Person, QuitReason, TagTarget};
use crate::outbox::CloseReason;

/// Where a person's lines come from: `nick!user@host`.
pub fn source(person: &Person) -> Source {
    Source::user(&*person.nick, &*person.user, &*person.host)
}

/// The lines for `kind`, which happened at `ts` (ms since the epoch), as
/// `format` asks: the server's tags, the senders' client-only tags (and
/// `TAGMSG`s), their accounts, and JOINs with account and real name.
pub fn encode(kind: &EventKind, ts: i64, format: IrcFormat) -> Bytes {
    let mut out = Vec::with_capacity(128);
    let client_tags = format.tags == IrcTags::MessageTags;
    let tag = |m: Message, msg_id: Option<u64>, at: i64| {
        with_server_tags(m, format, kind.actor(), msg_id, at)
    };
    match kind {
        EventKind::Message { .. } | EventKind::Direct { .. } => {
            if let Some(said) = Said::of(kind) {
                said.encode(format, &mut out);
            }
        }
        EventKind::TagMsg {
            msg_id,
            ts,
            from,
            target,
            tags,
        } => {
            // Tags are all a TAGMSG says: nothing for clients without them.
            if client_tags {
                let to = match target {
                    TagTarget::Room(room) => irc::channel::room_to_channel(room),
                    TagTarget::User(_, nick) => nick.to_string(),
                };
                let m = Message::new("TAGMSG").with_source(source(from)).param(to);
                with_client_tags(tag(m, Some(*msg_id), *ts), format, from.bot, tags)
                    .encode_into(&mut out);
            }
        }
        EventKind::Join {
            room,
            who,
            realname,
        } => {
            let mut m = Message::new("JOIN")
                .with_source(source(who))
                .param(irc::channel::room_to_channel(room));
            if format.extended_join {
                m = m
                    .param(who.account.as_deref().unwrap_or("*"))
                    .trailing_param(&**realname);
            }
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Part { room, who, reason } => {
            let mut m = Message::new("PART")
                .with_source(source(who))
                .param(irc::channel::room_to_channel(room));
            if let Some(reason) = reason {
                m = m.trailing_param(&**reason);
            }
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Quit { who, reason } => {
            let m = Message::new("QUIT")
                .with_source(source(who))
                .trailing_param(quit_text(reason));
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Nick { who, new } => {
            let m = Message::new("NICK").with_source(source(who)).param(&**new);
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Kick {
            room,
            by,
            target,
            reason,
        } => {
            let m = Message::new("KICK")
                .with_source(source(by))
                .param(irc::channel::room_to_channel(room))
                .param(&*target.nick)
                .trailing_param(&**reason);
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Summary {
            room,
            counts: (joined, left, members),
            joined: joined_names,
            left: left_names,
        } => {
            let text = event::summary_text(*joined, joined_names, *left, left_names, *members);
            let m = Message::new("NOTICE")
                .with_source(Source::server(SYSTEM_NICK))
                .param(irc::channel::room_to_channel(room))
                .trailing_param(format!("*** {text}"));
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Topic {
            msg_id,
            room,
            who,
            topic,
        } => {
            let m = Message::new("TOPIC")
                .with_source(source(who))
                .param(irc::channel::room_to_channel(room))
                .trailing_param(&**topic);
            tag(m, Some(*msg_id), ts).encode_into(&mut out);
        }
        EventKind::Mode {
            room,
            by,
            modes,
            args,
        } => {
            // Mode arguments never start with `:` nor hold spaces
            // (`chatroom_proto::modes`), so each is a middle parameter.
            let mut m = Message::new("MODE")
                .with_source(source(by))
                .param(irc::channel::room_to_channel(room))
                .param(&**modes);
            for arg in args {
                m = m.param(&**arg);
            }
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Away { who, message } => {
            let mut m = Message::new("AWAY").with_source(source(who));
            if let Some(message) = message {
                m = m.trailing_param(&**message);
            }
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Account { who, account } => {
            let m = Message::new("ACCOUNT")
                .with_source(source(who))
                .param(account.as_deref().unwrap_or("*"));
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Wallops { from, text } => {
            let m = Message::new("WALLOPS")
                .with_source(source(from))
                .trailing_param(&**text);
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Realname { who, realname } => {
            let m = Message::new("SETNAME")
                .with_source(source(who))
                .trailing_param(&**realname);
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Host { who, host } => {
            let m = Message::new("CHGHOST")
                .with_source(source(who))
                .param(&*who.user)
                .param(&**host);
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::OwnHost { server, nick, host } => {
            let m = Message::new(numeric::RPL_VISIBLEHOST.code())
                .with_source(Source::server(&**server))
                .param(&**nick)
                .param(&**host)
                .trailing_param("is now your displayed host");
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::ReadMarker { server, target, ts } => {
            super::read_marker::markread_line(server, target, Some(*ts)).encode_into(&mut out);
        }
        EventKind::Invite { room, by, target } | EventKind::Invited { room, by, target } => {
            let m = Message::new("INVITE")
                .with_source(source(by))
                .param(&*target.nick)
                .param(irc::channel::room_to_channel(room));
            tag(m, None, ts).encode_into(&mut out);
        }
        // Numerics shared by every watcher: addressed to `*`, as the
        // monitor specification allows.
        EventKind::Online { server, who } => {
            let m = Message::new(numeric::RPL_MONONLINE.code())
                .with_source(Source::server(&**server))
                .param("*")
                .trailing_param(format!("{}!{}@{}", who.nick, who.user, who.host));
            tag(m, None, ts).encode_into(&mut out);
        }
        EventKind::Offline { server, nick } => {
            let m = Message::new(numeric::RPL_MONOFFLINE.code())
                .with_source(Source::server(&**server))
                .param("*")
                .trailing_param(&**nick);
            tag(m, None, ts).encode_into(&mut out);
        }
    }
    Bytes::from(out)
}

/// The batch type of a message sent in several lines (IRCv3
/// `draft/multiline`).
pub const MULTILINE_BATCH: &str = "draft/multiline";

/// The tag on a line of a multiline batch that continues the line before
/// without a line break.
pub const MULTILINE_CONCAT: &str = "draft/multiline-concat";

/// A message or direct message, to write as IRC lines.
struct Said<'a> {
    /// Its source, command and target, without the text.
    template: Message,
    msg_id: u64,
    ts: i64,
    from: &'a Person,
    text: &'a str,
    action: bool,
    /// The sender's client-only tags.
    tags: &'a [(String, Option<String>)],
    /// The lines it was written in, if it came as a multiline batch.
    lines: Option<&'a [(Arc<str>, bool)]>,
}

impl<'a> Said<'a> {
    /// A message or direct message as IRC writes it (`None` for any other
    /// event).
    fn of(kind: &'a EventKind) -> Option<Said<'a>> {
        let target = match kind {
            EventKind::Message { room, .. } => irc::channel::room_to_channel(room),
            EventKind::Direct { to, .. } => to.1.to_string(),
            _ => return None,
        };
        let (EventKind::Message {
            msg_id,
            ts,
            from,
            text,
            action,
            notice,
            tags,
            lines,
            ..
        }
        | EventKind::Direct {
            msg_id,
            ts,
            from,
            text,
            action,
            notice,
            tags,
            lines,
            ..
        }) = kind
        else {
            return None;
        };
        let template = Message::new(if *notice { "NOTICE" } else { "PRIVMSG" })
            .with_source(source(from))
            .param(target);
        Some(Said {
            template,
            msg_id: *msg_id,
            ts: *ts,
            from,
            text,
            action: *action,
            tags: tags.as_deref().unwrap_or_default(),
            lines: lines.as_deref(),
        })
    }

    /// Writes the message: one line per line of its text, each split to
    /// fit. A client that took `draft/multiline` gets a message of several
    /// lines as one batch (the batch's opening line carries the message's
    /// tags; continuations of a split line are marked as such); others get
    /// the lines one by one, blank ones left out, the first with the
    /// message's id.
    fn encode(&self, format: IrcFormat, out: &mut Vec<u8>) {
        // (line, continues the one before)
        let mut pieces: Vec<(&str, bool)> = match self.lines {
            Some(lines) => lines.iter().map(|(l, concat)| (&**l, *concat)).collect(),
            None => self.text.split(['\r', '\n']).map(|l| (l, false)).collect(),
        };
        if self.lines.is_none() {
            // A text's trailing line breaks make no lines.
            while pieces.len() > 1 && pieces.last().is_some_and(|(l, _)| l.is_empty()) {
                pieces.pop();
            }
        }
        let mut lines: Vec<(Message, bool)> = Vec::new();
        for (piece, concat) in pieces {
            let fitted = irc_text_lines(&self.template, piece, self.action);
            if fitted.is_empty() && format.multiline {
                lines.push((self.template.clone().trailing_param(""), concat));
            }
            for (i, line) in fitted.into_iter().enumerate() {
                lines.push((line, concat || i > 0));
            }
        }
        if format.multiline && lines.len() > 1 {
            let reference = format!("ml{}", self.msg_id);
            let mut open = Message::new("BATCH")
                .param(format!("+{reference}"))
                .param(MULTILINE_BATCH);
            open.source = self.template.source.clone();
            if let Some(target) = self.template.params.first() {
                open = open.param(target);
            }
            self.tags(open, format, true).encode_into(out);
            for (line, concat) in lines {
                let mut line = line.with_tag("batch", Some(&reference));
                if concat {
                    line = line.with_tag(MULTILINE_CONCAT, None);
                }
                line.encode_into(out);
            }
            let mut close = Message::new("BATCH").param(format!("-{reference}"));
            close.source = self.template.source.clone();
            close.encode_into(out);
            return;
        }
        for (i, (line, _)) in lines.into_iter().enumerate() {
            self.tags(line, format, i == 0).encode_into(out);
        }
    }

    /// The tags `format` asks for: the server's (the message's id only on
    /// the line that stands for the message) and the sender's.
    fn tags(&self, m: Message, format: IrcFormat, with_id: bool) -> Message {
        let m = with_server_tags(
            m,
            format,
            Some(self.from),
            with_id.then_some(self.msg_id),
            self.ts,
        );
        with_client_tags(m, format, self.from.bot, self.tags)
    }
}

/// The server's tags `format` asks for on a line: the account of `by`,
/// whom the line is from (`account-tag`), then the time `at` and the
/// message's id (`server-time`, `message-tags`).
pub fn with_server_tags(
    mut m: Message,
    format: IrcFormat,
    by: Option<&Person>,
    msg_id: Option<u64>,
    at: i64,
) -> Message {
    if let (true, Some(account)) = (format.account_tag, by.and_then(|p| p.account.as_deref())) {
        m = m.with_tag("account", Some(account));
    }
    if format.tags == IrcTags::None {
        return m;
    }
    m = m.with_tag("time", Some(&irc_time(at)));
    match msg_id {
        Some(id) => m.with_tag("msgid", Some(&id.to_string())),
        None => m,
    }
}

/// The sender's client-only tags after the server's (and `bot` for a
/// bot's), for clients that take tags (`message-tags`).
pub fn with_client_tags(
    mut m: Message,
    format: IrcFormat,
    bot: bool,
    tags: &[(String, Option<String>)],
) -> Message {
    if format.tags != IrcTags::MessageTags {
        return m;
    }
    if bot {
        m = m.with_tag("bot", None);
    }
    for (key, value) in tags {
        m = m.with_tag(key.as_str(), value.as_deref());
    }
    m
}

/// IRCv3 `server-time`: `2026-11-24T12:34:56.789Z`.
pub fn irc_time(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

/// How a quit reason reads on IRC: the client's own message as `Quit: ...`,
/// the server's reasons in the words IRC servers use.
pub fn quit_text(reason: &QuitReason) -> String {
    match reason {
        QuitReason::Said(text) => format!("Quit: {text}"),
        QuitReason::Closed(why) => closed_text(*why).to_owned(),
    }
}

/// Why the server closed (or saw closed) a connection, as IRC says it: in
/// the QUIT others see and the ERROR the client gets.
pub fn closed_text(why: CloseReason) -> &'static str {
    match why {
        CloseReason::Closed => "Connection closed",
        CloseReason::Reset => "Connection reset",
        CloseReason::Logout => "Client quit",
        CloseReason::Shutdown => "Server shutting down",
        // The name IRC servers give this ("SendQ exceeded"), and what it
        // means for people who do not know it.
        CloseReason::SlowConsumer => "SendQ exceeded (fell too far behind reading)",
        CloseReason::Flood => "Excess Flood (sent too fast)",
        CloseReason::FrameTooLarge => "Input line too long",
        CloseReason::PingTimeout => "Ping timeout",
        CloseReason::LoginTimeout => "Registration timed out",
        CloseReason::Killed => "Killed by an operator",
        CloseReason::Banned => "Banned",
        CloseReason::TooManyAttempts => "Too many wrong passwords",
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
    use std::sync::Arc;

    use super::*;
    use crate::event::{Event, Format};

    fn who(nick: &str) -> Person {
        Person {
            id: 7,
            nick: nick.into(),
            user: "u".into(),
            host: Person::cloak(7),
            bot: false,
            account: None,
        }
    }

    fn tagged(tags: IrcTags) -> IrcFormat {
        IrcFormat {
            tags,
            ..IrcFormat::default()
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
                tags: None,
                lines: None,
            },
            0,
        )
    }

    #[test]
    fn client_tags_follow_the_servers_and_only_for_tagged_clients() {
        let tags: Arc<[(String, Option<String>)]> =
            vec![("+draft/reply".to_owned(), Some("7 x;y".to_owned()))].into();
        let kind = EventKind::Message {
            msg_id: 42,
            ts: 0,
            room: "lobby".into(),
            from: who("bob"),
            text: "hi".into(),
            action: false,
            notice: false,
            tags: Some(tags.clone()),
            lines: None,
        };
        assert_eq!(
            encode(&kind, 0, tagged(IrcTags::MessageTags)),
            &b"@time=1970-01-01T00:00:00.000Z;msgid=42;+draft/reply=7\\sx\\:y :bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..]
        );
        assert_eq!(
            encode(&kind, 0, tagged(IrcTags::ServerTime)),
            &b"@time=1970-01-01T00:00:00.000Z;msgid=42 :bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..],
            "server-time alone: the server's tags only"
        );
        assert_eq!(
            encode(&kind, 0, tagged(IrcTags::None)),
            &b":bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..]
        );
        let typing = EventKind::TagMsg {
            msg_id: 43,
            ts: 0,
            from: who("bob"),
            target: TagTarget::User(3, "ann".into()),
            tags,
        };
        assert!(
            encode(&typing, 0, tagged(IrcTags::None)).is_empty(),
            "nothing without tags"
        );
        assert!(
            encode(&typing, 0, tagged(IrcTags::ServerTime)).is_empty(),
            "nor with server-time alone"
        );
        assert!(
            encode(&typing, 0, tagged(IrcTags::MessageTags))
                .ends_with(b" :bob!u@user-7.chatroom TAGMSG ann\r\n"),
            "{:?}",
            encode(&typing, 0, tagged(IrcTags::MessageTags))
        );
    }

    #[test]
    fn accounts_show_in_tags_and_extended_joins() {
        let ann = Person {
            account: Some("ann".into()),
            ..who("Ann")
        };
        let join = |who: Person| EventKind::Join {
            room: "lobby".into(),
            who,
            realname: "Ann Smith".into(),
        };
        let extended = IrcFormat {
            extended_join: true,
            ..IrcFormat::default()
        };
        assert_eq!(
            encode(&join(ann.clone()), 0, extended),
            &b":Ann!u@user-7.chatroom JOIN #lobby ann :Ann Smith\r\n"[..]
        );
        assert_eq!(
            encode(&join(who("bob")), 0, extended),
            &b":bob!u@user-7.chatroom JOIN #lobby * :Ann Smith\r\n"[..],
            "no account: *"
        );
        let account_tag = IrcFormat {
            account_tag: true,
            ..IrcFormat::default()
        };
        assert_eq!(
            encode(&join(ann.clone()), 0, account_tag),
            &b"@account=ann :Ann!u@user-7.chatroom JOIN #lobby\r\n"[..]
        );
        let said = EventKind::Message {
            msg_id: 42,
            ts: 0,
            room: "lobby".into(),
            from: ann,
            text: "hi".into(),
            action: false,
            notice: false,
            tags: None,
            lines: None,
        };
        assert_eq!(
            encode(&said, 0, account_tag),
            &b"@account=ann :Ann!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..]
        );
        assert_eq!(
            encode(&said, 0, tagged(IrcTags::None)),
            &b":Ann!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..]
        );
        let said_by_bob = EventKind::Message {
            msg_id: 43,
            ts: 0,
            room: "lobby".into(),
            from: who("bob"),
            text: "hi".into(),
            action: false,
            notice: false,
            tags: None,
            lines: None,
        };
        assert_eq!(
            encode(&said_by_bob, 0, account_tag),
            &b":bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"[..],
            "no account, no tag"
        );
    }

    #[test]
    fn quit_reasons_say_what_happened() {
        let closed = |why| quit_text(&QuitReason::Closed(why));
        assert_eq!(
            closed(CloseReason::SlowConsumer),
            "SendQ exceeded (fell too far behind reading)"
        );
        assert_eq!(closed(CloseReason::Flood), "Excess Flood (sent too fast)");
        assert_eq!(closed(CloseReason::PingTimeout), "Ping timeout");
        assert_eq!(quit_text(&QuitReason::Said("bye".into())), "Quit: bye");
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
            &event.encoded(Format::Irc(IrcFormat::default()))[..],
            b":bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"
        );
        assert_eq!(
            &event.encoded(Format::Irc(tagged(IrcTags::ServerTime)))[..],
            b"@time=1970-01-01T00:00:00.000Z;msgid=42 :bob!u@user-7.chatroom PRIVMSG #lobby :hi\r\n"
        );
    }

    #[test]
    fn multi_line_text_and_actions_on_irc() {
        let text = String::from_utf8(
            message("one\ntwo", false)
                .encoded(Format::Irc(IrcFormat::default()))
                .to_vec(),
        )
        .unwrap();
        assert_eq!(
            text,
            ":bob!u@user-7.chatroom PRIVMSG #lobby :one\r\n:bob!u@user-7.chatroom PRIVMSG #lobby :two\r\n"
        );
        let text = String::from_utf8(
            message("waves", true)
                .encoded(Format::Irc(IrcFormat::default()))
                .to_vec(),
        )
        .unwrap();
        assert_eq!(
            text,
            ":bob!u@user-7.chatroom PRIVMSG #lobby :\u{1}ACTION waves\u{1}\r\n"
        );
    }

    #[test]
    fn long_text_is_split_within_the_line_limit() {
        let long = "字".repeat(400);
        let bytes = message(&long, false).encoded(Format::Irc(tagged(IrcTags::ServerTime)));
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
                reason: QuitReason::Closed(CloseReason::Closed),
            },
            0,
        );
        assert_eq!(
            &quit.encoded(Format::Irc(IrcFormat::default()))[..],
            b":bob!u@user-7.chatroom QUIT :Connection closed\r\n"
        );
        let nick = Event::new(
            EventKind::Nick {
                who: who("bob"),
                new: "rob".into(),
            },
            0,
        );
        assert_eq!(
            &nick.encoded(Format::Irc(IrcFormat::default()))[..],
            b":bob!u@user-7.chatroom NICK rob\r\n"
        );
        let v: serde_json::Value = serde_json::from_slice(&nick.encoded(Format::Json)).unwrap();
        assert_eq!(v["old_nickname"], "bob");
        assert_eq!(v["nickname"], "rob");
    }
}
