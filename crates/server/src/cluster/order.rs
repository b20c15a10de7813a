//! Where a route's entry falls in its order: next, already seen, or after
//! a gap that must be read from the route's stream first.
//!
//! Pub/sub delivers at most once and nothing while a subscription is
//! down; the route's sequence says what is missing. A new epoch means
//! Redis lost the route's state and numbers start again from 1.

/// What a node has delivered of one route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    epoch: Option<String>,
    last: u64,
}

/// What to do with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It is the next one: deliver it.
    Next,
    /// It was delivered already (read from the stream after a gap, then
    /// published late): drop it.
    Seen,
    /// Entries `from..=to` are missing: read them from the stream, then
    /// deliver this one.
    After {
        /// The first missing sequence number.
        from: u64,
        /// The last missing one.
        to: u64,
    },
}

impl Sequence {
    /// A route whose entries up to `last` in `epoch` were said before this
    /// node listened (a new subscription starts after what is there).
    pub fn after(epoch: Option<String>, last: u64) -> Self {
        Sequence { epoch, last }
    }

    /// Where entry `seq` of `epoch` falls. A new epoch starts the count
    /// again (what was delivered of the old one cannot come again).
    pub fn place(&mut self, seq: u64, epoch: &str) -> Verdict {
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_owned());
            self.last = 0;
        }
        if seq <= self.last {
            Verdict::Seen
        } else if seq == self.last + 1 {
            Verdict::Next
        } else {
            Verdict::After {
                from: self.last + 1,
                to: seq - 1,
            }
        }
    }

    /// Records that `seq` was delivered.
    pub fn delivered(&mut self, seq: u64) {
        self.last = self.last.max(seq);
    }

    /// The last entry delivered, and its epoch.
    pub fn last(&self) -> (Option<&str>, u64) {
        (self.epoch.as_deref(), self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_in_order_are_next_and_repeats_are_seen() {
        let mut seq = Sequence::after(Some("e".into()), 4);
        assert_eq!(seq.place(5, "e"), Verdict::Next);
        seq.delivered(5);
        assert_eq!(seq.place(5, "e"), Verdict::Seen);
        assert_eq!(seq.place(3, "e"), Verdict::Seen);
        assert_eq!(seq.place(6, "e"), Verdict::Next);
    }

    #[test]
    fn a_jump_names_the_missing_range() {
        let mut seq = Sequence::after(Some("e".into()), 4);
        assert_eq!(seq.place(8, "e"), Verdict::After { from: 5, to: 7 });
    }

    #[test]
    fn a_new_epoch_starts_from_one() {
        let mut seq = Sequence::after(Some("old".into()), 40);
        assert_eq!(seq.place(1, "new"), Verdict::Next);
        seq.delivered(1);
        assert_eq!(seq.place(3, "new"), Verdict::After { from: 2, to: 2 });
        let mut fresh = Sequence::default();
        assert_eq!(fresh.place(1, "e"), Verdict::Next);
    }
}
