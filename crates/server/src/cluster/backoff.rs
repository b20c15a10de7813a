//! The wait between attempts to reach Redis again: from 50 ms, doubling up
//! to 2 s, back to 50 ms once it works.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The first wait.
const FIRST: Duration = Duration::from_millis(50);

/// The longest wait.
const MOST: Duration = Duration::from_secs(2);

/// How long the next wait is.
#[derive(Debug)]
pub(super) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// Starting from the first wait.
    pub(super) fn new() -> Self {
        Backoff { next: FIRST }
    }

    /// How long the next wait will be (for the log).
    pub(super) fn next(&self) -> Duration {
        self.next
    }

    /// It worked: the next wait is the first again.
    pub(super) fn reset(&mut self) {
        self.next = FIRST;
    }

    /// Waits, and makes the next wait longer; `false` if `stop` came first.
    pub(super) async fn pause(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.next;
        self.next = (self.next * 2).min(MOST);
        tokio::select! {
            () = stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}
