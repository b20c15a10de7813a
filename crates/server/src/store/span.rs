//! Which stored messages a history read wants: a span of ids and times,
//! read from one end (IRC's `CHATHISTORY BEFORE`, `AFTER`, `AROUND`,
//! `BETWEEN`; the JSON `history` request's pages).

use super::{Page, StoredMessage};

/// Which stored messages a history read wants: those strictly between
/// `after` and `before` (by id and by time), the `limit` nearest to
/// `before` (the newest), or to `after` with `from_after` (the oldest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Only messages with ids above this.
    pub after_id: Option<u64>,
    /// Only messages with ids below this.
    pub before_id: Option<u64>,
    /// Only messages said after this (ms since the epoch).
    pub after_ts: Option<i64>,
    /// Only messages said before this (ms since the epoch).
    pub before_ts: Option<i64>,
    /// Take the oldest of the span rather than the newest.
    pub from_after: bool,
    /// Events too (topic changes, kept TAGMSGs), not only messages (IRCv3
    /// `draft/event-playback`).
    pub events: bool,
}

impl Span {
    /// The newest messages with ids below `before` (all, when `None`).
    pub fn before(before: Option<u64>) -> Span {
        Span {
            before_id: before,
            ..Span::default()
        }
    }

    /// The SQL order that takes the span's end nearest the wanted messages.
    pub(super) fn order(self) -> &'static str {
        if self.from_after { "ASC" } else { "DESC" }
    }

    /// The highest `kind` column the read takes (see `StoredKind`).
    pub(super) fn kinds(self) -> i64 {
        if self.events {
            i64::MAX
        } else {
            super::StoredKind::Notice.code()
        }
    }

    /// The time bounds, open where not given.
    pub(super) fn times(self) -> (i64, i64) {
        (
            self.after_ts.unwrap_or(i64::MIN),
            self.before_ts.unwrap_or(i64::MAX),
        )
    }

    /// A page from up to `limit + 1` rows read in [`Span::order`]: oldest
    /// first, and whether more lie beyond the `limit`.
    pub(super) fn page(self, mut messages: Vec<StoredMessage>, limit: u32) -> Page {
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        if !self.from_after {
            messages.reverse();
        }
        Page { messages, has_more }
    }
}
