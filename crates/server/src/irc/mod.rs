//! The IRC side of the server (docs/irc.md): RFC 1459/2812 client commands
//! plus the IRCv3 basics, bridged onto the same hub as the JSON protocol.
//!
//! Rooms are channels (`lobby` is `#lobby`); a registered user starts in
//! the channels of `--irc-autojoin` (`#lobby` by default, like JSON users).
//! Registration needs `NICK` and `USER` (and `CAP END` once `CAP`
//! negotiation started), and `PASS` first on a server with a password.
//!
//! - [`commands`]: the command table: for every command its handler, next
//!   to its parameter counts and whether it may come before registration
//!   (`chatroom_proto::irc::Command::spec`);
//! - [`session`]: the connection's life (decoding, dispatch, keepalive,
//!   costs, last words);
//! - [`registration`] (PASS, NICK, USER, REGISTER, the welcome burst),
//!   [`caps`] (the capability table and `CAP`), [`sasl`] (`AUTHENTICATE`)
//!   and [`certs`] (`CERT`: the client certificates of one's account);
//! - [`channels`] (JOIN, PART, NAMES, TOPIC, LIST), [`moderation`] (channel
//!   MODE, INVITE, KICK), [`monitor`] (MONITOR), [`about`] (VERSION, INFO,
//!   TIME, ADMIN, LINKS),
//!   [`messages`] (PRIVMSG, NOTICE, TAGMSG), [`users`] (queries about users
//!   and the server, AWAY, OPER, KILL, user MODE), [`history`] (replay on
//!   join) and [`chathistory`] (`CHATHISTORY`); [`read_marker`]
//!   (`MARKREAD`);
//! - [`events`], [`replies`], [`errors`], [`isupport`]: how events,
//!   answers and refusals are written for IRC clients; [`labels`]: the
//!   answers to a labeled request (labeled-response).

mod about;
mod caps;
mod certs;
mod channels;
mod chathistory;
mod commands;
mod elist;
pub mod errors;
pub mod events;
mod history;
pub mod isupport;
mod labels;
mod messages;
mod moderation;
mod monitor;
mod multiline;
mod read_marker;
mod registration;
pub mod replies;
mod sasl;
mod session;
#[cfg(test)]
mod tests;
mod users;
mod who;
mod whowas;

use std::net::SocketAddr;
use std::sync::Arc;

use chatroom_proto::irc::{IrcFramer, Message, ParseError};
use chatroom_proto::json::Secret;

use crate::hub::{Client, Hub};
use crate::outbox::Outbox;
use caps::Caps;

/// The software and version, as VERSION and 002/004 show it.
const VERSION: &str = concat!("chatroom-", env!("CARGO_PKG_VERSION"));

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
    /// The `005 RPL_ISUPPORT` tokens, built once ([`isupport::tokens`]).
    pub isupport: Arc<[String]>,
    /// The channels joined at registration, as a `JOIN` list (`#lobby`;
    /// empty for none).
    pub autojoin: Arc<str>,
    /// The server password `PASS` must give, if the server has one.
    pub password: Option<Arc<str>>,
    /// What the server is, in a few words (WHOIS, LINKS, VERSION).
    pub description: Arc<str>,
    /// How to reach the administrators, for `ADMIN` (none: not given).
    pub admin_contact: Option<Arc<str>>,
}

impl IrcSession {
    /// Tells the hub which notifications this client takes: those of its
    /// capabilities, and WALLOPS with user mode `w`.
    fn update_wants(&self) {
        if let Some(client) = &self.client {
            let wallops = if self.wallops {
                crate::event::wants::WALLOPS
            } else {
                0
            };
            client.set_wants(self.caps.wants() | wallops);
        }
    }
}

impl IrcSettings {
    /// Settings for a server called `server_name`.
    pub fn new(server_name: &str, motd: Vec<String>, history_replay: u32, started: i64) -> Self {
        IrcSettings {
            isupport: isupport::tokens(server_name).into(),
            server_name: server_name.into(),
            motd: motd.into(),
            history_replay,
            started,
            autojoin: "#lobby".into(),
            password: None,
            admin_contact: None,
            description: crate::Config::default().server_description.into(),
        }
    }

    /// These settings, with IRC users put in `rooms` at registration.
    pub fn starting_in(mut self, rooms: &[String]) -> Self {
        let channels: Vec<String> = rooms
            .iter()
            .map(|room| chatroom_proto::irc::channel::room_to_channel(room))
            .collect();
        self.autojoin = channels.join(",").into();
        self
    }

    /// These settings, with the server described as `description`.
    pub fn described_as(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    /// These settings, with the administrators' contact for `ADMIN`.
    pub fn with_admin_contact(mut self, contact: Option<&str>) -> Self {
        self.admin_contact = contact.map(Into::into);
        self
    }

    /// These settings, with a server password (`None`: none).
    pub fn with_password(mut self, password: Option<&str>) -> Self {
        self.password = password.map(Into::into);
        self
    }
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
    /// User mode `w`: server operators' WALLOPS reach this client.
    wallops: bool,
    /// User mode `B`: a bot (IRCv3 bot mode).
    bot: bool,
    quit_message: Option<String>,
    batches: u64,
    /// The password from PASS, for a registered nickname.
    password: Option<Secret>,
    /// Wrong passwords (and attempts while told to wait) on this connection.
    wrong_passwords: u8,
    /// The IRCv3 client-only tags of the line being handled, to relay with
    /// a PRIVMSG, NOTICE or TAGMSG.
    client_tags: crate::event::ClientTags,
    /// A SASL exchange under way.
    sasl: Option<sasl::Exchange>,
    /// The account SASL logged into (used at registration instead of
    /// `PASS`).
    sasl_account: Option<crate::accounts::Identity>,
    /// Read markers (`MARKREAD`).
    markers: crate::read_markers::ReadMarkers,
    /// The multiline batch being sent (`draft/multiline`).
    multiline: Option<multiline::OpenBatch>,
    /// The reference of a multiline batch refused before it closed: its
    /// remaining lines are dropped without more replies.
    discarded: Option<String>,
    /// The label of the `BATCH +` line being handled, for its batch.
    opening_label: Option<String>,
    /// The fingerprint of the TLS client certificate the connection
    /// presented, if any (`AUTHENTICATE EXTERNAL`, `CERT ADD`).
    certfp: Option<crate::certfp::Fingerprint>,
}
