//! Server settings, with defaults a small public server can run with.

use std::time::Duration;

use crate::store::{Location, Retention};

/// How many stored messages a `join` replays when no other number is set.
pub const DEFAULT_HISTORY_REPLAY: u32 = 50;

/// Tunable limits, timings and storage of one server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest client frame (one JSON object), in bytes. A bigger one gets an
    /// error frame and the connection is closed.
    pub max_frame_bytes: usize,
    /// Most unwritten bytes queued for one connection. A client that falls
    /// further behind is disconnected as a slow consumer.
    pub outbox_bytes: usize,
    /// How long shutdown waits for connections to flush their last frames.
    pub shutdown_grace: Duration,
    /// Where history is stored.
    pub store: Location,
    /// How long history is kept.
    pub retention: Retention,
    /// How many stored messages joining a room replays.
    pub history_replay: u32,
    /// The server's name on IRC (the source of server lines, `NETWORK=`).
    pub server_name: String,
    /// The IRC message of the day, one entry per line.
    pub motd: Vec<String>,
}

/// The message of the day IRC clients see when none is configured.
pub fn default_motd() -> Vec<String> {
    vec![
        "Welcome to chatroom: rooms shared by JSON and IRC clients.".to_owned(),
        "You are in #lobby. /join #name enters (or creates) a room; /list shows them.".to_owned(),
        "History is kept: joining a channel replays its recent messages.".to_owned(),
    ]
}

impl Default for Config {
    /// Safe limits and in-memory history (the binary defaults to a data
    /// directory instead).
    fn default() -> Self {
        Config {
            max_frame_bytes: chatroom_proto::DEFAULT_MAX_FRAME_BYTES,
            outbox_bytes: 1024 * 1024,
            shutdown_grace: Duration::from_secs(5),
            store: Location::Memory,
            retention: Retention::default(),
            history_replay: DEFAULT_HISTORY_REPLAY,
            server_name: "chatroom".to_owned(),
            motd: default_motd(),
        }
    }
}
