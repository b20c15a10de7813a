//! The one path by which events reach clients.
//!
//! Every delivery the hub makes names its audience ([`Audience`]) and goes
//! through [`State::publish`], under the hub's lock, so that everyone who
//! hears about something hears about it in the same order as everyone
//! else. This is where a broker for several nodes plugs in: it would take
//! the same audience and the same (serializable) event to the other nodes,
//! which resolve the audience against their own clients: in a cluster,
//! `Cluster::pass_on` does that for what happens here, and events from
//! other nodes come back in through `publish_here`.

use std::collections::HashSet;

use super::state::State;
use super::types::{Client, UserId};
use crate::cluster::SharedRoom;
use crate::event::{Event, EventKind};

/// How many members ahead of its deliveries a room's fan-out asks for a
/// member's client ([`Client::prefetch`](super::types::Client)), its
/// outbox's line and its outbox's next slot: far enough for each load to
/// arrive before the next step reads it, near enough to stay in the cache
/// (measured: `docs/benchmarks.md`, "Prefetching the fan-out").
const AHEAD_CLIENT: usize = 16;
/// See [`AHEAD_CLIENT`].
const AHEAD_OUTBOX: usize = 8;
/// See [`AHEAD_CLIENT`].
const AHEAD_SLOT: usize = 4;

/// Who an event is for.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// The members of a room (by folded key), but `except` (the one who did
    /// it, when they are not to get it back).
    Room {
        /// The room's key.
        key: &'a str,
        /// A member who is not told.
        except: Option<UserId>,
    },
    /// One user.
    User(UserId),
    /// Everyone online (each filters what it did not ask for: see
    /// `Event::wanted`).
    Everyone,
    /// The sessions logged into `account` (a folded nickname), but
    /// `except` (the one that caused it).
    Account {
        /// The account.
        account: &'a str,
        /// A session that is not told.
        except: UserId,
    },
    /// Everyone but `user` who shares at least one of `rooms` with them,
    /// once each however many rooms they share.
    Sharing {
        /// Whose company.
        user: UserId,
        /// The rooms (keys) that count.
        rooms: &'a [String],
    },
}

impl<'a> Audience<'a> {
    /// A room's members, all of them.
    pub fn room(key: &'a str) -> Self {
        Audience::Room { key, except: None }
    }

    /// A room's members but `id`.
    pub fn room_except(key: &'a str, id: UserId) -> Self {
        Audience::Room {
            key,
            except: Some(id),
        }
    }
}

impl State {
    /// Queues `event` for everyone in `audience` here and, in a cluster,
    /// passes it on to the other nodes for theirs (see
    /// `Cluster::pass_on`).
    pub fn publish(&self, audience: Audience<'_>, event: &Event) {
        self.publish_here(audience, event);
        self.pass_on(audience, event);
    }

    /// In a cluster, tells the other nodes about `event` for their users
    /// in `audience` (what this node counts in a summary instead of
    /// announcing, others may announce).
    pub fn pass_on(&self, audience: Audience<'_>, event: &Event) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        // Changes of who may do what in a room carry the room's state
        // after them.
        let room = match (audience, event.kind()) {
            (
                Audience::Room { key, .. },
                EventKind::Mode { .. } | EventKind::Join { .. } | EventKind::Kick { .. },
            ) => self.rooms.get(key).map(|room| SharedRoom {
                settings: room.settings.to_stored(),
                operators: room.operators.iter().copied().collect(),
                voiced: room.voiced.iter().copied().collect(),
            }),
            _ => None,
        };
        cluster.pass_on(audience, event, room);
    }

    /// Queues `event` for `recipient`, who caused it (a message or a
    /// `TAGMSG` to oneself), as something they receive rather than as an
    /// answer to their request (which `publish_here` would gather it as),
    /// and counts the delivery as `publish_here` does.
    pub fn publish_to_self(&self, recipient: &Client, event: &Event) {
        recipient.receive(event);
        self.deliveries.inc();
    }

    /// Queues `event` for everyone in `audience` on this node, each in
    /// their format, and counts the deliveries once (one atomic add per
    /// publish, not per recipient).
    pub fn publish_here(&self, audience: Audience<'_>, event: &Event) {
        let mut delivered = 0u64;
        match audience {
            Audience::Room { key, except } => {
                let Some(room) = self.rooms.get(key) else {
                    return;
                };
                // Each delivery waits for memory the member's driver last
                // touched on the other core; what the deliveries some
                // members ahead will read is asked for now, in three steps,
                // each needing what the one before brought (see `Outbox`).
                let mut clients_ahead = room.members.values().skip(AHEAD_CLIENT);
                let mut outboxes_ahead = room.members.values().skip(AHEAD_OUTBOX);
                let mut slots_ahead = room.members.values().skip(AHEAD_SLOT);
                for (id, client) in &room.members {
                    if let Some(ahead) = clients_ahead.next() {
                        ahead.prefetch();
                    }
                    if let Some(ahead) = outboxes_ahead.next() {
                        ahead.outbox.prefetch();
                    }
                    if let Some(ahead) = slots_ahead.next() {
                        ahead.outbox.prefetch_slot();
                    }
                    if Some(*id) != except {
                        client.deliver(event);
                        delivered += 1;
                    }
                }
            }
            Audience::User(id) => {
                if let Some(user) = self.users.get(&id) {
                    user.client.deliver(event);
                    delivered = 1;
                }
            }
            Audience::Everyone => {
                for user in self.users.values() {
                    user.client.deliver(event);
                    delivered += 1;
                }
            }
            Audience::Account { account, except } => {
                // Few sessions share an account, and this is rare (read
                // markers): a scan, rather than an index every login keeps.
                for (id, user) in &self.users {
                    if *id != except && user.identity.account.as_deref() == Some(account) {
                        user.client.deliver(event);
                        delivered += 1;
                    }
                }
            }
            Audience::Sharing { user, rooms } => {
                let mut told = HashSet::new();
                for room in rooms.iter().filter_map(|key| self.rooms.get(key)) {
                    for (id, client) in &room.members {
                        if *id != user && told.insert(*id) {
                            client.deliver(event);
                            delivered += 1;
                        }
                    }
                }
            }
        }
        self.deliveries.inc_by(delivered);
    }
}
