//! Watching nicknames (IRCv3 `MONITOR`): who wants to know when which
//! nicknames come online and go offline, and telling them.
//!
//! A watch is on a nickname, never a mask, so nobody can follow a person
//! through nickname changes: a user who takes a watched nickname comes
//! "online" for its watchers, and one who gives it up goes "offline". Those
//! who also asked for `extended-monitor` hear what the people they watch do
//! to themselves (away, account, real name) as if they shared a room.
//!
//! The watches live in [`Watches`] behind the hub's lock; users who watch
//! nobody cost nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chatroom_proto::nick;

use super::Hub;
use super::state::State;
use super::types::{Client, UserId};
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Person, wants};

/// Most nicknames one user may watch (ISUPPORT `MONITOR=`).
pub const MAX_WATCHED: usize = 100;

/// Who watches which nicknames.
#[derive(Default)]
pub(super) struct Watches {
    /// Folded nickname to its watchers.
    watchers: HashMap<String, HashSet<UserId>>,
    /// A watcher's nicknames: folded to as they gave it.
    watched: HashMap<UserId, BTreeMap<String, String>>,
}

/// A watched nickname and whether someone has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    /// The nickname as the watcher gave it.
    pub nick: String,
    /// Who has it now (`None`: offline).
    pub online: Option<Person>,
}

/// What adding nicknames to a watch list did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct WatchAdded {
    /// The nicknames now watched (newly or already), each with its state.
    pub watched: Vec<Watched>,
    /// The nicknames left out because the list is full.
    pub refused: Vec<String>,
    /// Given names that cannot be nicknames (masks, bad characters).
    pub invalid: Vec<String>,
}

impl Watches {
    /// The users watching `nick` (folded).
    fn of(&self, folded: &str) -> impl Iterator<Item = UserId> + '_ {
        self.watchers.get(folded).into_iter().flatten().copied()
    }

    /// Forgets everything user `id` watches.
    pub fn forget(&mut self, id: UserId) {
        for folded in self.watched.remove(&id).unwrap_or_default().into_keys() {
            self.unwatch_key(&folded, id);
        }
    }

    fn unwatch_key(&mut self, folded: &str, id: UserId) {
        if let Some(set) = self.watchers.get_mut(folded) {
            set.remove(&id);
            if set.is_empty() {
                self.watchers.remove(folded);
            }
        }
    }
}

impl State {
    /// Tells those watching `nick` that `who` now has it (`Some`) or that
    /// nobody does (`None`: its last holder gave it up).
    pub(super) fn tell_watchers(&self, server: &Arc<str>, nick: &str, who: Option<&Person>) {
        let folded = nick::fold(nick);
        if !self.watches.watchers.contains_key(&folded) {
            return;
        }
        let kind = match who {
            Some(person) => EventKind::Online {
                server: server.clone(),
                who: person.clone(),
            },
            None => EventKind::Offline {
                server: server.clone(),
                nick: nick.into(),
            },
        };
        let event = Event::new(kind, now_ms());
        for id in self.watches.of(&folded) {
            if let Some(user) = self.users.get(&id) {
                user.client.deliver(&event);
                self.deliveries.inc();
            }
        }
    }

    /// Tells the watchers of user `id` who asked for `extended-monitor`
    /// (and share no room with them, having heard already) about `event`,
    /// something the user did to themselves.
    pub(super) fn tell_extended_watchers(&self, id: UserId, event: &Event) {
        let Some(user) = self.users.get(&id) else {
            return;
        };
        for watcher in self.watches.of(&nick::fold(&user.person.nick)) {
            if watcher == id || self.shares_room(watcher, id) {
                continue;
            }
            if let Some(w) = self.users.get(&watcher)
                && w.client.wants() & wants::EXTENDED_MONITOR != 0
            {
                w.client.deliver(event);
                self.deliveries.inc();
            }
        }
    }

    /// The state of a watched nickname.
    fn watched(&self, given: &str) -> Watched {
        Watched {
            nick: given.to_owned(),
            online: self
                .nicks
                .get(&nick::fold(given))
                .and_then(|id| self.users.get(id))
                .map(|user| user.person.clone()),
        }
    }
}

impl Hub {
    /// Adds `nicks` to the client's watch list (up to [`MAX_WATCHED`] in
    /// all) and says which of them are online.
    pub fn watch<'a>(
        &self,
        client: &Client,
        nicks: impl IntoIterator<Item = &'a str>,
    ) -> WatchAdded {
        let mut state = self.state.lock();
        let mut added = WatchAdded::default();
        for given in nicks {
            if nick::validate(given).is_err() {
                added.invalid.push(given.to_owned());
                continue;
            }
            let folded = nick::fold(given);
            let list = state.watches.watched.entry(client.id).or_default();
            if !list.contains_key(&folded) {
                if list.len() >= MAX_WATCHED {
                    added.refused.push(given.to_owned());
                    continue;
                }
                list.insert(folded.clone(), given.to_owned());
                state
                    .watches
                    .watchers
                    .entry(folded)
                    .or_default()
                    .insert(client.id);
            }
            added.watched.push(state.watched(given));
        }
        added
    }

    /// Takes `nicks` off the client's watch list.
    pub fn unwatch<'a>(&self, client: &Client, nicks: impl IntoIterator<Item = &'a str>) {
        let mut state = self.state.lock();
        for given in nicks {
            let folded = nick::fold(given);
            let Some(list) = state.watches.watched.get_mut(&client.id) else {
                return;
            };
            if list.remove(&folded).is_some() {
                if list.is_empty() {
                    state.watches.watched.remove(&client.id);
                }
                state.watches.unwatch_key(&folded, client.id);
            }
        }
    }

    /// Empties the client's watch list.
    pub fn unwatch_all(&self, client: &Client) {
        self.state.lock().watches.forget(client.id);
    }

    /// The client's watch list, each nickname with its state, in
    /// nickname order.
    pub fn watch_list(&self, client: &Client) -> Vec<Watched> {
        let state = self.state.lock();
        state
            .watches
            .watched
            .get(&client.id)
            .map(|list| list.values().map(|given| state.watched(given)).collect())
            .unwrap_or_default()
    }
}
