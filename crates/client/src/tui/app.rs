//! The app: everything the full-screen client knows, and [`update`], the one
//! function that changes it.
//!
//! [`update`] takes an [`Event`] (a key, a paste, a frame from the server, a
//! lost connection, a tick) and returns the [`Action`]s it calls for
//! (requests to send, quitting). It does no I/O and reads no clock, so every
//! transition is tested by feeding events and looking at the state.
//!
//! Its private submodules: `keys` (the keyboard, the mouse, pastes and typed
//! commands) and `frames` (server frames and connection news, including
//! logging back in after a reconnect and fetching what was missed).

mod frames;
mod keys;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chatroom_proto::json::{Limits, Ref, Request, Secret, encode_request};
use chatroom_proto::nick;
use chrono::FixedOffset;
use ratatui::layout::Rect;

use super::complete::Completion;
use super::event::{Action, Event, Outgoing};
use super::input::Input;
use super::look::Look;
use super::render::{areas, input_rows};
use super::text::{self, RowContext};
use super::window::{Activity, Line, LineKey, LineKind, Older, Placed, Window, WindowKey};

/// How many messages one page of older history asks for.
pub const HISTORY_PAGE: u32 = 100;

/// How many direct-message windows of earlier sessions come back at start.
pub const MAX_CONVERSATION_WINDOWS: u32 = 10;

/// How many results one page of `/search` shows.
pub const SEARCH_PAGE: u32 = 10;

/// How many pages of missed history a reconnect fetches per room at most.
pub const MAX_GAP_PAGES: u32 = 20;

/// The largest request the client sends to a server that does not announce
/// its limits: the default frame cap. A longer message is refused here
/// rather than have the server drop the connection.
pub const MAX_REQUEST_BYTES: usize = chatroom_proto::DEFAULT_MAX_FRAME_BYTES;

/// The state of the connection, as the status line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conn {
    /// Trying to connect.
    Connecting {
        /// Which try in a row this is.
        attempt: u32,
    },
    /// Connected (logged in or about to be).
    Online,
    /// The connection failed; another try comes at `retry_at_ms`.
    Offline {
        /// Why, for people.
        reason: String,
        /// When the next try is, in milliseconds since the Unix epoch.
        retry_at_ms: i64,
    },
}

/// Where the login stands on the current connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Login {
    /// Not asked for yet.
    Idle,
    /// A `login` request is on its way.
    Sent,
    /// Logged in.
    Done,
}

/// Who this client is logged in as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    /// The nickname.
    pub nick: String,
    /// The user id.
    pub id: u64,
}

/// A page of history being received: the lowest message id so far.
#[derive(Debug, Clone, Copy, Default)]
struct Page {
    oldest: Option<u64>,
}

/// Why history was asked for.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    /// A room's recent messages after login (no replay comes with a login).
    Initial,
    /// Older messages: scrolling reached the top, or `/history`.
    Older {
        /// Say how many arrived (for `/history`).
        announce: bool,
    },
    /// Messages missed while disconnected: paging back until `stop_at`, the
    /// newest message shown before the connection dropped.
    Gap { stop_at: u64, pages: u32 },
}

/// A request sent and not answered yet, by its `ref`.
#[derive(Debug, Clone)]
enum Pending {
    Login,
    Say {
        window: WindowKey,
        text: String,
        action: bool,
    },
    Direct {
        peer: String,
        text: String,
        action: bool,
        origin: WindowKey,
    },
    Join {
        /// The room joined.
        room: WindowKey,
        /// Where `/join` was typed (errors go there).
        origin: WindowKey,
        /// Show the room's window once joined.
        switch: bool,
        /// Joining again after a reconnect; the newest message shown before.
        rejoin: Option<Option<u64>>,
        /// The room's key given, kept with its window for rejoining.
        key: Option<String>,
        page: Page,
    },
    Part {
        origin: WindowKey,
        quiet: bool,
    },
    /// `history` of a room, or of a conversation (a query window).
    History {
        window: WindowKey,
        origin: WindowKey,
        purpose: Purpose,
        page: Page,
    },
    /// `rooms`, `who`, `whois`, `topic`, `nick`: show the answer in
    /// `origin` unless quiet.
    Reply {
        origin: WindowKey,
        quiet: bool,
    },
    /// `/mode`, `/kick`, `/invite` (and the commands that are modes):
    /// answers and refusals go to `origin`; `done` is what its `done`
    /// shows (nothing for a mode change: the room's notice says it).
    Moderation {
        origin: WindowKey,
        done: Option<String>,
    },
    /// `/away`: what was asked for.
    Away {
        message: Option<String>,
        origin: WindowKey,
    },
    /// The conversations to bring back after the first login.
    Conversations,
    /// `/search`: the hits so far, shown together at `search_end`.
    Search {
        origin: WindowKey,
        text: String,
        hits: Vec<String>,
    },
}

/// The last search, so that typing it again shows its next page.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LastSearch {
    text: String,
    origin: WindowKey,
    /// The cursor of the next page; `None` when that was the last one.
    next: Option<String>,
}

/// All state of the full-screen client.
#[derive(Debug)]
pub struct App {
    server: String,
    conn: Conn,
    generation: u64,
    me: Option<Me>,
    /// The nickname to log in with; `None` until the user chose one.
    wanted_nick: Option<String>,
    /// An account's password and the nickname (folded) it belongs to: sent
    /// with every (re)login as that nickname, never with another one (a
    /// fallback `nick_`, a nickname changed with `/nick`).
    password: Option<(String, String)>,
    /// The password of a `/register` the server has not confirmed yet.
    registering: Option<String>,
    login: Login,
    logged_in_before: bool,
    /// Why the last connection failed, while it keeps failing (each new
    /// reason is noted once in the status window).
    last_failure: Option<String>,
    windows: Vec<Window>,
    current: usize,
    input: Input,
    completion: Option<Completion>,
    pending: BTreeMap<u64, Pending>,
    next_ref: u64,
    next_seq: u64,
    /// The highest message id seen in the current era: local notices are
    /// placed after it.
    newest_id: u64,
    /// The server epoch of the last login (`None` before one, or from a
    /// server that announces none).
    epoch: Option<String>,
    /// Which epoch this is, counting from 0 (see [`LineKey`]).
    era: u32,
    /// What the server accepts, as its `welcome` said (`None` from a server
    /// that does not say).
    limits: Option<Limits>,
    /// Nicknames (folded) whose messages are hidden (`/ignore`).
    ignored: BTreeSet<String>,
    /// Timestamps, colours, highlight words, bell and title.
    look: Arc<Look>,
    /// The window title last asked for.
    title: String,
    /// Whether the client has the mouse (Alt-M gives it to the terminal).
    mouse: bool,
    /// Whether lines shown live go to the chat log.
    logging: bool,
    /// The away message the server confirmed (`/away`).
    away: Option<String>,
    last_search: Option<LastSearch>,
    now_ms: i64,
    offset: FixedOffset,
    size: (u16, u16),
    actions: Vec<Action>,
}

/// Applies one event to the app and returns what the runner must do.
pub fn update(app: &mut App, event: Event) -> Vec<Action> {
    match event {
        Event::Key(key) => app.on_key(key),
        Event::Mouse(mouse) => app.on_mouse(mouse),
        Event::Paste(text) => app.on_paste(&text),
        Event::Resize(w, h) => app.size = (w, h),
        Event::Net(news) => app.on_net(news),
        Event::Tick(now_ms) => app.now_ms = now_ms,
    }
    if app.look.title {
        let title = app.wanted_title();
        if title != app.title {
            app.actions.push(Action::Title(title.clone()));
            app.title = title;
        }
    }
    std::mem::take(&mut app.actions)
}

impl App {
    /// Sets the password of the nickname the client was started with (a
    /// registered one), sent whenever it logs in as that nickname. (The
    /// command line takes a password only with a nickname.)
    pub fn set_password(&mut self, password: Option<String>) {
        let owner = self.wanted_nick.as_deref().map(nick::fold);
        self.password = owner.zip(password);
    }

    /// The password to log in as `nickname` with, if there is one for it.
    fn password_for(&self, nickname: &str) -> Option<Secret> {
        self.password
            .as_ref()
            .filter(|(owner, _)| *owner == nick::fold(nickname))
            .map(|(_, password)| Secret::new(password.clone()))
    }

    /// A client for `server`, logging in as `nick` once connected (or asking
    /// for a nickname when `None`); the terminal is `size` (columns, rows),
    /// times are shown at `offset` from UTC, and it is `now_ms` now.
    pub fn new(
        server: &str,
        nick: Option<String>,
        size: (u16, u16),
        offset: FixedOffset,
        now_ms: i64,
    ) -> Self {
        let mut status = Window::new(WindowKey::Status, "status");
        status.older = Older::Exhausted;
        let mut app = App {
            server: server.to_owned(),
            conn: Conn::Connecting { attempt: 1 },
            generation: 0,
            me: None,
            wanted_nick: nick,
            password: None,
            registering: None,
            login: Login::Idle,
            logged_in_before: false,
            last_failure: None,
            windows: vec![status],
            current: 0,
            input: Input::default(),
            completion: None,
            pending: BTreeMap::new(),
            next_ref: 1,
            next_seq: 1,
            newest_id: 0,
            epoch: None,
            era: 0,
            limits: None,
            ignored: BTreeSet::new(),
            look: Arc::new(Look::default()),
            title: String::new(),
            mouse: true,
            logging: false,
            away: None,
            last_search: None,
            now_ms,
            offset,
            size,
            actions: Vec::new(),
        };
        app.note(
            0,
            LineKind::Notice(format!(
                "chatroom {}: connecting to {server}",
                env!("CARGO_PKG_VERSION")
            )),
        );
        app.note(
            0,
            LineKind::Notice(
                "/help lists the commands; Alt-1..9 or Ctrl-N/Ctrl-P switch windows".into(),
            ),
        );
        if app.wanted_nick.is_none() {
            app.note(0, LineKind::Notice(CHOOSE_NICK.into()));
        }
        app.title = app.wanted_title();
        app
    }

    /// The terminal window's title as the client wants it now (the runner
    /// sets it at start; later changes come as [`Action::Title`]).
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The server's address, as given.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The connection state.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// Who this client is logged in as (the last identity, while reconnecting).
    pub fn me(&self) -> Option<&Me> {
        self.me.as_ref()
    }

    /// Whether the user is logged in on a live connection.
    pub fn logged_in(&self) -> bool {
        self.conn == Conn::Online && self.login == Login::Done
    }

    /// Whether the input line asks for a nickname (none chosen yet).
    pub fn needs_nickname(&self) -> bool {
        self.wanted_nick.is_none()
    }

    /// The windows, in the order of their numbers (window 1 first).
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// The window with this key.
    pub fn window(&self, key: &WindowKey) -> Option<&Window> {
        self.windows.iter().find(|w| w.key() == key)
    }

    /// The index (window number minus one) of the window shown.
    pub fn current_index(&self) -> usize {
        self.current
    }

    /// The window shown.
    pub fn current_window(&self) -> &Window {
        &self.windows[self.current]
    }

    /// The input line.
    pub fn input(&self) -> &Input {
        &self.input
    }

    /// The prompt before the input line: `[#room] `, or `nickname: `.
    pub fn prompt(&self) -> String {
        if self.needs_nickname() {
            "nickname: ".to_owned()
        } else {
            format!("[{}] ", self.current_window().label())
        }
    }

    /// Now, in milliseconds since the Unix epoch (as of the last tick).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The era of the current server epoch: message ids are comparable
    /// only within one (see [`LineKey`]).
    pub fn era(&self) -> u32 {
        self.era
    }

    /// Whether the client has the mouse (otherwise the terminal selects
    /// text).
    pub fn has_mouse(&self) -> bool {
        self.mouse
    }

    /// The away message, while the user is marked away.
    pub fn away(&self) -> Option<&str> {
        self.away.as_deref()
    }

    /// Whether messages from `nick` are hidden (`/ignore`).
    pub fn ignores(&self, nick: &str) -> bool {
        self.ignored.contains(&chatroom_proto::nick::fold(nick))
    }

    /// The terminal's size in columns and rows.
    pub fn size(&self) -> (u16, u16) {
        self.size
    }

    /// What building rows needs: the time zone and today's date.
    pub fn row_context(&self) -> RowContext {
        RowContext::with_look(self.offset, self.now_ms, Arc::clone(&self.look))
    }

    /// How the client looks and when it rings (from the configuration).
    pub fn set_look(&mut self, look: Look) {
        self.look = Arc::new(look);
    }

    /// The look in use.
    pub fn look(&self) -> &Look {
        &self.look
    }

    /// Sends every line shown live to the chat log ([`Action::Log`]).
    pub fn set_logging(&mut self, on: bool) {
        self.logging = on;
    }

    /// Asks the runner to log `line`, shown in window `index`.
    fn log(&mut self, index: usize, line: &Line) {
        if self.logging {
            let label = self.windows[index].label();
            let entry = super::chatlog::entry(&self.server, &label, line, self.offset);
            self.actions.push(Action::Log(entry));
        }
    }

    /// Hides `nick`'s messages (as `/ignore` does).
    pub fn ignore(&mut self, nick: &str) {
        self.ignored.insert(chatroom_proto::nick::fold(nick));
    }

    /// Whether `text` mentions the user: their nickname or one of the
    /// highlight words, as whole words in any case.
    fn mentions_me(&self, text: &str) -> bool {
        let nick = self.me.as_ref().map(|me| me.nick.as_str());
        nick.into_iter()
            .chain(self.look.highlight.iter().map(String::as_str))
            .any(|word| mentions(text, word))
    }

    /// The window title: the client and who it is, with the number of
    /// windows holding unseen mentions or direct messages first.
    fn wanted_title(&self) -> String {
        let who = match &self.me {
            Some(me) => format!("{}@{}", me.nick, self.server),
            None => self.server.clone(),
        };
        let waiting = self
            .windows
            .iter()
            .filter(|w| w.activity == Activity::Mention)
            .count();
        if waiting > 0 {
            format!("({waiting}!) chatroom {who}")
        } else {
            format!("chatroom {who}")
        }
    }

    /// The time zone times are shown in.
    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    // ----- windows -----

    fn window_index(&self, key: &WindowKey) -> Option<usize> {
        self.windows.iter().position(|w| w.key() == key)
    }

    /// The index of the window `key`, created (as the last) if needed.
    fn ensure_window(&mut self, key: WindowKey, name: &str) -> usize {
        if let Some(i) = self.window_index(&key) {
            return i;
        }
        self.windows.push(Window::new(key, name));
        self.windows.len() - 1
    }

    fn switch_to(&mut self, index: usize) {
        if index < self.windows.len() {
            if index != self.current
                && let Some(left) = self.windows.get_mut(self.current)
            {
                left.set_marker();
            }
            self.current = index;
            self.windows[index].mark_seen();
            self.completion = None;
        }
    }

    /// Alt-A: the next window with activity, the most important first
    /// (mentions and direct messages, then messages, then other events);
    /// among equals, the first after the one shown.
    fn next_active(&mut self) {
        let n = self.windows.len();
        let best = (1..n)
            .map(|step| (self.current + step) % n)
            .filter(|&i| self.windows[i].activity > Activity::None)
            .min_by_key(|&i| std::cmp::Reverse(self.windows[i].activity));
        if let Some(index) = best {
            self.switch_to(index);
        }
    }

    fn remove_window(&mut self, index: usize) {
        if index == 0 || index >= self.windows.len() {
            return;
        }
        self.windows.remove(index);
        if self.current >= index {
            self.current -= 1;
        }
        self.switch_to(self.current);
    }

    fn current_key(&self) -> WindowKey {
        self.current_window().key().clone()
    }

    /// The index of `key`'s window, or the status window's when it is gone.
    fn index_or_status(&self, key: &WindowKey) -> usize {
        self.window_index(key).unwrap_or(0)
    }

    // ----- lines -----

    /// The message pane's width and height for the window shown.
    fn pane(&self) -> (usize, usize) {
        let area = Rect::new(0, 0, self.size.0, self.size.1);
        let rows = input_rows(self, area);
        let pane = areas(area, self.current_window().is_room(), rows).messages;
        (usize::from(pane.width), usize::from(pane.height))
    }

    /// Adds a message line to window `index`; `counts` says whether it is
    /// news (live or missed) rather than history being browsed.
    fn add_message(&mut self, index: usize, msg_id: u64, line: Line, counts: bool) {
        self.newest_id = self.newest_id.max(msg_id);
        let mention = line.mention;
        let own = matches!(line.kind, LineKind::Message { own: true, .. });
        if let (true, LineKind::Message { nick, .. }) = (counts, &line.kind) {
            self.windows[index].spoke(nick);
        }
        let logged = (counts || own).then(|| line.clone());
        let key = LineKey::message(self.era, msg_id);
        let Some(placed) = self.windows[index].insert(key, line) else {
            return;
        };
        if let Some(line) = logged {
            self.log(index, &line);
        }
        self.after_insert(index, placed);
        if counts && mention && !own && self.look.bell {
            self.actions.push(Action::Bell);
        }
        if counts && index != self.current && !own {
            let window = &mut self.windows[index];
            window.unread += 1;
            let level = if mention {
                Activity::Mention
            } else {
                Activity::Messages
            };
            window.activity = window.activity.max(level);
        }
    }

    /// Adds a local notice to window `index`, after the newest message known.
    fn note(&mut self, index: usize, kind: LineKind) {
        let key = LineKey::notice(self.era, self.newest_id, self.next_seq);
        self.next_seq += 1;
        let line = Line {
            ts: self.now_ms,
            msg_id: None,
            kind,
            mention: false,
        };
        self.log(index, &line);
        if let Some(placed) = self.windows[index].insert(key, line) {
            self.after_insert(index, placed);
            if index != self.current {
                let window = &mut self.windows[index];
                window.activity = window.activity.max(Activity::Events);
            }
        }
    }

    /// A notice in the window shown.
    fn note_here(&mut self, kind: LineKind) {
        self.note(self.current, kind);
    }

    /// An error in the window shown.
    fn error_here(&mut self, text: impl Into<String>) {
        self.note_here(LineKind::Error(text.into()));
    }

    /// Keeps a scrolled-up view still when a line arrives below it.
    fn after_insert(&mut self, index: usize, placed: Placed) {
        if placed != Placed::End || self.windows[index].scroll == 0 {
            return;
        }
        let cx = self.row_context();
        let width = self.pane().0;
        let rows = text::newest_line_rows(&self.windows[index], &cx, width);
        let window = &mut self.windows[index];
        window.scroll += rows;
        window.more_below = true;
    }

    // ----- requests -----

    /// Sends `request`, remembering `pending` for its answer. Returns false
    /// (and sends nothing) when not connected.
    fn request(&mut self, request: Request, pending: Pending) -> bool {
        if self.conn != Conn::Online {
            return false;
        }
        let number = self.next_ref;
        self.next_ref += 1;
        self.pending.insert(number, pending);
        self.actions.push(Action::Send(Outgoing {
            generation: self.generation,
            request,
            reference: Ref::Number(number.into()),
        }));
        true
    }

    /// Why a message could not be sent as `request` with text `text`: longer
    /// than the server's message limit, or than one frame it accepts. Says
    /// so in one line (never quoting the text).
    fn too_long(&self, request: &Request, text: &str) -> Option<String> {
        let max_message = self.limits.map_or(0, |l| l.message_bytes);
        if max_message > 0 && text.len() > max_message {
            return Some(format!(
                "too long to send: {} bytes, and the server takes at most {max_message} in one \
                 message; it stays in the input line to be shortened",
                text.len()
            ));
        }
        let max_frame = self
            .limits
            .map(|l| l.frame_bytes)
            .filter(|&n| n > 0)
            .unwrap_or(MAX_REQUEST_BYTES);
        let reference = Ref::Number(self.next_ref.into());
        let bytes = encode_request(request, Some(&reference)).len();
        (bytes > max_frame).then(|| {
            format!(
                "too long to send: {bytes} bytes as a request, and the server takes at most \
                 {max_frame} at once; it stays in the input line to be shortened"
            )
        })
    }

    fn send_login(&mut self) {
        let login = |nickname: String| Request::Login {
            password: self.password_for(&nickname),
            nickname,
            // Declaring protocol 2 makes the server ping us; the network
            // task answers those pings.
            protocol: Some(chatroom_proto::PROTOCOL_VERSION),
        };
        if let Some(nickname) = self.wanted_nick.clone()
            && self.request(login(nickname), Pending::Login)
        {
            self.login = Login::Sent;
        }
    }

    /// Asks for older messages of window `index` (a room or a
    /// conversation; `limit` of them), unless a request is already on its
    /// way or there are none.
    fn fetch_older(&mut self, index: usize, limit: u32, announce: bool) {
        let window = &self.windows[index];
        if window.fetching_older || !self.logged_in() {
            return;
        }
        if window.older == Older::Exhausted && !announce {
            return;
        }
        let name = window.name.clone();
        let before = window.oldest_msg_id(self.era);
        let origin = window.key().clone();
        let request = match &origin {
            WindowKey::Room(_) => Request::History {
                room: name,
                before,
                limit,
            },
            WindowKey::Query(_) => Request::DirectHistory {
                with: name,
                before,
                limit,
            },
            WindowKey::Status => return,
        };
        let sent = self.request(
            request,
            Pending::History {
                window: origin.clone(),
                origin,
                purpose: Purpose::Older { announce },
                page: Page::default(),
            },
        );
        if sent {
            self.windows[index].fetching_older = true;
        }
    }

    /// Scrolls the window shown by `delta` rows (positive: back in time);
    /// reaching the top fetches older history.
    fn scroll_by(&mut self, delta: isize) {
        let (width, height) = self.pane();
        let cx = self.row_context();
        let total = text::total_rows(self.current_window(), &cx, width);
        let max = total.saturating_sub(height);
        let window = &mut self.windows[self.current];
        let from = window.scroll.min(max);
        let to = from.saturating_add_signed(delta).min(max);
        window.scroll = to;
        if to == 0 {
            window.more_below = false;
        }
        if delta > 0 && to == max {
            self.fetch_older(self.current, HISTORY_PAGE, false);
        }
    }

    /// One page of scrolling: the pane's height less two rows of context.
    fn page(&self) -> isize {
        isize::try_from(self.pane().1.saturating_sub(2).max(1)).unwrap_or(1)
    }
}

/// Shown while no nickname is chosen.
const CHOOSE_NICK: &str = "choose a nickname: type it below and press Enter";

/// Whether `text` mentions `nick` as a whole word, ignoring case. Word
/// boundaries are judged by ASCII letters and digits only, since Chinese
/// and Japanese text puts no spaces around names.
pub fn mentions(text: &str, nick: &str) -> bool {
    if nick.is_empty() {
        return false;
    }
    let text = text.to_lowercase();
    let nick = nick.to_lowercase();
    let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(&nick).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + nick.len()..].chars().next();
        !before.is_some_and(word_char) && !after.is_some_and(word_char)
    })
}
