//! The hub: who is online, which rooms exist, and who hears what.
//!
//! Protocol-agnostic shared state behind one short, non-async critical
//! section ([`state`]): users by id, the nickname indexes, rooms and their
//! members. Sessions call it synchronously; it never awaits and never writes
//! to a socket. It speaks its own vocabulary ([`types`]): sessions turn
//! their protocol's requests into these calls and the answers back into
//! their protocol.
//!
//! Three seams are here:
//! - **One delivery path** ([`publish`]): each happening becomes one
//!   [`Event`](crate::event::Event), and every delivery names its
//!   [`Audience`] and goes through `State::publish`.
//! - **One id source** ([`ids`]): message and user ids, taken under the
//!   lock so that every member of a room sees its messages in id order, and
//!   a join's history horizon splits "replayed" from "live" exactly.
//! - The events themselves are serializable data, for a broker to carry.
//!
//! The operations are grouped by what they are about: [`users`] (login,
//! leaving, nicknames), [`messages`], [`rooms`], [`admin`] (operators and
//! accounts), [`moderation`] (room operators, modes, bans, invites,
//! kicks; [`room_settings`] and [`masks`] are what it keeps),
//! [`presence`] (summaries in large rooms), [`directory`] (looking people
//! up, counts), [`whowas`] (the nickname history) and [`monitor`] (who
//! watches which nicknames).

mod admin;
mod directory;
mod ids;
mod masks;
mod messages;
mod moderation;
mod monitor;
mod presence;
mod publish;
mod read_markers;
mod relay;
mod room_settings;
mod rooms;
mod state;
#[cfg(test)]
mod tests;
mod types;
mod users;
mod whowas;

use chatroom_proto::room::LOBBY;
use parking_lot::Mutex;

pub use messages::TagTo;
pub use monitor::{MAX_WATCHED, WatchAdded, Watched};
pub use publish::Audience;
pub use types::{
    Arrival, BanTarget, Census, Client, Departed, HubError, HubSettings, Joined, MaskEntry, Member,
    ModeOutcome, Posted, Profile, Renamed, RoomModes, RoomSummary, Standing, Style, Topic, UserId,
};

use crate::accounts::Accounts;
use crate::clock::now_ms;
use crate::limits::HourlyQuota;
use crate::metrics::HubMetrics;
use crate::store::{Loaded, Store};
use ids::IdSource;
pub use room_settings::MAX_LIST_ENTRIES;
use room_settings::RoomSettings;
use state::{Room, State};

/// The shared state of one server.
pub struct Hub {
    state: Mutex<State>,
    ids: IdSource,
    store: Store,
    accounts: Accounts,
    /// Rooms created, per network.
    new_rooms: HourlyQuota,
    settings: HubSettings,
    /// Logins, messages, deliveries and fan-out latency.
    metrics: HubMetrics,
    /// The cluster this node is part of (`relay`), if any.
    cluster: std::sync::OnceLock<std::sync::Arc<crate::cluster::Cluster>>,
}

impl Hub {
    /// A hub continuing from what the store loaded (fails only if the
    /// password hashing threads cannot be started).
    pub fn new(store: Store, loaded: &Loaded, settings: HubSettings) -> std::io::Result<Self> {
        let metrics = HubMetrics::new();
        let mut state = State::new(settings.presence_threshold);
        state.deliveries = metrics.deliveries.clone();
        for stored in &loaded.rooms {
            let settings =
                RoomSettings::from_stored(&stored.key, stored.settings.as_deref(), now_ms());
            let mut room = Room::new(&stored.name, settings);
            room.topic.text = stored.topic.clone();
            room.topic.set_by = stored.set_by.clone();
            room.topic.set_at = stored.set_at;
            state.rooms.insert(stored.key.clone(), room);
        }
        state
            .rooms
            .entry(LOBBY.to_owned())
            .or_insert_with(|| Room::new(LOBBY, RoomSettings::open(now_ms())));
        let accounts = Accounts::new(
            store.clone(),
            &loaded.accounts,
            &loaded.bans,
            &loaded.certs,
            &settings.accounts,
        )?;
        Ok(Hub {
            state: Mutex::new(state),
            ids: IdSource::new(loaded.ids, store.clone()),
            store,
            accounts,
            new_rooms: HourlyQuota::new(settings.rooms_per_hour),
            settings,
            metrics,
            cluster: std::sync::OnceLock::new(),
        })
    }

    /// The history store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The hub's instruments, for the server's metrics.
    pub(crate) fn metrics(&self) -> &HubMetrics {
        &self.metrics
    }

    /// Accounts, operators and bans.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// Identifies this server's id space: message ids never repeat within
    /// one epoch (see `store::ids`), so clients that remember ids they have
    /// seen must forget them when the epoch changes. In a cluster, the
    /// cluster's (every node hands out ids from Redis).
    pub fn epoch(&self) -> u64 {
        match self.cluster.get() {
            Some(cluster) => cluster.epoch(),
            None => self.ids.epoch(),
        }
    }

    /// At a clean shutdown, once every connection has left: tells the store
    /// where ids continue, so that the next run leaves no gap.
    pub fn release_ids(&self) {
        self.ids.release();
    }

    /// How many users are online.
    pub fn online(&self) -> usize {
        self.state.lock().users.len()
    }
}
