//! When each sender sends: an open-loop schedule driven by the clock.
//!
//! A sender at R messages/s owns the slots `start + (k + phase) / R` for
//! `k` in `0..floor(R x duration)`; `phase` in `[0, 1)` spreads the senders
//! over one interval so they do not all fire at the same instant. Sends
//! never wait for replies. When the sender wakes up late (timer jitter, a
//! busy machine, a socket the server stopped reading), every slot that came
//! due is sent at once in one write, except slots more than
//! [`MAX_SEND_LAG`] in the past: those are given up and counted as the
//! shortfall between what was offered and what was actually sent. All times
//! are offsets from the run's epoch, so this module is pure arithmetic.

use std::ops::Range;
use std::time::Duration;

/// How late a slot may be sent before it is given up. Up to this, lateness
/// is timer jitter and shows in the send-lag figures; beyond it the sender
/// has fallen behind and the slot is not offered.
pub const MAX_SEND_LAG: Duration = Duration::from_millis(100);

/// One sender's slots.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// When slot 0 would be at phase 0.
    start: Duration,
    /// Messages per second.
    rate: f64,
    /// Fraction of an interval this sender is shifted by.
    phase: f64,
    /// Number of slots.
    total: u64,
}

impl Schedule {
    /// `rate` messages/s for `duration` from `start`, shifted by `phase`
    /// (taken modulo 1) of an interval. A rate that is not positive and
    /// finite gives no slots.
    pub fn new(start: Duration, rate: f64, duration: Duration, phase: f64) -> Self {
        let total = offered(rate, duration);
        Schedule {
            start,
            rate: if total == 0 { 1.0 } else { rate },
            phase: phase.rem_euclid(1.0),
            total,
        }
    }

    /// How many messages this sender offers.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// When slot `k` is due (for any `k`, even past the end).
    pub fn slot_time(&self, k: u64) -> Duration {
        self.start + Duration::from_secs_f64((k as f64 + self.phase) / self.rate)
    }

    /// How many slots are due at `now`: the first slot not yet due, or
    /// [`Schedule::total`] when all are.
    pub fn due(&self, now: Duration) -> u64 {
        if now < self.start {
            return 0;
        }
        let estimate = ((now - self.start).as_secs_f64() * self.rate - self.phase).floor() + 1.0;
        let mut k = estimate.clamp(0.0, self.total as f64) as u64;
        // Float rounding can be one off either way; settle on slot_time.
        while k < self.total && self.slot_time(k) <= now {
            k += 1;
        }
        while k > 0 && self.slot_time(k - 1) > now {
            k -= 1;
        }
        k
    }

    /// What to do on waking at `now` when slots before `next` were already
    /// handled: which slots to send now and how many to give up.
    pub fn plan(&self, next: u64, now: Duration, max_lag: Duration) -> Plan {
        let due = self.due(now).max(next);
        let first = match now.checked_sub(max_lag) {
            Some(oldest_allowed) => self.count_before(oldest_allowed).clamp(next, due),
            None => next,
        };
        Plan {
            missed: first - next,
            send: first..due,
        }
    }

    /// How many slots are strictly before `t`.
    fn count_before(&self, t: Duration) -> u64 {
        let mut k = self.due(t);
        while k > 0 && self.slot_time(k - 1) >= t {
            k -= 1;
        }
        k
    }
}

/// What a sender does when it wakes up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Slots too late to send: offered but not sent.
    pub missed: u64,
    /// Slots to send now, in one write.
    pub send: Range<u64>,
}

/// Messages one sender offers at `rate` per second for `duration`:
/// `floor(rate x duration)`, 0 for a rate that is not positive and finite.
pub fn offered(rate: f64, duration: Duration) -> u64 {
    if !(rate.is_finite() && rate > 0.0) {
        return 0;
    }
    (rate * duration.as_secs_f64()).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn offered_is_rate_times_duration_rounded_down() {
        assert_eq!(offered(20.0, Duration::from_secs(1)), 20);
        assert_eq!(offered(2.5, Duration::from_secs(3)), 7);
        assert_eq!(offered(0.0, Duration::from_secs(3)), 0);
        assert_eq!(offered(f64::NAN, Duration::from_secs(3)), 0);
        assert_eq!(offered(-1.0, Duration::from_secs(3)), 0);
    }

    #[test]
    fn slots_are_evenly_spaced_and_shifted_by_the_phase() {
        let s = Schedule::new(ms(1000), 10.0, Duration::from_secs(1), 0.5);
        assert_eq!(s.total(), 10);
        assert_eq!(s.slot_time(0), ms(1050));
        assert_eq!(s.slot_time(1), ms(1150));
        assert_eq!(s.slot_time(9), ms(1950));
    }

    #[test]
    fn due_counts_slots_whose_time_has_come() {
        let s = Schedule::new(ms(1000), 10.0, Duration::from_secs(1), 0.0);
        assert_eq!(s.due(ms(0)), 0);
        assert_eq!(s.due(ms(999)), 0);
        assert_eq!(s.due(ms(1000)), 1);
        assert_eq!(s.due(ms(1099)), 1);
        assert_eq!(s.due(ms(1100)), 2);
        assert_eq!(s.due(ms(5000)), 10);
    }

    #[test]
    fn an_on_time_wakeup_sends_one_slot() {
        let s = Schedule::new(ms(0), 10.0, Duration::from_secs(1), 0.0);
        let plan = s.plan(3, ms(301), MAX_SEND_LAG);
        assert_eq!(
            plan,
            Plan {
                missed: 0,
                send: 3..4
            }
        );
    }

    #[test]
    fn a_slightly_late_wakeup_catches_up_in_one_batch() {
        let s = Schedule::new(ms(0), 100.0, Duration::from_secs(1), 0.0);
        // Slots every 10 ms; woke at 45 ms having sent slots 0 and 1.
        let plan = s.plan(2, ms(45), MAX_SEND_LAG);
        assert_eq!(
            plan,
            Plan {
                missed: 0,
                send: 2..5
            }
        );
    }

    #[test]
    fn slots_older_than_the_lag_limit_are_given_up() {
        let s = Schedule::new(ms(0), 100.0, Duration::from_secs(1), 0.0);
        // Woke at 500 ms with slots 0..50 unsent: 0..40 are older than 400 ms.
        let plan = s.plan(0, ms(500), ms(100));
        assert_eq!(
            plan,
            Plan {
                missed: 40,
                send: 40..51
            }
        );
        // After the last slot nothing more is sent or missed.
        let plan = s.plan(100, ms(5000), ms(100));
        assert_eq!(
            plan,
            Plan {
                missed: 0,
                send: 100..100
            }
        );
    }

    #[test]
    fn a_run_of_on_time_wakeups_sends_everything_once() {
        let s = Schedule::new(ms(10), 7.0, Duration::from_secs(2), 0.3);
        let mut next = 0;
        let mut sent = 0;
        while next < s.total() {
            let now = s.slot_time(next);
            let plan = s.plan(next, now, MAX_SEND_LAG);
            assert_eq!(plan.missed, 0);
            sent += plan.send.end - plan.send.start;
            next = plan.send.end;
        }
        assert_eq!(sent, 14);
    }
}
