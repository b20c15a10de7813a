//! `LIST`'s argument: channel names and masks, and the ELIST filters
//! (`ELIST=CMNTU` in `005`), as InspIRCd and Solanum read them.
//!
//! The argument is a comma-separated list. `>n` and `<n` ask for channels
//! with more or fewer than `n` users (U); `C>n` and `C<n` for channels
//! created more or less than `n` minutes ago (C); `T>n` and `T<n` the same
//! for when the topic was set (T; channels without a topic never match);
//! anything else is a channel name or a mask of names (`*`, `?`; M), and
//! `!mask` leaves matching channels out (N). Names and masks are
//! alternatives (a channel matches one of them), the filters all apply.
//! A filter whose number does not parse is ignored.

use chatroom_proto::room;
use wildmatch::WildMatch;

use crate::hub::RoomSummary;

/// A minute, in milliseconds.
const MINUTE_MS: i64 = 60_000;

/// A bound on a count or an age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    /// More than this.
    Above(i64),
    /// Fewer than this.
    Below(i64),
}

impl Bound {
    /// `>n` or `<n`, if that is what `text` is.
    fn parse(text: &str) -> Option<Bound> {
        let (op, n) = text.split_at_checked(1)?;
        let n = n.trim().parse().ok()?;
        match op {
            ">" => Some(Bound::Above(n)),
            "<" => Some(Bound::Below(n)),
            _ => None,
        }
    }

    /// Whether `value` is within the bound counted in units of `unit`.
    fn admits(self, value: i64, unit: i64) -> bool {
        match self {
            Bound::Above(n) => value > n.saturating_mul(unit),
            Bound::Below(n) => value < n.saturating_mul(unit),
        }
    }
}

/// What a `LIST` asks for.
#[derive(Debug, Default)]
pub struct ListQuery {
    /// Names and masks, lowercased; empty: every channel.
    names: Vec<WildMatch>,
    /// Masks of channels to leave out.
    not: Vec<WildMatch>,
    /// On the number of users.
    users: Vec<Bound>,
    /// On the channel's age, in minutes.
    created: Vec<Bound>,
    /// On the topic's age, in minutes.
    topic: Vec<Bound>,
}

impl ListQuery {
    /// The query `LIST <arg>` makes ("": every channel).
    pub fn parse(arg: &str) -> ListQuery {
        let mut query = ListQuery::default();
        for item in arg.split(',').filter(|i| !i.is_empty()) {
            let (kind, rest) = match item.split_at_checked(1) {
                Some(("C" | "c", rest)) if rest.starts_with(['<', '>']) => (Some('C'), rest),
                Some(("T" | "t", rest)) if rest.starts_with(['<', '>']) => (Some('T'), rest),
                _ if item.starts_with(['<', '>']) => (Some('U'), item),
                _ => (None, item),
            };
            match (kind, Bound::parse(rest)) {
                (Some('C'), Some(bound)) => query.created.push(bound),
                (Some('T'), Some(bound)) => query.topic.push(bound),
                (Some(_), Some(bound)) => query.users.push(bound),
                (Some(_), None) => {}
                (None, _) => match item.strip_prefix('!') {
                    Some("") => {}
                    Some(mask) => query.not.push(WildMatch::new(&room::fold(mask))),
                    None => query.names.push(WildMatch::new(&room::fold(item))),
                },
            }
        }
        query
    }

    /// Whether the channel `name` (with its `#`), as `room` describes it,
    /// is listed at `now` (ms since the epoch).
    pub fn admits(&self, name: &str, room: &RoomSummary, now: i64) -> bool {
        let folded = room::fold(name);
        let users = i64::try_from(room.members).unwrap_or(i64::MAX);
        (self.names.is_empty() || self.names.iter().any(|m| m.matches(&folded)))
            && !self.not.iter().any(|m| m.matches(&folded))
            && self.users.iter().all(|b| b.admits(users, 1))
            && self
                .created
                .iter()
                .all(|b| b.admits(now - room.created, MINUTE_MS))
            && self.topic.iter().all(|b| {
                room.topic_set_at
                    .is_some_and(|at| b.admits(now - at, MINUTE_MS))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 100 * MINUTE_MS;

    fn room(members: usize, created_min_ago: i64, topic_min_ago: Option<i64>) -> RoomSummary {
        RoomSummary {
            name: "x".into(),
            members,
            topic: String::new(),
            created: NOW - created_min_ago * MINUTE_MS,
            topic_set_at: topic_min_ago.map(|m| NOW - m * MINUTE_MS),
        }
    }

    fn admits(arg: &str, name: &str, r: &RoomSummary) -> bool {
        ListQuery::parse(arg).admits(name, r, NOW)
    }

    #[test]
    fn names_and_masks() {
        let r = room(1, 0, None);
        assert!(admits("", "#chan1", &r));
        assert!(admits("#Chan1", "#chan1", &r));
        assert!(admits("#a,#chan1", "#chan1", &r));
        assert!(!admits("#a,#b", "#chan1", &r));
        assert!(admits("*an1", "#chan1", &r));
        assert!(!admits("*an2", "#chan1", &r));
        assert!(admits("#c*n?", "#chan1", &r));
        assert!(!admits("!*an1", "#chan1", &r));
        assert!(admits("!*an2", "#chan1", &r));
        assert!(admits("!", "#chan1", &r));
    }

    #[test]
    fn user_counts() {
        let two = room(2, 0, None);
        assert!(admits(">1", "#c", &two));
        assert!(!admits(">2", "#c", &two));
        assert!(admits("<3", "#c", &two));
        assert!(!admits("<2", "#c", &two));
        assert!(admits(">1,<3", "#c", &two));
        assert!(admits(">x", "#c", &two), "unparsable filters are ignored");
    }

    #[test]
    fn creation_and_topic_times_in_minutes() {
        let old = room(1, 3, Some(3));
        let new = room(1, 1, None);
        assert!(admits("C>2", "#c", &old));
        assert!(!admits("C>2", "#c", &new));
        assert!(admits("C<2", "#c", &new));
        assert!(!admits("C<0", "#c", &new));
        assert!(admits("C>0", "#c", &new));
        assert!(admits("c<10", "#c", &old));
        assert!(admits("T>2", "#c", &old));
        assert!(!admits("T<2", "#c", &old));
        assert!(!admits("T<10", "#c", &new), "no topic, no topic time");
    }
}
