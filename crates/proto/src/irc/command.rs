//! The command table: which commands a client may send, with how many
//! parameters, and when.
//!
//! The table is [`Command::spec`]: one row per [`Command`]. The server calls
//! [`lookup`] once per parsed message and gets either the [`CommandSpec`] to
//! dispatch on or the [`CommandError`] to answer with, so the arity and
//! registration rules live here and nowhere else. The checks run in this
//! order:
//!
//! 1. unknown command: `421 ERR_UNKNOWNCOMMAND`, before registration too (a
//!    client learns more from "unknown" than from "register first");
//! 2. registration phase: `451 ERR_NOTREGISTERED` for a command that needs
//!    registration, `462 ERR_ALREADYREGISTERED` for `PASS`/`USER` after it;
//! 3. too few parameters: `461 ERR_NEEDMOREPARAMS`, or the more specific
//!    reply RFC 2812 gives for that command (`431` for `NICK`/`WHOIS`,
//!    `411`/`412` for `PRIVMSG`/`NOTICE`, `409` for `PING`/`PONG`). A
//!    required parameter that is empty (`NICK :`, `PRIVMSG #a :`) counts as
//!    missing; optional ones may be empty (`TOPIC #a :` clears the topic).
//!
//! Parameters past a command's maximum are ignored, as servers
//! traditionally do ([`CommandSpec::args`]). Errors about a `NOTICE` are
//! never answered: RFC 2812 section 3.3.2 forbids automatic replies to it.
//! The counts follow RFC 2812 section 3 and modern.ircdocs.horse.

use thiserror::Error;

use super::Message;
use super::numeric::{self, Numeric};

/// Every command the server understands, for an exhaustive `match` in the
/// session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `PASS <password>`: connection password (before NICK/USER).
    Pass,
    /// `NICK <nickname>`: choose or change the nickname.
    Nick,
    /// `USER <username> <mode> <unused> <realname>`: finish registration.
    User,
    /// `CAP <subcommand> [<args>]`: IRCv3 capability negotiation.
    Cap,
    /// `PING <token>`: the client checks the connection.
    Ping,
    /// `PONG [<server>] <token>`: answer to the server's PING.
    Pong,
    /// `QUIT [<reason>]`: leave.
    Quit,
    /// `JOIN <channels> [<keys>]` (or `JOIN 0`: part all).
    Join,
    /// `PART <channels> [<reason>]`.
    Part,
    /// `NAMES [<channels>]`: who is in a channel.
    Names,
    /// `TOPIC <channel> [<topic>]`: read or set the topic.
    Topic,
    /// `LIST [<channels>]`: the channels and their topics.
    List,
    /// `WHO [<mask>]`: users matching a mask or in a channel.
    Who,
    /// `WHOIS [<server>] <nicks>`: about a user.
    Whois,
    /// `PRIVMSG <targets> <text>`: a message to channels or users.
    Privmsg,
    /// `NOTICE <targets> <text>`: a message that must never be answered automatically.
    Notice,
    /// `TAGMSG <targets>`: tags without text (IRCv3 message-tags).
    Tagmsg,
    /// `AWAY [<message>]`: set (with a message) or clear the away state.
    Away,
    /// `MODE <target> [<modes> [<args>...]]`: query or change modes.
    Mode,
    /// `KICK <channel> <nicks> [<reason>]`: remove someone (operators).
    Kick,
    /// `INVITE <nickname> <channel>`: invite someone into a channel.
    Invite,
    /// `MOTD [<server>]`: the message of the day.
    Motd,
    /// `LUSERS`: user and channel counts.
    Lusers,
    /// `ISON <nicks>...`: which of these nicknames are online.
    Ison,
    /// `USERHOST <nicks>...`: up to five users' hosts.
    Userhost,
    /// `VERSION [<server>]`: the server software.
    Version,
    /// `TIME [<server>]`: the server's clock.
    Time,
    /// `REGISTER <account> <email> <password>`: register the nickname as an
    /// account (`*` for the account means the current nickname; the email
    /// is ignored), as in IRCv3's draft account registration.
    Register,
    /// `KILL <nick> [<reason>]`: disconnect someone (operators).
    Kill,
    /// `OPER <name> <password>`: become a server operator.
    Oper,
    /// `AUTHENTICATE <mechanism|data|*>`: IRCv3 SASL (PLAIN, EXTERNAL).
    Authenticate,
    /// `CERT ADD [<fingerprint>]`, `CERT DEL <fingerprint>`, `CERT LIST`:
    /// the TLS client certificates that log into one's account (SASL
    /// EXTERNAL), as ergo's `NS CERT`.
    Cert,
    /// `CHATHISTORY <subcommand> <target> <point> [<point>] <limit>`: IRCv3 history.
    Chathistory,
    /// `SETNAME :<realname>`: IRCv3 `setname`, change one's real name.
    Setname,
    /// `WALLOPS :<text>`: a server operator's message to users with mode `w`.
    Wallops,
    /// `WHOWAS <nick> [<count>]`: who had a nickname before.
    Whowas,
    /// `INFO [<server>]`: about the server software.
    Info,
    /// `ADMIN [<server>]`: who runs the server and how to reach them.
    Admin,
    /// `LINKS [[<server>] <mask>]`: the servers of the network (this one).
    Links,
    /// `MONITOR <+|-|C|L|S> [<targets>]`: be told when nicknames come and
    /// go (IRCv3 monitor).
    Monitor,
    /// `MARKREAD <target> [timestamp=...]`: IRCv3 `draft/read-marker`,
    /// read or move one's read marker.
    Markread,
    /// `BATCH +<ref> draft/multiline <target>` ... `BATCH -<ref>`: IRCv3
    /// `draft/multiline`, one message sent in several lines.
    Batch,
    /// `CHGHOST <nick> <host>`: a server operator changes the host others
    /// see for someone.
    Chghost,
}

/// When a command may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Only during registration (`PASS`, `USER`): afterwards `462`.
    Registration,
    /// Before and after registration (`NICK`, `CAP`, `PING`, `PONG`, `QUIT`).
    Any,
    /// Only once registered: before that `451`.
    Registered,
}

/// The reply RFC 2812 gives when a command has too few parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// `461 ERR_NEEDMOREPARAMS`.
    Params,
    /// `431 ERR_NONICKNAMEGIVEN`.
    Nickname,
    /// `411` without a target, `412` with a target but no text.
    RecipientThenText,
    /// `409 ERR_NOORIGIN`.
    Origin,
}

/// One row of the command table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command.
    pub command: Command,
    /// Its name on the wire.
    pub name: &'static str,
    /// The fewest parameters it needs.
    pub min_params: usize,
    /// The most parameters it uses; more are ignored.
    pub max_params: usize,
    /// When it may be used.
    pub phase: Phase,
    /// Whether errors about it must not be answered (`NOTICE`).
    pub silent: bool,
    missing: Missing,
}

impl CommandSpec {
    /// The parameters the command uses: at most [`CommandSpec::max_params`].
    pub fn args<'a>(&self, message: &'a Message) -> &'a [String] {
        let n = message.params.len().min(self.max_params);
        &message.params[..n]
    }
}

/// Builds a table row.
const fn row(
    command: Command,
    name: &'static str,
    (min_params, max_params): (usize, usize),
    phase: Phase,
    missing: Missing,
) -> CommandSpec {
    CommandSpec {
        command,
        name,
        min_params,
        max_params,
        phase,
        silent: matches!(command, Command::Notice),
        missing,
    }
}

impl Command {
    /// Every command, in the order of the table.
    pub const ALL: [Command; 43] = [
        Command::Pass,
        Command::Nick,
        Command::User,
        Command::Cap,
        Command::Ping,
        Command::Pong,
        Command::Quit,
        Command::Join,
        Command::Part,
        Command::Names,
        Command::Topic,
        Command::List,
        Command::Who,
        Command::Whois,
        Command::Privmsg,
        Command::Notice,
        Command::Tagmsg,
        Command::Away,
        Command::Mode,
        Command::Kick,
        Command::Invite,
        Command::Motd,
        Command::Lusers,
        Command::Ison,
        Command::Userhost,
        Command::Version,
        Command::Time,
        Command::Register,
        Command::Kill,
        Command::Oper,
        Command::Authenticate,
        Command::Chathistory,
        Command::Setname,
        Command::Wallops,
        Command::Whowas,
        Command::Info,
        Command::Admin,
        Command::Links,
        Command::Monitor,
        Command::Markread,
        Command::Batch,
        Command::Chghost,
        Command::Cert,
    ];

    /// This command's row of the table: its name, parameter counts
    /// (minimum, maximum), phase and the reply for missing parameters.
    pub const fn spec(self) -> CommandSpec {
        use Command as C;
        use Missing::{Nickname, Origin, Params, RecipientThenText};
        use Phase::{Any, Registered, Registration};
        match self {
            C::Pass => row(self, "PASS", (1, 1), Registration, Params),
            C::Nick => row(self, "NICK", (1, 1), Any, Nickname),
            C::User => row(self, "USER", (4, 4), Registration, Params),
            C::Cap => row(self, "CAP", (1, 2), Any, Params),
            C::Ping => row(self, "PING", (1, 2), Any, Origin),
            C::Pong => row(self, "PONG", (1, 2), Any, Origin),
            C::Quit => row(self, "QUIT", (0, 1), Any, Params),
            C::Join => row(self, "JOIN", (1, 2), Registered, Params),
            C::Part => row(self, "PART", (1, 2), Registered, Params),
            C::Names => row(self, "NAMES", (0, 2), Registered, Params),
            C::Topic => row(self, "TOPIC", (1, 2), Registered, Params),
            C::List => row(self, "LIST", (0, 2), Registered, Params),
            C::Who => row(self, "WHO", (0, 2), Registered, Params),
            C::Whois => row(self, "WHOIS", (1, 2), Registered, Nickname),
            C::Privmsg => row(self, "PRIVMSG", (2, 2), Registered, RecipientThenText),
            C::Notice => row(self, "NOTICE", (2, 2), Registered, RecipientThenText),
            C::Tagmsg => row(self, "TAGMSG", (1, 1), Registered, Params),
            C::Away => row(self, "AWAY", (0, 1), Registered, Params),
            C::Mode => row(self, "MODE", (1, 15), Registered, Params),
            C::Kick => row(self, "KICK", (2, 3), Registered, Params),
            // A bare INVITE lists one's invitations.
            C::Invite => row(self, "INVITE", (0, 2), Registered, Params),
            C::Motd => row(self, "MOTD", (0, 1), Registered, Params),
            C::Lusers => row(self, "LUSERS", (0, 2), Registered, Params),
            C::Ison => row(self, "ISON", (1, 15), Registered, Params),
            C::Userhost => row(self, "USERHOST", (1, 5), Registered, Params),
            C::Version => row(self, "VERSION", (0, 1), Registered, Params),
            C::Time => row(self, "TIME", (0, 1), Registered, Params),
            C::Register => row(self, "REGISTER", (3, 3), Any, Params),
            C::Kill => row(self, "KILL", (1, 2), Registered, Params),
            C::Oper => row(self, "OPER", (2, 2), Registered, Params),
            C::Authenticate => row(self, "AUTHENTICATE", (1, 1), Any, Params),
            C::Chathistory => row(self, "CHATHISTORY", (3, 5), Registered, Params),
            C::Setname => row(self, "SETNAME", (1, 1), Registered, Params),
            C::Wallops => row(self, "WALLOPS", (1, 1), Registered, Params),
            C::Whowas => row(self, "WHOWAS", (1, 3), Registered, Params),
            C::Info => row(self, "INFO", (0, 1), Registered, Params),
            C::Admin => row(self, "ADMIN", (0, 1), Registered, Params),
            C::Links => row(self, "LINKS", (0, 2), Registered, Params),
            C::Monitor => row(self, "MONITOR", (1, 2), Registered, Params),
            // No minimum: the spec answers a bare `MARKREAD` with
            // `FAIL MARKREAD NEED_MORE_PARAMS`, not `461`.
            C::Markread => row(self, "MARKREAD", (0, 2), Registered, Params),
            C::Batch => row(self, "BATCH", (1, 3), Registered, Params),
            C::Chghost => row(self, "CHGHOST", (2, 2), Registered, Params),
            C::Cert => row(self, "CERT", (1, 2), Registered, Params),
        }
    }

    /// The command's name on the wire.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }
}

/// What is wrong with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandErrorKind {
    /// Not in the table (`421`).
    Unknown,
    /// Needs registration first (`451`).
    NotRegistered,
    /// Only allowed during registration (`462`).
    AlreadyRegistered,
    /// Too few parameters (`461`).
    NeedMoreParams,
    /// `NICK`/`WHOIS` without a nickname (`431`).
    NoNicknameGiven,
    /// `PRIVMSG`/`NOTICE` without a target (`411`).
    NoRecipient,
    /// `PRIVMSG`/`NOTICE` without text (`412`).
    NoTextToSend,
    /// `PING`/`PONG` without a token (`409`).
    NoOrigin,
}

/// A command the server refuses before running it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{command} refused: {}", self.numeric())]
pub struct CommandError {
    /// The command as received (upper case).
    pub command: String,
    /// What is wrong.
    pub kind: CommandErrorKind,
    /// Whether the error must go unanswered (the command was `NOTICE`).
    pub silent: bool,
}

impl CommandError {
    /// The numeric that reports this error.
    pub fn numeric(&self) -> Numeric {
        match self.kind {
            CommandErrorKind::Unknown => numeric::ERR_UNKNOWNCOMMAND,
            CommandErrorKind::NotRegistered => numeric::ERR_NOTREGISTERED,
            CommandErrorKind::AlreadyRegistered => numeric::ERR_ALREADYREGISTERED,
            CommandErrorKind::NeedMoreParams => numeric::ERR_NEEDMOREPARAMS,
            CommandErrorKind::NoNicknameGiven => numeric::ERR_NONICKNAMEGIVEN,
            CommandErrorKind::NoRecipient => numeric::ERR_NORECIPIENT,
            CommandErrorKind::NoTextToSend => numeric::ERR_NOTEXTTOSEND,
            CommandErrorKind::NoOrigin => numeric::ERR_NOORIGIN,
        }
    }

    /// The reply from `server` to `client` (its nickname, or `*` before it
    /// has one), with the usual texts; `None` when the error must go
    /// unanswered.
    pub fn reply(&self, server: &str, client: &str) -> Option<Message> {
        if self.silent {
            return None;
        }
        let message = Message::numeric(server, self.numeric(), client);
        let command = super::safe_param(&self.command);
        Some(
            match self.kind {
                CommandErrorKind::Unknown => {
                    message.param(command).trailing_param("Unknown command")
                }
                CommandErrorKind::NotRegistered => {
                    message.trailing_param("You have not registered")
                }
                CommandErrorKind::AlreadyRegistered => {
                    message.trailing_param("You may not reregister")
                }
                CommandErrorKind::NeedMoreParams => message
                    .param(command)
                    .trailing_param("Not enough parameters"),
                CommandErrorKind::NoNicknameGiven => message.trailing_param("No nickname given"),
                CommandErrorKind::NoRecipient => {
                    message.trailing_param(format!("No recipient given ({command})"))
                }
                CommandErrorKind::NoTextToSend => message.trailing_param("No text to send"),
                CommandErrorKind::NoOrigin => message.trailing_param("No origin specified"),
            }
            .fit(),
        )
    }
}

/// Finds `message`'s command in the table and checks it may run now, for a
/// client that is (`registered`) or is not yet registered.
pub fn lookup(message: &Message, registered: bool) -> Result<CommandSpec, CommandError> {
    let error = |kind, silent| CommandError {
        command: message.command.clone(),
        kind,
        silent,
    };
    let Some(spec) = Command::ALL
        .iter()
        .map(|c| c.spec())
        .find(|s| s.name == message.command)
    else {
        return Err(error(CommandErrorKind::Unknown, false));
    };
    match (spec.phase, registered) {
        (Phase::Registered, false) => {
            return Err(error(CommandErrorKind::NotRegistered, spec.silent));
        }
        (Phase::Registration, true) => {
            return Err(error(CommandErrorKind::AlreadyRegistered, spec.silent));
        }
        _ => {}
    }
    let missing =
        (0..spec.min_params).find(|&index| message.params.get(index).is_none_or(String::is_empty));
    if let Some(index) = missing {
        let kind = match spec.missing {
            Missing::Params => CommandErrorKind::NeedMoreParams,
            Missing::Nickname => CommandErrorKind::NoNicknameGiven,
            Missing::Origin => CommandErrorKind::NoOrigin,
            Missing::RecipientThenText if index == 0 => CommandErrorKind::NoRecipient,
            Missing::RecipientThenText => CommandErrorKind::NoTextToSend,
        };
        return Err(error(kind, spec.silent));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irc::parse;

    fn check(line: &str, registered: bool) -> Result<Command, CommandErrorKind> {
        lookup(&parse(line.as_bytes()).unwrap(), registered)
            .map(|s| s.command)
            .map_err(|e| e.kind)
    }

    fn reply(line: &str, registered: bool) -> Option<String> {
        let e = lookup(&parse(line.as_bytes()).unwrap(), registered).unwrap_err();
        e.reply("irc.test", if registered { "bob" } else { "*" })
            .map(|m| String::from_utf8(m.encode()).unwrap())
    }

    #[test]
    fn table_is_complete_and_consistent() {
        for (i, command) in Command::ALL.iter().enumerate() {
            let spec = command.spec();
            assert_eq!(spec.command, *command);
            assert!(spec.min_params <= spec.max_params, "{spec:?}");
            assert!(spec.max_params <= crate::irc::MAX_PARAMS, "{spec:?}");
            assert!(
                spec.name.bytes().all(|b| b.is_ascii_uppercase()),
                "{spec:?}"
            );
            assert!(
                !Command::ALL[..i].contains(command),
                "{command:?} listed twice"
            );
            assert!(
                Command::ALL[..i].iter().all(|c| c.name() != spec.name),
                "{} named twice",
                spec.name
            );
            // Every row is reachable through lookup.
            let mut m = Message::new(spec.name);
            m.params = vec!["x".into(); spec.min_params];
            assert_eq!(
                lookup(&m, spec.phase != Phase::Registration).map(|s| s.command),
                Ok(*command)
            );
        }
        assert_eq!(Command::Privmsg.name(), "PRIVMSG");
    }

    #[test]
    fn registration_rules() {
        for line in [
            "PASS secret",
            "NICK bob",
            "USER u 0 * :Real",
            "CAP LS 302",
            "PING x",
            "PONG x",
            "QUIT",
        ] {
            assert!(check(line, false).is_ok(), "{line}");
        }
        for line in [
            "JOIN #a",
            "PRIVMSG #a :hi",
            "MODE bob",
            "WHOIS bob",
            "LUSERS",
        ] {
            assert_eq!(
                check(line, false),
                Err(CommandErrorKind::NotRegistered),
                "{line}"
            );
            assert!(check(line, true).is_ok(), "{line}");
        }
        assert_eq!(
            check("PASS x", true),
            Err(CommandErrorKind::AlreadyRegistered)
        );
        assert_eq!(
            check("USER u 0 * :R", true),
            Err(CommandErrorKind::AlreadyRegistered)
        );
        assert!(check("NICK other", true).is_ok());
    }

    #[test]
    fn unknown_commands_and_numerics() {
        assert_eq!(check("FROBNICATE x", true), Err(CommandErrorKind::Unknown));
        assert_eq!(check("FROBNICATE x", false), Err(CommandErrorKind::Unknown));
        assert_eq!(check("001 x", true), Err(CommandErrorKind::Unknown));
        assert_eq!(
            reply("frobnicate", true).as_deref(),
            Some(":irc.test 421 bob FROBNICATE :Unknown command\r\n")
        );
        assert_eq!(
            reply("JOIN #a", false).as_deref(),
            Some(":irc.test 451 * :You have not registered\r\n")
        );
    }

    #[test]
    fn arity_errors_use_the_rfc_numerics() {
        assert_eq!(check("JOIN", true), Err(CommandErrorKind::NeedMoreParams));
        assert_eq!(
            check("USER u 0 *", false),
            Err(CommandErrorKind::NeedMoreParams)
        );
        assert_eq!(
            check("KICK #a", true),
            Err(CommandErrorKind::NeedMoreParams)
        );
        assert_eq!(check("NICK", false), Err(CommandErrorKind::NoNicknameGiven));
        assert_eq!(check("WHOIS", true), Err(CommandErrorKind::NoNicknameGiven));
        assert_eq!(check("PRIVMSG", true), Err(CommandErrorKind::NoRecipient));
        assert_eq!(
            check("PRIVMSG #a", true),
            Err(CommandErrorKind::NoTextToSend)
        );
        assert_eq!(check("PING", false), Err(CommandErrorKind::NoOrigin));
        // An empty required parameter is a missing one; an empty optional
        // one is a value.
        assert_eq!(
            check("PRIVMSG #a :", true),
            Err(CommandErrorKind::NoTextToSend)
        );
        assert_eq!(check("PRIVMSG :", true), Err(CommandErrorKind::NoRecipient));
        assert_eq!(
            check("NICK :", false),
            Err(CommandErrorKind::NoNicknameGiven)
        );
        assert_eq!(
            check("USER u 0 * :", false),
            Err(CommandErrorKind::NeedMoreParams)
        );
        assert_eq!(check("PING :", false), Err(CommandErrorKind::NoOrigin));
        assert_eq!(check("TOPIC #a :", true), Ok(Command::Topic));
        assert_eq!(check("AWAY :", true), Ok(Command::Away));
        assert_eq!(check("AWAY", true), Ok(Command::Away));
        assert_eq!(
            reply("join", true).as_deref(),
            Some(":irc.test 461 bob JOIN :Not enough parameters\r\n")
        );
        assert_eq!(
            reply("PRIVMSG", true).as_deref(),
            Some(":irc.test 411 bob :No recipient given (PRIVMSG)\r\n")
        );
        assert_eq!(
            reply("PRIVMSG #a", true).as_deref(),
            Some(":irc.test 412 bob :No text to send\r\n")
        );
        assert_eq!(
            reply("NICK", false).as_deref(),
            Some(":irc.test 431 * :No nickname given\r\n")
        );
        assert_eq!(
            reply("PING", true).as_deref(),
            Some(":irc.test 409 bob :No origin specified\r\n")
        );
        assert_eq!(
            reply("USER x", true).as_deref(),
            Some(":irc.test 462 bob :You may not reregister\r\n")
        );
    }

    #[test]
    fn notice_errors_are_never_answered() {
        assert_eq!(reply("NOTICE", true), None);
        assert_eq!(reply("NOTICE #a", true), None);
        assert_eq!(reply("NOTICE #a :hi", false), None);
        let e = lookup(&parse(b"NOTICE").unwrap(), true).unwrap_err();
        assert_eq!(e.numeric(), numeric::ERR_NORECIPIENT);
        assert!(e.silent);
        assert_eq!(e.to_string(), "NOTICE refused: 411 ERR_NORECIPIENT");
    }

    #[test]
    fn extra_parameters_are_ignored() {
        let m = parse(b"PRIVMSG #a hello world").unwrap();
        let spec = lookup(&m, true).unwrap();
        assert_eq!(spec.args(&m), ["#a", "hello"]);
        let m = parse(b"USERHOST a b c d e f g").unwrap();
        assert_eq!(lookup(&m, true).unwrap().args(&m).len(), 5);
        let m = parse(b"LUSERS").unwrap();
        assert!(lookup(&m, true).unwrap().args(&m).is_empty());
    }
}
