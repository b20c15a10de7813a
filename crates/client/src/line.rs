//! Line mode: the tutorial's command-line client, grown up.
//!
//! Commands are the tutorial's (`login NAME`, `send TEXT`); once logged in
//! any other line is a message to the current room, and `/`-commands do
//! the rest (`/help` lists them). Incoming lines print as
//! `HH:MM #room [nick(id)] text`. Because every request is sent with a `ref`
//! and answered, a script piping lines in knows its messages were delivered:
//! at end of input the client waits for the answers, logs out and exits 0,
//! or with the code of the first thing that went wrong ([`Ending`]).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::time::Duration;

use chatroom_proto::json::{MemberInfo, PresenceEvent, Ref, Request, Secret, ServerFrame};
use chatroom_proto::nick;
use chatroom_proto::room::{self, LOBBY};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::time::Instant;

use crate::command::{self, Command, Mode};
use crate::connection::{FrameWriter, ReadError, Target, connect};
use crate::display::{certs_text, chat_line, clock, room_label, sanitize};
use crate::moderation;

/// How many results one page of `/search` prints.
const SEARCH_PAGE: u32 = 20;

/// How long, after input ends, to wait for outstanding answers and the
/// server's goodbye.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The help text: the tutorial's commands, then the slash commands.
pub fn help() -> String {
    format!(
        "\
tutorial commands:
  login NAME [PASS]    log in as NAME (1-32 characters, no spaces); PASS for a registered NAME
  send TEXT            say TEXT where you are talking; once logged in, any line is said
{}",
        command::help(Mode::Line)
    )
}

/// What the line client needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server, and TLS if any.
    pub server: Target,
    /// Log in with this nickname right after connecting.
    pub nick: Option<String>,
    /// The password of that nickname's account, if it has one.
    pub password: Option<String>,
    /// Whether a person is typing (prints the greeting and help).
    pub interactive: bool,
}

/// How a line-mode session ended; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Ended as asked: `/quit` or end of input, everything delivered.
    Done,
    /// A line of input was not a command (unknown, or missing an argument);
    /// the other lines were carried out.
    Usage,
    /// The server could not be reached.
    Unreachable,
    /// The server closed the connection or it failed.
    ConnectionLost,
    /// The server refused the login.
    LoginRefused,
    /// The server refused a request: a message not delivered (too fast, to
    /// nobody, too long), a room not joined, and the like.
    Refused,
}

impl Ending {
    /// The process exit code for this ending.
    pub fn exit_code(self) -> u8 {
        match self {
            Ending::Done => 0,
            Ending::Usage => 2,
            Ending::Unreachable => 3,
            Ending::ConnectionLost => 4,
            Ending::LoginRefused => 5,
            Ending::Refused => 6,
        }
    }
}

/// One line of user input, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    /// The tutorial's `login NAME [PASS]`.
    Login(String, Option<String>),
    /// A slash command, or something to say.
    Command(Command),
    /// A line that needs an explanation instead of an action.
    Hint(String),
    /// An empty line.
    Nothing,
}

/// Reads one line: the tutorial's `login` and `send`, or what
/// [`command::parse`] makes of it (plain lines are said once logged in).
fn parse(line: &str, logged_in: bool) -> Input {
    const LOG_IN_FIRST: &str = "log in first: login NAME";
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Input::Nothing;
    }
    if !line.starts_with('/') {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        return match word.to_lowercase().as_str() {
            "send" if rest.is_empty() => Input::Hint("usage: send TEXT".into()),
            "send" => Input::Command(Command::Say(rest.to_owned())),
            "login" if !logged_in => {
                let mut words = rest.split_whitespace();
                match words.next() {
                    Some(nick) => Input::Login(nick.to_owned(), words.next().map(str::to_owned)),
                    None => Input::Hint("usage: login NAME".into()),
                }
            }
            _ if logged_in => Input::Command(Command::Say(line.to_owned())),
            _ => Input::Hint(LOG_IN_FIRST.into()),
        };
    }
    match command::parse(line, Mode::Line) {
        Ok(None) => Input::Nothing,
        Ok(Some(command @ (Command::Quit | Command::Help))) => Input::Command(command),
        Ok(Some(_)) if !logged_in => Input::Hint(LOG_IN_FIRST.into()),
        Ok(Some(command)) => Input::Command(command),
        Err(hint) => Input::Hint(hint),
    }
}

/// What a request was, so its answer can be shown.
#[derive(Debug, Clone)]
enum Pending {
    Login,
    Say {
        room: String,
        text: String,
        action: bool,
    },
    Direct {
        to: String,
        text: String,
        action: bool,
    },
    /// A join; the current room switched when it was sent, and switches
    /// back to `previous` if the server refuses (unless a later line
    /// switched elsewhere or joins the room again meanwhile).
    Join {
        room: String,
        previous: String,
    },
    /// A request answered by `done`, which prints this (nothing for a
    /// mode change: the room's notice of it says what happened).
    Done(Option<String>),
    Other,
}

struct State {
    me: Option<(String, u64)>,
    login_refused: bool,
    /// The first thing that went wrong (a line not understood, a request
    /// refused): it decides the exit code once input ends.
    failure: Option<Ending>,
    /// Requests sent and not yet answered, by `ref`.
    pending: HashMap<u64, Pending>,
    next_ref: u64,
    /// The room plain lines go to (unless `peer` is set).
    current: String,
    /// The nickname plain lines go to instead, after `/query NICK`.
    peer: Option<String>,
    /// Rooms joined (folded keys).
    rooms: BTreeSet<String>,
    /// Oldest message id seen per room (folded key), for `/history`.
    oldest: HashMap<String, u64>,
    /// Nicknames (folded) whose messages are not shown (`/ignore`).
    ignored: BTreeSet<String>,
    /// The last `/search`'s text and the cursor of its next page.
    last_search: Option<(String, Option<String>)>,
    input_done: bool,
    quitting: bool,
}

impl State {
    /// Before logging in: in the lobby, nothing sent yet.
    fn new() -> Self {
        State {
            me: None,
            login_refused: false,
            failure: None,
            pending: HashMap::new(),
            next_ref: 0,
            current: LOBBY.to_owned(),
            peer: None,
            rooms: BTreeSet::from([LOBBY.to_owned()]),
            oldest: HashMap::new(),
            ignored: BTreeSet::new(),
            last_search: None,
            input_done: false,
            quitting: false,
        }
    }

    /// Logged in, or a login is on its way (the server handles requests in
    /// order, so messages typed meanwhile follow the login).
    fn logged_in(&self) -> bool {
        self.me.is_some() || self.pending.values().any(|p| matches!(p, Pending::Login))
    }

    /// Remembers what went wrong, unless something went wrong before.
    fn failed(&mut self, why: Ending) {
        self.failure.get_or_insert(why);
    }

    fn seen(&mut self, room: &str, msg_id: u64) {
        let oldest = self.oldest.entry(room::fold(room)).or_insert(msg_id);
        *oldest = (*oldest).min(msg_id);
    }
}

/// A login declaring this client's protocol version (so the server pings it).
fn login(nickname: String, password: Option<String>) -> Request {
    Request::Login {
        nickname,
        password: password.map(Secret::new),
        protocol: Some(chatroom_proto::PROTOCOL_VERSION),
    }
}

/// Sends a request with a fresh `ref`, remembering what it was.
async fn send(
    writer: &mut FrameWriter,
    state: &mut State,
    request: Request,
    pending: Pending,
) -> std::io::Result<()> {
    state.next_ref += 1;
    let r = state.next_ref;
    writer.send(&request, Some(&Ref::Number(r.into()))).await?;
    state.pending.insert(r, pending);
    Ok(())
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
        let _ = writeln!(out, "* connected to {}\n{}", options.server, help());
    }
    let mut state = State::new();
    let mut lines = input.lines();
    let mut deadline: Option<Instant> = None;
    if let Some(nick) = &options.nick {
        let login = login(nick.clone(), options.password.clone());
        if send(&mut writer, &mut state, login, Pending::Login)
            .await
            .is_err()
        {
            return lost(err);
        }
    }
    loop {
        if state.input_done && !state.quitting && state.pending.is_empty() {
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
                let input = parse(&line, state.logged_in());
                if input == Input::Command(Command::Quit) {
                    state.input_done = true;
                    deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                    continue;
                }
                if act(input, &mut writer, &mut state, out, err).await.is_err() {
                    return lost(err);
                }
            }
            frame = reader.next() => match frame {
                // Keepalive: answer the server's ping with its token.
                Ok(Some(ServerFrame::Ping(ping))) => {
                    if writer.send(&Request::Pong, ping.reference.as_ref()).await.is_err() {
                        return lost(err);
                    }
                }
                Ok(Some(frame)) => show(frame, &mut state, out, err),
                Ok(None) if state.quitting => return state.failure.unwrap_or(Ending::Done),
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
        // A script's lines all need the login: without it there is no
        // point going on. A person may try another nickname.
        let scripted = options.nick.is_some() || !options.interactive;
        if state.login_refused && scripted && state.me.is_none() {
            return Ending::LoginRefused;
        }
    }
}

/// Carries out one line: a request to the server or a local answer.
async fn act<O: Write, E: Write>(
    input: Input,
    writer: &mut FrameWriter,
    state: &mut State,
    out: &mut O,
    err: &mut E,
) -> std::io::Result<()> {
    let command = match input {
        Input::Nothing => return Ok(()),
        Input::Hint(hint) => {
            let _ = writeln!(err, "! {hint}");
            state.failed(Ending::Usage);
            return Ok(());
        }
        Input::Login(nickname, password) => {
            return send(writer, state, login(nickname, password), Pending::Login).await;
        }
        Input::Command(command) => command,
    };
    let current = state.current.clone();
    let (request, pending) = match command {
        Command::Quit => return Ok(()),
        Command::Help => {
            let _ = writeln!(out, "{}", help());
            return Ok(());
        }
        // Window commands are refused by the parser in line mode.
        Command::Win(_) | Command::Close | Command::Clear => return Ok(()),
        Command::Ignore(None) => {
            let names: Vec<&str> = state.ignored.iter().map(String::as_str).collect();
            let _ = writeln!(out, "* ignored: {}", names.join(" "));
            return Ok(());
        }
        Command::Ignore(Some(name)) => {
            state.ignored.insert(nick::fold(&name));
            let _ = writeln!(out, "* {} is ignored", sanitize(&name, false));
            return Ok(());
        }
        Command::Unignore(name) => {
            state.ignored.remove(&nick::fold(&name));
            let _ = writeln!(out, "* {} is no longer ignored", sanitize(&name, false));
            return Ok(());
        }
        Command::Whois(nickname) => (Request::Whois { nickname }, Pending::Other),
        Command::Away(message) => (Request::Away { message }, Pending::Other),
        Command::Search(text) => {
            let cursor = match &state.last_search {
                Some((last, next)) if *last == text => next.clone(),
                _ => None,
            };
            let (room, with) = match &state.peer {
                Some(peer) => (None, Some(peer.clone())),
                None => (Some(current.clone()), None),
            };
            (
                Request::Search {
                    text,
                    room,
                    with,
                    limit: SEARCH_PAGE,
                    cursor,
                },
                Pending::Other,
            )
        }
        Command::Join { room, .. } if state.rooms.contains(&room::fold(&room)) => {
            state.current = room;
            state.peer = None;
            let _ = writeln!(out, "* now talking in {}", room_label(&state.current));
            return Ok(());
        }
        Command::Query { nick, text } => {
            let _ = writeln!(
                out,
                "* now talking to {} (direct messages); /join a room to go back",
                sanitize(&nick, false)
            );
            state.peer = Some(nick.clone());
            match text {
                Some(text) => direct(nick, text, false),
                None => return Ok(()),
            }
        }
        Command::Cert(action) => (action.request(), Pending::Other),
        Command::Register(password) => (
            Request::Register {
                nickname: None,
                password: Secret::new(password),
            },
            Pending::Other,
        ),
        Command::Say(text) => match state.peer.clone() {
            Some(peer) => direct(peer, text, false),
            None => say(current, text, false),
        },
        Command::Me(text) => match state.peer.clone() {
            Some(peer) => direct(peer, text, true),
            None => say(current, text, true),
        },
        Command::Msg { to, text } => direct(to, text, false),
        // The server handles requests in order, so lines typed after a join
        // or part belong to the new current room even before the answer.
        Command::Join { room, key } => {
            state.current = room.clone();
            state.peer = None;
            (
                Request::Join {
                    room: room.clone(),
                    key,
                },
                Pending::Join {
                    room,
                    previous: current,
                },
            )
        }
        Command::Mode { room, modes, args } => (
            Request::Mode {
                room: room.unwrap_or(current),
                modes,
                args,
            },
            Pending::Done(None),
        ),
        Command::Kick { nick, reason } => (
            Request::Kick {
                room: current,
                nickname: nick,
                reason,
            },
            Pending::Done(None),
        ),
        Command::Invite { nick, room } => {
            let room = room.unwrap_or(current);
            let text = format!(
                "* {} is invited into {}",
                sanitize(&nick, false),
                room_label(&room)
            );
            (
                Request::Invite {
                    room,
                    nickname: nick,
                },
                Pending::Done(Some(text)),
            )
        }
        Command::Part(room) => {
            let room = room.unwrap_or(current);
            left_room(state, &room);
            (Request::Part { room }, Pending::Other)
        }
        Command::Rooms => (Request::Rooms, Pending::Other),
        Command::Who(room) => (
            Request::Who {
                room: room.unwrap_or(current),
            },
            Pending::Other,
        ),
        Command::Nick(nickname) => (Request::Nick { nickname }, Pending::Other),
        Command::Topic(topic) => (
            Request::Topic {
                room: current,
                topic,
            },
            Pending::Other,
        ),
        Command::History(limit) => {
            let before = state.oldest.get(&room::fold(&current)).copied();
            (
                Request::History {
                    room: current,
                    before,
                    limit,
                },
                Pending::Other,
            )
        }
    };
    send(writer, state, request, pending).await
}

/// A room message (or action) and what its answer shows.
fn say(room: String, text: String, action: bool) -> (Request, Pending) {
    (
        Request::Broadcast {
            room: Some(room.clone()),
            message: text.clone(),
            action,
        },
        Pending::Say { room, text, action },
    )
}

/// A direct message (or action) and what its answer shows.
fn direct(to: String, text: String, action: bool) -> (Request, Pending) {
    (
        Request::Direct {
            to: to.clone(),
            message: text.clone(),
            action,
        },
        Pending::Direct { to, text, action },
    )
}

fn lost<E: Write>(err: &mut E) -> Ending {
    let _ = writeln!(err, "! the connection to the server was lost");
    Ending::ConnectionLost
}

fn ref_number(reference: Option<&Ref>) -> Option<u64> {
    match reference {
        Some(Ref::Number(n)) => n.as_u64(),
        _ => None,
    }
}

/// Shows one frame and updates the state it affects.
fn show<O: Write, E: Write>(frame: ServerFrame, state: &mut State, out: &mut O, err: &mut E) {
    let me = state.me.clone().unwrap_or_default();
    let _ = match frame {
        ServerFrame::Welcome(w) => {
            state.pending.retain(|_, p| !matches!(p, Pending::Login));
            let line = format!(
                "* logged in as {} (id {})",
                sanitize(&w.nickname, false),
                w.id
            );
            state.me = Some((w.nickname, w.id));
            writeln!(out, "{line}")
        }
        ServerFrame::Message(m) if state.ignored.contains(&nick::fold(&m.sender_nickname)) => {
            state.seen(&m.room, m.msg_id);
            Ok(())
        }
        ServerFrame::Direct(d) if state.ignored.contains(&nick::fold(&d.sender_nickname)) => Ok(()),
        ServerFrame::Message(m) => {
            state.seen(&m.room, m.msg_id);
            let place = room_label(&m.room);
            writeln!(
                out,
                "{}",
                chat_line(
                    m.ts,
                    Some(&place),
                    &m.sender_nickname,
                    m.sender_id,
                    &m.message,
                    m.action
                )
            )
        }
        ServerFrame::Direct(d) => {
            writeln!(
                out,
                "{}",
                chat_line(
                    d.ts,
                    Some("(direct)"),
                    &d.sender_nickname,
                    d.sender_id,
                    &d.message,
                    d.action
                )
            )
        }
        ServerFrame::Presence(p) => {
            let who = format!("{}({})", p.nickname, p.user_id);
            let text = match p.event {
                PresenceEvent::Join => format!("{who} joined"),
                PresenceEvent::Leave if p.room.is_some() => {
                    if p.user_id == me.1
                        && let Some(room) = &p.room
                    {
                        left_room(state, room);
                    }
                    match p.reason.as_deref() {
                        Some(reason) if reason != "part" => format!("{who} left ({reason})"),
                        _ => format!("{who} left"),
                    }
                }
                PresenceEvent::Leave => {
                    format!("{who} left ({})", p.reason.as_deref().unwrap_or("quit"))
                }
                PresenceEvent::Nick => format!(
                    "{}({}) is now known as {}",
                    p.old_nickname.as_deref().unwrap_or("?"),
                    p.user_id,
                    p.nickname
                ),
                PresenceEvent::Topic => {
                    format!("{who} set the topic: {}", p.topic.as_deref().unwrap_or(""))
                }
                PresenceEvent::Mode => match &p.mode {
                    Some(m) => moderation::describe(&p.nickname, &m.modes, &m.args),
                    None => p.message.clone(),
                },
                PresenceEvent::Invite => {
                    let room = p.room.as_deref().unwrap_or_default();
                    format!("{who} invites you into #{room}: /join {room} to go in")
                }
                PresenceEvent::Summary => p.message.clone(),
                PresenceEvent::Away => match &p.away {
                    Some(message) => format!("{who} is away: {message}"),
                    None => format!("{who} is away"),
                },
                PresenceEvent::Back => format!("{who} is back"),
            };
            let place = p.room.as_deref().map(room_label);
            writeln!(
                out,
                "{}",
                chat_line(
                    p.ts,
                    place.as_deref(),
                    &p.sender_nickname,
                    p.sender_id,
                    &text,
                    false
                )
            )
        }
        ServerFrame::Ack(a) => {
            match ref_number(a.reference.as_ref()).and_then(|r| state.pending.remove(&r)) {
                Some(Pending::Say { room, text, action }) => {
                    state.seen(&room, a.msg_id);
                    let place = room_label(&room);
                    writeln!(
                        out,
                        "{}",
                        chat_line(a.ts, Some(&place), &me.0, me.1, &text, action)
                    )
                }
                Some(Pending::Direct { to, text, action }) => {
                    let place = format!("(direct to {})", sanitize(&to, false));
                    writeln!(
                        out,
                        "{}",
                        chat_line(a.ts, Some(&place), &me.0, me.1, &text, action)
                    )
                }
                _ => Ok(()),
            }
        }
        ServerFrame::Joined(j) => {
            answered(state, j.reference.as_ref());
            state.rooms.insert(room::fold(&j.room));
            if room::fold(&state.current) == room::fold(&j.room) {
                state.current = j.room.clone();
            }
            let names: Vec<String> = ranked(&j.members)
                .map(|m| {
                    let prefix = moderation::prefix(m.operator, m.voice);
                    format!("{prefix}{}", sanitize(&m.nickname, false))
                })
                .collect();
            let topic = if j.topic.is_empty() {
                String::new()
            } else {
                format!(" (topic: {})", sanitize(&j.topic, false))
            };
            writeln!(
                out,
                "* joined {}{topic}; {} here: {}",
                room_label(&j.room),
                names.len(),
                names.join(", ")
            )
        }
        ServerFrame::HistoryEnd(h) => {
            answered(state, h.reference.as_ref());
            let more = if h.has_more {
                "; /history for older"
            } else {
                ""
            };
            writeln!(
                out,
                "* {} message(s) of history in {}{more}",
                h.count,
                room_label(&h.room)
            )
        }
        ServerFrame::Parted(p) => {
            answered(state, p.reference.as_ref());
            writeln!(
                out,
                "* left {}; now talking in {}",
                room_label(&p.room),
                room_label(&state.current)
            )
        }
        ServerFrame::RoomList(list) => {
            answered(state, list.reference.as_ref());
            let mut text = format!("* {} room(s):", list.rooms.len());
            for r in &list.rooms {
                let topic = if r.topic.is_empty() {
                    String::new()
                } else {
                    format!(" - {}", sanitize(&r.topic, false))
                };
                text.push_str(&format!(
                    "\n    {} ({}){topic}",
                    room_label(&r.name),
                    r.members
                ));
            }
            writeln!(out, "{text}")
        }
        ServerFrame::MemberList(list) => {
            answered(state, list.reference.as_ref());
            let names: Vec<String> = ranked(&list.members)
                .map(|m| {
                    let prefix = moderation::prefix(m.operator, m.voice);
                    format!("{prefix}{}({})", sanitize(&m.nickname, false), m.id)
                })
                .collect();
            writeln!(
                out,
                "* {} in {}: {}",
                names.len(),
                room_label(&list.room),
                names.join(" ")
            )
        }
        ServerFrame::Modes(m) => {
            answered(state, m.reference.as_ref());
            let args: Vec<String> = m.args.iter().map(|a| sanitize(a, false)).collect();
            writeln!(
                out,
                "* modes of {}: {} {}",
                room_label(&m.room),
                sanitize(&m.modes, false),
                args.join(" ")
            )
        }
        ServerFrame::MaskList(list) => {
            answered(state, list.reference.as_ref());
            let what = if list.list == "e" {
                "exceptions"
            } else {
                "bans"
            };
            let mut text = format!(
                "* {} {what} in {}:",
                list.entries.len(),
                room_label(&list.room)
            );
            for e in &list.entries {
                text.push_str(&format!(
                    "\n    {} (by {} at {})",
                    sanitize(&e.mask, false),
                    sanitize(&e.by, false),
                    clock(e.at)
                ));
            }
            writeln!(out, "{text}")
        }
        ServerFrame::Topic(t) => {
            answered(state, t.reference.as_ref());
            let by = match (&t.set_by, t.ts) {
                (Some(who), Some(ts)) => {
                    format!(" (set by {} at {})", sanitize(who, false), clock(ts))
                }
                _ => String::new(),
            };
            if t.topic.is_empty() {
                writeln!(out, "* {} has no topic", room_label(&t.room))
            } else {
                writeln!(
                    out,
                    "* topic of {}: {}{by}",
                    room_label(&t.room),
                    sanitize(&t.topic, false)
                )
            }
        }
        ServerFrame::Renamed(r) => {
            answered(state, r.reference.as_ref());
            let line = format!("* you are now known as {}", sanitize(&r.nickname, false));
            if let Some(me) = &mut state.me {
                me.0 = r.nickname;
            }
            writeln!(out, "{line}")
        }
        ServerFrame::Error(e) => {
            match ref_number(e.reference.as_ref()).and_then(|r| state.pending.remove(&r)) {
                Some(Pending::Login) => state.login_refused = true,
                Some(Pending::Join { room, previous }) => {
                    let key = room::fold(&room);
                    let retried = state.pending.values().any(
                        |p| matches!(p, Pending::Join { room, .. } if room::fold(room) == key),
                    );
                    if room::fold(&state.current) == key && !retried {
                        state.current = previous;
                    }
                    state.failed(Ending::Refused);
                }
                _ => state.failed(Ending::Refused),
            }
            let hint = moderation::hint(e.code)
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            writeln!(err, "! {}: {}{hint}", e.code, sanitize(&e.message, false))
        }
        ServerFrame::Bye(notice) => writeln!(out, "* {}", sanitize(&notice.message, false)),
        ServerFrame::Certs(list) => {
            answered(state, list.reference.as_ref());
            let text = certs_text(&list).replace('\n', "\n* ");
            writeln!(out, "* {text}")
        }
        ServerFrame::Registered(r) => {
            answered(state, r.reference.as_ref());
            writeln!(
                out,
                "* registered {}: log in with its password from now on",
                sanitize(&r.nickname, false)
            )
        }
        ServerFrame::Done(d) => {
            match ref_number(d.reference.as_ref()).and_then(|r| state.pending.remove(&r)) {
                Some(Pending::Done(None)) => Ok(()),
                Some(Pending::Done(Some(text))) => writeln!(out, "{text}"),
                _ => writeln!(out, "* {} done", sanitize(&d.request, false)),
            }
        }
        ServerFrame::SearchHit(h) => {
            let place = match (&h.room, &h.to_nickname) {
                (Some(room), _) => room_label(room),
                (None, Some(to)) => format!("(direct to {})", sanitize(to, false)),
                (None, None) => "(direct)".to_owned(),
            };
            writeln!(
                out,
                "{}",
                chat_line(
                    h.ts,
                    Some(&place),
                    &h.sender_nickname,
                    h.sender_id,
                    &h.message,
                    h.action
                )
            )
        }
        ServerFrame::SearchEnd(e) => {
            answered(state, e.reference.as_ref());
            let more = if e.next.is_some() {
                "; /search the same text again for more"
            } else {
                ""
            };
            let line = format!(
                "* {} result(s) for \"{}\"{more}",
                e.count,
                sanitize(&e.text, false)
            );
            state.last_search = Some((e.text, e.next));
            writeln!(out, "{line}")
        }
        ServerFrame::Whois(w) => {
            answered(state, w.reference.as_ref());
            let rooms: Vec<String> = w.rooms.iter().map(|r| room_label(r)).collect();
            let mut line = format!(
                "* {}({}): online since {}, in {}",
                sanitize(&w.nickname, false),
                w.id,
                clock(w.since),
                rooms.join(" ")
            );
            if let Some(account) = &w.account {
                line.push_str(&format!("; account {}", sanitize(account, false)));
            }
            if w.operator {
                line.push_str("; operator");
            }
            if let Some(away) = &w.away {
                line.push_str(&format!("; away: {}", sanitize(away, false)));
            }
            writeln!(out, "{line}")
        }
        ServerFrame::Away(a) => writeln!(
            out,
            "* {} is away: {}",
            sanitize(&a.nickname, false),
            sanitize(&a.message, false)
        ),
        // Line mode never asks for the conversation list, nor whowas.
        ServerFrame::Conversations(_) | ServerFrame::Whowas(_) => Ok(()),
        // Read markers are for clients that show unread lines; line mode
        // prints everything as it comes.
        ServerFrame::ReadMarker(_)
        | ServerFrame::ReadMarkers(_)
        | ServerFrame::Pong(_)
        | ServerFrame::Ping(_)
        | ServerFrame::Unknown => Ok(()),
    };
    let _ = out.flush();
}

/// Forgets a room left (or kicked from); plain lines go to another.
fn left_room(state: &mut State, room: &str) {
    let key = room::fold(room);
    state.rooms.remove(&key);
    if room::fold(&state.current) == key {
        state.current = state
            .rooms
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| LOBBY.to_owned());
    }
}

/// A member list as it is shown: operators first, then voiced members,
/// then the others, each in the server's order.
fn ranked(members: &[MemberInfo]) -> impl Iterator<Item = &MemberInfo> {
    let mut sorted: Vec<&MemberInfo> = members.iter().collect();
    sorted.sort_by_key(|m| moderation::rank_order(m.operator, m.voice));
    sorted.into_iter()
}

/// Marks the request with this `ref` as answered.
fn answered(state: &mut State, reference: Option<&Ref>) {
    if let Some(r) = ref_number(reference) {
        state.pending.remove(&r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say(text: &str) -> Input {
        Input::Command(Command::Say(text.into()))
    }

    #[test]
    fn tutorial_commands() {
        assert_eq!(parse("login bob", false), Input::Login("bob".into(), None));
        assert_eq!(
            parse("LOGIN bob s3cret", false),
            Input::Login("bob".into(), Some("s3cret".into())),
            "a second word is the account's password"
        );
        assert_eq!(parse("send hi there", true), say("hi there"));
        assert_eq!(parse("send 你好", false), say("你好"));
        assert_eq!(
            parse("login", false),
            Input::Hint("usage: login NAME".into())
        );
    }

    #[test]
    fn plain_lines_are_messages_once_logged_in() {
        assert_eq!(parse("hello all", true), say("hello all"));
        assert_eq!(parse("login is broken", true), say("login is broken"));
        assert_eq!(
            parse("hello", false),
            Input::Hint("log in first: login NAME".into())
        );
        assert_eq!(parse("   ", true), Input::Nothing);
        assert_eq!(parse("hi\r", true), say("hi"));
        assert_eq!(parse("//etc/hosts", true), say("/etc/hosts"));
    }

    /// Slash commands are the shared table's (see `crate::command`); line
    /// mode only adds that they need a login.
    #[test]
    fn slash_commands_come_from_the_shared_table() {
        assert_eq!(parse("/QUIT", false), Input::Command(Command::Quit));
        assert_eq!(parse("/help", false), Input::Command(Command::Help));
        assert_eq!(
            parse("/j rust", true),
            Input::Command(Command::Join {
                room: "rust".into(),
                key: None
            })
        );
        assert_eq!(
            parse("/history", true),
            Input::Command(Command::History(
                chatroom_proto::json::DEFAULT_HISTORY_LIMIT
            ))
        );
        assert_eq!(
            parse("/query bob", true),
            Input::Command(Command::Query {
                nick: "bob".into(),
                text: None
            })
        );
        assert_eq!(
            parse("/join", true),
            Input::Hint("usage: /join ROOM [KEY]".into())
        );
        assert!(matches!(parse("/win 2", true), Input::Hint(_)));
        assert_eq!(
            parse("/join rust", false),
            Input::Hint("log in first: login NAME".into())
        );
    }

    #[test]
    fn someone_going_away_and_coming_back_prints_as_system_lines() {
        let mut state = State::new();
        state.me = Some(("alice".into(), 1));
        let mut shown = Vec::new();
        for (event, away) in [("away", Some("at lunch")), ("back", None)] {
            let mut frame = serde_json::json!({"type": "presence", "event": event,
                "user_id": 3, "nickname": "bob", "ts": 0, "sender_id": 0,
                "sender_nickname": "System", "message": "..."});
            if let Some(away) = away {
                frame["away"] = away.into();
            }
            let (mut out, mut err) = (Vec::new(), Vec::new());
            show(
                serde_json::from_value(frame).unwrap(),
                &mut state,
                &mut out,
                &mut err,
            );
            assert!(err.is_empty());
            shown.push(String::from_utf8(out).unwrap());
        }
        assert!(
            shown[0].ends_with("[System(0)] bob(3) is away: at lunch\n"),
            "{shown:?}"
        );
        assert!(
            shown[1].ends_with("[System(0)] bob(3) is back\n"),
            "{shown:?}"
        );
    }

    #[test]
    fn exit_codes_are_distinct() {
        let codes: Vec<u8> = [
            Ending::Done,
            Ending::Usage,
            Ending::Unreachable,
            Ending::ConnectionLost,
            Ending::LoginRefused,
            Ending::Refused,
        ]
        .iter()
        .map(|e| e.exit_code())
        .collect();
        assert_eq!(codes, vec![0, 2, 3, 4, 5, 6]);
    }
}
