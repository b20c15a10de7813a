//! Read markers as both protocols use them (IRCv3 `draft/read-marker`'s
//! `MARKREAD`, the JSON `mark_read`): for each room and conversation, the
//! time of the last message the user has read, only ever moving forward.
//!
//! A user logged into an account keeps them in the store, shared by every
//! session of the account (each move is told to the others through the
//! hub, `Hub::read_marker_moved`) and kept across restarts. A user without
//! an account has nobody to share them with and nothing to find them by
//! later: the session keeps its own, in memory, as long as it lasts.

use std::collections::HashMap;

use chatroom_proto::{nick, room};
use thiserror::Error;

use crate::clock::now_ms;
use crate::event::MarkerTarget;
use crate::hub::{Client, Hub};
use crate::store::{MAX_MARKERS_PER_ACCOUNT, StoreError, StoredMarker};

/// Why a marker could not be read or moved.
#[derive(Debug, Error)]
pub enum MarkError {
    /// The target is neither a valid room name nor a valid nickname.
    #[error("not a room or a nickname")]
    BadTarget,
    /// A new marker past the most one user keeps.
    #[error("too many read markers (at most {MAX_MARKERS_PER_ACCOUNT})")]
    TooMany,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A room's target (its name checked against the room rules).
pub fn room_target(name: &str) -> Result<MarkerTarget, MarkError> {
    room::validate(name).map_err(|_| MarkError::BadTarget)?;
    Ok(MarkerTarget::Room(name.into()))
}

/// A conversation's target (the nickname normalized, as the hub keeps it).
pub fn nick_target(name: &str) -> Result<MarkerTarget, MarkError> {
    let normalized = nick::normalize(name).map_err(|_| MarkError::BadTarget)?;
    Ok(MarkerTarget::Nick(normalized.into()))
}

/// The folded key a target is stored under: `#` and the room key, or the
/// folded nickname (nicknames never start with `#`).
fn key(target: &MarkerTarget) -> String {
    match target {
        MarkerTarget::Room(name) => format!("#{}", room::fold(name)),
        MarkerTarget::Nick(name) => nick::fold(name),
    }
}

/// How a target is stored for display: `#room` or the nickname.
fn shown(target: &MarkerTarget) -> String {
    match target {
        MarkerTarget::Room(name) => format!("#{name}"),
        MarkerTarget::Nick(name) => name.to_string(),
    }
}

/// A target read back from its stored display form.
fn from_shown(text: &str) -> MarkerTarget {
    match text.strip_prefix('#') {
        Some(name) => MarkerTarget::Room(name.into()),
        None => MarkerTarget::Nick(text.into()),
    }
}

/// One session's side of read markers: where they are kept depends on
/// whether the user is logged into an account (see the module
/// documentation).
#[derive(Debug, Default)]
pub struct ReadMarkers {
    /// Without an account: this session's markers, by key.
    local: HashMap<String, (MarkerTarget, i64)>,
}

impl ReadMarkers {
    /// Where the user's marker for `target` stands, if it has one.
    pub async fn get(
        &self,
        hub: &Hub,
        client: &Client,
        target: &MarkerTarget,
    ) -> Result<Option<i64>, MarkError> {
        match hub.account_of(client) {
            Some(account) => Ok(hub.store().read_marker(account, key(target)).await?),
            None => Ok(self.local.get(&key(target)).map(|(_, ts)| *ts)),
        }
    }

    /// Moves the user's marker for `target` forward to `ts` (a time in the
    /// future counts as now; an older time leaves it where it was) and
    /// returns where it stands. When it moved, the account's other
    /// sessions are told.
    pub async fn set(
        &mut self,
        hub: &Hub,
        client: &Client,
        target: MarkerTarget,
        ts: i64,
    ) -> Result<i64, MarkError> {
        let ts = ts.min(now_ms());
        let key = key(&target);
        let Some(account) = hub.account_of(client) else {
            let max = usize::try_from(MAX_MARKERS_PER_ACCOUNT).unwrap_or(usize::MAX);
            if !self.local.contains_key(&key) && self.local.len() >= max {
                return Err(MarkError::TooMany);
            }
            let entry = self.local.entry(key).or_insert((target, ts));
            entry.1 = entry.1.max(ts);
            return Ok(entry.1);
        };
        let marker = StoredMarker {
            account: account.clone(),
            key,
            target: shown(&target),
            ts,
        };
        let stands = hub
            .store()
            .mark_read(marker)
            .await?
            .ok_or(MarkError::TooMany)?;
        if stands == ts {
            hub.read_marker_moved(client, &account, target, stands);
        }
        Ok(stands)
    }

    /// Every marker the user has.
    pub async fn all(
        &self,
        hub: &Hub,
        client: &Client,
    ) -> Result<Vec<(MarkerTarget, i64)>, MarkError> {
        match hub.account_of(client) {
            Some(account) => Ok(hub
                .store()
                .read_markers(account)
                .await?
                .into_iter()
                .map(|m| (from_shown(&m.target), m.ts))
                .collect()),
            None => {
                let mut all: Vec<_> = self.local.values().cloned().collect();
                all.sort_by_key(|(target, _)| key(target));
                Ok(all)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_checked_and_keyed_case_insensitively() {
        let rust = room_target("Rust").unwrap();
        assert_eq!(key(&rust), "#rust");
        assert_eq!(from_shown(&shown(&rust)), rust);
        let bob = nick_target("ＢＯＢ").unwrap();
        assert_eq!(bob, MarkerTarget::Nick("BOB".into()));
        assert_eq!(key(&bob), "bob");
        assert_eq!(from_shown(&shown(&bob)), bob);
        assert!(room_target("a b").is_err());
        assert!(room_target(&"x".repeat(100)).is_err());
        assert!(nick_target("#chan").is_err());
        assert!(nick_target("").is_err());
    }
}
