//! The one source of message and user ids.
//!
//! Counters in memory, continued from where the store says the last run
//! stopped (`store::ids` keeps ceilings ahead of them in the database, so
//! that an id is never handed out twice, whatever crashes). Message ids are
//! taken under the hub's lock, so every member of a room sees its messages
//! in id order. In a cluster, messages take their ids from Redis instead
//! (see `cluster`), and users theirs with their nickname's lease; these
//! counters then serve only a single node.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::now_ms;
use crate::store::{Start, Store};

/// Hands out ids.
pub struct IdSource {
    next_message: AtomicU64,
    next_user: AtomicU64,
    epoch: u64,
    store: Store,
}

impl IdSource {
    /// Ids continuing from `start`; user ids are reported to `store`.
    pub fn new(start: Start, store: Store) -> Self {
        IdSource {
            next_message: AtomicU64::new(start.next_message),
            next_user: AtomicU64::new(start.next_user),
            epoch: start.epoch,
            store,
        }
    }

    /// A new message's id and time. Call under the hub's lock.
    pub fn message(&self) -> (u64, i64) {
        (self.next_message.fetch_add(1, Ordering::Relaxed), now_ms())
    }

    /// The id the next message will get: messages below it were said
    /// before now (a join's history horizon).
    pub fn message_horizon(&self) -> u64 {
        self.next_message.load(Ordering::Relaxed)
    }

    /// A new user's id; the store is told, so no later run reuses it.
    pub fn user(&self) -> u64 {
        let id = self.next_user.fetch_add(1, Ordering::Relaxed);
        self.store.user_id(id);
        id
    }

    /// The id space's epoch (see `store::ids`).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// At a clean shutdown, once nobody can take an id: the next run
    /// continues right after the last ones used.
    pub fn release(&self) {
        self.store.release_ids(
            self.next_message.load(Ordering::Relaxed),
            self.next_user.load(Ordering::Relaxed),
        );
    }
}
