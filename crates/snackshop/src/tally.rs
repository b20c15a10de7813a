//! What happened in the shop since the last log summary.
//!
//! A busy shop sells thousands of times a second; a log line per sale would
//! drown everything else. Sessions count here instead (lock-free), and the
//! server writes one INFO line per period with the totals (see
//! [`crate::ShopConfig::summary_every`]). Single sales are logged at DEBUG.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::money::Money;

/// Counters since the last summary.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    sales: AtomicU64,
    items: AtomicU64,
    revenue_cents: AtomicU64,
    arrived: AtomicU64,
    turned_away: AtomicU64,
}

/// The counters of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    pub(crate) sales: u64,
    pub(crate) items: u64,
    pub(crate) revenue: Money,
    pub(crate) arrived: u64,
    pub(crate) turned_away: u64,
}

impl Tally {
    /// A sale of `qty` items for `total`.
    pub(crate) fn sale(&self, qty: u32, total: Money) {
        self.sales.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(u64::from(qty), Ordering::Relaxed);
        self.revenue_cents
            .fetch_add(total.cents(), Ordering::Relaxed);
    }

    /// A customer came in.
    pub(crate) fn arrived(&self) {
        self.arrived.fetch_add(1, Ordering::Relaxed);
    }

    /// A customer was turned away (the shop or their address was full).
    pub(crate) fn turned_away(&self) {
        self.turned_away.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts since the last call, starting the next period at zero.
    pub(crate) fn take(&self) -> Summary {
        let take = |counter: &AtomicU64| counter.swap(0, Ordering::Relaxed);
        Summary {
            sales: take(&self.sales),
            items: take(&self.items),
            revenue: Money::from_cents(take(&self.revenue_cents)),
            arrived: take(&self.arrived),
            turned_away: take(&self.turned_away),
        }
    }
}

impl Summary {
    /// Nothing happened: no line is written for a quiet period.
    pub(crate) fn is_quiet(&self) -> bool {
        *self == Summary::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_the_period_and_starts_again() {
        let tally = Tally::default();
        assert!(tally.take().is_quiet());
        tally.arrived();
        tally.sale(2, Money::from_cents(400));
        tally.sale(1, Money::from_cents(450));
        tally.turned_away();
        assert_eq!(
            tally.take(),
            Summary {
                sales: 2,
                items: 3,
                revenue: Money::from_cents(850),
                arrived: 1,
                turned_away: 1
            }
        );
        assert!(tally.take().is_quiet());
    }
}
