//! Coming, going and being someone: login, leaving, nicknames, away, and
//! what others can learn about a user.

use std::sync::Arc;

use bytes::Bytes;
use chatroom_proto::chat_text;
use chatroom_proto::nick;
use chatroom_proto::room::LOBBY;

use super::Hub;
use super::publish::Audience;
use super::state::{RoomKeys, State, User};
use super::types::{Arrival, Client, Departed, HubError, Joined, Profile, Renamed, UserId};
use crate::accounts::Identity;
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Person, QuitReason};
use crate::outbox::{CloseReason, Outbox};

impl Hub {
    /// Logs a user in and puts them in the lobby if `arrival.enter_lobby`.
    /// `welcome` builds their first frames from their new handle, their
    /// nickname (as normalized: see `nick::normalize`) and the lobby they
    /// are now in; it is queued before anything else can reach them, so the
    /// login reply is always the first thing a client reads. The lobby is
    /// told they joined.
    ///
    /// `welcome` runs under the hub's lock: it must not call the hub.
    pub fn login(
        &self,
        arrival: Arrival,
        outbox: Arc<Outbox>,
        welcome: impl FnOnce(&Client, &str, Option<&Joined>) -> Bytes,
    ) -> Result<Arc<Client>, HubError> {
        let claimed = arrival.id;
        let result = self.enter_server(arrival, outbox, welcome);
        if let (Err(_), Some(id)) = (&result, claimed) {
            self.unclaim_nick(id);
        }
        result
    }

    /// [`Hub::login`], but for letting go of a nickname claimed in a
    /// cluster when it fails.
    fn enter_server(
        &self,
        arrival: Arrival,
        outbox: Arc<Outbox>,
        welcome: impl FnOnce(&Client, &str, Option<&Joined>) -> Bytes,
    ) -> Result<Arc<Client>, HubError> {
        let nick = nick::normalize(&arrival.nick)?;
        self.may_use(&nick, &arrival.identity)?;
        let mut state = self.state.lock();
        self.free_for(&state, &nick, None)?;
        if arrival.password_given && arrival.identity.account.is_none() {
            return Err(HubError::NoAccount(nick));
        }
        let id = arrival.id.unwrap_or_else(|| self.ids.user());
        let client = Arc::new(Client::new(
            id,
            arrival.address,
            outbox,
            arrival.format,
            arrival.echo,
        ));
        let person = Person {
            id,
            nick: nick.as_str().into(),
            user: arrival.user.as_str().into(),
            host: Person::cloak(id),
            bot: false,
            account: arrival
                .identity
                .account
                .as_deref()
                .map(|key| self.accounts.shown_name(key)),
        };
        state.add_name(&nick, id);
        state.users.insert(
            id,
            Box::new(User {
                client: client.clone(),
                person,
                identity: arrival.identity,
                realname: arrival.realname,
                away: None,
                since: now_ms(),
                rooms: RoomKeys::default(),
                invited_to: RoomKeys::default(),
                invisible: false,
                certfp: arrival.certfp,
            }),
        );
        state.peak_users = state.peak_users.max(state.users.len());
        if let Some(user) = state.users.get(&id) {
            state.tell_watchers(&self.settings.server_name, &nick, Some(&user.person));
        }
        let lobby = if arrival.enter_lobby {
            state.enter(id, LOBBY);
            Some(self.joined(&state, id, LOBBY)?)
        } else {
            None
        };
        client.outbox.push(welcome(&client, &nick, lobby.as_ref()));
        self.metrics.login();
        Ok(client)
    }

    /// A nickname may be used by someone who logged into its account, or by
    /// anyone when it has none (unless every login needs an account: then
    /// only by its account's owner); banned nicknames by nobody.
    fn may_use(&self, nick: &str, identity: &Identity) -> Result<(), HubError> {
        if self.accounts.nick_ban(nick).is_some() {
            return Err(HubError::Banned(nick.to_owned()));
        }
        let owns = identity.account.as_deref() == Some(nick::fold(nick).as_str());
        if !owns && (self.settings.accounts.require_account || self.accounts.is_registered(nick)) {
            return Err(HubError::AccountRequired(nick.to_owned()));
        }
        Ok(())
    }

    /// Refuses `nick` if someone other than `me` is online with it, or with
    /// a name it looks like, or if it looks like a registered name that is
    /// not its own.
    pub(super) fn free_for(
        &self,
        state: &State,
        nick: &str,
        me: Option<UserId>,
    ) -> Result<(), HubError> {
        if state
            .nicks
            .get(&nick::fold(nick))
            .is_some_and(|id| Some(*id) != me)
        {
            return Err(HubError::NickTaken(nick.to_owned()));
        }
        if state.lookalike_online(nick, me) || self.accounts.lookalike(nick).is_some() {
            return Err(HubError::LooksLike(nick.to_owned()));
        }
        Ok(())
    }

    /// Removes a user from every room and from the server. Everyone who
    /// shared a room with them is told once, except at shutdown, when
    /// everyone is leaving at once and is told so directly. `message` is a
    /// quit message of the user's own (IRC `QUIT :...`).
    pub fn leave(&self, client: &Client, reason: CloseReason, message: Option<&str>) {
        let mut state = self.state.lock();
        let Some(user) = state.users.remove(&client.id) else {
            return;
        };
        state.remove_name(&user.person.nick, client.id);
        if let Some(cluster) = &state.cluster {
            cluster.release(client.id);
        }
        state.whowas.record(Departed::of(&user, now_ms()));
        state.watches.forget(client.id);
        for key in &user.invited_to {
            if let Some(room) = state.rooms.get_mut(key) {
                room.invited.remove(&client.id);
            }
        }
        let quit = Event::new(
            EventKind::Quit {
                who: user.person.clone(),
                reason: match message {
                    Some(text) => QuitReason::Said(chat_text::sanitize(text).as_ref().into()),
                    None => QuitReason::Closed(reason),
                },
            },
            now_ms(),
        );
        if reason != CloseReason::Shutdown {
            state.tell_watchers(&self.settings.server_name, &user.person.nick, None);
            // Large rooms count the departure for their next summary;
            // everyone sharing a small room with the user is told once, now.
            let threshold = state.presence_threshold;
            let mut small = Vec::new();
            for key in &user.rooms {
                match state.rooms.get_mut(key) {
                    Some(room) if room.is_large(threshold) => room.tally.left(&user.person),
                    Some(_) => small.push(key.clone()),
                    None => {}
                }
            }
            let audience = Audience::Sharing {
                user: client.id,
                rooms: &small,
            };
            state.publish_here(audience, &quit);
        }
        // Other nodes hear of every departure, this node's shutdown too,
        // and decide for themselves which of the rooms are large.
        if state.cluster.is_some() {
            let rooms: Vec<String> = user.rooms.iter().cloned().collect();
            state.pass_on(
                Audience::Sharing {
                    user: client.id,
                    rooms: &rooms,
                },
                &quit,
            );
        }
        for key in &user.rooms {
            state.remove_from_room(key, client.id);
        }
    }

    /// Changes the user's nickname (as normalized: see `nick::normalize`);
    /// everyone sharing a room is told once.
    pub fn rename(&self, client: &Client, new: &str) -> Result<Renamed, HubError> {
        let new = nick::normalize(new)?;
        let mut state = self.state.lock();
        self.may_use(&new, &state.user(client.id)?.identity)?;
        self.free_for(&state, &new, Some(client.id))?;
        let user = state.user(client.id)?;
        let (old, departed) = (user.person.clone(), Departed::of(user, now_ms()));
        if *old.nick == *new {
            // The very same nickname: nothing changes, nobody is told.
            return Ok(Renamed {
                old: new.clone(),
                new,
            });
        }
        state.whowas.record(departed);
        state.remove_name(&old.nick, client.id);
        state.add_name(&new, client.id);
        let rooms = match state.users.get_mut(&client.id) {
            Some(user) => {
                user.person.nick = new.as_str().into();
                user.rooms.clone()
            }
            None => return Err(HubError::Gone),
        };
        let event = Event::new(
            EventKind::Nick {
                who: old.clone(),
                new: new.as_str().into(),
            },
            now_ms(),
        );
        let rooms: Vec<String> = rooms.iter().cloned().collect();
        state.publish(
            Audience::Sharing {
                user: client.id,
                rooms: &rooms,
            },
            &event,
        );
        // Watchers of either name learn of the change; a change of case
        // is the same name to them.
        if nick::fold(&old.nick) != nick::fold(&new) {
            let server = &self.settings.server_name;
            state.tell_watchers(server, &old.nick, None);
            if let Some(user) = state.users.get(&client.id) {
                state.tell_watchers(server, &new, Some(&user.person));
            }
        }
        Ok(Renamed {
            old: old.nick.to_string(),
            new,
        })
    }

    /// Sets (`Some`) or clears (`None`) the user's away message.
    pub fn set_away(&self, client: &Client, message: Option<String>) {
        let message = message.map(|m| chat_text::sanitize(&m).into_owned());
        let mut state = self.state.lock();
        let Some(user) = state.users.get_mut(&client.id) else {
            return;
        };
        user.away.clone_from(&message);
        let event = Event::new(
            EventKind::Away {
                who: user.person.clone(),
                message: message.map(Into::into),
            },
            now_ms(),
        );
        // Only those who asked (IRC's away-notify) hear of it; the user
        // has their own answer (305/306).
        let rooms = user.rooms.clone();
        state.publish(
            Audience::Sharing {
                user: client.id,
                rooms: rooms.as_slice(),
            },
            &event,
        );
        state.tell_extended_watchers(client.id, &event);
    }

    /// Changes the user's real name (IRC's `SETNAME`); those sharing a
    /// room who asked (IRC's `setname`), and the user, are told. Returns
    /// it as kept.
    pub fn set_realname(&self, client: &Client, realname: &str) -> Result<String, HubError> {
        let realname = chat_text::sanitize(realname).into_owned();
        let mut state = self.state.lock();
        let user = state.users.get_mut(&client.id).ok_or(HubError::Gone)?;
        user.realname.clone_from(&realname);
        let event = Event::new(
            EventKind::Realname {
                who: user.person.clone(),
                realname: realname.as_str().into(),
            },
            now_ms(),
        );
        state.tell_sharing(client.id, &event);
        Ok(realname)
    }

    /// Makes the user invisible (`true`: hidden from searches by people who
    /// share no room with them) or visible again.
    pub fn set_invisible(&self, client: &Client, invisible: bool) {
        if let Some(user) = self.state.lock().users.get_mut(&client.id) {
            user.invisible = invisible;
        }
    }

    /// Marks the user as a bot (IRCv3 bot mode) or not: their messages
    /// from now on say so.
    pub fn set_bot(&self, client: &Client, bot: bool) {
        if let Some(user) = self.state.lock().users.get_mut(&client.id) {
            user.person.bot = bot;
        }
    }

    /// What WHOIS shows about the user called `nick`.
    pub fn whois(&self, nick: &str) -> Option<Profile> {
        let state = self.state.lock();
        state
            .nicks
            .get(&nick::fold(nick))
            .and_then(|id| state.profile(*id))
    }

    /// Which of these nicknames are online, as currently spelled.
    pub fn online_nicks<'a>(&self, nicks: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let state = self.state.lock();
        nicks
            .into_iter()
            .filter_map(|n| state.nicks.get(&nick::fold(n)))
            .filter_map(|id| state.users.get(id))
            .map(|user| user.person.nick.to_string())
            .collect()
    }

    /// Who the user is now (`None` once they have left).
    pub fn person(&self, client: &Client) -> Option<Person> {
        self.state
            .lock()
            .users
            .get(&client.id)
            .map(|u| u.person.clone())
    }
}
