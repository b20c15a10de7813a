//! The slash commands: one table and one parser for line mode and the
//! full-screen client, so that a command means the same in both and `/help`,
//! usage hints and Tab completion all come from the same place.
//!
//! A line starting with `/` is a command (`//text` says `/text`); any other
//! line is said where the user is talking. Parsing is pure: each front end
//! decides what a command does where it was typed. A few commands manage
//! the full-screen client's windows; line mode explains that they are not
//! for it.

use chatroom_proto::json::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT, Request};

/// Which front end a line was typed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Line mode: plain lines in, plain lines out.
    Line,
    /// The full-screen client.
    Screen,
}

/// One command as `/help` and completion know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Its name, as typed after `/`.
    pub name: &'static str,
    /// Other names for it.
    pub aliases: &'static [&'static str],
    /// Its arguments, as `/help` shows them (`[X]`: optional).
    pub args: &'static str,
    /// What it does.
    pub about: &'static str,
    /// Only the full-screen client has it (it manages windows).
    pub screen_only: bool,
    kind: Kind,
}

/// Which command a [`Spec`] describes (what [`parse`] builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Join,
    Part,
    Close,
    Query,
    Msg,
    Me,
    Nick,
    Register,
    Cert,
    Topic,
    Mode,
    Op,
    Deop,
    Voice,
    Devoice,
    Kick,
    Ban,
    Unban,
    Invite,
    Who,
    Rooms,
    History,
    Search,
    Whois,
    Away,
    Ignore,
    Unignore,
    Clear,
    Win,
    Help,
    Quit,
}

impl Spec {
    /// Whether the command exists in `mode`.
    pub fn available(&self, mode: Mode) -> bool {
        mode == Mode::Screen || !self.screen_only
    }

    /// `usage: /name ARGS`.
    pub fn usage(&self) -> String {
        format!("usage: /{} {}", self.name, self.args)
            .trim_end()
            .to_owned()
    }
}

const fn spec(
    kind: Kind,
    name: &'static str,
    aliases: &'static [&'static str],
    args: &'static str,
    about: &'static str,
) -> Spec {
    Spec {
        name,
        aliases,
        args,
        about,
        screen_only: false,
        kind,
    }
}

const fn screen(
    kind: Kind,
    name: &'static str,
    aliases: &'static [&'static str],
    args: &'static str,
    about: &'static str,
) -> Spec {
    Spec {
        screen_only: true,
        ..spec(kind, name, aliases, args, about)
    }
}

/// Every command, in the order `/help` lists them.
pub const COMMANDS: &[Spec] = &[
    spec(
        Kind::Join,
        "join",
        &["j"],
        "ROOM [KEY]",
        "join ROOM (KEY: the room's key, if it has one), or switch to it",
    ),
    spec(
        Kind::Part,
        "part",
        &["leave"],
        "[ROOM]",
        "leave ROOM (default: this room)",
    ),
    screen(
        Kind::Close,
        "close",
        &["wc"],
        "",
        "close this window (leaves the room)",
    ),
    spec(
        Kind::Query,
        "query",
        &["q"],
        "NICK [TEXT]",
        "talk to NICK in direct messages from now on (and say TEXT)",
    ),
    spec(
        Kind::Msg,
        "msg",
        &[],
        "NICK TEXT",
        "send NICK a direct message",
    ),
    spec(Kind::Me, "me", &[], "TEXT", "an action: * you TEXT"),
    spec(Kind::Nick, "nick", &[], "NAME", "change your nickname"),
    spec(
        Kind::Register,
        "register",
        &[],
        "PASSWORD",
        "register your nickname (8+ characters)",
    ),
    spec(
        Kind::Cert,
        "cert",
        &[],
        "[add [FINGERPRINT] | del FINGERPRINT | list]",
        "the TLS client certificates that log into your account without a password",
    ),
    spec(
        Kind::Topic,
        "topic",
        &[],
        "[TEXT]",
        "show or set this room's topic",
    ),
    spec(
        Kind::Mode,
        "mode",
        &[],
        "[ROOM] [MODES [ARGS]]",
        "show a room's modes, or change them (+o NICK, +m, +k KEY, +b MASK...)",
    ),
    spec(
        Kind::Op,
        "op",
        &[],
        "NICK",
        "make NICK an operator of this room",
    ),
    spec(
        Kind::Deop,
        "deop",
        &[],
        "NICK",
        "take NICK's operator status in this room",
    ),
    spec(
        Kind::Voice,
        "voice",
        &[],
        "NICK",
        "let NICK speak in this room when it is moderated (+m)",
    ),
    spec(
        Kind::Devoice,
        "devoice",
        &[],
        "NICK",
        "take NICK's voice in this room",
    ),
    spec(
        Kind::Kick,
        "kick",
        &[],
        "NICK [REASON]",
        "put NICK out of this room (they may join again)",
    ),
    spec(
        Kind::Ban,
        "ban",
        &[],
        "[MASK]",
        "ban MASK (nick!user@host, or a nickname) from this room; no MASK: list its bans",
    ),
    spec(Kind::Unban, "unban", &[], "MASK", "lift a ban of this room"),
    spec(
        Kind::Invite,
        "invite",
        &[],
        "NICK [ROOM]",
        "invite NICK into ROOM (default: this room), past +i, +k and bans",
    ),
    spec(
        Kind::Who,
        "who",
        &["names"],
        "[ROOM]",
        "list a room's members",
    ),
    spec(
        Kind::Rooms,
        "rooms",
        &["list"],
        "",
        "list the rooms on the server",
    ),
    spec(
        Kind::History,
        "history",
        &[],
        "[N]",
        "show N (default 50, at most 500) older messages here",
    ),
    spec(
        Kind::Search,
        "search",
        &["find"],
        "TEXT",
        "search the server's history: this room, these direct messages, or (in status) all yours",
    ),
    spec(
        Kind::Whois,
        "whois",
        &["wi"],
        "NICK",
        "what the server shows about NICK",
    ),
    spec(
        Kind::Away,
        "away",
        &[],
        "[MESSAGE]",
        "mark yourself away (others see MESSAGE), or back without one",
    ),
    spec(
        Kind::Ignore,
        "ignore",
        &[],
        "[NICK]",
        "hide NICK's messages (no NICK: list who is hidden)",
    ),
    spec(
        Kind::Unignore,
        "unignore",
        &[],
        "NICK",
        "show NICK's messages again",
    ),
    screen(
        Kind::Clear,
        "clear",
        &[],
        "",
        "clear this window (the server keeps its history)",
    ),
    screen(Kind::Win, "win", &["window"], "N", "switch to window N"),
    spec(Kind::Help, "help", &["?"], "", "show this help"),
    spec(Kind::Quit, "quit", &["exit"], "", "log out and exit"),
];

/// One typed line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this where the user is talking.
    Say(String),
    /// `/me TEXT`: an action where the user is talking.
    Me(String),
    /// `/msg NICK TEXT`: a direct message.
    Msg {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// `/query NICK [TEXT]`: talk to NICK from now on.
    Query {
        /// The peer.
        nick: String,
        /// Something to send right away.
        text: Option<String>,
    },
    /// `/join ROOM [KEY]`.
    Join {
        /// The room.
        room: String,
        /// Its key (`+k`), if given.
        key: Option<String>,
    },
    /// `/part [ROOM]`.
    Part(Option<String>),
    /// `/close`: close the current window (parting a room).
    Close,
    /// `/rooms`.
    Rooms,
    /// `/who [ROOM]`.
    Who(Option<String>),
    /// `/nick NAME`.
    Nick(String),
    /// `/register PASSWORD`: register the current nickname.
    Register(String),
    /// `/cert [add [FINGERPRINT] | del FINGERPRINT | list]`: the TLS client
    /// certificates that log into one's account.
    Cert(CertAction),
    /// `/topic [TEXT]`.
    Topic(Option<String>),
    /// `/mode [ROOM] [MODES [ARGS]]`, and what `/op`, `/deop`, `/voice`,
    /// `/devoice`, `/ban` and `/unban` mean: a room's modes shown (no
    /// `modes`) or changed, as IRC writes them.
    Mode {
        /// The room; `None`: the current window's.
        room: Option<String>,
        /// The mode string (`+o`, `-b`, `b` to list the bans).
        modes: Option<String>,
        /// Its arguments, in order.
        args: Vec<String>,
    },
    /// `/kick NICK [REASON]` in the current window's room.
    Kick {
        /// Who.
        nick: String,
        /// Why (shown to the room).
        reason: Option<String>,
    },
    /// `/invite NICK [ROOM]`.
    Invite {
        /// Who.
        nick: String,
        /// The room; `None`: the current window's.
        room: Option<String>,
    },
    /// `/history [N]`: N older messages of the current room.
    History(u32),
    /// `/search TEXT`: search the server's history.
    Search(String),
    /// `/whois NICK`.
    Whois(String),
    /// `/away [MESSAGE]`: away with MESSAGE, or back.
    Away(Option<String>),
    /// `/ignore [NICK]`: hide NICK's messages, or list who is hidden.
    Ignore(Option<String>),
    /// `/unignore NICK`.
    Unignore(String),
    /// `/clear`: clear the current window.
    Clear,
    /// `/win N`: switch to window N (1-based).
    Win(usize),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

/// What `/cert` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertAction {
    /// `/cert add [FINGERPRINT]`: add a certificate (`None`: the one this
    /// connection presented).
    Add(Option<String>),
    /// `/cert del FINGERPRINT`: take one off.
    Del(String),
    /// `/cert` or `/cert list`: list them.
    List,
}

impl CertAction {
    /// The request that does it.
    pub fn request(self) -> Request {
        match self {
            CertAction::Add(fingerprint) => Request::CertAdd { fingerprint },
            CertAction::Del(fingerprint) => Request::CertDel { fingerprint },
            CertAction::List => Request::CertList,
        }
    }
}

/// The command typed as `/name` (or one of its aliases), in any case.
pub fn lookup(name: &str) -> Option<&'static Spec> {
    let name = name.to_lowercase();
    COMMANDS
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name.as_str()))
}

/// Parses one typed line. `Ok(None)`: nothing to do (an empty line);
/// `Err`: a hint to show instead (the usage of a command typed wrongly).
pub fn parse(line: &str, mode: Mode) -> Result<Option<Command>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(None);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Say(line.to_owned())));
    };
    if rest.starts_with('/') {
        return Ok(Some(Command::Say(rest.to_owned())));
    }
    let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let Some(spec) = lookup(name) else {
        return Err(format!("unknown command /{name}; /help lists them"));
    };
    if !spec.available(mode) {
        return Err(format!(
            "/{} is for the full-screen client's windows",
            spec.name
        ));
    }
    let arg = arg.trim();
    let words: Vec<&str> = arg.split_whitespace().collect();
    let first = words.first().map(|w| (*w).to_owned());
    let usage = || spec.usage();
    let mode = |modes: &str, args: Vec<String>| Command::Mode {
        room: None,
        modes: Some(modes.to_owned()),
        args,
    };
    let command = match spec.kind {
        Kind::Quit => Command::Quit,
        Kind::Help => Command::Help,
        Kind::Join => match words.as_slice() {
            [room] => Command::Join {
                room: room_name(room),
                key: None,
            },
            [room, key] => Command::Join {
                room: room_name(room),
                key: Some((*key).to_owned()),
            },
            _ => return Err(usage()),
        },
        Kind::Part => Command::Part(first.as_deref().map(room_name)),
        Kind::Close => Command::Close,
        Kind::Rooms => Command::Rooms,
        Kind::Who => Command::Who(first.as_deref().map(room_name)),
        Kind::Nick => Command::Nick(first.ok_or_else(usage)?),
        Kind::Register => Command::Register(first.ok_or_else(usage)?),
        Kind::Cert => match words.as_slice() {
            [] => Command::Cert(CertAction::List),
            [sub, rest @ ..] => match (sub.to_lowercase().as_str(), rest) {
                ("list", []) => Command::Cert(CertAction::List),
                ("add", []) => Command::Cert(CertAction::Add(None)),
                ("add", [fingerprint]) => {
                    Command::Cert(CertAction::Add(Some((*fingerprint).to_owned())))
                }
                ("del", [fingerprint]) => Command::Cert(CertAction::Del((*fingerprint).to_owned())),
                _ => return Err(usage()),
            },
        },
        Kind::Me if arg.is_empty() => return Err(usage()),
        Kind::Me => Command::Me(arg.to_owned()),
        Kind::Msg => match split_word(arg) {
            (to, Some(text)) => Command::Msg {
                to: to.to_owned(),
                text,
            },
            _ => return Err(usage()),
        },
        Kind::Query => match split_word(arg) {
            ("", _) => return Err(usage()),
            (nick, text) => Command::Query {
                nick: nick.to_owned(),
                text,
            },
        },
        Kind::Topic if arg.is_empty() => Command::Topic(None),
        Kind::Topic => Command::Topic(Some(arg.to_owned())),
        Kind::Mode => parse_mode(&words),
        Kind::Op | Kind::Deop | Kind::Voice | Kind::Devoice => {
            let [nick] = words.as_slice() else {
                return Err(usage());
            };
            let modes = match spec.kind {
                Kind::Op => "+o",
                Kind::Deop => "-o",
                Kind::Voice => "+v",
                _ => "-v",
            };
            mode(modes, vec![(*nick).to_owned()])
        }
        Kind::Ban => match words.as_slice() {
            [] => mode("b", Vec::new()),
            [mask] => mode("+b", vec![(*mask).to_owned()]),
            _ => return Err(usage()),
        },
        Kind::Unban => match words.as_slice() {
            [mask] => mode("-b", vec![(*mask).to_owned()]),
            _ => return Err(usage()),
        },
        Kind::Kick => match split_word(arg) {
            ("", _) => return Err(usage()),
            (nick, reason) => Command::Kick {
                nick: nick.to_owned(),
                reason,
            },
        },
        Kind::Invite => match words.as_slice() {
            [nick] => Command::Invite {
                nick: (*nick).to_owned(),
                room: None,
            },
            [nick, room] => Command::Invite {
                nick: (*nick).to_owned(),
                room: Some(room_name(room)),
            },
            _ => return Err(usage()),
        },
        Kind::History if arg.is_empty() => Command::History(DEFAULT_HISTORY_LIMIT),
        Kind::History => match arg.parse::<u32>() {
            Ok(n) if (1..=MAX_HISTORY_LIMIT).contains(&n) => Command::History(n),
            _ => {
                return Err(format!(
                    "usage: /history [N], N from 1 to {MAX_HISTORY_LIMIT}"
                ));
            }
        },
        Kind::Search if arg.is_empty() => return Err(usage()),
        Kind::Search => Command::Search(arg.to_owned()),
        Kind::Whois => Command::Whois(first.ok_or_else(usage)?),
        Kind::Away if arg.is_empty() => Command::Away(None),
        Kind::Away => Command::Away(Some(arg.to_owned())),
        Kind::Ignore => Command::Ignore(first),
        Kind::Unignore => Command::Unignore(first.ok_or_else(usage)?),
        Kind::Clear => Command::Clear,
        Kind::Win => match arg.parse::<usize>() {
            Ok(n) if n >= 1 => Command::Win(n),
            _ => return Err(usage()),
        },
    };
    Ok(Some(command))
}

/// A room as typed: IRC's habit of `#room` is understood (room names
/// never hold `#`).
fn room_name(typed: &str) -> String {
    typed.strip_prefix('#').unwrap_or(typed).to_owned()
}

/// `/mode [ROOM] [MODES [ARGS]]`: a first word starting with `+` or `-` is
/// the mode string (of the current room), any other is the room.
fn parse_mode(words: &[&str]) -> Command {
    let (room, rest) = match words.split_first() {
        Some((first, rest)) if !first.starts_with(['+', '-']) => (Some(room_name(first)), rest),
        _ => (None, words),
    };
    let (modes, args) = match rest.split_first() {
        Some((modes, args)) => (
            Some((*modes).to_owned()),
            args.iter().map(|a| (*a).to_owned()).collect(),
        ),
        None => (None, Vec::new()),
    };
    Command::Mode { room, modes, args }
}

/// The first word of `arg` and what follows it (`None` when nothing does).
fn split_word(arg: &str) -> (&str, Option<String>) {
    match arg.split_once(char::is_whitespace) {
        Some((word, rest)) if !rest.trim().is_empty() => (word, Some(rest.trim_start().to_owned())),
        Some((word, _)) => (word, None),
        None => (arg, None),
    }
}

/// The commands of `mode` as `/help` lists them, one per line:
/// `  /name ARGS    what it does`.
pub fn help(mode: Mode) -> String {
    let mut text = String::from("commands:");
    for spec in COMMANDS.iter().filter(|s| s.available(mode)) {
        let usage = format!("/{} {}", spec.name, spec.args);
        text.push_str(&format!("\n  {usage:<20} {}", spec.about));
    }
    let aliases: Vec<String> = COMMANDS
        .iter()
        .filter(|s| s.available(mode))
        .flat_map(|s| s.aliases.iter().map(move |a| format!("/{a} = /{}", s.name)))
        .collect();
    text.push_str(&format!("\n  aliases: {}", aliases.join(", ")));
    text
}

/// The names (not aliases) of the commands of `mode`, for completion.
pub fn names(mode: Mode) -> impl Iterator<Item = &'static str> {
    COMMANDS
        .iter()
        .filter(move |s| s.available(mode))
        .map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line, Mode::Screen).unwrap().unwrap()
    }

    fn join(room: &str, key: Option<&str>) -> Command {
        Command::Join {
            room: room.into(),
            key: key.map(Into::into),
        }
    }

    fn mode(room: Option<&str>, modes: Option<&str>, args: &[&str]) -> Command {
        Command::Mode {
            room: room.map(Into::into),
            modes: modes.map(Into::into),
            args: args.iter().map(|a| (*a).into()).collect(),
        }
    }

    #[test]
    fn moderation_commands_are_room_modes() {
        assert_eq!(ok("/mode"), mode(None, None, &[]));
        assert_eq!(ok("/mode #rust"), mode(Some("rust"), None, &[]));
        assert_eq!(ok("/mode +mt"), mode(None, Some("+mt"), &[]));
        assert_eq!(
            ok("/mode rust +o-v ann bob"),
            mode(Some("rust"), Some("+o-v"), &["ann", "bob"])
        );
        assert_eq!(ok("/mode -k"), mode(None, Some("-k"), &[]));
        assert_eq!(ok("/mode rust b"), mode(Some("rust"), Some("b"), &[]));
        assert_eq!(ok("/op ann"), mode(None, Some("+o"), &["ann"]));
        assert_eq!(ok("/deop ann"), mode(None, Some("-o"), &["ann"]));
        assert_eq!(ok("/voice 张三"), mode(None, Some("+v"), &["张三"]));
        assert_eq!(ok("/devoice ann"), mode(None, Some("-v"), &["ann"]));
        assert_eq!(ok("/ban"), mode(None, Some("b"), &[]));
        assert_eq!(ok("/ban troll!*@*"), mode(None, Some("+b"), &["troll!*@*"]));
        assert_eq!(ok("/unban $a:troll"), mode(None, Some("-b"), &["$a:troll"]));
        assert_eq!(
            ok("/kick bob"),
            Command::Kick {
                nick: "bob".into(),
                reason: None
            }
        );
        assert_eq!(
            ok("/kick bob  stop  that"),
            Command::Kick {
                nick: "bob".into(),
                reason: Some("stop  that".into())
            }
        );
        assert_eq!(
            ok("/invite bob"),
            Command::Invite {
                nick: "bob".into(),
                room: None
            }
        );
        assert_eq!(
            ok("/invite bob #rust"),
            Command::Invite {
                nick: "bob".into(),
                room: Some("rust".into())
            }
        );
        for line in ["/op ann", "/ban", "/kick bob why", "/mode +i"] {
            assert_eq!(parse(line, Mode::Line), parse(line, Mode::Screen), "{line}");
        }
    }

    #[test]
    fn plain_text_is_said() {
        assert_eq!(ok("hello 你好"), Command::Say("hello 你好".into()));
        assert_eq!(
            ok("line one\n\nline two"),
            Command::Say("line one\n\nline two".into())
        );
        assert_eq!(ok("//not a command"), Command::Say("/not a command".into()));
        assert_eq!(parse("   ", Mode::Line), Ok(None));
        assert_eq!(
            parse("hi\r", Mode::Line),
            Ok(Some(Command::Say("hi".into())))
        );
    }

    #[test]
    fn every_command_is_understood() {
        assert_eq!(ok("/join rust"), join("rust", None));
        assert_eq!(ok("/J #rust"), join("rust", None));
        assert_eq!(ok("/join rust sesame"), join("rust", Some("sesame")));
        assert_eq!(ok("/part"), Command::Part(None));
        assert_eq!(ok("/leave rust"), Command::Part(Some("rust".into())));
        assert_eq!(ok("/rooms"), Command::Rooms);
        assert_eq!(ok("/list"), Command::Rooms);
        assert_eq!(ok("/who"), Command::Who(None));
        assert_eq!(ok("/names rust"), Command::Who(Some("rust".into())));
        assert_eq!(
            ok("/msg bob hi  there"),
            Command::Msg {
                to: "bob".into(),
                text: "hi  there".into()
            }
        );
        assert_eq!(ok("/nick robert"), Command::Nick("robert".into()));
        assert_eq!(
            ok("/register s3cret-pw"),
            Command::Register("s3cret-pw".into())
        );
        assert_eq!(ok("/cert"), Command::Cert(CertAction::List));
        assert_eq!(ok("/cert LIST"), Command::Cert(CertAction::List));
        assert_eq!(ok("/cert add"), Command::Cert(CertAction::Add(None)));
        assert_eq!(
            ok("/cert add ab:cd"),
            Command::Cert(CertAction::Add(Some("ab:cd".into())))
        );
        assert_eq!(
            ok("/cert del abcd"),
            Command::Cert(CertAction::Del("abcd".into()))
        );
        assert!(parse("/cert del", Mode::Line).is_err());
        assert!(parse("/cert remove abcd", Mode::Line).is_err());
        assert_eq!(ok("/me waves"), Command::Me("waves".into()));
        assert_eq!(ok("/history"), Command::History(DEFAULT_HISTORY_LIMIT));
        assert_eq!(ok("/history 10"), Command::History(10));
        assert_eq!(ok("/topic"), Command::Topic(None));
        assert_eq!(
            ok("/topic Rust 2024"),
            Command::Topic(Some("Rust 2024".into()))
        );
        assert_eq!(
            ok("/query 张三"),
            Command::Query {
                nick: "张三".into(),
                text: None
            }
        );
        assert_eq!(
            ok("/q bob hi"),
            Command::Query {
                nick: "bob".into(),
                text: Some("hi".into())
            }
        );
        assert_eq!(ok("/search 网络 编程"), Command::Search("网络 编程".into()));
        assert_eq!(ok("/whois bob"), Command::Whois("bob".into()));
        assert_eq!(ok("/away"), Command::Away(None));
        assert_eq!(ok("/away at lunch"), Command::Away(Some("at lunch".into())));
        assert_eq!(ok("/ignore"), Command::Ignore(None));
        assert_eq!(ok("/ignore troll"), Command::Ignore(Some("troll".into())));
        assert_eq!(ok("/unignore troll"), Command::Unignore("troll".into()));
        assert_eq!(ok("/clear"), Command::Clear);
        assert_eq!(ok("/win 3"), Command::Win(3));
        assert_eq!(ok("/close"), Command::Close);
        assert_eq!(ok("/QUIT"), Command::Quit);
        assert_eq!(ok("/exit"), Command::Quit);
        assert_eq!(ok("/?"), Command::Help);
    }

    #[test]
    fn both_modes_share_the_grammar_but_windows_are_the_screens() {
        for line in ["/j rust", "/query bob hi", "/history 500", "/who"] {
            assert_eq!(parse(line, Mode::Line), parse(line, Mode::Screen), "{line}");
        }
        assert!(
            parse("/win 2", Mode::Line)
                .unwrap_err()
                .contains("full-screen")
        );
        assert!(parse("/close", Mode::Line).is_err());
        assert!(help(Mode::Screen).contains("/win"));
        assert!(!help(Mode::Line).contains("/win"));
        assert!(help(Mode::Line).contains("/j = /join"));
    }

    #[test]
    fn bad_arguments_give_a_usage_hint() {
        let err = |line| parse(line, Mode::Screen).unwrap_err();
        assert_eq!(err("/join"), "usage: /join ROOM [KEY]");
        assert_eq!(err("/join a b c"), "usage: /join ROOM [KEY]");
        assert_eq!(err("/op"), "usage: /op NICK");
        assert_eq!(err("/voice ann bob"), "usage: /voice NICK");
        assert_eq!(err("/unban"), "usage: /unban MASK");
        assert_eq!(err("/kick"), "usage: /kick NICK [REASON]");
        assert_eq!(err("/invite"), "usage: /invite NICK [ROOM]");
        assert_eq!(err("/msg bob"), "usage: /msg NICK TEXT");
        assert_eq!(err("/query"), "usage: /query NICK [TEXT]");
        assert_eq!(err("/me"), "usage: /me TEXT");
        assert!(err("/history 0").contains("1 to 500"));
        assert!(err("/history 501").contains("1 to 500"));
        assert_eq!(err("/search"), "usage: /search TEXT");
        assert_eq!(err("/whois"), "usage: /whois NICK");
        assert!(parse("/clear", Mode::Line).is_err());
        assert_eq!(err("/win x"), "usage: /win N");
        assert_eq!(err("/win 0"), "usage: /win N");
        assert_eq!(err("/dance"), "unknown command /dance; /help lists them");
    }
}
