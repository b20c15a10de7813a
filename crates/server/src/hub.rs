//! The hub: who is online and who hears what.
//!
//! The hub is protocol-agnostic shared state behind one short, non-async
//! critical section: the members by id, the nickname index, and the lobby
//! everyone is in. Sessions call it synchronously; it never awaits and never
//! writes to a socket. A message is encoded once and the same bytes are
//! queued on every receiver's [`Outbox`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chatroom_proto::json::{ChatMessage, Presence, PresenceEvent, ServerFrame, encode_frame};
use chatroom_proto::nick::{self, NickError, SYSTEM_NICK};
use parking_lot::Mutex;
use thiserror::Error;

use crate::clock::now_ms;
use crate::outbox::{CloseReason, Outbox};

/// A user id: 0 is System, users count up from 1.
pub type UserId = u64;

/// The room everyone is in; the tutorial's single chat room.
pub const LOBBY: &str = "lobby";

/// One logged-in user, as the hub sees them.
pub struct Member {
    /// Their id, unique for the life of the server process.
    pub id: UserId,
    /// Their nickname as they typed it.
    pub nick: String,
    /// Where they connect from, for logs.
    pub peer: SocketAddr,
    /// Their outbound queue.
    pub outbox: Arc<Outbox>,
}

/// Why a login was refused.
#[derive(Debug, Error)]
pub enum LoginError {
    /// The nickname breaks the nickname rules.
    #[error(transparent)]
    Invalid(#[from] NickError),
    /// Someone online already has it (compared case-insensitively).
    #[error("the nickname {0:?} is already in use")]
    Taken(String),
}

/// A message the hub accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    /// Its id.
    pub msg_id: u64,
    /// Its timestamp, in milliseconds since the Unix epoch.
    pub ts: i64,
}

#[derive(Default)]
struct State {
    members: HashMap<UserId, Arc<Member>>,
    /// Folded nickname to id.
    nicks: HashMap<String, UserId>,
}

/// The shared state of one server.
pub struct Hub {
    state: Mutex<State>,
    next_user: AtomicU64,
    next_msg: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Hub {
            state: Mutex::new(State::default()),
            next_user: AtomicU64::new(1),
            next_msg: AtomicU64::new(1),
        }
    }

    /// Logs a user in under `nick`. `welcome` builds their first frame from
    /// their new id; it is queued before anything else can reach them, so
    /// the login reply is always the first thing a client reads. Everyone
    /// else is told that they joined.
    pub fn login(
        &self,
        nick: &str,
        peer: SocketAddr,
        outbox: Arc<Outbox>,
        welcome: impl FnOnce(UserId) -> Bytes,
    ) -> Result<Arc<Member>, LoginError> {
        nick::validate(nick)?;
        let folded = nick::fold(nick);
        let mut state = self.state.lock();
        if state.nicks.contains_key(&folded) {
            return Err(LoginError::Taken(nick.to_owned()));
        }
        let id = self.next_user.fetch_add(1, Ordering::Relaxed);
        outbox.push(welcome(id));
        let member = Arc::new(Member {
            id,
            nick: nick.to_owned(),
            peer,
            outbox,
        });
        let notice = presence(PresenceEvent::Join, &member, None);
        for other in state.members.values() {
            other.outbox.push(notice.clone());
        }
        state.nicks.insert(folded, id);
        state.members.insert(id, member.clone());
        Ok(member)
    }

    /// Relays `text` from `from` to everyone else online.
    pub fn broadcast(&self, from: &Member, text: &str) -> Posted {
        let state = self.state.lock();
        let posted = Posted {
            msg_id: self.next_msg.fetch_add(1, Ordering::Relaxed),
            ts: now_ms(),
        };
        let frame = encode_frame(&ServerFrame::Message(ChatMessage {
            msg_id: posted.msg_id,
            ts: posted.ts,
            room: LOBBY.to_owned(),
            sender_id: from.id,
            sender_nickname: from.nick.clone(),
            message: text.to_owned(),
        }));
        for (&id, other) in &state.members {
            if id != from.id {
                other.outbox.push(frame.clone());
            }
        }
        posted
    }

    /// Removes a member. Everyone else is told why they left, except at
    /// shutdown, when everyone is leaving at once and is told so directly.
    pub fn leave(&self, member: &Member, reason: CloseReason) {
        let mut state = self.state.lock();
        if state.members.remove(&member.id).is_none() {
            return;
        }
        state.nicks.remove(&nick::fold(&member.nick));
        if reason == CloseReason::Shutdown {
            return;
        }
        let notice = presence(PresenceEvent::Leave, member, Some(reason));
        for other in state.members.values() {
            other.outbox.push(notice.clone());
        }
    }

    /// How many users are online.
    pub fn online(&self) -> usize {
        self.state.lock().members.len()
    }
}

/// The encoded notice that `member` joined or left the lobby.
fn presence(event: PresenceEvent, member: &Member, reason: Option<CloseReason>) -> Bytes {
    let text = match event {
        PresenceEvent::Join => format!("{}({}) joined", member.nick, member.id),
        PresenceEvent::Leave => format!(
            "{}({}) left ({})",
            member.nick,
            member.id,
            reason.map_or("left", CloseReason::as_str)
        ),
    };
    encode_frame(&ServerFrame::Presence(Presence {
        event,
        room: LOBBY.to_owned(),
        user_id: member.id,
        nickname: member.nick.clone(),
        ts: now_ms(),
        reason: reason.map(|r| r.as_str().to_owned()),
        sender_id: 0,
        sender_nickname: SYSTEM_NICK.to_owned(),
        message: text,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn join(hub: &Hub, nick: &str) -> Result<Arc<Member>, LoginError> {
        hub.login(nick, peer(), Arc::new(Outbox::new(1 << 20)), |id| {
            Bytes::from(format!("welcome {id}\n"))
        })
    }

    fn drain(member: &Member) -> Vec<serde_json::Value> {
        let mut out = VecDeque::new();
        member.outbox.take(&mut out);
        out.iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect()
    }

    #[test]
    fn ids_are_nonzero_and_distinct() {
        let hub = Hub::new();
        let a = join(&hub, "a").unwrap();
        let b = join(&hub, "b").unwrap();
        assert!(a.id > 0 && b.id > 0 && a.id != b.id);
    }

    #[test]
    fn nicknames_are_unique_case_insensitively_and_freed_on_leave() {
        let hub = Hub::new();
        let bob = join(&hub, "Bob").unwrap();
        assert!(matches!(join(&hub, "bOB"), Err(LoginError::Taken(_))));
        hub.leave(&bob, CloseReason::Logout);
        assert!(join(&hub, "bob").is_ok());
    }

    #[test]
    fn welcome_comes_first_and_others_hear_the_join() {
        let hub = Hub::new();
        let a = join(&hub, "a").unwrap();
        let b = join(&hub, "b").unwrap();
        let mut first = VecDeque::new();
        b.outbox.take(&mut first);
        assert_eq!(first[0], Bytes::from(format!("welcome {}\n", b.id)));
        let heard = drain(&a);
        assert_eq!(heard.len(), 1);
        assert_eq!(heard[0]["event"], "join");
        assert_eq!(heard[0]["user_id"], b.id);
        assert_eq!(heard[0]["sender_id"], 0);
    }

    #[test]
    fn broadcast_skips_the_sender_and_ids_increase() {
        let hub = Hub::new();
        let a = join(&hub, "a").unwrap();
        let b = join(&hub, "b").unwrap();
        drain(&a);
        drain(&b);
        let p1 = hub.broadcast(&a, "one");
        let p2 = hub.broadcast(&a, "two");
        assert!(p2.msg_id > p1.msg_id);
        assert!(drain(&a).is_empty());
        let got = drain(&b);
        assert_eq!(got[0]["message"], "one");
        assert_eq!(got[1]["message"], "two");
        assert_eq!(got[1]["msg_id"], p2.msg_id);
    }

    #[test]
    fn shutdown_leaves_are_silent() {
        let hub = Hub::new();
        let a = join(&hub, "a").unwrap();
        let b = join(&hub, "b").unwrap();
        drain(&a);
        hub.leave(&b, CloseReason::Shutdown);
        assert!(drain(&a).is_empty());
        hub.leave(&a, CloseReason::Reset);
        assert_eq!(hub.online(), 0);
    }
}
