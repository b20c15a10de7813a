//! The full-screen terminal client: windows for rooms and direct messages,
//! a member list, scrollback with history paging, an input line with
//! history and completion, and a connection that comes back by itself.
//!
//! The shape: [`App`] holds all state and changes only in [`update`], which
//! takes one [`Event`] and returns [`Action`]s; [`render()`] draws an `App`
//! and changes nothing. [`run`] wires them to the world: a thread reads the
//! terminal, a task ([`net`]) owns the connection, a timer ticks, and the
//! runner feeds their events through `update` and draws after each batch.
//!
//! - [`app`]: the state and its transitions.
//! - [`window`]: windows and their lines, ordered by message id.
//! - [`input`], [`complete`]: the input line and Tab (the /commands are
//!   [`crate::command`]'s, shared with line mode).
//! - [`text`], [`mod@render`]: rows, colours, wrapping; the screen layout.
//! - [`net`]: the network task with reconnection backoff.
//! - [`terminal`]: raw mode in, and always back out (panic hook included).
//! - [`link`]: links found in messages, written as OSC 8 hyperlinks.
//! - [`look`]: timestamps, colours, highlight words, bell and title.
//! - [`chatlog`]: chat logs on disk, a file per window per day.
//! - [`wide`]: repainting what fragile wide graphemes covered.

pub mod app;
pub mod chatlog;
pub mod complete;
pub mod event;
pub mod input;
pub mod link;
pub mod look;
pub mod net;
pub mod render;
pub mod terminal;
pub mod text;
pub mod wide;
pub mod window;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Offset;
use crossterm::event::Event as TerminalEvent;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

pub use app::{App, update};
pub use event::{Action, Event, NetEvent, Outgoing};
pub use render::render;

use net::Backoff;

use crate::connection::Target;
use terminal::TerminalSession;

/// How many events may wait for the app.
const EVENT_QUEUE: usize = 1024;
/// How many queued events are applied before the screen is drawn again.
const MAX_BATCH: usize = 256;
/// How often the terminal-reading thread checks whether it should stop.
const INPUT_POLL: Duration = Duration::from_millis(100);

/// What the full-screen client needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server, and TLS if any.
    pub server: Target,
    /// The nickname to log in with; `None` asks for one.
    pub nick: Option<String>,
    /// The password of that nickname's account, if it is registered.
    pub password: Option<String>,
    /// How it looks and when it rings (from the configuration file).
    pub look: look::Look,
    /// Nicknames whose messages are hidden from the start.
    pub ignore: Vec<String>,
    /// Keep chat logs under this directory.
    pub log_dir: Option<std::path::PathBuf>,
}

/// Runs the full-screen client on this process's terminal until the user
/// quits or a SIGTERM, SIGHUP or SIGINT arrives. The terminal is restored
/// however it ends.
pub async fn run(options: Options) -> io::Result<()> {
    let mut signals = Signals::new()?;
    let mut session = TerminalSession::enter()?;
    let size = session.terminal().size()?;
    let (events_in, mut events) = mpsc::channel(EVENT_QUEUE);
    let stop = Arc::new(AtomicBool::new(false));
    read_terminal(events_in.clone(), Arc::clone(&stop));
    let net = net::spawn(options.server.clone(), Backoff::default(), events_in);
    let offset = chrono::Local::now().offset().fix();
    let mut app = App::new(
        &options.server.to_string(),
        options.nick,
        (size.width, size.height),
        offset,
        now_ms(),
    );
    app.set_password(options.password);
    app.set_look(options.look);
    for nick in &options.ignore {
        app.ignore(nick);
    }
    if app.look().title {
        session.set_title(app.title())?;
    }
    app.set_logging(options.log_dir.is_some());
    let mut chatlog = options.log_dir.map(chatlog::ChatLog::new);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut covered = Vec::new();
    let outcome = loop {
        let drawn = session.terminal().draw(|frame| {
            render(&app, frame);
            wide::repaint(frame.buffer_mut(), &covered);
        })?;
        covered = wide::covered_by_fragile(drawn.buffer);
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => event,
                None => break Err(io::Error::other("the network task stopped")),
            },
            _ = tick.tick() => Event::Tick(now_ms()),
            name = signals.recv() => {
                tracing::info!(signal = name, "quitting on a signal");
                break Ok(());
            }
        };
        let mut actions = update(&mut app, event);
        for _ in 0..MAX_BATCH {
            match events.try_recv() {
                Ok(event) => actions.extend(update(&mut app, event)),
                Err(_) => break,
            }
        }
        let mut quit = false;
        for action in actions {
            match action {
                Action::Send(outgoing) => net.send(outgoing),
                Action::Redraw => session.terminal().clear()?,
                Action::Bell => session.bell()?,
                Action::Mouse(on) => session.set_mouse(on)?,
                Action::Log(entry) => {
                    if let Some(log) = &mut chatlog {
                        log.write(&entry);
                    }
                }
                Action::Title(title) => session.set_title(&title)?,
                Action::Quit => quit = true,
            }
        }
        if quit {
            break Ok(());
        }
        if net.is_finished() {
            break Err(io::Error::other("the network task stopped"));
        }
    };
    stop.store(true, Ordering::Relaxed);
    net.quit().await;
    drop(session);
    outcome
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Reads the terminal on a thread of its own (crossterm's reader blocks)
/// and passes keys, mouse, pastes and resizes on, until `stop` is set.
fn read_terminal(events: mpsc::Sender<Event>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match crossterm::event::poll(INPUT_POLL) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the terminal");
                    return;
                }
            }
            let event = match crossterm::event::read() {
                Ok(TerminalEvent::Key(key)) => Event::Key(key),
                Ok(TerminalEvent::Mouse(mouse)) => Event::Mouse(mouse),
                Ok(TerminalEvent::Paste(text)) => Event::Paste(text),
                Ok(TerminalEvent::Resize(w, h)) => Event::Resize(w, h),
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the terminal");
                    return;
                }
            };
            if events.blocking_send(event).is_err() {
                return;
            }
        }
    });
}

/// The signals that end the client cleanly: SIGTERM, SIGHUP (the terminal
/// went away) and SIGINT (Ctrl-C outside raw mode, or `kill -INT`).
struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

impl Signals {
    fn new() -> io::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for one of them; returns its name.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
