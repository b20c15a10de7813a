//! What the server counts, for `GET /metrics` (Prometheus text format).
//!
//! Each part of the server owns the instruments it updates and creates them
//! itself: the hub ([`HubMetrics`]: logins, messages, deliveries, fan-out
//! latency), the store ([`StoreMetrics`]: commit latency), the connection
//! driver ([`DriverMetrics`]: bytes sent, rate-limit refusals, disconnects
//! by reason) and the accept paths ([`Connections`]: connections open by
//! protocol) and, in a cluster, the node ([`ClusterMetrics`]: Redis round
//! trips, errors, reconnects). [`Metrics`] gathers them into one registry when the server
//! starts and renders it for a scrape.
//!
//! Every instrument is a handle made once (a counter is one shared atomic):
//! nothing on a hot path looks a metric up by name or label. Deliveries are
//! counted once per publish (the audience's size), bytes once per write.

mod cluster;
mod connections;
mod driver;
mod hub;
mod store;

use std::fmt;

use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;

pub(crate) use cluster::ClusterMetrics;
pub(crate) use connections::{Connections, Transport};
pub(crate) use driver::DriverMetrics;
pub(crate) use hub::HubMetrics;
pub(crate) use store::StoreMetrics;

/// The `Content-Type` of a rendered scrape (Prometheus text format 0.0.4).
pub(crate) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Every metric of one server, registered under the `chatroom_` prefix.
pub(crate) struct Metrics {
    registry: Registry,
    /// Connections open and opened, by protocol.
    pub(crate) connections: Connections,
    /// The connection driver's instruments (shared by every connection).
    pub(crate) driver: DriverMetrics,
}

impl Metrics {
    /// Registers the hub's and the store's instruments beside the
    /// connections' and the driver's, which are made here.
    pub(crate) fn new(
        hub: &HubMetrics,
        store: &StoreMetrics,
        cluster: Option<&ClusterMetrics>,
    ) -> Self {
        let mut registry = Registry::with_prefix("chatroom");
        let connections = Connections::new();
        connections.register(&mut registry);
        let driver = DriverMetrics::new();
        driver.register(&mut registry);
        hub.register(&mut registry);
        store.register(&mut registry);
        if let Some(cluster) = cluster {
            cluster.register(&mut registry);
        }
        Metrics {
            registry,
            connections,
            driver,
        }
    }

    /// Every metric's current value, in the Prometheus text format.
    pub(crate) fn render(&self) -> Result<String, fmt::Error> {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_rendered_with_help_and_type() {
        let (hub, store) = (HubMetrics::new(), StoreMetrics::new());
        let cluster = ClusterMetrics::new();
        let metrics = Metrics::new(&hub, &store, Some(&cluster));
        let text = metrics.render().unwrap();
        for name in [
            "chatroom_connections_open",
            "chatroom_connections_opened_total",
            "chatroom_logins_total",
            "chatroom_messages_total",
            "chatroom_deliveries_total",
            "chatroom_sent_bytes_total",
            "chatroom_rate_limited_total",
            "chatroom_disconnects_total",
            "chatroom_store_commit_seconds",
            "chatroom_fanout_seconds",
            "chatroom_redis_round_trip_seconds",
            "chatroom_redis_errors_total",
            "chatroom_redis_reconnects_total",
            "chatroom_cluster_published_total",
            "chatroom_cluster_recovered_total",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}:\n{text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
        }
        // Labelled series exist before anything happened, at zero, so that
        // a rate over them is defined from the first scrape.
        assert!(
            text.contains("chatroom_connections_open{protocol=\"websocket-irc\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("chatroom_disconnects_total{reason=\"slow_consumer\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("chatroom_messages_total{kind=\"direct\"} 0\n"),
            "{text}"
        );
    }
}
