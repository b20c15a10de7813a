//! The slash commands: one table and one parser for line mode and the
//! full-screen client, so that a command means the same in both and `/help`,
//! usage hints and Tab completion all come from the same place.
//!
//! A line starting with `/` is a command (`//text` says `/text`); any other
//! line is said where the user is talking. Parsing is pure: each front end
//! decides what a command does where it was typed. A few commands manage
//! the full-screen client's windows; line mode explains that they are not
//! for it.

use chatroom_proto::json::{DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT};

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
    Topic,
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
        "ROOM",
        "join ROOM, or switch to it",
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
        Kind::Topic,
        "topic",
        &[],
        "[TEXT]",
        "show or set this room's topic",
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
    /// `/join ROOM`.
    Join(String),
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
    /// `/topic [TEXT]`.
    Topic(Option<String>),
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
    let first = arg.split_whitespace().next().map(str::to_owned);
    let usage = || spec.usage();
    let command = match spec.kind {
        Kind::Quit => Command::Quit,
        Kind::Help => Command::Help,
        Kind::Join => Command::Join(first.ok_or_else(usage)?),
        Kind::Part => Command::Part(first),
        Kind::Close => Command::Close,
        Kind::Rooms => Command::Rooms,
        Kind::Who => Command::Who(first),
        Kind::Nick => Command::Nick(first.ok_or_else(usage)?),
        Kind::Register => Command::Register(first.ok_or_else(usage)?),
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
        assert_eq!(ok("/join rust"), Command::Join("rust".into()));
        assert_eq!(ok("/J rust"), Command::Join("rust".into()));
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
        assert_eq!(err("/join"), "usage: /join ROOM");
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
