//! How many customers each IP address has inside, so that one address cannot fill the shop.
//!
//! A thousand idle connections from one address used to take every place in the shop until the
//! idle timeout. Each connection now holds an [`AddressSlot`] for its address; beyond
//! [`crate::Limits::max_per_address`] a newcomer from that address is turned away, while
//! customers from other addresses still get in. The slot is given back when the visit ends.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Connections inside per address.
#[derive(Debug, Default, Clone)]
pub(crate) struct Addresses {
    inside: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place for its address; given back on drop.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    addresses: Addresses,
    ip: IpAddr,
}

impl Addresses {
    /// A place for a connection from `ip`, unless `max` from it are inside already.
    /// IPv4 addresses seen through IPv6 (`::ffff:1.2.3.4`) count as the IPv4 address.
    pub(crate) fn admit(&self, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let ip = ip.to_canonical();
        let mut inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        let count = inside.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            addresses: self.clone(),
            ip,
        })
    }

    /// How many connections from `ip` are inside.
    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        let inside = self.inside.lock().unwrap_or_else(PoisonError::into_inner);
        inside.get(&ip.to_canonical()).copied().unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut inside = self
            .addresses
            .inside
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = inside.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Forget empty addresses, so the table holds only who is inside.
                inside.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_limit_and_slots_come_back() {
        let addresses = Addresses::default();
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = addresses.admit(a, 2).expect("room");
        let second = addresses.admit(a, 2).expect("room");
        assert!(addresses.admit(a, 2).is_none(), "full for a");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert!(
            addresses.admit(mapped, 2).is_none(),
            "the same address through IPv6"
        );
        let other = addresses.admit(b, 2).expect("b is not affected");
        drop(first);
        assert_eq!(addresses.count(a), 1);
        assert!(
            addresses.admit(a, 2).is_some(),
            "room again once one leaves"
        );
        drop((second, other));
        assert_eq!(addresses.count(a), 0);
        assert!(addresses.inside.lock().expect("lock").is_empty());
    }
}
