//! Presence in large rooms: counted, then summarised once a second.
//!
//! A room with at least `presence_threshold` members does not announce each
//! join and leave: each would be one frame to every member, so 10,000
//! people logging in would send 50 million notices. The room counts them
//! instead (with the first few names) and the server's ticker calls
//! [`Hub::flush_presence`] once a second.

use std::sync::Arc;

use chatroom_proto::json::PresenceSummary;

use super::Hub;
use super::publish::Audience;
use super::types::UserId;
use crate::clock::now_ms;
use crate::event::{Event, EventKind, Person};

/// Who came and went in a large room since its last summary.
#[derive(Default)]
pub(super) struct Tally {
    joined: u32,
    left: u32,
    joined_users: Vec<(UserId, Arc<str>)>,
    left_users: Vec<(UserId, Arc<str>)>,
}

impl Tally {
    /// Counts someone who joined.
    pub fn joined(&mut self, who: &Person) {
        Self::count(&mut self.joined, &mut self.joined_users, who);
    }

    /// Counts someone who left.
    pub fn left(&mut self, who: &Person) {
        Self::count(&mut self.left, &mut self.left_users, who);
    }

    fn count(count: &mut u32, users: &mut Vec<(UserId, Arc<str>)>, who: &Person) {
        *count += 1;
        if users.len() < PresenceSummary::NAMES {
            users.push((who.id, who.nick.clone()));
        }
    }
}

impl Hub {
    /// Sends every large room its presence summary: who joined and left
    /// since the last one (called once a second by the server).
    pub fn flush_presence(&self) {
        let mut state = self.state.lock();
        let mut summaries = Vec::new();
        for (key, room) in &mut state.rooms {
            let tally = std::mem::take(&mut room.tally);
            if tally.joined == 0 && tally.left == 0 {
                continue;
            }
            let members = u32::try_from(room.members.len()).unwrap_or(u32::MAX);
            let event = Event::new(
                EventKind::Summary {
                    room: room.topic.room.as_str().into(),
                    counts: (tally.joined, tally.left, members),
                    joined: tally.joined_users,
                    left: tally.left_users,
                },
                now_ms(),
            );
            summaries.push((key.clone(), event));
        }
        for (key, event) in summaries {
            state.publish(Audience::room(&key), &event);
        }
    }
}
