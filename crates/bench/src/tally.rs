//! The arithmetic of a run: how many deliveries to expect, how many were
//! lost, and when to stop waiting for stragglers.
//!
//! Neither protocol echoes a message to its sender, so every message sent
//! into a room of `members` should reach `members - 1` others. Everything
//! here is a pure function of counts and times so it is tested on its own.

use std::time::Duration;

/// Deliveries a run should see: every sent message reaches every member of
/// the room but its sender.
pub fn expected_deliveries(sent: u64, members: u64) -> u64 {
    sent.saturating_mul(members.saturating_sub(1))
}

/// How the deliveries compare with what was expected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    /// Expected deliveries that never arrived.
    pub lost: u64,
    /// `lost` as a percentage of the expected deliveries (0 when none were expected).
    pub percent: f64,
    /// Deliveries beyond the expected number (duplicates, or a server that
    /// relays to more clients than were in the room).
    pub extra: u64,
}

/// Compares delivered with expected.
pub fn loss(expected: u64, delivered: u64) -> Loss {
    let lost = expected.saturating_sub(delivered);
    Loss {
        lost,
        percent: if expected == 0 {
            0.0
        } else {
            lost as f64 * 100.0 / expected as f64
        },
        extra: delivered.saturating_sub(expected),
    }
}

/// `count` per second over `elapsed` (0 over no time).
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// Why the wait for stragglers ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Everything expected so far has arrived.
    Complete,
    /// Nothing new arrived for the quiet period.
    Quiet,
    /// The cap on waiting was reached while deliveries still trickled in.
    Capped,
}

/// Decides, from periodic looks at the delivered count, when to stop
/// waiting for late deliveries once sending has ended.
#[derive(Debug, Clone)]
pub struct DrainWatch {
    quiet: Duration,
    cap: Duration,
    started: Duration,
    last_count: u64,
    last_change: Duration,
}

impl DrainWatch {
    /// Starts watching at `now` with `count` deliveries seen so far: stop
    /// after `quiet` without a new delivery, or `cap` after `now` at the latest.
    pub fn new(now: Duration, count: u64, quiet: Duration, cap: Duration) -> Self {
        DrainWatch {
            quiet,
            cap,
            started: now,
            last_count: count,
            last_change: now,
        }
    }

    /// Looks at the count again at `now`, when `expected` deliveries are due
    /// in total (known only once every sender has finished: `None` before).
    /// Returns why to stop, or `None` to keep waiting.
    pub fn check(&mut self, now: Duration, count: u64, expected: Option<u64>) -> Option<Drained> {
        if count != self.last_count {
            self.last_count = count;
            self.last_change = now;
        }
        if expected.is_some_and(|e| count >= e) {
            Some(Drained::Complete)
        } else if now.saturating_sub(self.last_change) >= self.quiet {
            Some(Drained::Quiet)
        } else if now.saturating_sub(self.started) >= self.cap {
            Some(Drained::Capped)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn expected_excludes_the_sender() {
        assert_eq!(expected_deliveries(40, 6), 200);
        assert_eq!(expected_deliveries(40, 1), 0);
        assert_eq!(expected_deliveries(40, 0), 0);
        assert_eq!(expected_deliveries(u64::MAX, 3), u64::MAX);
    }

    #[test]
    fn loss_counts_missing_and_extra_deliveries() {
        assert_eq!(
            loss(200, 180),
            Loss {
                lost: 20,
                percent: 10.0,
                extra: 0
            }
        );
        assert_eq!(
            loss(200, 203),
            Loss {
                lost: 0,
                percent: 0.0,
                extra: 3
            }
        );
        assert_eq!(loss(0, 0).percent, 0.0);
    }

    #[test]
    fn rate_over_elapsed_time() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }

    #[test]
    fn drain_stops_when_everything_arrived() {
        let mut w = DrainWatch::new(s(10), 50, s(1), s(30));
        assert_eq!(w.check(s(10), 80, None), None);
        assert_eq!(w.check(s(10), 99, Some(100)), None);
        assert_eq!(w.check(s(10), 100, Some(100)), Some(Drained::Complete));
    }

    #[test]
    fn drain_stops_after_a_quiet_second() {
        let mut w = DrainWatch::new(s(10), 50, s(1), s(30));
        assert_eq!(w.check(Duration::from_millis(10_500), 60, Some(100)), None);
        assert_eq!(w.check(Duration::from_millis(11_400), 60, Some(100)), None);
        assert_eq!(
            w.check(Duration::from_millis(11_500), 60, Some(100)),
            Some(Drained::Quiet)
        );
    }

    #[test]
    fn drain_is_capped_while_deliveries_trickle_in() {
        let mut w = DrainWatch::new(s(0), 0, s(1), Duration::from_millis(2500));
        let mut stopped = None;
        for (tick, count) in (1..10).map(|t| (Duration::from_millis(500 * t), t)) {
            stopped = w.check(tick, count, Some(1000));
            if stopped.is_some() {
                assert_eq!(tick, Duration::from_millis(2500));
                break;
            }
        }
        assert_eq!(stopped, Some(Drained::Capped));
    }
}
