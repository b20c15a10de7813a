//! A cluster node's instruments: its round trips to Redis and how long they
//! take, what it published, the gaps it read back from the streams, and
//! how often its subscription had to reconnect. Registered only when the
//! server runs with `--cluster`.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Round-trip buckets, in seconds: well under a millisecond on loopback or
/// a LAN, tens of milliseconds when Redis is busy or far.
const ROUND_TRIP_BUCKETS: [f64; 12] = [
    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 2.0,
];

/// Owned by the cluster handle; clones share the instruments.
#[derive(Clone)]
pub(crate) struct ClusterMetrics {
    round_trip: Histogram,
    errors: Counter,
    published: Counter,
    recovered: Counter,
    reconnects: Counter,
}

impl ClusterMetrics {
    /// Everything at zero.
    pub(crate) fn new() -> Self {
        ClusterMetrics {
            round_trip: Histogram::new(ROUND_TRIP_BUCKETS),
            errors: Counter::default(),
            published: Counter::default(),
            recovered: Counter::default(),
            reconnects: Counter::default(),
        }
    }

    /// Adds the instruments to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "redis_round_trip",
            "Time one round trip to Redis takes (a pipelined batch of publishes, a lease \
             renewal, a stream read)",
            Unit::Seconds,
            self.round_trip.clone(),
        );
        registry.register(
            "redis_errors",
            "Round trips to Redis that failed (Redis unreachable or refusing)",
            self.errors.clone(),
        );
        registry.register(
            "cluster_published",
            "Entries this node published through Redis (messages, and the joins, parts and \
             the like other nodes hear of)",
            self.published.clone(),
        );
        registry.register(
            "cluster_recovered",
            "Entries read back from a room's stream after a gap or a reconnect",
            self.recovered.clone(),
        );
        registry.register(
            "redis_reconnects",
            "Times the node connected its subscription to Redis again after it dropped",
            self.reconnects.clone(),
        );
    }

    /// Records one round trip that took `took` and worked (`ok`) or not.
    pub(crate) fn round_trip(&self, took: Duration, ok: bool) {
        self.round_trip.observe(took.as_secs_f64());
        if !ok {
            self.errors.inc();
        }
    }

    /// Counts entries published.
    pub(crate) fn published(&self, entries: usize) {
        self.published.inc_by(entries as u64);
    }

    /// Counts one entry read back from a stream.
    pub(crate) fn recovered(&self) {
        self.recovered.inc();
    }

    /// Counts one reconnection of the subscription.
    pub(crate) fn reconnected(&self) {
        self.reconnects.inc();
    }
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        Self::new()
    }
}
