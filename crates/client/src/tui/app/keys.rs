//! The keyboard, the mouse, pastes, and what typed lines and commands do.

use chatroom_proto::json::Request;
use chatroom_proto::{nick, room};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};

use crate::command::{self, Command, Mode};

use super::super::complete;
use super::super::event::Action;
use super::super::render::{areas, input_rows, list_start};
use super::super::window::{LineKind, WindowKey};
use super::{App, Conn, Login, Pending};

/// Rows the mouse wheel scrolls per notch.
const WHEEL_ROWS: isize = 3;

/// The most characters the input line holds (a bigger paste is cut).
pub const MAX_INPUT_CHARS: usize = 32 * 1024;

/// The keys, as `/help` shows them.
const KEYS: &[(&str, &str)] = &[
    ("Enter", "send the line (Alt-Enter: a new line in it)"),
    ("Tab, Shift-Tab", "complete a nickname or /command"),
    ("Left, Right", "move (with Ctrl or Alt: by word)"),
    (
        "Home, End",
        "start or end of the line (also Ctrl-A, Ctrl-E)",
    ),
    ("Ctrl-W", "delete the word before the cursor"),
    ("Ctrl-U, Ctrl-K", "delete to the start or end of the line"),
    ("Up, Down", "lines sent before"),
    (
        "PageUp, PageDown",
        "scroll (also the mouse wheel); the top loads more",
    ),
    ("Alt-1..9, Alt-0", "window 1..10 (or click it in the list)"),
    ("Ctrl-N, Ctrl-P", "next or previous window"),
    ("Alt-A", "next window with activity, mentions first"),
    (
        "Alt-M",
        "let go of the mouse to select text, or take it back",
    ),
    ("Ctrl-L", "draw the screen again"),
    ("Ctrl-C", "clear the line; on an empty line, quit"),
];

impl App {
    pub(super) fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if !matches!(key.code, KeyCode::Tab | KeyCode::BackTab) {
            self.completion = None;
        }
        match key.code {
            KeyCode::Char('c') if ctrl => {
                if self.input.is_empty() {
                    self.actions.push(Action::Quit);
                } else {
                    self.input.clear();
                }
            }
            KeyCode::Char(digit @ '0'..='9') if alt => {
                let n = digit.to_digit(10).map_or(0, |d| d as usize);
                self.switch_to(if n == 0 { 9 } else { n - 1 });
            }
            KeyCode::Char('a') if alt => self.next_active(),
            KeyCode::Char('m') if alt => {
                self.mouse = !self.mouse;
                self.actions.push(Action::Mouse(self.mouse));
                let text = if self.mouse {
                    "the mouse scrolls and switches windows again (Alt-M lets go)"
                } else {
                    "the mouse is the terminal's: select and copy text; Alt-M takes it back"
                };
                self.note_here(LineKind::Notice(text.into()));
            }
            KeyCode::Char('n') if ctrl => self.switch_to((self.current + 1) % self.windows.len()),
            KeyCode::Char('p') if ctrl => {
                let n = self.windows.len();
                self.switch_to((self.current + n - 1) % n);
            }
            KeyCode::Char('l') if ctrl => self.actions.push(Action::Redraw),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char('w') if ctrl => self.input.delete_word_back(),
            KeyCode::Char('u') if ctrl => self.input.kill_to_start(),
            KeyCode::Char('k') if ctrl => self.input.kill_to_end(),
            KeyCode::Char('h') if ctrl => self.input.backspace(),
            KeyCode::Char('b') if alt => self.input.word_left(),
            KeyCode::Char('f') if alt => self.input.word_right(),
            KeyCode::Char(c) if !ctrl && !alt => self.insert_text(&c.to_string()),
            KeyCode::Backspace if alt || ctrl => self.input.delete_word_back(),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left if ctrl || alt => self.input.word_left(),
            KeyCode::Right if ctrl || alt => self.input.word_right(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Up => self.input.history_prev(),
            KeyCode::Down => self.input.history_next(),
            KeyCode::PageUp => self.scroll_by(self.page()),
            KeyCode::PageDown => self.scroll_by(-self.page()),
            KeyCode::Tab => self.complete(true),
            KeyCode::BackTab => self.complete(false),
            KeyCode::Enter if alt => self.insert_text("\n"),
            KeyCode::Enter => self.submit(),
            _ => {}
        }
    }

    pub(super) fn on_mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll_by(WHEEL_ROWS),
            MouseEventKind::ScrollDown => self.scroll_by(-WHEEL_ROWS),
            MouseEventKind::Down(MouseButton::Left) => {
                // A click on the window list switches to that window.
                let screen = Rect::new(0, 0, self.size.0, self.size.1);
                let rows = input_rows(self, screen);
                let list = areas(screen, self.current_window().is_room(), rows).rooms;
                if list.contains(Position::new(mouse.column, mouse.row)) {
                    let first =
                        list_start(self.windows.len(), usize::from(list.height), self.current);
                    self.switch_to(first + usize::from(mouse.row - list.y));
                }
            }
            _ => {}
        }
    }

    /// A bracketed paste goes into the input line as it was: blank lines,
    /// tabs and trailing line breaks kept (the text is sent as one message,
    /// newlines included). Only line ends are normalised (terminals send CR,
    /// or CR LF, for each line break) and other control characters dropped.
    pub(super) fn on_paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let text: String = text
            .chars()
            .filter(|&c| matches!(c, '\t' | '\n') || !c.is_control())
            .collect();
        self.insert_text(&text);
    }

    /// Inserts at the cursor, up to [`MAX_INPUT_CHARS`] in all.
    fn insert_text(&mut self, text: &str) {
        let room_left = MAX_INPUT_CHARS.saturating_sub(self.input.chars().len());
        let count = text.chars().count();
        if count > room_left {
            let kept: String = text.chars().take(room_left).collect();
            self.input.insert_str(&kept);
            self.error_here(format!(
                "the input line holds at most {MAX_INPUT_CHARS} characters; the rest was dropped"
            ));
        } else {
            self.input.insert_str(text);
        }
    }

    fn complete(&mut self, forward: bool) {
        if let Some(completion) = &mut self.completion {
            let start = completion.start;
            let next = completion.step(forward).to_owned();
            self.input.replace(start, self.input.cursor(), &next);
            return;
        }
        let window = self.current_window();
        let me = self.me.as_ref().map(|m| nick::fold(&m.nick));
        let mut nicks: Vec<String> = window
            .nicks_by_recency()
            .into_iter()
            .filter(|n| Some(nick::fold(n)) != me)
            .collect();
        if let WindowKey::Query(_) = window.key() {
            nicks.push(window.name.clone());
        }
        let rooms: Vec<String> = self
            .windows
            .iter()
            .filter(|w| w.is_room())
            .map(|w| w.name.clone())
            .collect();
        let found = complete::start(self.input.chars(), self.input.cursor(), &nicks, &rooms);
        if let Some(completion) = found {
            self.input
                .replace(completion.start, self.input.cursor(), completion.current());
            self.completion = Some(completion);
        }
    }

    /// Enter: the line is a nickname (when none is chosen), a command, or
    /// something to say. A line that cannot be sent right now stays in the
    /// input, with an explanation.
    fn submit(&mut self) {
        let text = self.input.text();
        if text.trim().is_empty() {
            self.input.clear();
            return;
        }
        if self.needs_nickname() {
            self.input.take();
            self.choose_nickname(&text);
            return;
        }
        let command = match command::parse(&text, Mode::Screen) {
            Ok(Some(command)) => command,
            Ok(None) => return,
            Err(hint) => {
                self.error_here(hint);
                return;
            }
        };
        if self.needs_server(&command) && !self.logged_in() {
            self.error_here(format!(
                "not connected to the server ({}); the line is kept",
                self.conn_summary()
            ));
            return;
        }
        if let Some(problem) = self.message_problem(&command) {
            self.error_here(problem);
            return;
        }
        self.input.take();
        self.run(command);
    }

    /// Why a message `command` would send cannot be sent (too long), if so.
    fn message_problem(&self, command: &Command) -> Option<String> {
        let (request, text) = match command {
            Command::Say(text) | Command::Me(text) => {
                let window = self.current_window();
                let request = match window.key() {
                    WindowKey::Room(_) => Request::Broadcast {
                        room: Some(window.name.clone()),
                        message: text.clone(),
                        action: true,
                    },
                    WindowKey::Query(_) => Request::Direct {
                        to: window.name.clone(),
                        message: text.clone(),
                        action: true,
                    },
                    WindowKey::Status => return None,
                };
                (request, text)
            }
            Command::Msg { to, text }
            | Command::Query {
                nick: to,
                text: Some(text),
            } => (
                Request::Direct {
                    to: to.clone(),
                    message: text.clone(),
                    action: true,
                },
                text,
            ),
            _ => return None,
        };
        self.too_long(&request, text)
    }

    fn conn_summary(&self) -> &'static str {
        match (&self.conn, self.login) {
            (Conn::Online, Login::Sent) => "logging in",
            (Conn::Online, _) => "not logged in",
            (Conn::Connecting { .. }, _) => "connecting",
            (Conn::Offline { .. }, _) => "reconnecting",
        }
    }

    /// The line typed while no nickname is chosen: `NAME`, `/nick NAME` or
    /// `login NAME` (as in line mode); `/quit` and `/help` work too.
    fn choose_nickname(&mut self, text: &str) {
        let text = text.trim();
        let name = match text.split_once(char::is_whitespace) {
            Some((word, rest)) if word == "/nick" || word.eq_ignore_ascii_case("login") => {
                rest.trim()
            }
            _ if text.starts_with('/') => {
                match command::parse(text, Mode::Screen) {
                    Ok(Some(Command::Quit)) => self.actions.push(Action::Quit),
                    Ok(Some(Command::Help)) => self.help(),
                    _ => self.error_here("choose a nickname first: type it and press Enter"),
                }
                return;
            }
            _ => text,
        };
        if let Err(e) = nick::validate(name) {
            self.error_here(format!("{e}; try another nickname"));
            return;
        }
        self.wanted_nick = Some(name.to_owned());
        if self.conn == Conn::Online {
            self.send_login();
        } else {
            self.note_here(LineKind::Notice(format!(
                "will log in as {name} once connected"
            )));
        }
    }

    /// Whether `command` needs the server (and so a live login).
    fn needs_server(&self, command: &Command) -> bool {
        match command {
            Command::Help
            | Command::Quit
            | Command::Win(_)
            | Command::Ignore(_)
            | Command::Unignore(_)
            | Command::Clear => false,
            Command::Query { text, .. } => text.is_some(),
            Command::Join { room, .. } => self.window_index(&WindowKey::room(room)).is_none(),
            Command::Close => self.current_window().is_room(),
            _ => true,
        }
    }

    fn run(&mut self, command: Command) {
        let here = self.current_key();
        match command {
            Command::Say(text) => self.say(text, false),
            Command::Me(text) => self.say(text, true),
            Command::Msg { to, text } => self.direct(to, text, false, here),
            Command::Query { nick: peer, text } => {
                if let Err(e) = nick::validate(&peer) {
                    self.error_here(e.to_string());
                    return;
                }
                let key = WindowKey::query(&peer);
                let index = self.ensure_window(key.clone(), &peer);
                self.switch_to(index);
                if let Some(text) = text {
                    self.direct(peer, text, false, key);
                }
            }
            Command::Join { room: name, key } => {
                if let Some(index) = self.window_index(&WindowKey::room(&name)) {
                    self.switch_to(index);
                } else if let Err(e) = room::validate(&name) {
                    self.error_here(e.to_string());
                } else {
                    self.request(
                        Request::Join {
                            room: name.clone(),
                            key: key.clone(),
                        },
                        Pending::Join {
                            room: WindowKey::room(&name),
                            origin: here,
                            switch: true,
                            rejoin: None,
                            key,
                            page: Default::default(),
                        },
                    );
                }
            }
            Command::Part(name) => match name.or_else(|| self.current_room()) {
                Some(room) => self.part(room, here),
                None => self.error_here("this is not a room: /part ROOM"),
            },
            Command::Close => match here {
                WindowKey::Status => self.error_here("the status window stays open"),
                WindowKey::Room(_) => {
                    let room = self.current_window().name.clone();
                    self.part(room, here);
                }
                WindowKey::Query(_) => self.remove_window(self.current),
            },
            Command::Rooms => {
                self.reply(Request::Rooms, here);
            }
            Command::Who(name) => match name.or_else(|| self.current_room()) {
                Some(room) => {
                    self.reply(Request::Who { room }, here);
                }
                None => self.error_here("this is not a room: /who ROOM"),
            },
            Command::Nick(nickname) => match nick::validate(&nickname) {
                Ok(()) => {
                    self.reply(Request::Nick { nickname }, here);
                }
                Err(e) => self.error_here(e.to_string()),
            },
            Command::Cert(action) => {
                self.reply(action.request(), here);
            }
            Command::Register(password) => {
                let request = Request::Register {
                    nickname: None,
                    password: chatroom_proto::json::Secret::new(password.clone()),
                };
                self.reply(request, here);
                // Kept for logging in again once the server confirms it.
                self.registering = Some(password);
            }
            Command::Topic(topic) => match self.current_room() {
                Some(room) => {
                    self.reply(Request::Topic { room, topic }, here);
                }
                None => self.error_here("this is not a room; /join one to see its topic"),
            },
            Command::Mode { room, modes, args } => match room.or_else(|| self.current_room()) {
                Some(room) => self.moderate(Request::Mode { room, modes, args }, None, here),
                None => self.error_here("this is not a room: /mode ROOM [MODES [ARGS]]"),
            },
            Command::Kick { nick, reason } => match self.current_room() {
                Some(room) => {
                    let request = Request::Kick {
                        room,
                        nickname: nick,
                        reason,
                    };
                    self.moderate(request, None, here);
                }
                None => self.error_here("this is not a room: /kick in the room's window"),
            },
            Command::Invite { nick, room } => match room.or_else(|| self.current_room()) {
                Some(room) => {
                    let done = format!("{nick} is invited into #{room}");
                    let request = Request::Invite {
                        room,
                        nickname: nick,
                    };
                    self.moderate(request, Some(done), here);
                }
                None => self.error_here("this is not a room: /invite NICK ROOM"),
            },
            Command::History(limit) => {
                if self.current == 0 {
                    self.error_here(
                        "the status window has no history: /history in a room or a conversation",
                    );
                } else {
                    self.fetch_older(self.current, limit, true);
                }
            }
            Command::Win(n) => {
                if n <= self.windows.len() {
                    self.switch_to(n - 1);
                } else {
                    self.error_here(format!("there is no window {n}"));
                }
            }
            Command::Search(text) => self.search(text, here),
            Command::Whois(nickname) => {
                self.reply(Request::Whois { nickname }, here);
            }
            Command::Away(message) => {
                self.request(
                    Request::Away {
                        message: message.clone(),
                    },
                    Pending::Away {
                        message,
                        origin: here,
                    },
                );
            }
            Command::Ignore(None) => {
                let text = if self.ignored.is_empty() {
                    "nobody is ignored".to_owned()
                } else {
                    let names: Vec<&str> = self.ignored.iter().map(String::as_str).collect();
                    format!("ignored: {}", names.join(" "))
                };
                self.note_here(LineKind::Info(text));
            }
            Command::Ignore(Some(nickname)) => {
                self.ignored.insert(nick::fold(&nickname));
                self.note_here(LineKind::Notice(format!(
                    "{nickname}'s messages are hidden from now on (/unignore {nickname})"
                )));
            }
            Command::Unignore(nickname) => {
                let text = if self.ignored.remove(&nick::fold(&nickname)) {
                    format!("{nickname}'s messages show again")
                } else {
                    format!("{nickname} was not ignored")
                };
                self.note_here(LineKind::Notice(text));
            }
            Command::Clear => self.windows[self.current].clear(),
            Command::Help => self.help(),
            Command::Quit => self.actions.push(Action::Quit),
        }
    }

    /// `/search TEXT` where it was typed: a room searches the room, a
    /// direct-message window the conversation, the status window everything
    /// the user may read. The same search again shows its next page.
    fn search(&mut self, text: String, here: WindowKey) {
        let window = self.current_window();
        let (room, with) = match window.key() {
            WindowKey::Room(_) => (Some(window.name.clone()), None),
            WindowKey::Query(_) => (None, Some(window.name.clone())),
            WindowKey::Status => (None, None),
        };
        let cursor = self
            .last_search
            .as_ref()
            .filter(|last| last.text == text && last.origin == here)
            .and_then(|last| last.next.clone());
        self.request(
            Request::Search {
                text: text.clone(),
                room,
                with,
                limit: super::SEARCH_PAGE,
                cursor,
            },
            Pending::Search {
                origin: here,
                text,
                hits: Vec::new(),
            },
        );
    }

    /// The current room's name, if the window shown is a room.
    fn current_room(&self) -> Option<String> {
        let window = self.current_window();
        window.is_room().then(|| window.name.clone())
    }

    fn reply(&mut self, request: Request, origin: WindowKey) -> bool {
        self.request(
            request,
            Pending::Reply {
                origin,
                quiet: false,
            },
        )
    }

    /// A moderation request: its answers go to `origin`; `done` is what
    /// its `done` shows.
    fn moderate(&mut self, request: Request, done: Option<String>, origin: WindowKey) {
        self.request(request, Pending::Moderation { origin, done });
    }

    fn part(&mut self, room: String, origin: WindowKey) {
        self.request(
            Request::Part { room },
            Pending::Part {
                origin,
                quiet: false,
            },
        );
    }

    /// Says `text` in the window shown: a room message or a direct message.
    fn say(&mut self, text: String, action: bool) {
        let here = self.current_key();
        match &here {
            WindowKey::Room(_) => {
                let request = Request::Broadcast {
                    room: Some(self.current_window().name.clone()),
                    message: text.clone(),
                    action,
                };
                self.request(
                    request,
                    Pending::Say {
                        window: here,
                        text,
                        action,
                    },
                );
            }
            WindowKey::Query(_) => {
                let peer = self.current_window().name.clone();
                self.direct(peer, text, action, here);
            }
            WindowKey::Status => self.error_here(
                "nobody hears you in the status window: switch to a room (Alt-2) or /join one",
            ),
        }
    }

    fn direct(&mut self, peer: String, text: String, action: bool, origin: WindowKey) {
        let request = Request::Direct {
            to: peer.clone(),
            message: text.clone(),
            action,
        };
        self.request(
            request,
            Pending::Direct {
                peer,
                text,
                action,
                origin,
            },
        );
    }

    fn help(&mut self) {
        let mut text = command::help(Mode::Screen);
        text.push_str("\n  other lines are said in this window (//text says /text)");
        text.push_str("\nkeys:");
        for (keys, what) in KEYS {
            text.push_str(&format!("\n  {keys:<20} {what}"));
        }
        self.note_here(LineKind::Info(text));
    }
}
