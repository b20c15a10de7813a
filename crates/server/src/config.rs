//! Server settings, with defaults a small public server can run with.

use std::time::Duration;

/// Tunable limits and timings of one server.
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_bytes: chatroom_proto::DEFAULT_MAX_FRAME_BYTES,
            outbox_bytes: 1024 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
