//! The hub's instruments: logins, messages accepted, events delivered, and
//! how long a message takes to reach every recipient's queue.

use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Fan-out latency buckets, in seconds: a direct message takes a
/// microsecond or two, a room of thousands a few milliseconds, and a hub
/// lock held up by something else longer.
const FANOUT_BUCKETS: [f64; 15] = [
    2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
    0.1,
];

/// The label set of the per-kind message series.
type KindLabel = [(&'static str, &'static str); 1];

/// Owned by the hub; cloning shares the instruments.
#[derive(Clone)]
pub(crate) struct HubMetrics {
    /// Successful logins (JSON `login`, IRC registration, either over a
    /// WebSocket).
    logins: Counter,
    /// Messages accepted, by kind (registered as a whole).
    messages: Family<KindLabel, Counter>,
    room_messages: Counter,
    direct_messages: Counter,
    /// Events queued for recipients: every publish adds its audience's
    /// size (`hub::publish`).
    pub(crate) deliveries: Counter,
    /// From a message reaching the hub (before its lock) to its event
    /// queued for every recipient.
    fanout: Histogram,
}

impl HubMetrics {
    /// Every instrument at zero.
    pub(crate) fn new() -> Self {
        let messages = Family::<KindLabel, Counter>::default();
        let room_messages = messages.get_or_create(&[("kind", "room")]).clone();
        let direct_messages = messages.get_or_create(&[("kind", "direct")]).clone();
        HubMetrics {
            logins: Counter::default(),
            room_messages,
            direct_messages,
            messages,
            deliveries: Counter::default(),
            fanout: Histogram::new(FANOUT_BUCKETS),
        }
    }

    /// Adds the hub's instruments to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register("logins", "Successful logins", self.logins.clone());
        registry.register(
            "messages",
            "Chat messages accepted from clients, by kind (room or direct)",
            self.messages.clone(),
        );
        registry.register(
            "deliveries",
            "Events queued for recipients (messages, joins, leaves, nickname and topic changes...)",
            self.deliveries.clone(),
        );
        registry.register_with_unit(
            "fanout",
            "Time from a message reaching the hub (including the wait for its lock) to its event \
             queued for every recipient",
            Unit::Seconds,
            self.fanout.clone(),
        );
    }

    /// Counts a login.
    pub(crate) fn login(&self) {
        self.logins.inc();
    }

    /// Counts a room message that reached the hub at `accepted` and is now
    /// queued for every member.
    pub(crate) fn room_message(&self, accepted: Instant) {
        self.room_messages.inc();
        self.fanout.observe(accepted.elapsed().as_secs_f64());
    }

    /// Counts a direct message that reached the hub at `accepted` and is
    /// now queued for its recipient.
    pub(crate) fn direct_message(&self, accepted: Instant) {
        self.direct_messages.inc();
        self.fanout.observe(accepted.elapsed().as_secs_f64());
    }
}
