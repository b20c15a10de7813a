//! Line mode: the tutorial's command-line client, grown up.
//!
//! Commands are the tutorial's (`login NAME`, `send TEXT`); once logged in
//! any other line is a message, and `/quit` and `/help` do what they say.
//! Incoming lines print as `HH:MM [nick(id)] text`. Because every message is
//! sent with a `ref` and acknowledged, a script piping lines in knows its
//! messages were delivered: at end of input the client waits for the
//! acknowledgements, logs out and exits 0.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use chatroom_proto::json::{Ref, Request, ServerFrame};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::time::Instant;

use crate::connection::{ReadError, connect};
use crate::display::{chat_line, sanitize};

/// How long, after input ends, to wait for outstanding acknowledgements and
/// the server's goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The commands, as `/help` shows them.
pub const HELP: &str = "\
commands:
  login NAME   log in as NAME (1-32 characters, no spaces)
  send TEXT    send TEXT to everyone; once logged in, any line is sent
  /help        show this help
  /quit        log out and exit";

/// What the line client needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// `HOST:PORT` of the server.
    pub server: String,
    /// Log in with this nickname right after connecting.
    pub nick: Option<String>,
    /// Whether a person is typing (prints the greeting and help).
    pub interactive: bool,
}

/// How a line-mode session ended; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Ended as asked: `/quit` or end of input, everything delivered.
    Done,
    /// The server could not be reached.
    Unreachable,
    /// The server closed the connection or it failed.
    ConnectionLost,
    /// The server refused the login.
    LoginRefused,
}

impl Ending {
    /// The process exit code for this ending.
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Done => 0,
            Ending::Unreachable => 3,
            Ending::ConnectionLost => 4,
            Ending::LoginRefused => 5,
        }
    }
}

/// One line of user input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Login(String),
    Send(String),
    Help,
    Quit,
    /// A line that needs an explanation instead of an action.
    Hint(&'static str),
    Nothing,
}

fn parse(line: &str, logged_in: bool) -> Command {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Command::Nothing;
    }
    if let Some(rest) = line.strip_prefix('/') {
        return match rest.trim().to_lowercase().as_str() {
            "quit" | "exit" => Command::Quit,
            "help" | "?" => Command::Help,
            _ => Command::Hint("unknown command; /help lists them"),
        };
    }
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word.to_lowercase().as_str() {
        "send" => Command::Send(rest.to_owned()),
        "login" if !logged_in => match rest.split_whitespace().next() {
            Some(nick) => Command::Login(nick.to_owned()),
            None => Command::Hint("usage: login NAME"),
        },
        _ if logged_in => Command::Send(line.to_owned()),
        _ => Command::Hint("log in first: login NAME"),
    }
}

struct State {
    me: Option<(String, u64)>,
    /// The `ref` of a login awaiting its answer.
    login_ref: Option<u64>,
    login_refused: bool,
    /// Messages sent and not yet acknowledged, by `ref`.
    unacked: HashMap<u64, String>,
    next_ref: u64,
    input_done: bool,
    quitting: bool,
}

impl State {
    fn take_ref(&mut self) -> u64 {
        self.next_ref += 1;
        self.next_ref
    }

    /// Logged in, or a login is on its way (the server handles requests in
    /// order, so messages typed meanwhile follow the login).
    fn logged_in(&self) -> bool {
        self.me.is_some() || self.login_ref.is_some()
    }
}

fn ref_number(reference: Option<&Ref>) -> Option<u64> {
    match reference {
        Some(Ref::Number(n)) => n.as_u64(),
        _ => None,
    }
}

/// Runs line mode until it ends; `out` gets chat lines, `err` problems.
pub async fn run<I, O, E>(options: &Options, input: I, out: &mut O, err: &mut E) -> Ending
where
    I: AsyncBufRead + Unpin,
    O: Write,
    E: Write,
{
    let (mut reader, mut writer) = match connect(&options.server).await {
        Ok(halves) => halves,
        Err(e) => {
            let _ = writeln!(err, "! cannot reach {}: {e}", options.server);
            return Ending::Unreachable;
        }
    };
    if options.interactive {
        let _ = writeln!(out, "* connected to {}\n{HELP}", options.server);
    }
    let mut state = State {
        me: None,
        login_ref: None,
        login_refused: false,
        unacked: HashMap::new(),
        next_ref: 0,
        input_done: false,
        quitting: false,
    };
    let mut lines = input.lines();
    let mut deadline: Option<Instant> = None;
    let mut pending_login = options.nick.clone();
    loop {
        if let Some(nick) = pending_login.take() {
            let r = state.take_ref();
            state.login_ref = Some(r);
            let login = Request::Login { nickname: nick };
            if writer
                .send(&login, Some(&Ref::Number(r.into())))
                .await
                .is_err()
            {
                return lost(err);
            }
        }
        if state.input_done
            && !state.quitting
            && state.unacked.is_empty()
            && state.login_ref.is_none()
        {
            state.quitting = true;
            if writer.send(&Request::Logout, None).await.is_err() {
                return lost(err);
            }
        }
        let wait_until = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        tokio::select! {
            line = lines.next_line(), if !state.input_done => {
                let line = match line {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(_) => {
                        state.input_done = true;
                        deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                        continue;
                    }
                };
                match parse(&line, state.logged_in()) {
                    Command::Nothing => {}
                    Command::Help => { let _ = writeln!(out, "{HELP}"); }
                    Command::Hint(hint) => { let _ = writeln!(err, "! {hint}"); }
                    Command::Quit => {
                        state.input_done = true;
                        deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                    }
                    Command::Login(nick) => pending_login = Some(nick),
                    Command::Send(text) if text.is_empty() => {
                        let _ = writeln!(err, "! usage: send TEXT");
                    }
                    Command::Send(text) => {
                        let r = state.take_ref();
                        let request = Request::Broadcast { message: text.clone() };
                        if writer.send(&request, Some(&Ref::Number(r.into()))).await.is_err() {
                            return lost(err);
                        }
                        state.unacked.insert(r, text);
                    }
                }
            }
            frame = reader.next() => match frame {
                Ok(Some(frame)) => show(frame, &mut state, out, err),
                Ok(None) if state.quitting => return Ending::Done,
                Ok(None) => {
                    if state.login_refused && state.me.is_none() {
                        return Ending::LoginRefused;
                    }
                    return lost(err);
                }
                Err(ReadError::Io(_)) => return lost(err),
                Err(e) => { let _ = writeln!(err, "! {e}"); }
            },
            () = tokio::time::sleep_until(wait_until), if deadline.is_some() => {
                let _ = writeln!(err, "! the server did not answer in time");
                return Ending::ConnectionLost;
            }
        }
        if state.login_refused && options.nick.is_some() && state.me.is_none() {
            return Ending::LoginRefused;
        }
    }
}

fn lost<E: Write>(err: &mut E) -> Ending {
    let _ = writeln!(err, "! the connection to the server was lost");
    Ending::ConnectionLost
}

/// Shows one frame and updates the state it affects.
fn show<O: Write, E: Write>(frame: ServerFrame, state: &mut State, out: &mut O, err: &mut E) {
    let _ = match frame {
        ServerFrame::Welcome(w) => {
            state.login_ref = None;
            let line = format!(
                "* logged in as {} (id {})",
                sanitize(&w.nickname, false),
                w.id
            );
            state.me = Some((w.nickname, w.id));
            writeln!(out, "{line}")
        }
        ServerFrame::Message(m) => {
            writeln!(
                out,
                "{}",
                chat_line(m.ts, &m.sender_nickname, m.sender_id, &m.message)
            )
        }
        ServerFrame::Presence(p) => {
            let what = match p.event {
                chatroom_proto::json::PresenceEvent::Join => "joined".to_owned(),
                chatroom_proto::json::PresenceEvent::Leave => match &p.reason {
                    Some(reason) => format!("left ({reason})"),
                    None => "left".to_owned(),
                },
            };
            let text = format!("{}({}) {what}", p.nickname, p.user_id);
            writeln!(
                out,
                "{}",
                chat_line(p.ts, &p.sender_nickname, p.sender_id, &text)
            )
        }
        ServerFrame::Ack(a) => {
            let text = ref_number(a.reference.as_ref()).and_then(|r| state.unacked.remove(&r));
            match (text, &state.me) {
                (Some(text), Some((nick, id))) => {
                    writeln!(out, "{}", chat_line(a.ts, nick, *id, &text))
                }
                _ => Ok(()),
            }
        }
        ServerFrame::Error(e) => {
            if let Some(r) = ref_number(e.reference.as_ref()) {
                if state.login_ref == Some(r) {
                    state.login_ref = None;
                    state.login_refused = true;
                }
                state.unacked.remove(&r);
            }
            writeln!(err, "! {}: {}", e.code, sanitize(&e.message, false))
        }
        ServerFrame::Bye(notice) => writeln!(out, "* {}", sanitize(&notice.message, false)),
        ServerFrame::Pong(_) | ServerFrame::Unknown => Ok(()),
    };
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_commands() {
        assert_eq!(parse("login bob", false), Command::Login("bob".into()));
        assert_eq!(
            parse("LOGIN bob extra", false),
            Command::Login("bob".into())
        );
        assert_eq!(
            parse("send hi there", true),
            Command::Send("hi there".into())
        );
        assert_eq!(parse("send 你好", false), Command::Send("你好".into()));
        assert_eq!(parse("login", false), Command::Hint("usage: login NAME"));
    }

    #[test]
    fn plain_lines_are_messages_once_logged_in() {
        assert_eq!(parse("hello all", true), Command::Send("hello all".into()));
        assert_eq!(
            parse("login is broken", true),
            Command::Send("login is broken".into())
        );
        assert_eq!(
            parse("hello", false),
            Command::Hint("log in first: login NAME")
        );
        assert_eq!(parse("   ", true), Command::Nothing);
        assert_eq!(parse("hi\r", true), Command::Send("hi".into()));
    }

    #[test]
    fn slash_commands() {
        assert_eq!(parse("/quit", true), Command::Quit);
        assert_eq!(parse("/QUIT", false), Command::Quit);
        assert_eq!(parse("/help", false), Command::Help);
        assert!(matches!(parse("/dance", true), Command::Hint(_)));
    }

    #[test]
    fn exit_codes_are_distinct() {
        let codes: Vec<u8> = [
            Ending::Done,
            Ending::Unreachable,
            Ending::ConnectionLost,
            Ending::LoginRefused,
        ]
        .iter()
        .map(|e| e.exit_code())
        .collect();
        assert_eq!(codes, vec![0, 3, 4, 5]);
    }
}
