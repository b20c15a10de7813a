//! The messages between the parts of the full-screen client.
//!
//! Everything that happens reaches the app as one [`Event`]: a key, a mouse
//! wheel, a paste, a resize, news from the network task, a clock tick. The
//! app answers with [`Action`]s for the runner to carry out: a request to
//! send, a redraw, quitting. Keeping both as plain data is what lets the
//! app's logic be tested without a terminal or a socket.

use std::time::Duration;

use chatroom_proto::json::{Ref, Request, ServerFrame};
use crossterm::event::{KeyEvent, MouseEvent};

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse did something (the wheel scrolls).
    Mouse(MouseEvent),
    /// Text was pasted (bracketed paste), possibly several lines.
    Paste(String),
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
    /// News from the network task.
    Net(NetEvent),
    /// The clock moved on (once a second): milliseconds since the Unix epoch.
    Tick(i64),
}

/// What the network task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum NetEvent {
    /// Trying to connect; `attempt` counts failures in a row plus one.
    Connecting {
        /// 1 for the first try after a success (or at start).
        attempt: u32,
    },
    /// Connected. Requests must carry this `generation` to be sent on it;
    /// those for an older connection are dropped.
    Connected {
        /// Which connection this is, counting from 1.
        generation: u64,
    },
    /// A frame from the server.
    Frame(Box<ServerFrame>),
    /// The server sent a line that is not a frame; it was skipped.
    Garbled(String),
    /// The connection failed or could not be made; the next try is in `retry_in`.
    Lost {
        /// Why, for people.
        reason: String,
        /// How long until the next try.
        retry_in: Duration,
    },
}

/// A request for the network task.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The connection it is meant for (see [`NetEvent::Connected`]).
    pub generation: u64,
    /// The request.
    pub request: Request,
    /// Its correlation value: the answer carries it back.
    pub reference: Ref,
}

/// What the app asks the runner to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a request to the server.
    Send(Outgoing),
    /// Clear the screen and draw everything again (Ctrl-L).
    Redraw,
    /// Turn the terminal's mouse reporting on (the wheel scrolls, clicks
    /// switch windows) or off (the terminal selects and copies text).
    Mouse(bool),
    /// Append a line to the chat log (only when logging is on).
    Log(super::chatlog::LogEntry),
    /// Ring the terminal bell (a mention or a direct message).
    Bell,
    /// Set the terminal's window title (control characters removed).
    Title(String),
    /// Log out and exit.
    Quit,
}
