//! The nickname history: who used a nickname before, for IRC's `WHOWAS`
//! and the JSON `whowas` request.
//!
//! Everyone who leaves the server or changes their nickname leaves an
//! entry; the history keeps the last [`WHOWAS_ENTRIES`] of them in memory
//! (none survive a restart), as IRC servers keep a bounded `WHOWAS` table.

use std::collections::VecDeque;

use chatroom_proto::nick;

use super::Hub;
use super::state::User;
use super::types::Departed;

/// How many departures the history keeps.
const WHOWAS_ENTRIES: usize = 500;

/// The last departures, oldest first.
pub(super) struct Whowas {
    entries: VecDeque<(String, Departed)>,
    capacity: usize,
}

impl Default for Whowas {
    fn default() -> Self {
        Whowas::with_capacity(WHOWAS_ENTRIES)
    }
}

impl Whowas {
    /// An empty history keeping at most `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Whowas {
            entries: VecDeque::new(),
            capacity,
        }
    }

    /// Remembers a departure, forgetting the oldest one when full.
    pub fn record(&mut self, departed: Departed) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries
            .push_back((nick::fold(&departed.nick), departed));
    }

    /// Who had `nick` (compared as nicknames are), most recent first, at
    /// most `count` of them (0: all).
    pub fn find(&self, nick: &str, count: usize) -> Vec<Departed> {
        let key = nick::fold(nick);
        let limit = if count == 0 { usize::MAX } else { count };
        self.entries
            .iter()
            .rev()
            .filter(|(k, _)| *k == key)
            .take(limit)
            .map(|(_, d)| d.clone())
            .collect()
    }
}

impl Departed {
    /// The entry `user` leaves behind at `at`.
    pub(super) fn of(user: &User, at: i64) -> Departed {
        Departed {
            nick: user.person.nick.to_string(),
            user: user.person.user.to_string(),
            host: user.person.host.to_string(),
            realname: user.realname.clone(),
            at,
        }
    }
}

impl Hub {
    /// Who used the nickname `nick` before, most recent first, at most
    /// `count` entries (0: every one kept).
    pub fn whowas(&self, nick: &str, count: usize) -> Vec<Departed> {
        self.state.lock().whowas.find(nick, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone(nick: &str, user: &str, at: i64) -> Departed {
        Departed {
            nick: nick.to_owned(),
            user: user.to_owned(),
            host: "user-1.chatroom".to_owned(),
            realname: "R".to_owned(),
            at,
        }
    }

    #[test]
    fn finds_the_most_recent_first_without_case() {
        let mut h = Whowas::with_capacity(10);
        h.record(gone("Bob", "one", 1));
        h.record(gone("ann", "x", 2));
        h.record(gone("bob", "two", 3));
        let users = |v: Vec<Departed>| v.into_iter().map(|d| d.user).collect::<Vec<_>>();
        assert_eq!(users(h.find("BOB", 0)), ["two", "one"]);
        assert_eq!(users(h.find("bob", 1)), ["two"]);
        assert!(h.find("carol", 0).is_empty());
    }

    #[test]
    fn forgets_the_oldest_when_full() {
        let mut h = Whowas::with_capacity(2);
        h.record(gone("a", "1", 1));
        h.record(gone("b", "2", 2));
        h.record(gone("c", "3", 3));
        assert!(h.find("a", 0).is_empty());
        assert_eq!(h.find("b", 0).len(), 1);
        assert_eq!(h.find("c", 0).len(), 1);
        let mut none = Whowas::with_capacity(0);
        none.record(gone("a", "1", 1));
        assert!(none.find("a", 0).is_empty());
    }
}
