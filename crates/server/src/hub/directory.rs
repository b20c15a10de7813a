//! What anyone can look up about who is online: users by mask (IRC `WHO
//! *`), the rooms a user is seen in (IRC `WHOIS`), and the server's counts
//! (IRC `LUSERS`). Secret rooms and invisible users are kept from those
//! who have no business seeing them.

use chatroom_proto::modes::Flag;
use chatroom_proto::nick;
use wildmatch::WildMatch;

use super::Hub;
use super::state::User;
use super::types::{Census, Client, Profile, Standing};

impl Hub {
    /// Everyone whose nickname, user name, host or real name matches
    /// `mask` (`*` any run of characters, `?` any one; without case), by
    /// nickname. Invisible users are left out unless they share a room with
    /// `viewer` (or are the viewer, or the viewer is a server operator).
    pub fn who_matching(&self, viewer: &Client, mask: &str) -> Vec<Profile> {
        let pattern = WildMatch::new(&nick::fold(mask));
        let loose = WildMatch::new(&mask.to_lowercase());
        let state = self.state.lock();
        let insider = state.operator(viewer.id).is_ok();
        let mut found: Vec<Profile> = state
            .users
            .values()
            .filter(|user| {
                pattern.matches(&nick::fold(&user.person.nick))
                    || [&*user.person.user, &*user.person.host, &user.realname]
                        .iter()
                        .any(|s| loose.matches(&s.to_lowercase()))
            })
            .filter(|user| {
                !user.invisible
                    || insider
                    || user.person.id == viewer.id
                    || state.shares_room(viewer.id, user.person.id)
            })
            .filter_map(|user| state.profile(user.person.id))
            .collect();
        found.sort_by(|a, b| a.person.nick.cmp(&b.person.nick));
        found
    }

    /// The rooms `viewer` may see the user called `nick` in, with their
    /// standing there: not secret rooms the viewer is not in, and if the
    /// user is invisible, only rooms they share (everything for the user
    /// themselves and for server operators). `None` if nobody has `nick`.
    pub fn rooms_of(&self, viewer: &Client, nick: &str) -> Option<Vec<(String, Standing)>> {
        let state = self.state.lock();
        let user = state.by_nick(nick).ok()?;
        let id = user.person.id;
        let all = id == viewer.id || state.operator(viewer.id).is_ok();
        let rooms = user
            .rooms
            .iter()
            .filter_map(|key| state.rooms.get(key))
            .filter(|room| {
                let shared = room.members.contains_key(&viewer.id);
                all || (shared || (!room.settings.has(Flag::Secret) && !user.invisible))
            })
            .map(|room| (room.topic.room.clone(), room.standing(id)))
            .collect();
        Some(rooms)
    }

    /// How many are online, invisible, operators, and how many rooms have
    /// members.
    pub fn census(&self) -> Census {
        let state = self.state.lock();
        let count = |f: fn(&User) -> bool| state.users.values().filter(|u| f(u)).count();
        Census {
            users: state.users.len(),
            invisible: count(|u| u.invisible),
            operators: count(|u| u.identity.operator),
            rooms: state
                .rooms
                .values()
                .filter(|r| !r.members.is_empty())
                .count(),
            peak: state.peak_users,
        }
    }
}
