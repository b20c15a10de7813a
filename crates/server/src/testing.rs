//! What the server's unit tests share: a hub over an in-memory store.
#![allow(clippy::unwrap_used)]

use crate::accounts::AccountSettings;
use crate::hub::{Hub, HubSettings};
use crate::store::{self, Location, Retention, Synchronous};

/// Settings without limits beyond the presence threshold given.
pub fn settings(presence_threshold: usize) -> HubSettings {
    HubSettings {
        max_rooms_per_user: 0,
        max_message_bytes: 0,
        accounts: AccountSettings {
            operators: Vec::new(),
            opers: Vec::new(),
            require_account: false,
            min_password_chars: crate::accounts::MIN_PASSWORD_CHARS,
            registrations_per_hour: 0,
            hashing_threads: 1,
            hashing_queue: 4,
        },
        rooms_per_hour: 0,
        presence_threshold,
        server_name: "chatroom".into(),
    }
}

/// A hub over an in-memory store (the store's thread ends with the hub).
pub fn hub(presence_threshold: usize) -> Hub {
    let (store, _thread, loaded) = store::open(
        &Location::Memory,
        Retention::default(),
        Synchronous::Full,
        store::DEFAULT_CACHE_MIB,
    )
    .unwrap();
    Hub::new(store, &loaded, settings(presence_threshold)).unwrap()
}
