//! Building and sending IRC replies: numerics to this client, lines cut to
//! the length limit, the replies several commands share.

use bytes::Bytes;
use chatroom_proto::irc::{self, Message, Source, channel, numeric};

use super::IrcSession;
use crate::hub::Census;

/// The most `005` tokens on one line.
const TOKENS_PER_LINE: usize = 13;

impl IrcSession {
    /// The server's name: the source of its lines.
    pub(super) fn server(&self) -> &str {
        &self.settings.server_name
    }

    /// Who numerics are addressed to: the nickname, or `*` before it has
    /// one.
    pub(super) fn addressee(&self) -> String {
        self.nick.clone().unwrap_or_else(|| "*".to_owned())
    }

    /// A numeric reply to this client.
    pub(super) fn numeric(&self, n: irc::Numeric) -> Message {
        Message::numeric(self.server(), n, &self.addressee())
    }

    /// `FAIL <command> <code> [<context>] :<text>` (IRCv3 standard
    /// replies). The command and context may come from the client: each is
    /// sent as `*` if it cannot be a middle parameter.
    pub(super) fn fail(
        &self,
        command: &str,
        code: &str,
        context: Option<&str>,
        text: impl Into<String>,
    ) -> Message {
        let mut m = Message::new("FAIL")
            .with_source(Source::server(self.server()))
            .param(irc::safe_param(command))
            .param(code);
        if let Some(context) = context {
            m = m.param(irc::safe_param(context));
        }
        m.trailing_param(text)
    }

    /// `461`: `command` came without the parameters it needs.
    pub(super) fn need_more_params(&self, command: &str) {
        let m = self
            .numeric(numeric::ERR_NEEDMOREPARAMS)
            .param(command)
            .trailing_param("Not enough parameters");
        self.send(&m);
    }

    /// Our own `nick!user@host`.
    pub(super) fn me(&self) -> Source {
        match self.client.as_ref().and_then(|c| self.hub.person(c)) {
            Some(me) => super::events::source(&me),
            None => Source::user(self.addressee(), "*", "*"),
        }
    }

    /// Sends one line, cut to the 512-byte limit if it echoes something
    /// long the client sent.
    pub(super) fn send(&self, message: &Message) {
        self.send_all(std::slice::from_ref(message));
    }

    /// Sends lines in one write.
    pub(super) fn send_all(&self, messages: &[Message]) {
        let mut out = Vec::new();
        for m in messages {
            encode_fitted(m, &mut out);
        }
        self.out(Bytes::from(out));
    }

    /// Queues lines answering the client's request (gathered while a
    /// labeled request is handled: see `labels`).
    pub(super) fn out(&self, bytes: Bytes) {
        match &self.client {
            Some(client) => client.answer(bytes),
            None => {
                self.outbox.push(bytes);
            }
        }
    }

    /// The room a channel name stands for; otherwise the client is told
    /// `403 ERR_NOSUCHCHANNEL` and gets `None`.
    pub(super) fn room_of<'a>(&self, name: &'a str) -> Option<&'a str> {
        match channel::channel_to_room(name) {
            Ok(room) => Some(room),
            Err(e) => {
                self.send(&self.no_such_channel(name, &e.to_string()));
                None
            }
        }
    }

    /// `403 ERR_NOSUCHCHANNEL` for `name`, saying why.
    pub(super) fn no_such_channel(&self, name: &str, why: &str) -> Message {
        self.numeric(numeric::ERR_NOSUCHCHANNEL)
            .param(irc::safe_param(name))
            .trailing_param(why)
    }

    /// `005` lines for `nick`, from the tokens built at start.
    pub(super) fn isupport_lines(&self, nick: &str) -> Vec<Message> {
        let template = Message::numeric(self.server(), numeric::RPL_ISUPPORT, nick);
        self.settings
            .isupport
            .chunks(TOKENS_PER_LINE)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(template.clone(), |m, token| m.param(token.as_str()))
                    .trailing_param("are supported by this server")
            })
            .collect()
    }

    /// `LUSERS` for `nick`: `251`, `252` (if any operators are online),
    /// `254`, `255`, `265` and `266` (one server: local and global are the
    /// same).
    pub(super) fn lusers_lines(&self, nick: &str, counts: Census) -> Vec<Message> {
        let n = |numeric| Message::numeric(self.server(), numeric, nick);
        let Census {
            users,
            invisible,
            operators,
            rooms,
            peak,
        } = counts;
        let mut lines = vec![n(numeric::RPL_LUSERCLIENT).trailing_param(format!(
            "There are {} users and {invisible} invisible on 1 servers",
            users - invisible.min(users)
        ))];
        if operators > 0 {
            lines.push(
                n(numeric::RPL_LUSEROP)
                    .param(operators.to_string())
                    .trailing_param("operator(s) online"),
            );
        }
        lines.extend([
            n(numeric::RPL_LUSERCHANNELS)
                .param(rooms.to_string())
                .trailing_param("channels formed"),
            n(numeric::RPL_LUSERME).trailing_param(format!("I have {users} clients and 0 servers")),
            n(numeric::RPL_LOCALUSERS)
                .param(users.to_string())
                .param(peak.to_string())
                .trailing_param(format!("Current local users {users}, max {peak}")),
            n(numeric::RPL_GLOBALUSERS)
                .param(users.to_string())
                .param(peak.to_string())
                .trailing_param(format!("Current global users {users}, max {peak}")),
        ]);
        lines
    }

    /// The message of the day for `nick` (`375`/`372`/`376`, or `422`).
    pub(super) fn motd_lines(&self, nick: &str) -> Vec<Message> {
        let n = |numeric| Message::numeric(self.server(), numeric, nick);
        if self.settings.motd.is_empty() {
            return vec![n(numeric::ERR_NOMOTD).trailing_param("MOTD File is missing")];
        }
        let mut lines = vec![
            n(numeric::RPL_MOTDSTART)
                .trailing_param(format!("- {} Message of the day -", self.server())),
        ];
        for line in self.settings.motd.iter() {
            lines.push(n(numeric::RPL_MOTD).trailing_param(format!("- {line}")));
        }
        lines.push(n(numeric::RPL_ENDOFMOTD).trailing_param("End of /MOTD command."));
        lines
    }

    /// A room's topic for `nick` (`332` and `333`, or `331` when there is
    /// none and `none_too`).
    pub(super) fn topic_lines(
        &self,
        nick: &str,
        topic: &crate::hub::Topic,
        none_too: bool,
    ) -> Vec<Message> {
        let n = |numeric| Message::numeric(self.server(), numeric, nick);
        let channel = channel::room_to_channel(&topic.room);
        if topic.text.is_empty() {
            return if none_too {
                vec![
                    n(numeric::RPL_NOTOPIC)
                        .param(&channel)
                        .trailing_param("No topic is set"),
                ]
            } else {
                Vec::new()
            };
        }
        let mut lines = vec![
            n(numeric::RPL_TOPIC)
                .param(&channel)
                .trailing_param(&topic.text),
        ];
        if let (Some(by), Some(at)) = (&topic.set_by, topic.set_at) {
            lines.push(
                n(numeric::RPL_TOPICWHOTIME)
                    .param(&channel)
                    .param(by)
                    .param((at / 1000).to_string()),
            );
        }
        lines
    }

    /// `353`s for a channel (`@` if secret, `=` otherwise) and its
    /// members' nicknames.
    pub(super) fn names_lines<'a>(
        &self,
        nick: &str,
        secret: bool,
        channel: &str,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<Message> {
        let symbol = if secret { "@" } else { "=" };
        let template = Message::numeric(self.server(), numeric::RPL_NAMREPLY, nick)
            .param(symbol)
            .param(channel);
        irc::fit_words(&template, names)
    }

    /// `366`: the end of NAMES for `channels` (as asked for).
    pub(super) fn end_of_names(&self, nick: &str, channels: &str) -> Message {
        Message::numeric(self.server(), numeric::RPL_ENDOFNAMES, nick)
            .param(channels)
            .trailing_param("End of /NAMES list")
    }
}

/// Encodes `message`, cut to the line limit when it is over (replies quote
/// client input, which can be long: a PING token, an unknown command, a
/// nickname).
pub fn encode_fitted(message: &Message, out: &mut Vec<u8>) {
    if message.body_len() <= irc::MAX_LINE_BYTES {
        message.encode_into(out);
    } else {
        message.clone().fit().encode_into(out);
    }
}

/// The user name shown in `nick!user@host`: what USER gave, cut to 10
/// characters of letters and digits, or the nickname's ASCII letters.
pub fn user_name(user: &str, nick: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(10)
            .collect()
    };
    [clean(user), clean(nick)]
        .into_iter()
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "user".to_owned())
}
