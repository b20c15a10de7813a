//! Connections open and opened, by protocol: one gauge and one counter per
//! protocol, kept up by a guard each session holds for as long as it runs.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::server::Wire;

/// How a session reaches the server: its protocol, and whether over a
/// WebSocket (plain TCP and TLS are not told apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Straight over a TCP (or TLS) listener.
    Direct(Wire),
    /// Over a WebSocket on the HTTP listener.
    WebSocket(Wire),
}

impl Transport {
    /// Every transport, in the order of their slots.
    const ALL: [Transport; 4] = [
        Transport::Direct(Wire::Json),
        Transport::Direct(Wire::Irc),
        Transport::WebSocket(Wire::Json),
        Transport::WebSocket(Wire::Irc),
    ];

    /// The `protocol` label's value.
    fn label(self) -> &'static str {
        match self {
            Transport::Direct(Wire::Json) => "json",
            Transport::Direct(Wire::Irc) => "irc",
            Transport::WebSocket(Wire::Json) => "websocket-json",
            Transport::WebSocket(Wire::Irc) => "websocket-irc",
        }
    }

    /// Its slot in [`Self::ALL`].
    fn slot(self) -> usize {
        match self {
            Transport::Direct(Wire::Json) => 0,
            Transport::Direct(Wire::Irc) => 1,
            Transport::WebSocket(Wire::Json) => 2,
            Transport::WebSocket(Wire::Irc) => 3,
        }
    }
}

/// The label set of a per-protocol series.
type ProtocolLabel = [(&'static str, &'static str); 1];

/// The per-protocol gauges and counters, one handle each.
pub(crate) struct Connections {
    /// Sessions open, by protocol (registered as a whole).
    open_family: Family<ProtocolLabel, Gauge>,
    /// Sessions started, by protocol (registered as a whole).
    opened_family: Family<ProtocolLabel, Counter>,
    /// Each protocol's series in them, by slot.
    open: [Gauge; 4],
    opened: [Counter; 4],
}

impl Connections {
    /// Every protocol's series made, at zero.
    pub(crate) fn new() -> Self {
        let open_family = Family::<ProtocolLabel, Gauge>::default();
        let opened_family = Family::<ProtocolLabel, Counter>::default();
        let label = |t: Transport| [("protocol", t.label())];
        Connections {
            open: Transport::ALL.map(|t| open_family.get_or_create(&label(t)).clone()),
            opened: Transport::ALL.map(|t| opened_family.get_or_create(&label(t)).clone()),
            open_family,
            opened_family,
        }
    }

    /// Adds the families to `registry`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "connections_open",
            "Chat sessions open now, by protocol (JSON or IRC, over TCP or a WebSocket)",
            self.open_family.clone(),
        );
        registry.register(
            "connections_opened",
            "Chat sessions started since the server started, by protocol",
            self.opened_family.clone(),
        );
    }

    /// Counts a session starting; it counts as open until the guard is
    /// dropped.
    pub(crate) fn open(&self, transport: Transport) -> OpenConnection {
        let slot = transport.slot();
        self.opened[slot].inc();
        let gauge = self.open[slot].clone();
        gauge.inc();
        OpenConnection(gauge)
    }
}

/// Held by a session while it runs: one connection open of its protocol.
pub(crate) struct OpenConnection(Gauge);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_list() {
        for (n, transport) in Transport::ALL.into_iter().enumerate() {
            assert_eq!(transport.slot(), n, "{transport:?}");
        }
    }

    #[test]
    fn a_connection_is_open_while_its_guard_lives() {
        let connections = Connections::new();
        let irc = Transport::WebSocket(Wire::Irc);
        let first = connections.open(irc);
        let second = connections.open(irc);
        let slot = irc.slot();
        assert_eq!(connections.open[slot].get(), 2);
        drop(first);
        assert_eq!(connections.open[slot].get(), 1);
        drop(second);
        assert_eq!(connections.open[slot].get(), 0);
        assert_eq!(connections.opened[slot].get(), 2);
        assert_eq!(
            connections.opened[Transport::Direct(Wire::Irc).slot()].get(),
            0
        );
    }
}
