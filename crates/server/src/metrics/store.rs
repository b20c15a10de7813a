//! The history store's instruments: how long the writer thread takes to
//! write and commit one batch, and the chat messages refused because the
//! store had fallen behind.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Commit latency buckets, in seconds: with `synchronous=FULL` each commit
/// is one fsync (a fraction of a millisecond on an SSD, tens on a slow
/// disk); a commit slower than 100 ms is logged as a warning.
const COMMIT_BUCKETS: [f64; 14] = [
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Owned by the store; cloning shares the instruments with its threads and
/// the connections' [`crate::store::Backlog`].
#[derive(Clone)]
pub(crate) struct StoreMetrics {
    commit: Histogram,
    /// Chat messages refused because the store had fallen too far behind.
    pub(crate) backlog_refused: Counter,
}

impl StoreMetrics {
    /// An empty histogram, a zero count.
    pub(crate) fn new() -> Self {
        StoreMetrics {
            commit: Histogram::new(COMMIT_BUCKETS),
            backlog_refused: Counter::default(),
        }
    }

    /// Adds the store's instruments to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "store_commit",
            "Time the history writer takes to write one batch (messages, topics, accounts, \
             bans) and commit it",
            Unit::Seconds,
            self.commit.clone(),
        );
        registry.register(
            "store_busy",
            "Chat messages refused (server_busy) because more messages waited to be stored \
             than the history backlog allows",
            self.backlog_refused.clone(),
        );
    }

    /// Records one batch's write and commit.
    pub(crate) fn committed(&self, took: Duration) {
        self.commit.observe(took.as_secs_f64());
    }
}
