//! What a line typed into the full-screen client asks for.
//!
//! A line starting with `/` is a command (`//text` sends `/text`); any other
//! line is said in the current window. Parsing is pure: the app decides what
//! each command means in the window it was typed in.

/// One typed line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this in the current window.
    Say(String),
    /// `/me TEXT`: an action in the current window.
    Me(String),
    /// `/msg NICK TEXT`: a direct message.
    Msg {
        /// The recipient.
        to: String,
        /// The text.
        text: String,
    },
    /// `/query NICK [TEXT]`: open (and switch to) a direct-message window.
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
    /// `/nick NAME` (also logs in when not logged in yet).
    Nick(String),
    /// `/register PASSWORD`: register the current nickname.
    Register(String),
    /// `/topic [TEXT]`.
    Topic(Option<String>),
    /// `/history [N]`: load N older messages of the current room.
    History(u32),
    /// `/win N`: switch to window N (1-based).
    Win(usize),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

/// Every command: name, arguments and what it does, for `/help` and for Tab
/// completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("join", "ROOM", "join ROOM, or switch to its window"),
    ("part", "[ROOM]", "leave ROOM (default: this room)"),
    ("close", "", "close this window (leaves the room)"),
    (
        "query",
        "NICK [TEXT]",
        "open a direct-message window with NICK",
    ),
    ("msg", "NICK TEXT", "send NICK a direct message"),
    ("me", "TEXT", "an action: * you TEXT"),
    ("nick", "NAME", "change your nickname"),
    (
        "register",
        "PASSWORD",
        "register your nickname (8+ characters)",
    ),
    ("topic", "[TEXT]", "show or set this room's topic"),
    ("who", "[ROOM]", "list a room's members"),
    ("rooms", "", "list the rooms on the server"),
    ("history", "[N]", "load N (default 50) older messages here"),
    ("win", "N", "switch to window N"),
    ("help", "", "show this help"),
    ("quit", "", "log out and exit"),
];

/// The largest `/history N`.
pub const MAX_HISTORY_PAGE: u32 = chatroom_proto::json::MAX_HISTORY_LIMIT;

/// Parses one typed line; `Err` holds a hint to show instead. `Ok(None)`
/// means there is nothing to do (an empty line).
pub fn parse(line: &str) -> Result<Option<Command>, String> {
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
    let arg = arg.trim();
    let mut words = arg.split_whitespace();
    let first = words.next().map(str::to_owned);
    let usage = |cmd: &str| {
        let args = COMMANDS
            .iter()
            .find(|(n, _, _)| *n == cmd)
            .map_or("", |(_, a, _)| *a);
        format!("usage: /{cmd} {args}")
    };
    let command = match name.to_lowercase().as_str() {
        "quit" | "exit" => Command::Quit,
        "help" | "?" => Command::Help,
        "join" | "j" => Command::Join(first.ok_or_else(|| usage("join"))?),
        "part" | "leave" => Command::Part(first),
        "close" | "wc" => Command::Close,
        "rooms" | "list" => Command::Rooms,
        "who" | "names" => Command::Who(first),
        "nick" => Command::Nick(first.ok_or_else(|| usage("nick"))?),
        "register" => Command::Register(first.ok_or_else(|| usage("register"))?),
        "me" if !arg.is_empty() => Command::Me(arg.to_owned()),
        "me" => return Err(usage("me")),
        "msg" => match arg.split_once(char::is_whitespace) {
            Some((to, text)) if !text.trim().is_empty() => Command::Msg {
                to: to.to_owned(),
                text: text.trim_start().to_owned(),
            },
            _ => return Err(usage("msg")),
        },
        "query" | "q" => match arg.split_once(char::is_whitespace) {
            Some((nick, text)) if !text.trim().is_empty() => Command::Query {
                nick: nick.to_owned(),
                text: Some(text.trim_start().to_owned()),
            },
            _ => Command::Query {
                nick: first.ok_or_else(|| usage("query"))?,
                text: None,
            },
        },
        "topic" if arg.is_empty() => Command::Topic(None),
        "topic" => Command::Topic(Some(arg.to_owned())),
        "history" if arg.is_empty() => {
            Command::History(chatroom_proto::json::DEFAULT_HISTORY_LIMIT)
        }
        "history" => match arg.parse::<u32>() {
            Ok(n) if (1..=MAX_HISTORY_PAGE).contains(&n) => Command::History(n),
            _ => {
                return Err(format!(
                    "usage: /history [N], N from 1 to {MAX_HISTORY_PAGE}"
                ));
            }
        },
        "win" | "window" => match arg.parse::<usize>() {
            Ok(n) if n >= 1 => Command::Win(n),
            _ => return Err(usage("win")),
        },
        _ => return Err(format!("unknown command /{name}; /help lists them")),
    };
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Command {
        parse(line).unwrap().unwrap()
    }

    #[test]
    fn plain_text_is_said() {
        assert_eq!(ok("hello 你好"), Command::Say("hello 你好".into()));
        assert_eq!(
            ok("line one\nline two"),
            Command::Say("line one\nline two".into())
        );
        assert_eq!(ok("//not a command"), Command::Say("/not a command".into()));
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn every_line_client_command_is_understood() {
        assert_eq!(ok("/join rust"), Command::Join("rust".into()));
        assert_eq!(ok("/part"), Command::Part(None));
        assert_eq!(ok("/part rust"), Command::Part(Some("rust".into())));
        assert_eq!(ok("/rooms"), Command::Rooms);
        assert_eq!(ok("/who"), Command::Who(None));
        assert_eq!(ok("/who rust"), Command::Who(Some("rust".into())));
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
        assert_eq!(ok("/history"), Command::History(50));
        assert_eq!(ok("/history 10"), Command::History(10));
        assert_eq!(ok("/topic"), Command::Topic(None));
        assert_eq!(
            ok("/topic Rust 2024"),
            Command::Topic(Some("Rust 2024".into()))
        );
        assert_eq!(ok("/QUIT"), Command::Quit);
        assert_eq!(ok("/help"), Command::Help);
    }

    #[test]
    fn window_commands() {
        assert_eq!(ok("/win 3"), Command::Win(3));
        assert_eq!(
            ok("/query 张三"),
            Command::Query {
                nick: "张三".into(),
                text: None
            }
        );
        assert_eq!(
            ok("/query bob hi"),
            Command::Query {
                nick: "bob".into(),
                text: Some("hi".into())
            }
        );
        assert_eq!(ok("/close"), Command::Close);
    }

    #[test]
    fn bad_arguments_give_a_usage_hint() {
        assert_eq!(parse("/join"), Err("usage: /join ROOM".into()));
        assert_eq!(parse("/msg bob"), Err("usage: /msg NICK TEXT".into()));
        assert_eq!(parse("/me"), Err("usage: /me TEXT".into()));
        assert!(parse("/history 0").is_err());
        assert!(parse("/history 501").is_err());
        assert!(parse("/win x").is_err());
        assert!(parse("/win 0").is_err());
        assert_eq!(
            parse("/dance"),
            Err("unknown command /dance; /help lists them".into())
        );
    }
}
