//! How many password checks an address and an account get: a few freely,
//! then fewer and fewer (exponential backoff), forgiven after a quiet hour
//! or a success.
//!
//! An account gets more free checks than an address, so that one guesser
//! is stopped by its address's count long before the account's owner is
//! slowed down; many guessers together slow the account, for at most
//! [`ACCOUNT_MAX_WAIT`] a check.
//!
//! Every check is counted when it starts, not when it fails: a hundred
//! connections asking at once would otherwise all get a check before the
//! first failure is known. A correct password clears its account's and its
//! address's count. Addresses are counted by network (an IPv6 /64, which
//! one machine usually has whole), accounts by folded nickname, so that a
//! guesser on many addresses is slowed on the account it guesses. The
//! tables are bounded: past their size the oldest entries are forgotten.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::limits::network_of;

/// Checks an address gets without any wait.
const ADDRESS_FREE: u32 = 5;
/// Checks an account gets without any wait, from all addresses together:
/// more than one address gets, so that one guesser alone never slows the
/// account's owner down.
const ACCOUNT_FREE: u32 = 20;
/// The first wait, doubled for every check after that.
const FIRST_WAIT: Duration = Duration::from_secs(1);
/// The longest an address waits between checks.
const ADDRESS_MAX_WAIT: Duration = Duration::from_secs(300);
/// The longest an account waits between checks: short enough that a
/// guesser cannot keep its owner out for long.
const ACCOUNT_MAX_WAIT: Duration = Duration::from_secs(30);
/// A count is forgotten after this long without a check.
const FORGET_AFTER: Duration = Duration::from_secs(3600);
/// Most addresses (and most accounts) remembered at once.
const MAX_ENTRIES: usize = 65_536;

/// One address's or account's recent checks.
#[derive(Debug, Clone, Copy)]
struct Count {
    checks: u32,
    last: Instant,
}

impl Count {
    /// How long until the next check is allowed (None: now).
    fn wait(&self, now: Instant, free: u32, max: Duration) -> Option<Duration> {
        let over = self.checks.checked_sub(free)?;
        let wait = FIRST_WAIT
            .checked_mul(1u32.checked_shl(over).unwrap_or(u32::MAX))
            .unwrap_or(max)
            .min(max);
        (self.last + wait)
            .checked_duration_since(now)
            .filter(|left| !left.is_zero())
    }
}

/// Counts of one kind (addresses or accounts).
struct Table<K> {
    counts: Mutex<HashMap<K, Count>>,
    free: u32,
    max_wait: Duration,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(free: u32, max_wait: Duration) -> Self {
        Table {
            counts: Mutex::new(HashMap::new()),
            free,
            max_wait,
        }
    }

    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        self.counts
            .lock()
            .get(key)?
            .wait(now, self.free, self.max_wait)
    }

    fn count(&self, key: K, now: Instant) {
        let mut counts = self.counts.lock();
        if counts.len() >= MAX_ENTRIES && !counts.contains_key(&key) {
            counts.retain(|_, c| now.saturating_duration_since(c.last) < FORGET_AFTER);
            if counts.len() >= MAX_ENTRIES
                && let Some(oldest) = counts
                    .iter()
                    .min_by_key(|(_, c)| c.last)
                    .map(|(k, _)| k.clone())
            {
                counts.remove(&oldest);
            }
        }
        let entry = counts.entry(key).or_insert(Count {
            checks: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
            entry.checks = 0;
        }
        entry.checks = entry.checks.saturating_add(1);
        entry.last = now;
    }

    fn uncount(&self, key: &K) {
        if let Some(count) = self.counts.lock().get_mut(key) {
            count.checks = count.checks.saturating_sub(1);
        }
    }

    fn clear(&self, key: &K) {
        self.counts.lock().remove(key);
    }
}

/// The password checks of one server, by address and by account.
pub struct Attempts {
    addresses: Table<IpAddr>,
    accounts: Table<String>,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            addresses: Table::new(ADDRESS_FREE, ADDRESS_MAX_WAIT),
            accounts: Table::new(ACCOUNT_FREE, ACCOUNT_MAX_WAIT),
        }
    }
}

impl Attempts {
    /// Counts a check of `account`'s password from `from`, or says how long
    /// to wait first.
    pub fn begin(&self, from: IpAddr, account: &str, now: Instant) -> Result<(), Duration> {
        let network = network_of(from);
        let account = account.to_owned();
        let wait = [
            self.addresses.wait(&network, now),
            self.accounts.wait(&account, now),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        self.addresses.count(network, now);
        self.accounts.count(account, now);
        Ok(())
    }

    /// The check did not happen after all (the server was too busy).
    pub fn cancel(&self, from: IpAddr, account: &str) {
        self.addresses.uncount(&network_of(from));
        self.accounts.uncount(&account.to_owned());
    }

    /// The password was right: the address and the account start afresh.
    pub fn succeeded(&self, from: IpAddr, account: &str) {
        self.addresses.clear(&network_of(from));
        self.accounts.clear(&account.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_few_checks_are_free_then_waits_double() {
        let attempts = Attempts::default();
        let t = Instant::now();
        let a = ip("10.0.0.1");
        for _ in 0..ADDRESS_FREE {
            assert_eq!(attempts.begin(a, "bob", t), Ok(()));
        }
        assert_eq!(attempts.begin(a, "bob", t), Err(Duration::from_secs(1)));
        let later = t + Duration::from_secs(1);
        assert_eq!(attempts.begin(a, "bob", later), Ok(()));
        assert_eq!(attempts.begin(a, "bob", later), Err(Duration::from_secs(2)));
    }

    #[test]
    fn an_account_is_slowed_from_any_address_but_not_for_long() {
        let attempts = Attempts::default();
        let mut t = Instant::now();
        // Each guess from a fresh address, as soon as the account allows.
        let mut waits = Vec::new();
        for n in 0..40 {
            let from = ip(&format!("10.0.{n}.1"));
            if let Err(wait) = attempts.begin(from, "bob", t) {
                waits.push(wait);
                t += wait;
                attempts.begin(from, "bob", t).unwrap();
            }
        }
        assert_eq!(
            waits.len(),
            40 - ACCOUNT_FREE as usize,
            "every guess past the free ones waited"
        );
        assert_eq!(
            waits.iter().max(),
            Some(&ACCOUNT_MAX_WAIT),
            "but never long"
        );
        // Another account from a fresh address is not held up.
        assert_eq!(attempts.begin(ip("192.0.2.9"), "alice", t), Ok(()));
    }

    #[test]
    fn a_success_clears_and_ipv6_counts_by_network() {
        let attempts = Attempts::default();
        let t = Instant::now();
        for n in 0..10u32 {
            let from = ip(&format!("2001:db8::{n:x}"));
            let _ = attempts.begin(from, &format!("user{n}"), t);
        }
        assert!(
            attempts.begin(ip("2001:db8::ffff"), "other", t).is_err(),
            "one /64, one count"
        );
        attempts.succeeded(ip("2001:db8::1"), "user1");
        assert_eq!(attempts.begin(ip("2001:db8::2"), "fresh", t), Ok(()));
    }

    #[test]
    fn counts_are_forgotten_after_a_quiet_hour() {
        let attempts = Attempts::default();
        let t = Instant::now();
        let a = ip("10.0.0.1");
        for _ in 0..20 {
            let _ = attempts.begin(a, "bob", t);
        }
        assert!(attempts.begin(a, "bob", t).is_err());
        // A whole new allowance, not just the end of the last wait.
        let later = t + FORGET_AFTER;
        for _ in 0..ADDRESS_FREE {
            assert_eq!(attempts.begin(a, "bob", later), Ok(()));
        }
    }
}
