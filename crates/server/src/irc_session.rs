//! The IRC side of a connection: RFC 1459/2812 client commands plus the
//! IRCv3 basics, bridged onto the same hub as the JSON protocol.
//!
//! Rooms are channels (`lobby` is `#lobby`); every registered user starts in
//! `#lobby`, like JSON users. Registration needs `NICK` and `USER` (and `CAP
//! END` once `CAP` negotiation started); the command table in
//! `chatroom_proto::irc` checks arity and registration rules for every
//! command in one place, so this module only carries commands out.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::irc::{
    self, Command, IrcFramer, Limits, Message, ParseError, Source, channel, numeric,
};
use chatroom_proto::json::Secret;
use chatroom_proto::nick;
use chatroom_proto::room::{MAX_ROOM_CHARS, MAX_TOPIC_CHARS};
use tracing::{debug, info, warn};

use crate::accounts::{AccountError, WRONG_PASSWORDS_PER_CONNECTION};
use crate::clock::now_ms;
use crate::conn::{Cost, Flow, Session};
use crate::event::Format;
use crate::hub::{Arrival, Client, Hub, HubError, Joined, Style};
use crate::irc::events::{irc_text_lines, irc_time};
use crate::outbox::{CloseReason, Outbox};
use crate::store::StoredMessage;

/// The software and version, as VERSION and 002/004 show it.
const VERSION: &str = concat!("chatroom-", env!("CARGO_PKG_VERSION"));

/// The capabilities offered, in `CAP LS` order.
const CAPS: [&str; 5] = [
    "batch",
    "echo-message",
    "message-tags",
    "multi-prefix",
    "server-time",
];

/// What the IRC listener needs from the server's configuration.
#[derive(Debug, Clone)]
pub struct IrcSettings {
    /// The server name used as the source of server lines (`:chatroom 001 ...`).
    pub server_name: Arc<str>,
    /// The message of the day, one entry per line (empty: `422 ERR_NOMOTD`).
    pub motd: Arc<[String]>,
    /// How many stored messages joining a channel replays.
    pub history_replay: u32,
    /// When the server started (ms since the epoch), for `003`.
    pub started: i64,
}

/// One unit of decoded client input.
pub enum Input {
    /// A parsed line.
    Line(Message),
    /// A line that could not be parsed.
    Bad(ParseError),
    /// A line over the length limit (skipped).
    TooLong,
}

/// The capabilities a client enabled.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    batch: bool,
    echo_message: bool,
    message_tags: bool,
    multi_prefix: bool,
    server_time: bool,
}

impl Caps {
    fn set(&mut self, name: &str, on: bool) -> bool {
        match name {
            "batch" => self.batch = on,
            "echo-message" => self.echo_message = on,
            "message-tags" => self.message_tags = on,
            "multi-prefix" => self.multi_prefix = on,
            "server-time" => self.server_time = on,
            _ => return false,
        }
        true
    }

    fn list(self) -> Vec<&'static str> {
        let flags = [
            self.batch,
            self.echo_message,
            self.message_tags,
            self.multi_prefix,
            self.server_time,
        ];
        CAPS.iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect()
    }

    fn format(self) -> Format {
        if self.server_time || self.message_tags {
            Format::IrcTagged
        } else {
            Format::Irc
        }
    }
}

/// The state of one IRC connection.
pub struct IrcSession {
    hub: Arc<Hub>,
    outbox: Arc<Outbox>,
    peer: SocketAddr,
    settings: IrcSettings,
    framer: IrcFramer,
    /// The nickname given with NICK (before registration) or in use.
    nick: Option<String>,
    /// USER's user name and real name.
    user: Option<(String, String)>,
    /// Registration waits while CAP negotiation is open.
    negotiating: bool,
    caps: Caps,
    client: Option<Arc<Client>>,
    invisible: bool,
    quit_message: Option<String>,
    batches: u64,
    /// The password from PASS, for a registered nickname.
    password: Option<Secret>,
    /// Wrong passwords (and attempts while told to wait) on this connection.
    wrong_passwords: u8,
}

impl IrcSession {
    /// A session for a fresh connection from `peer`.
    pub fn new(
        hub: Arc<Hub>,
        outbox: Arc<Outbox>,
        peer: SocketAddr,
        settings: IrcSettings,
    ) -> Self {
        IrcSession {
            hub,
            outbox,
            peer,
            settings,
            framer: IrcFramer::new(Limits::FROM_CLIENT),
            nick: None,
            user: None,
            negotiating: false,
            caps: Caps::default(),
            client: None,
            invisible: false,
            quit_message: None,
            batches: 0,
            wrong_passwords: 0,
            password: None,
        }
    }

    fn server(&self) -> &str {
        &self.settings.server_name
    }

    /// The client's name in numerics: its nickname, or `*` before it has one.
    fn client(&self) -> String {
        self.nick.clone().unwrap_or_else(|| "*".to_owned())
    }

    /// Sends one line, cut to the 512-byte limit if it echoes something
    /// long the client sent.
    fn send(&self, message: &Message) {
        let mut out = Vec::new();
        encode_fitted(message, &mut out);
        self.outbox.push(Bytes::from(out));
    }

    fn send_all(&self, messages: &[Message]) {
        let mut out = Vec::new();
        for m in messages {
            encode_fitted(m, &mut out);
        }
        self.outbox.push(Bytes::from(out));
    }

    /// A numeric reply to this client.
    fn numeric(&self, n: irc::Numeric) -> Message {
        Message::numeric(self.server(), n, &self.client())
    }

    /// Our own `nick!user@host`.
    fn me(&self) -> Source {
        match self.client.as_ref().and_then(|m| self.hub.person(m)) {
            Some(who) => Source::user(&*who.nick, &*who.user, &*who.host),
            None => Source::user(self.client(), "*", "*"),
        }
    }

    async fn line(&mut self, message: Message) -> Flow {
        let spec = match irc::lookup(&message, self.client.is_some()) {
            Ok(spec) => spec,
            Err(e) => {
                if let Some(reply) = e.reply(self.server(), &self.client()) {
                    self.send(&reply);
                }
                return Flow::Continue;
            }
        };
        let args: Vec<String> = spec.args(&message).to_vec();
        let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
        match spec.command {
            Command::Pass => self.password = Some(Secret::new(arg(0))),
            Command::Register => Box::pin(self.register(arg(0), arg(2))).await,
            Command::Kill => {
                if let Some(client) = self.client.clone()
                    && let Err(e) = self.hub.kill(&client, arg(0))
                {
                    self.hub_error(&e, arg(0));
                }
            }
            Command::Oper => Box::pin(self.oper(arg(0), arg(1))).await,
            Command::Nick => self.nick_command(arg(0)),
            Command::User => {
                self.user = Some((arg(0).to_owned(), arg(3).to_owned()));
                Box::pin(self.try_register()).await;
            }
            Command::Cap => self.cap(&args).await,
            Command::Ping => {
                let pong = Message::new("PONG")
                    .with_source(Source::server(self.server()))
                    .param(self.server())
                    .trailing_param(arg(0));
                self.send(&pong);
            }
            Command::Pong | Command::Tagmsg => {}
            Command::Quit => {
                self.quit_message = args.first().cloned().filter(|m| !m.is_empty());
                return Flow::Close(CloseReason::Logout);
            }
            Command::Join => self.join(arg(0), args.get(1).map(String::as_str)).await,
            Command::Part => self.part(arg(0), args.get(1).map(String::as_str)),
            Command::Names => self.names(arg(0)),
            Command::Topic => self.topic(arg(0), args.get(1).map(String::as_str)),
            Command::List => self.list(),
            Command::Who => self.who(arg(0)),
            Command::Whois => self.whois(args.last().map(String::as_str).unwrap_or("")),
            Command::Privmsg | Command::Notice => {
                self.privmsg(arg(0), arg(1), spec.command == Command::Notice)
            }
            Command::Away => self.away(args.first().map(String::as_str)),
            Command::Mode => self.mode(&args),
            Command::Kick => self.kick(arg(0), arg(1), args.get(2).map(String::as_str)),
            Command::Motd => self.motd(),
            Command::Lusers => self.lusers(),
            Command::Ison => {
                let online = self
                    .hub
                    .online_nicks(args.iter().flat_map(|a| a.split(' ')));
                let m = self
                    .numeric(numeric::RPL_ISON)
                    .trailing_param(online.join(" "));
                self.send(&m);
            }
            Command::Userhost => self.userhost(&args),
            Command::Version => {
                let m = self
                    .numeric(numeric::RPL_VERSION)
                    .param(VERSION)
                    .param(self.server())
                    .trailing_param("chatroom: rooms for JSON and IRC clients alike");
                self.send(&m);
            }
            Command::Time => {
                let m = self
                    .numeric(numeric::RPL_TIME)
                    .param(self.server())
                    .trailing_param(irc_time(now_ms()));
                self.send(&m);
            }
        }
        Flow::Continue
    }

    fn nick_command(&mut self, wanted: &str) {
        if let Err(e) = nick::validate(wanted) {
            let m = self
                .numeric(numeric::ERR_ERRONEUSNICKNAME)
                .param(irc::safe_param(wanted))
                .trailing_param(format!("Erroneous nickname: {e}"));
            return self.send(&m);
        }
        let Some(client) = self.client.clone() else {
            // Registration completes after this line is handled, once USER
            // is in too (see `Session::handle`).
            self.nick = Some(wanted.to_owned());
            return;
        };
        let before = self.me();
        match self.hub.rename(&client, wanted) {
            Ok(renamed) => {
                let m = Message::new("NICK").with_source(before).param(&renamed.new);
                self.nick = Some(renamed.new);
                self.send(&m);
            }
            Err(e) => self.hub_error(&e, wanted),
        }
    }

    async fn cap(&mut self, args: &[String]) {
        let sub = args.first().map(|s| s.to_uppercase()).unwrap_or_default();
        let reply = |s: &Self, sub: &str, text: String| {
            Message::new("CAP")
                .with_source(Source::server(s.server()))
                .param(s.client())
                .param(sub)
                .trailing_param(text)
        };
        match sub.as_str() {
            "LS" => {
                if self.client.is_none() {
                    self.negotiating = true;
                }
                let m = reply(self, "LS", CAPS.join(" "));
                self.send(&m);
            }
            "LIST" => {
                let m = reply(self, "LIST", self.caps.list().join(" "));
                self.send(&m);
            }
            "REQ" => {
                if self.client.is_none() {
                    self.negotiating = true;
                }
                let wanted = args.get(1).cloned().unwrap_or_default();
                let mut caps = self.caps;
                let all_known = wanted
                    .split_whitespace()
                    .all(|cap| match cap.strip_prefix('-') {
                        Some(name) => caps.set(name, false),
                        None => caps.set(cap, true),
                    });
                if all_known {
                    self.caps = caps;
                    if let Some(client) = &self.client {
                        client.set_format(caps.format());
                        client.set_echo(caps.echo_message);
                    }
                    let m = reply(self, "ACK", wanted);
                    self.send(&m);
                } else {
                    let m = reply(self, "NAK", wanted);
                    self.send(&m);
                }
            }
            "END" => {
                self.negotiating = false;
                Box::pin(self.try_register()).await;
            }
            _ => {
                let m = self
                    .numeric(numeric::ERR_INVALIDCAPCMD)
                    .param(irc::safe_param(&sub))
                    .trailing_param("Invalid CAP command");
                self.send(&m);
            }
        }
    }

    /// Completes registration once NICK and USER are in and CAP is done.
    async fn try_register(&mut self) {
        if self.client.is_some() || self.negotiating {
            return;
        }
        let (Some(nick), Some((user, realname))) = (self.nick.clone(), self.user.clone()) else {
            return;
        };
        let identity = match self
            .hub
            .accounts()
            .check(&nick, self.password.as_ref(), self.peer.ip())
            .await
        {
            Ok(identity) => identity,
            Err(e) => {
                if matches!(
                    e,
                    AccountError::WrongPassword(_) | AccountError::TooManyAttempts(_)
                ) {
                    self.wrong_passwords += 1;
                }
                let numeric = match e {
                    AccountError::Banned(..) => numeric::ERR_YOUREBANNEDCREEP,
                    AccountError::InvalidNickname(_) => numeric::ERR_ERRONEUSNICKNAME,
                    _ => numeric::ERR_PASSWDMISMATCH,
                };
                let text = if numeric == numeric::ERR_PASSWDMISMATCH {
                    format!("Password incorrect: {e}")
                } else {
                    e.to_string()
                };
                let m = self.numeric(numeric).trailing_param(text);
                self.send(&m);
                self.nick = None;
                return;
            }
        };
        let arrival = Arrival {
            nick: nick.clone(),
            user: user_name(&user, &nick),
            realname,
            address: self.peer,
            format: self.caps.format(),
            echo: self.caps.echo_message,
            identity,
            password_given: false,
        };
        let outbox = self.outbox.clone();
        // The burst is built under the hub's lock: take the counts now.
        let (users, rooms) = self.hub.counts();
        let result = self.hub.login(arrival, outbox, |client, nick, lobby| {
            let mut out = Vec::new();
            for m in self.welcome(client, nick, (users + 1, rooms)) {
                m.encode_into(&mut out);
            }
            for m in self.join_reply(client, nick, lobby) {
                m.encode_into(&mut out);
            }
            Bytes::from(out)
        });
        match result {
            Ok(client) => {
                info!(peer = %self.peer, id = client.id, nick = %nick, "IRC client registered");
                // As the hub normalized it.
                if let Some(who) = self.hub.person(&client) {
                    self.nick = Some(who.nick.to_string());
                }
                let lobby = self.hub.membership(&client, chatroom_proto::room::LOBBY);
                self.client = Some(client);
                if let Ok((key, name)) = lobby {
                    Box::pin(self.replay(key, name, None)).await;
                }
            }
            Err(e) => {
                self.hub_error(&e, &nick);
                self.nick = None;
            }
        }
    }

    /// The registration burst: 001-005, LUSERS (from `counts`: users and
    /// rooms) and the MOTD. Runs under the hub's lock: no hub calls here.
    fn welcome(&self, client: &Client, nick: &str, counts: (usize, usize)) -> Vec<Message> {
        let server = self.server();
        let n = |numeric| Message::numeric(server, numeric, nick);
        let user = self.user.as_ref().map_or("user", |(u, _)| u.as_str());
        let mut lines = vec![
            n(numeric::RPL_WELCOME).trailing_param(format!(
                "Welcome to the {server} IRC network, {nick}!{}@user/{}",
                user_name(user, nick),
                client.id
            )),
            n(numeric::RPL_YOURHOST)
                .trailing_param(format!("Your host is {server}, running version {VERSION}")),
            n(numeric::RPL_CREATED).trailing_param(format!(
                "This server was created {}",
                irc_time(self.settings.started)
            )),
            n(numeric::RPL_MYINFO)
                .param(server)
                .param(VERSION)
                .param("i")
                .param("n"),
        ];
        let tokens = [
            "CASEMAPPING=rfc8265".to_owned(),
            "CHANTYPES=#".to_owned(),
            format!("CHANNELLEN={}", MAX_ROOM_CHARS + 1),
            format!("NICKLEN={}", nick::MAX_NICK_CHARS),
            format!("TOPICLEN={MAX_TOPIC_CHARS}"),
            "AWAYLEN=300".to_owned(),
            "CHANMODES=,,,n".to_owned(),
            "PREFIX=".to_owned(),
            format!("NETWORK={server}"),
            "TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:,PART:,NAMES:,WHOIS:1".to_owned(),
            "UTF8ONLY".to_owned(),
        ];
        let template = n(numeric::RPL_ISUPPORT);
        for chunk in tokens.chunks(13) {
            let mut m = template.clone();
            for token in chunk {
                m = m.param(token.as_str());
            }
            lines.push(m.trailing_param("are supported by this server"));
        }
        lines.extend(self.lusers_lines(nick, counts));
        lines.extend(self.motd_lines(nick));
        lines
    }

    /// What a client sees when it joins: its own JOIN, the topic, the names.
    /// Runs under the hub's lock: no hub calls here.
    fn join_reply(&self, client: &Client, nick: &str, joined: &Joined) -> Vec<Message> {
        let channel = channel::room_to_channel(&joined.name);
        let source = Source::user(
            nick,
            user_name(self.user.as_ref().map_or("", |(u, _)| u), nick),
            format!("user/{}", client.id),
        );
        let mut lines = vec![Message::new("JOIN").with_source(source).param(&channel)];
        let n = |numeric| Message::numeric(self.server(), numeric, nick);
        if !joined.topic.text.is_empty() {
            lines.push(
                n(numeric::RPL_TOPIC)
                    .param(&channel)
                    .trailing_param(&joined.topic.text),
            );
            if let (Some(by), Some(at)) = (&joined.topic.set_by, joined.topic.set_at) {
                lines.push(
                    n(numeric::RPL_TOPICWHOTIME)
                        .param(&channel)
                        .param(by)
                        .param((at / 1000).to_string()),
                );
            }
        }
        let names: Vec<&str> = joined.members.iter().map(|m| &*m.nick).collect();
        lines.extend(irc::fit_words(
            &n(numeric::RPL_NAMREPLY).param("=").param(&channel),
            names,
        ));
        lines.push(
            n(numeric::RPL_ENDOFNAMES)
                .param(&channel)
                .trailing_param("End of /NAMES list"),
        );
        lines
    }

    async fn join(&mut self, channels: &str, keys: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        if channels == "0" {
            let rooms = self
                .hub
                .whois(&self.client())
                .map(|p| p.rooms)
                .unwrap_or_default();
            for room in rooms {
                let channel = channel::room_to_channel(&room);
                self.part(&channel, None);
            }
            return;
        }
        for (name, _key) in channel::join_targets(channels, keys) {
            let room = match channel::channel_to_room(name) {
                Ok(room) => room.to_owned(),
                Err(e) => {
                    let m = self
                        .numeric(numeric::ERR_NOSUCHCHANNEL)
                        .param(irc::safe_param(name))
                        .trailing_param(e.to_string());
                    self.send(&m);
                    continue;
                }
            };
            let nick = self.client();
            let result = self.hub.join(&client, &room, |joined| {
                let mut out = Vec::new();
                for m in self.join_reply(&client, &nick, joined) {
                    m.encode_into(&mut out);
                }
                Bytes::from(out)
            });
            match result {
                Ok(joined) => {
                    Box::pin(self.replay(joined.key, joined.name, Some(joined.horizon))).await
                }
                // Joining a channel one is in is silently ignored, as on IRC.
                Err(HubError::AlreadyInRoom(_)) => {}
                Err(e) => self.hub_error(&e, name),
            }
        }
    }

    fn part(&mut self, channels: &str, reason: Option<&str>) {
        let Some(client) = self.client.clone() else {
            return;
        };
        for name in channel::split_list(channels) {
            let room = match channel::channel_to_room(name) {
                Ok(room) => room,
                Err(e) => {
                    let m = self
                        .numeric(numeric::ERR_NOSUCHCHANNEL)
                        .param(irc::safe_param(name))
                        .trailing_param(e.to_string());
                    self.send(&m);
                    continue;
                }
            };
            let me = self.me();
            match self.hub.part(&client, room, reason) {
                Ok(room) => {
                    let mut m = Message::new("PART")
                        .with_source(me)
                        .param(channel::room_to_channel(&room));
                    if let Some(reason) = reason {
                        m = m.trailing_param(reason);
                    }
                    self.send(&m);
                }
                Err(e) => self.hub_error(&e, name),
            }
        }
    }

    fn names(&self, channels: &str) {
        if channels.is_empty() {
            let m = self
                .numeric(numeric::RPL_ENDOFNAMES)
                .param("*")
                .trailing_param("End of /NAMES list");
            return self.send(&m);
        }
        let mut lines = Vec::new();
        for name in channel::split_list(channels) {
            let channel_name = irc::safe_param(name).to_owned();
            if let Ok(room) = channel::channel_to_room(name)
                && let Ok((room, members)) = self.hub.who(room)
            {
                let channel_name = channel::room_to_channel(&room);
                let names: Vec<&str> = members.iter().map(|p| &*p.person.nick).collect();
                lines.extend(irc::fit_words(
                    &self
                        .numeric(numeric::RPL_NAMREPLY)
                        .param("=")
                        .param(&channel_name),
                    names,
                ));
                lines.push(
                    self.numeric(numeric::RPL_ENDOFNAMES)
                        .param(channel_name)
                        .trailing_param("End of /NAMES list"),
                );
                continue;
            }
            lines.push(
                self.numeric(numeric::RPL_ENDOFNAMES)
                    .param(channel_name)
                    .trailing_param("End of /NAMES list"),
            );
        }
        self.send_all(&lines);
    }

    fn topic(&self, name: &str, text: Option<&str>) {
        let Some(client) = &self.client else { return };
        let room = match channel::channel_to_room(name) {
            Ok(room) => room,
            Err(e) => {
                let m = self
                    .numeric(numeric::ERR_NOSUCHCHANNEL)
                    .param(irc::safe_param(name))
                    .trailing_param(e.to_string());
                return self.send(&m);
            }
        };
        match text {
            None => match self.hub.topic(room) {
                Ok(topic) => {
                    let channel = channel::room_to_channel(&topic.room);
                    let mut lines = Vec::new();
                    if topic.text.is_empty() {
                        lines.push(
                            self.numeric(numeric::RPL_NOTOPIC)
                                .param(&channel)
                                .trailing_param("No topic is set"),
                        );
                    } else {
                        lines.push(
                            self.numeric(numeric::RPL_TOPIC)
                                .param(&channel)
                                .trailing_param(&topic.text),
                        );
                        if let (Some(by), Some(at)) = (&topic.set_by, topic.set_at) {
                            lines.push(
                                self.numeric(numeric::RPL_TOPICWHOTIME)
                                    .param(&channel)
                                    .param(by)
                                    .param((at / 1000).to_string()),
                            );
                        }
                    }
                    self.send_all(&lines);
                }
                Err(e) => self.hub_error(&e, name),
            },
            Some(text) => {
                let me = self.me();
                match self.hub.set_topic(client, room, text) {
                    Ok(topic) => {
                        let m = Message::new("TOPIC")
                            .with_source(me)
                            .param(channel::room_to_channel(&topic.room))
                            .trailing_param(text);
                        self.send(&m);
                    }
                    Err(e) => self.hub_error(&e, name),
                }
            }
        }
    }

    fn list(&self) {
        let mut lines = vec![
            self.numeric(numeric::RPL_LISTSTART)
                .param("Channel")
                .trailing_param("Users  Name"),
        ];
        for room in self.hub.rooms() {
            lines.push(
                self.numeric(numeric::RPL_LIST)
                    .param(channel::room_to_channel(&room.name))
                    .param(room.members.to_string())
                    .trailing_param(room.topic),
            );
        }
        lines.push(
            self.numeric(numeric::RPL_LISTEND)
                .trailing_param("End of /LIST"),
        );
        self.send_all(&lines);
    }

    fn who(&self, mask: &str) {
        let mut lines = Vec::new();
        let reply = |channel: &str, p: &crate::hub::Profile| {
            let flags = if p.away.is_some() { "G" } else { "H" };
            self.numeric(numeric::RPL_WHOREPLY)
                .param(channel)
                .param(&*p.person.user)
                .param(&*p.person.host)
                .param(self.server())
                .param(&*p.person.nick)
                .param(flags)
                .trailing_param(format!("0 {}", p.realname))
        };
        if channel::is_channel(mask) {
            if let Ok(room) = channel::channel_to_room(mask)
                && let Ok((room, members)) = self.hub.who(room)
            {
                let channel = channel::room_to_channel(&room);
                lines.extend(members.iter().map(|p| reply(&channel, p)));
            }
        } else if let Some(p) = self.hub.whois(mask) {
            lines.push(reply("*", &p));
        }
        let end = if mask.is_empty() {
            "*"
        } else {
            irc::safe_param(mask)
        };
        lines.push(
            self.numeric(numeric::RPL_ENDOFWHO)
                .param(end)
                .trailing_param("End of /WHO list"),
        );
        self.send_all(&lines);
    }

    fn whois(&self, nicks: &str) {
        let mut lines = Vec::new();
        let target = nicks.split(',').next().unwrap_or("");
        match self.hub.whois(target) {
            Some(p) => {
                lines.push(
                    self.numeric(numeric::RPL_WHOISUSER)
                        .param(&*p.person.nick)
                        .param(&*p.person.user)
                        .param(&*p.person.host)
                        .param("*")
                        .trailing_param(&p.realname),
                );
                if !p.rooms.is_empty() {
                    let channels: Vec<String> = p
                        .rooms
                        .iter()
                        .map(|r| channel::room_to_channel(r))
                        .collect();
                    lines.extend(irc::fit_words(
                        &self
                            .numeric(numeric::RPL_WHOISCHANNELS)
                            .param(&*p.person.nick),
                        channels.iter().map(String::as_str),
                    ));
                }
                lines.push(
                    self.numeric(numeric::RPL_WHOISSERVER)
                        .param(&*p.person.nick)
                        .param(self.server())
                        .trailing_param(VERSION),
                );
                if p.operator {
                    lines.push(
                        self.numeric(numeric::RPL_WHOISOPERATOR)
                            .param(&*p.person.nick)
                            .trailing_param("is an IRC operator"),
                    );
                }
                if let Some(away) = &p.away {
                    lines.push(
                        self.numeric(numeric::RPL_AWAY)
                            .param(&*p.person.nick)
                            .trailing_param(away),
                    );
                }
                lines.push(
                    self.numeric(numeric::RPL_WHOISIDLE)
                        .param(&*p.person.nick)
                        .param("0")
                        .param((p.since / 1000).to_string())
                        .trailing_param("seconds idle, signon time"),
                );
                lines.push(
                    self.numeric(numeric::RPL_ENDOFWHOIS)
                        .param(&*p.person.nick)
                        .trailing_param("End of /WHOIS list"),
                );
            }
            None => {
                let nick = irc::safe_param(target);
                lines.push(
                    self.numeric(numeric::ERR_NOSUCHNICK)
                        .param(nick)
                        .trailing_param("No such nick/channel"),
                );
                lines.push(
                    self.numeric(numeric::RPL_ENDOFWHOIS)
                        .param(nick)
                        .trailing_param("End of /WHOIS list"),
                );
            }
        }
        self.send_all(&lines);
    }

    fn privmsg(&self, targets: &str, text: &str, notice: bool) {
        let Some(client) = &self.client else { return };
        let (text, action) = match text
            .strip_prefix("\u{1}ACTION ")
            .or_else(|| text.strip_prefix("\u{1}ACTION"))
        {
            Some(rest) => (rest.strip_suffix('\u{1}').unwrap_or(rest), true),
            None => (text, false),
        };
        let style = Style { action, notice };
        for target in channel::split_list(targets).take(4) {
            let result = if channel::is_channel(target) {
                match channel::channel_to_room(target) {
                    Ok(room) => self.hub.say(client, Some(room), text, style, None),
                    Err(_) => Err(HubError::NoSuchRoom(target.to_owned())),
                }
            } else {
                self.hub.direct(client, target, text, style, |_, _| None)
            };
            match result {
                Ok(posted) => {
                    if let (Some(away), false) = (posted.away, notice) {
                        let m = self
                            .numeric(numeric::RPL_AWAY)
                            .param(irc::safe_param(target))
                            .trailing_param(away);
                        self.send(&m);
                    }
                }
                Err(_) if notice => {}
                Err(HubError::NotInRoom(_)) => {
                    let m = self
                        .numeric(numeric::ERR_CANNOTSENDTOCHAN)
                        .param(irc::safe_param(target))
                        .trailing_param("Cannot send to channel (you are not in it)");
                    self.send(&m);
                }
                Err(e) => self.hub_error(&e, target),
            }
        }
    }

    /// `REGISTER <account> <email> <password>`: `*` or the current nickname
    /// as the account; before registration it registers the NICK given.
    async fn register(&mut self, account: &str, password: &str) {
        let fail = |s: &Self, code: &str, text: String| {
            Message::new("FAIL")
                .with_source(Source::server(s.server()))
                .param("REGISTER")
                .param(code)
                .param(irc::safe_param(account))
                .trailing_param(text)
        };
        let Some(nick) = self.nick.clone() else {
            let m = fail(self, "NEED_NICK", "Send NICK before REGISTER".to_owned());
            return self.send(&m);
        };
        if account != "*" && nick::fold(account) != nick::fold(&nick) {
            let m = fail(
                self,
                "ACCOUNT_NAME_MUST_BE_NICK",
                "The account name must be your nickname".to_owned(),
            );
            return self.send(&m);
        }
        let client = self.client.clone();
        match self
            .hub
            .register(
                client.as_deref(),
                &nick,
                &Secret::new(password),
                self.peer.ip(),
            )
            .await
        {
            Ok(_) => {
                if self.client.is_none() {
                    self.password = Some(Secret::new(password));
                }
                let m = Message::new("REGISTER")
                    .with_source(Source::server(self.server()))
                    .param("SUCCESS")
                    .param(&nick)
                    .trailing_param("Account created");
                self.send(&m);
            }
            Err(e) => {
                let code = match e {
                    AccountError::AlreadyRegistered(_)
                    | AccountError::InUse(_)
                    | AccountError::LooksLike(_) => "ACCOUNT_EXISTS",
                    AccountError::InvalidNickname(_) => "BAD_ACCOUNT_NAME",
                    AccountError::BadPassword => "UNACCEPTABLE_PASSWORD",
                    _ => "TEMPORARILY_UNAVAILABLE",
                };
                let m = fail(self, code, e.to_string());
                self.send(&m);
            }
        }
    }

    /// `OPER <name> <password>`: server operator credentials.
    async fn oper(&mut self, name: &str, password: &str) {
        let Some(client) = self.client.clone() else {
            return;
        };
        let checked = self
            .hub
            .accounts()
            .oper(name, &Secret::new(password), self.peer.ip())
            .await;
        let m = match checked.map(|()| self.hub.promote(&client)) {
            Ok(Ok(())) => self
                .numeric(numeric::RPL_YOUREOPER)
                .trailing_param("You are now an IRC operator"),
            Ok(Err(_)) => return,
            Err(e) => {
                if matches!(e, AccountError::WrongPassword(_)) {
                    self.wrong_passwords += 1;
                }
                self.numeric(numeric::ERR_PASSWDMISMATCH)
                    .trailing_param(format!("Password incorrect: {e}"))
            }
        };
        self.send(&m);
    }

    /// `KICK #room nick [:reason]`, for operators.
    fn kick(&self, channel_name: &str, target: &str, reason: Option<&str>) {
        let Some(client) = &self.client else { return };
        let result = match channel::channel_to_room(channel_name) {
            Ok(room) => self
                .hub
                .kick(client, room, target, reason.unwrap_or("kicked")),
            Err(_) => Err(HubError::NoSuchRoom(channel_name.to_owned())),
        };
        match result {
            Ok(()) => {}
            Err(HubError::NotOperator) => {
                let m = self
                    .numeric(numeric::ERR_CHANOPRIVSNEEDED)
                    .param(irc::safe_param(channel_name))
                    .trailing_param("You're not a channel operator");
                self.send(&m);
            }
            Err(HubError::NotInRoom(_)) => {
                let m = self
                    .numeric(numeric::ERR_USERNOTINCHANNEL)
                    .param(irc::safe_param(target))
                    .param(irc::safe_param(channel_name))
                    .trailing_param("They aren't on that channel");
                self.send(&m);
            }
            Err(e) => self.hub_error(&e, target),
        }
    }

    fn away(&self, message: Option<&str>) {
        let Some(client) = &self.client else { return };
        match message.filter(|m| !m.is_empty()) {
            Some(text) => {
                self.hub
                    .set_away(client, Some(text.chars().take(300).collect()));
                let m = self
                    .numeric(numeric::RPL_NOWAWAY)
                    .trailing_param("You have been marked as being away");
                self.send(&m);
            }
            None => {
                self.hub.set_away(client, None);
                let m = self
                    .numeric(numeric::RPL_UNAWAY)
                    .trailing_param("You are no longer marked as being away");
                self.send(&m);
            }
        }
    }

    fn mode(&mut self, args: &[String]) {
        let target = args.first().map(String::as_str).unwrap_or("");
        let change = args.get(1).map(String::as_str);
        if channel::is_channel(target) {
            let room = channel::channel_to_room(target)
                .ok()
                .and_then(|r| self.hub.topic(r).ok());
            let Some(topic) = room else {
                let m = self
                    .numeric(numeric::ERR_NOSUCHCHANNEL)
                    .param(irc::safe_param(target))
                    .trailing_param("No such channel");
                return self.send(&m);
            };
            let channel = channel::room_to_channel(&topic.room);
            let m = match change {
                None => self
                    .numeric(numeric::RPL_CHANNELMODEIS)
                    .param(&channel)
                    .param("+n"),
                Some("b" | "+b") => self
                    .numeric(numeric::RPL_ENDOFBANLIST)
                    .param(&channel)
                    .trailing_param("End of channel ban list"),
                Some(_) => self
                    .numeric(numeric::ERR_CHANOPRIVSNEEDED)
                    .param(&channel)
                    .trailing_param("You're not a channel operator"),
            };
            return self.send(&m);
        }
        if nick::fold(target) != nick::fold(&self.client()) {
            let m = self
                .numeric(numeric::ERR_USERSDONTMATCH)
                .trailing_param("Can't change mode for other users");
            return self.send(&m);
        }
        match change {
            None => {
                let modes = if self.invisible { "+i" } else { "+" };
                let m = self.numeric(numeric::RPL_UMODEIS).param(modes);
                self.send(&m);
            }
            Some(change) => {
                let mut adding = true;
                let mut applied = String::new();
                for c in change.chars() {
                    match c {
                        '+' => adding = true,
                        '-' => adding = false,
                        'i' => {
                            self.invisible = adding;
                            applied.push_str(if adding { "+i" } else { "-i" });
                        }
                        _ => {
                            let m = self
                                .numeric(numeric::ERR_UMODEUNKNOWNFLAG)
                                .trailing_param("Unknown MODE flag");
                            self.send(&m);
                        }
                    }
                }
                if !applied.is_empty() {
                    let nick = self.client();
                    let m = Message::new("MODE")
                        .with_source(Source::user(&nick, "*", "*"))
                        .param(&nick)
                        .trailing_param(applied);
                    self.send(&m);
                }
            }
        }
    }

    fn lusers_lines(&self, nick: &str, (users, rooms): (usize, usize)) -> Vec<Message> {
        let n = |numeric| Message::numeric(self.server(), numeric, nick);
        vec![
            n(numeric::RPL_LUSERCLIENT).trailing_param(format!(
                "There are {users} users and 0 invisible on 1 servers"
            )),
            n(numeric::RPL_LUSEROP)
                .param("0")
                .trailing_param("operator(s) online"),
            n(numeric::RPL_LUSERCHANNELS)
                .param(rooms.to_string())
                .trailing_param("channels formed"),
            n(numeric::RPL_LUSERME).trailing_param(format!("I have {users} clients and 0 servers")),
        ]
    }

    fn lusers(&self) {
        self.send_all(&self.lusers_lines(&self.client(), self.hub.counts()));
    }

    fn motd_lines(&self, nick: &str) -> Vec<Message> {
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

    fn motd(&self) {
        self.send_all(&self.motd_lines(&self.client()));
    }

    fn userhost(&self, args: &[String]) {
        let entries: Vec<String> = args
            .iter()
            .flat_map(|a| a.split(' '))
            .take(5)
            .filter_map(|nick| self.hub.whois(nick))
            .map(|p| {
                format!(
                    "{}={}{}@{}",
                    p.person.nick,
                    if p.away.is_some() { '-' } else { '+' },
                    p.person.user,
                    p.person.host
                )
            })
            .collect();
        let m = self
            .numeric(numeric::RPL_USERHOST)
            .trailing_param(entries.join(" "));
        self.send(&m);
    }

    /// The numeric for a refusal from the hub.
    fn hub_error(&self, error: &HubError, target: &str) {
        let target = irc::safe_param(target);
        let m = match error {
            HubError::BadNick(e) => self
                .numeric(numeric::ERR_ERRONEUSNICKNAME)
                .param(target)
                .trailing_param(format!("Erroneous nickname: {e}")),
            HubError::NickTaken(_) => self
                .numeric(numeric::ERR_NICKNAMEINUSE)
                .param(target)
                .trailing_param("Nickname is already in use"),
            HubError::LooksLike(_) => self
                .numeric(numeric::ERR_NICKNAMEINUSE)
                .param(target)
                .trailing_param("Nickname looks too much like one already in use"),
            HubError::BadRoom(e) => self
                .numeric(numeric::ERR_NOSUCHCHANNEL)
                .param(target)
                .trailing_param(format!("Illegal channel name: {e}")),
            HubError::NoSuchRoom(_) => self
                .numeric(numeric::ERR_NOSUCHCHANNEL)
                .param(target)
                .trailing_param("No such channel"),
            HubError::NotInRoom(_) => self
                .numeric(numeric::ERR_NOTONCHANNEL)
                .param(target)
                .trailing_param("You're not on that channel"),
            HubError::AlreadyInRoom(_) => return,
            HubError::NoSuchUser(_) => self
                .numeric(numeric::ERR_NOSUCHNICK)
                .param(target)
                .trailing_param("No such nick/channel"),
            HubError::TopicTooLong => self
                .numeric(numeric::ERR_NEEDMOREPARAMS)
                .param("TOPIC")
                .trailing_param(error.to_string()),
            HubError::Gone => return,
            HubError::AccountRequired(_) => self
                .numeric(numeric::ERR_NICKNAMEINUSE)
                .param(target)
                .trailing_param(error.to_string()),
            // IRC arrivals never set `password_given`; answered like a
            // password that does not fit, should one ever do.
            HubError::NoAccount(_) => self
                .numeric(numeric::ERR_PASSWDMISMATCH)
                .trailing_param(error.to_string()),
            HubError::TooManyRooms(_) => self
                .numeric(numeric::ERR_TOOMANYCHANNELS)
                .param(target)
                .trailing_param("You have joined too many channels"),
            HubError::MessageTooLong(_) => self
                .numeric(numeric::ERR_INPUTTOOLONG)
                .trailing_param(error.to_string()),
            HubError::NotOperator => self
                .numeric(numeric::ERR_NOPRIVILEGES)
                .trailing_param("Permission Denied- You're not an IRC operator"),
            HubError::Banned(_) => self
                .numeric(numeric::ERR_YOUREBANNEDCREEP)
                .trailing_param(error.to_string()),
            HubError::TooManyNewRooms => self
                .numeric(numeric::ERR_UNAVAILRESOURCE)
                .param(target)
                .trailing_param(error.to_string()),
        };
        self.send(&m);
    }

    /// Replays a channel's history: as a `chathistory` batch for clients
    /// with `batch`, as tagged lines for `server-time`, and otherwise as
    /// lines prefixed with their date and time (like a bouncer's playback).
    async fn replay(&mut self, key: String, name: String, before: Option<u64>) {
        let page = match self
            .hub
            .store()
            .history(key, before, self.settings.history_replay)
            .await
        {
            Ok(page) => page,
            Err(e) => {
                warn!(error = %e, "history read failed");
                return;
            }
        };
        if page.messages.is_empty() {
            return;
        }
        let channel = channel::room_to_channel(&name);
        let mut out = Vec::new();
        let batch = self.caps.batch.then(|| {
            self.batches += 1;
            format!("h{}", self.batches)
        });
        let tagged = self.caps.server_time || self.caps.message_tags;
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(Source::server(self.server()))
                .param(format!("+{id}"))
                .param("chathistory")
                .param(&channel)
                .encode_into(&mut out);
        }
        for m in &page.messages {
            for line in self.history_lines(m, &channel, tagged, batch.as_deref()) {
                line.encode_into(&mut out);
            }
        }
        if let Some(id) = &batch {
            Message::new("BATCH")
                .with_source(Source::server(self.server()))
                .param(format!("-{id}"))
                .encode_into(&mut out);
        }
        self.outbox.push(Bytes::from(out));
    }

    fn history_lines(
        &self,
        m: &StoredMessage,
        channel: &str,
        tagged: bool,
        batch: Option<&str>,
    ) -> Vec<Message> {
        let source = Source::user(
            &m.sender_nick,
            &m.sender_nick,
            format!("user/{}", m.sender_id),
        );
        let template = Message::new("PRIVMSG").with_source(source).param(channel);
        let text = if tagged {
            m.text.clone()
        } else {
            let stamp = crate::clock::utc_stamp(m.ts);
            m.text
                .lines()
                .map(|l| format!("[{stamp}] {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        irc_text_lines(&template, &text, m.action)
            .into_iter()
            .map(|mut line| {
                if let Some(id) = batch {
                    line = line.with_tag("batch", Some(id));
                }
                if tagged {
                    line = line
                        .with_tag("time", Some(&irc_time(m.ts)))
                        .with_tag("msgid", Some(&m.id.to_string()));
                }
                line
            })
            .collect()
    }
}

/// Encodes `message`, cut to the line limit when it is over (replies quote
/// client input, which can be long: a PING token, an unknown command, a
/// nickname).
fn encode_fitted(message: &Message, out: &mut Vec<u8>) {
    if message.body_len() <= irc::MAX_LINE_BYTES {
        message.encode_into(out);
    } else {
        message.clone().fit().encode_into(out);
    }
}

/// The user name shown in `nick!user@host`: what USER gave, cut to 10
/// characters of letters and digits, or the nickname's ASCII letters.
fn user_name(user: &str, nick: &str) -> String {
    let clean: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(10)
        .collect();
    if !clean.is_empty() {
        return clean;
    }
    let from_nick: String = nick
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(10)
        .collect();
    if from_nick.is_empty() {
        "user".to_owned()
    } else {
        from_nick
    }
}

impl Session for IrcSession {
    type Input = Input;

    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Input>) {
        self.framer.feed(bytes, |item| {
            inputs.push(match item {
                Ok(line) => match irc::parse(line) {
                    Ok(message) => Input::Line(message),
                    Err(e) => Input::Bad(e),
                },
                Err(_) => Input::TooLong,
            })
        });
    }

    async fn handle(&mut self, input: Input) -> Flow {
        let flow = match input {
            Input::Line(message) => self.line(message).await,
            Input::TooLong => {
                warn!(peer = %self.peer, "IRC line too long");
                let m = self
                    .numeric(numeric::ERR_INPUTTOOLONG)
                    .trailing_param("Input line was too long");
                self.send(&m);
                Flow::Continue
            }
            Input::Bad(ParseError::Empty) => Flow::Continue,
            Input::Bad(ParseError::InvalidUtf8 { command }) => {
                warn!(peer = %self.peer, %command, "IRC line is not UTF-8");
                let m = Message::new("FAIL")
                    .with_source(Source::server(self.server()))
                    .param(irc::safe_param(&command))
                    .param("INVALID_UTF8")
                    .trailing_param("Message rejected: this network only accepts UTF-8");
                self.send(&m);
                Flow::Continue
            }
            Input::Bad(e) => {
                warn!(peer = %self.peer, error = %e, "unparsable IRC line");
                let m = self
                    .numeric(numeric::ERR_UNKNOWNCOMMAND)
                    .param("*")
                    .trailing_param(format!("Malformed line: {e}"));
                self.send(&m);
                Flow::Continue
            }
        };
        // A NICK that arrived after USER (e.g. retrying after 433) completes
        // registration here.
        if self.client.is_none()
            && !self.negotiating
            && self.nick.is_some()
            && self.user.is_some()
            && flow == Flow::Continue
        {
            Box::pin(self.try_register()).await;
        }
        if self.wrong_passwords >= WRONG_PASSWORDS_PER_CONNECTION {
            return Flow::Close(CloseReason::TooManyAttempts);
        }
        flow
    }

    fn logged_in(&self) -> bool {
        self.client.is_some()
    }

    fn ping(&mut self, token: u64) -> bool {
        let m = Message::new("PING")
            .with_source(Source::server(self.server()))
            .trailing_param(token.to_string());
        self.send(&m);
        true
    }

    fn cost(&self, input: &Input) -> Cost {
        let Input::Line(m) = input else {
            // An error answer costs the server a little too.
            return Cost::Request(1);
        };
        let targets = |i: usize| {
            let n = m.arg(i).map_or(1, |list| list.split(',').count());
            u32::try_from(n).unwrap_or(u32::MAX)
        };
        let registered = self.client.is_some();
        // Commands are upper case once parsed.
        Cost::Request(match m.command.as_str() {
            "PRIVMSG" | "NOTICE" | "TAGMSG" => return Cost::Chat,
            "PONG" | "QUIT" => return Cost::Free,
            // These reach everyone sharing a channel with the user.
            "NICK" if registered => 10,
            "TOPIC" if m.params.len() > 1 => 10,
            "AWAY" => 5,
            "JOIN" => 5u32.saturating_mul(targets(0)),
            "PART" => 3u32.saturating_mul(targets(0)),
            "LIST" | "WHO" | "MOTD" => 3,
            "NAMES" | "WHOIS" | "MODE" | "KICK" | "KILL" => 2,
            "REGISTER" | "OPER" => 5,
            _ => 1,
        })
    }

    fn rate_limited(&mut self, input: Input) {
        let Input::Line(line) = input else { return };
        let command = line.command.as_str();
        let m = if matches!(command, "PRIVMSG" | "NOTICE" | "TAGMSG") {
            let target = line.arg(0).map(irc::safe_param).unwrap_or("*");
            Message::new("NOTICE")
                .with_source(Source::server(self.server()))
                .param(self.client())
                .trailing_param(format!(
                    "*** Message to {target} dropped: you are sending too fast"
                ))
        } else {
            self.numeric(numeric::RPL_TRYAGAIN)
                .param(irc::safe_param(command))
                .trailing_param("Please wait a while and try again.")
        };
        self.send(&m);
    }

    fn finish(&mut self, reason: CloseReason) -> Option<Bytes> {
        let host = self.me().to_string();
        if let Some(client) = self.client.take() {
            let quit = match reason {
                CloseReason::Logout => Some(self.quit_message.as_deref().unwrap_or("Client quit")),
                _ => None,
            };
            self.hub.leave(&client, reason, quit);
            info!(peer = %self.peer, id = client.id, reason = reason.as_str(), "IRC client left");
        } else {
            debug!(peer = %self.peer, reason = reason.as_str(), "IRC connection closed before registration");
        }
        let why = match reason {
            CloseReason::Logout => format!(
                "Quit: {}",
                self.quit_message.as_deref().unwrap_or("Client quit")
            ),
            CloseReason::Shutdown => "Server shutting down".to_owned(),
            CloseReason::SlowConsumer => "SendQ exceeded".to_owned(),
            CloseReason::FrameTooLarge => "Input line too long".to_owned(),
            CloseReason::LoginTimeout => "Registration timed out".to_owned(),
            CloseReason::PingTimeout => "Ping timeout".to_owned(),
            CloseReason::Flood => "Excess Flood".to_owned(),
            CloseReason::Killed => "Killed by an operator".to_owned(),
            CloseReason::Banned => "You are banned".to_owned(),
            CloseReason::TooManyAttempts => "Too many wrong passwords".to_owned(),
            CloseReason::Closed | CloseReason::Reset => return None,
        };
        Some(Bytes::from(
            Message::new("ERROR")
                .trailing_param(format!("Closing Link: {host} ({why})"))
                .encode(),
        ))
    }
}
