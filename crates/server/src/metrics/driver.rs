//! The connection driver's instruments: bytes sent to clients, inputs
//! refused by a rate limit, and connections closed, by reason.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use crate::outbox::CloseReason;

/// Every reason a connection closes, in the order of their slots.
const REASONS: [CloseReason; 12] = [
    CloseReason::Logout,
    CloseReason::Closed,
    CloseReason::Reset,
    CloseReason::Shutdown,
    CloseReason::SlowConsumer,
    CloseReason::FrameTooLarge,
    CloseReason::LoginTimeout,
    CloseReason::PingTimeout,
    CloseReason::Flood,
    CloseReason::Killed,
    CloseReason::Banned,
    CloseReason::TooManyAttempts,
];

/// A reason's slot in [`REASONS`]. A match, not a search, so that a new
/// reason does not compile until it has a slot.
fn slot(reason: CloseReason) -> usize {
    match reason {
        CloseReason::Logout => 0,
        CloseReason::Closed => 1,
        CloseReason::Reset => 2,
        CloseReason::Shutdown => 3,
        CloseReason::SlowConsumer => 4,
        CloseReason::FrameTooLarge => 5,
        CloseReason::LoginTimeout => 6,
        CloseReason::PingTimeout => 7,
        CloseReason::Flood => 8,
        CloseReason::Killed => 9,
        CloseReason::Banned => 10,
        CloseReason::TooManyAttempts => 11,
    }
}

/// The label set of a per-reason series.
type ReasonLabel = [(&'static str, &'static str); 1];

/// Shared by every connection's driver; cloning shares the counters.
#[derive(Debug, Clone)]
pub(crate) struct DriverMetrics {
    /// Bytes of protocol frames written to clients' sockets (TCP, TLS
    /// before encryption, or over WebSocket what was queued: answers'
    /// payloads, events as the messages they were framed as), counted
    /// once per write.
    pub(crate) sent_bytes: Counter,
    /// Inputs refused by a rate limit (the connection stays).
    pub(crate) rate_limited: Counter,
    /// Connections closed, by reason (registered as a whole).
    disconnect_family: Family<ReasonLabel, Counter>,
    /// Each reason's series in it, by slot.
    disconnects: [Counter; REASONS.len()],
}

impl DriverMetrics {
    /// Every counter at zero, every reason's series made.
    pub(crate) fn new() -> Self {
        let disconnect_family = Family::<ReasonLabel, Counter>::default();
        let disconnects = REASONS.map(|r| {
            disconnect_family
                .get_or_create(&[("reason", r.as_str())])
                .clone()
        });
        DriverMetrics {
            sent_bytes: Counter::default(),
            rate_limited: Counter::default(),
            disconnect_family,
            disconnects,
        }
    }

    /// Adds the driver's instruments to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "sent",
            "Bytes of protocol frames written to clients (TLS not counted; WebSocket framing only for events)",
            Unit::Bytes,
            self.sent_bytes.clone(),
        );
        registry.register(
            "rate_limited",
            "Chat messages and requests refused by a rate limit (the connection stays open)",
            self.rate_limited.clone(),
        );
        registry.register(
            "disconnects",
            "Connections closed, by reason (slow_consumer: fell behind reading; flood: kept \
             sending over the rate limit; logout, closed, reset, shutdown, ...)",
            self.disconnect_family.clone(),
        );
    }

    /// Counts a connection closing for `reason`.
    pub(crate) fn closed(&self, reason: CloseReason) {
        self.disconnects[slot(reason)].inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_list() {
        for (n, reason) in REASONS.into_iter().enumerate() {
            assert_eq!(slot(reason), n, "{reason:?}");
        }
    }

    #[test]
    fn each_reason_has_its_own_series() {
        let mut registry = Registry::default();
        let metrics = DriverMetrics::new();
        metrics.register(&mut registry);
        metrics.closed(CloseReason::Flood);
        metrics.closed(CloseReason::Flood);
        metrics.closed(CloseReason::SlowConsumer);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("disconnects_total{reason=\"flood\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("disconnects_total{reason=\"slow_consumer\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("disconnects_total{reason=\"logout\"} 0\n"),
            "{text}"
        );
    }
}
