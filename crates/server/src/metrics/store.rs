//! The history store's instrument: how long the writer thread takes to
//! write and commit one batch.

use std::time::Duration;

use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Commit latency buckets, in seconds: with `synchronous=FULL` each commit
/// is one fsync (a fraction of a millisecond on an SSD, tens on a slow
/// disk); a commit slower than 100 ms is logged as a warning.
const COMMIT_BUCKETS: [f64; 14] = [
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Owned by the store; cloning shares the histogram with its writer thread.
#[derive(Clone)]
pub(crate) struct StoreMetrics {
    commit: Histogram,
}

impl StoreMetrics {
    /// An empty histogram.
    pub(crate) fn new() -> Self {
        StoreMetrics {
            commit: Histogram::new(COMMIT_BUCKETS),
        }
    }

    /// Adds the store's instrument to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "store_commit",
            "Time the history writer takes to write one batch (messages, topics, accounts, \
             bans) and commit it",
            Unit::Seconds,
            self.commit.clone(),
        );
    }

    /// Records one batch's write and commit.
    pub(crate) fn committed(&self, took: Duration) {
        self.commit.observe(took.as_secs_f64());
    }
}
