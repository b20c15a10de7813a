//! TX/RX byte and packet counters, like the counters in NetAssist's status bar.
//!
//! A "packet" is one successful read or write on a TCP stream, or one datagram.
//! Counters are lock-free so every connection task can update them directly.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters for one connection, or for the whole run.
#[derive(Debug, Default)]
pub struct Counters {
    tx_bytes: AtomicU64,
    tx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_packets: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Writes (TCP) or datagrams (UDP) sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Reads (TCP) or datagrams (UDP) received.
    pub rx_packets: u64,
}

impl Counters {
    /// Records one sent packet of `bytes` bytes.
    pub fn record_tx(&self, bytes: usize) {
        self.tx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.tx_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one received packet of `bytes` bytes.
    pub fn record_rx(&self, bytes: usize) {
        self.rx_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.rx_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// Starts counting from zero again (`/reset`).
    pub fn reset(&self) {
        for counter in [
            &self.tx_bytes,
            &self.tx_packets,
            &self.rx_bytes,
            &self.rx_packets,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }

    /// The current values.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            tx_bytes: self.tx_bytes.load(Ordering::Relaxed),
            tx_packets: self.tx_packets.load(Ordering::Relaxed),
            rx_bytes: self.rx_bytes.load(Ordering::Relaxed),
            rx_packets: self.rx_packets.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TX {} bytes in {} packets, RX {} bytes in {} packets",
            self.tx_bytes, self.tx_packets, self.rx_bytes, self.rx_packets
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_and_packets() {
        let c = Counters::default();
        c.record_tx(5);
        c.record_tx(0);
        c.record_rx(7);
        let s = c.snapshot();
        assert_eq!(
            s,
            Snapshot {
                tx_bytes: 5,
                tx_packets: 2,
                rx_bytes: 7,
                rx_packets: 1
            }
        );
        assert_eq!(
            s.to_string(),
            "TX 5 bytes in 2 packets, RX 7 bytes in 1 packets"
        );
        c.reset();
        assert_eq!(c.snapshot(), Snapshot::default());
    }
}
