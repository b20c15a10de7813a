//! Latency histograms: one per worker thread, merged for the report, and
//! one per second of the run for its timeline.
//!
//! Readers record into the [`Shards`] entry of the thread they run on, one
//! lock per read (never contended: a thread only ever takes its own shard)
//! and no shared cache line written by two threads; at the end the shards
//! are added up with [`merge`]. One histogram per *connection* was the
//! first design, and profiling a 1,000-client run at 2 million deliveries/s
//! showed recording then cost 23 % of the bench's CPU: a thousand 72 KiB
//! histograms do not stay in cache, so nearly every record missed. With a
//! few per-thread histograms they stay hot.
//!
//! Each shard's histogram holds only the current interval
//! ([`TIMELINE_INTERVAL`], counted from the run's first slot). The first
//! read of a thread in a new interval folds that histogram into the
//! thread's total and into the run's per-interval histograms, then resets
//! it: one fold per thread per second, nothing allocated per delivery, and
//! still one record per delivery. The per-interval histograms keep two
//! significant digits (a timeline shows a shape; the run's own percentiles
//! keep three), so a long run costs about 10 KiB a second.
//!
//! Values are microseconds from 1 µs to [`MAX_LATENCY_US`] at three
//! significant digits; anything slower is recorded as the maximum (the
//! report's `max` then reads 60 s, which says enough).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::{Counter, Histogram};
use serde::{Deserialize, Serialize};

use crate::timeline::Timeline;

/// The slowest latency told apart, in microseconds (60 s).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// Significant decimal digits kept (0.1 % resolution).
const SIGNIFICANT_DIGITS: u8 = 3;

/// Significant decimal digits of the per-interval histograms (1 %).
const INTERVAL_SIGNIFICANT_DIGITS: u8 = 2;

/// How much of the run each point of its timeline covers.
pub const TIMELINE_INTERVAL: Duration = Duration::from_secs(1);

/// A histogram of latencies in microseconds.
pub type RunHistogram = Histogram<u64>;

/// The latencies of one interval of the timeline, all threads together.
pub type IntervalHistogram = Histogram<u32>;

/// How many shards a run has: more than the worker threads of any runtime
/// the bench runs on, so each thread has its own.
const SHARDS: usize = 16;

/// One thread's histograms.
#[derive(Debug)]
struct Shard {
    /// The interval `current` belongs to.
    interval: u64,
    /// What this thread recorded in that interval.
    current: RunHistogram,
    /// What this thread recorded in the intervals before.
    earlier: RunHistogram,
}

/// Latency histograms, one per thread that records, and the run's
/// per-interval histograms.
#[derive(Debug)]
pub struct Shards {
    /// Where interval 0 starts, in the caller's microseconds (the run's
    /// first slot, once it is known).
    origin_us: AtomicU64,
    shards: Box<[Mutex<Shard>]>,
    intervals: Mutex<BTreeMap<u64, IntervalHistogram>>,
}

impl Default for Shards {
    fn default() -> Self {
        Shards {
            origin_us: AtomicU64::new(0),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        interval: 0,
                        current: new_histogram(),
                        earlier: new_histogram(),
                    })
                })
                .collect(),
            intervals: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Shards {
    /// Counts the timeline's intervals from `origin_us` (the same clock as
    /// the `now_us` given to [`Shards::with_local`]).
    pub fn set_origin(&self, origin_us: u64) {
        self.origin_us.store(origin_us, Ordering::Relaxed);
    }

    /// Runs `record` with the calling thread's histogram for the interval
    /// that `now_us` falls in.
    pub fn with_local<R>(&self, now_us: u64, record: impl FnOnce(&mut RunHistogram) -> R) -> R {
        let interval = interval_of(now_us, self.origin_us.load(Ordering::Relaxed));
        let shard = &self.shards[thread_slot() % self.shards.len()];
        // A panic while recording leaves a histogram that is still valid.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if shard.interval != interval {
            let shard = &mut *shard;
            if !shard.current.is_empty() {
                merge(&mut shard.earlier, &shard.current);
                self.fold_interval(shard.interval, &shard.current);
                shard.current.reset();
            }
            shard.interval = interval;
        }
        record(&mut shard.current)
    }

    /// Adds `histogram` to the run's histogram of `interval`.
    fn fold_interval(&self, interval: u64, histogram: &RunHistogram) {
        let mut intervals = self
            .intervals
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let into = intervals
            .entry(interval)
            .or_insert_with(new_interval_histogram);
        merge_into_interval(into, histogram);
    }

    /// All shards added up.
    pub fn merged(&self) -> RunHistogram {
        let mut all = new_histogram();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            merge(&mut all, &shard.earlier);
            merge(&mut all, &shard.current);
        }
        all
    }

    /// Deliveries and latency interval by interval, from interval 0 to the
    /// last one with a delivery.
    pub fn timeline(&self) -> Timeline {
        let mut intervals = self
            .intervals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            if !shard.current.is_empty() {
                let into = intervals
                    .entry(shard.interval)
                    .or_insert_with(new_interval_histogram);
                merge_into_interval(into, &shard.current);
            }
        }
        Timeline::of(&intervals, TIMELINE_INTERVAL)
    }
}

/// The interval `now_us` falls in when interval 0 starts at `origin_us`
/// (interval 0 for anything before it).
fn interval_of(now_us: u64, origin_us: u64) -> u64 {
    let interval_us = u64::try_from(TIMELINE_INTERVAL.as_micros()).unwrap_or(u64::MAX);
    now_us.saturating_sub(origin_us) / interval_us
}

/// A small number for the calling thread, different for each thread that
/// asks (until it wraps around at `usize::MAX`).
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|slot| *slot)
}

/// An empty histogram covering 1 µs to [`MAX_LATENCY_US`].
pub fn new_histogram<T: Counter>() -> Histogram<T> {
    // The bounds are constants that satisfy hdrhistogram's rules (low >= 1,
    // high >= 2 * low, sigfig <= 5), so creation cannot fail.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Records one latency, clamping values beyond the histogram's range.
pub fn record<T: Counter>(histogram: &mut Histogram<T>, latency_us: u64) {
    histogram.saturating_record(latency_us);
}

/// An empty per-interval histogram covering 1 µs to [`MAX_LATENCY_US`].
pub fn new_interval_histogram() -> IntervalHistogram {
    // Constant bounds that satisfy hdrhistogram's rules, as above.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, INTERVAL_SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Adds every value of `from` to `into` (both made by [`new_histogram`];
/// `from` may count in a narrower type).
pub fn merge<T: Counter>(into: &mut RunHistogram, from: &Histogram<T>) {
    for value in from.iter_recorded() {
        into.saturating_record_n(value.value_iterated_to(), value.count_at_value().as_u64());
    }
}

/// Adds every value of `from` to a per-interval histogram, at its coarser
/// resolution.
pub fn merge_into_interval(into: &mut IntervalHistogram, from: &RunHistogram) {
    for value in from.iter_recorded() {
        let count = u32::try_from(value.count_at_value()).unwrap_or(u32::MAX);
        into.saturating_record_n(value.value_iterated_to(), count);
    }
}

/// The latency figures of a report, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// How many latencies were recorded (one per delivery).
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// The slowest delivery.
    pub max_us: u64,
    /// The mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// Summarises a histogram; all zero when it is empty.
    pub fn of(histogram: &RunHistogram) -> Self {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.50),
            p90_us: histogram.value_at_quantile(0.90),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_adds_counts_and_keeps_percentiles() {
        let mut a: Histogram<u32> = new_histogram();
        let mut b: Histogram<u32> = new_histogram();
        for us in 1..=900 {
            record(&mut a, us);
        }
        for us in 901..=1000 {
            record(&mut b, us);
        }
        let mut run: RunHistogram = new_histogram();
        merge(&mut run, &a);
        merge(&mut run, &b);
        let summary = LatencySummary::of(&run);
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.p50_us, 500);
        assert_eq!(summary.p90_us, 900);
        assert_eq!(summary.p99_us, 990);
        assert_eq!(summary.max_us, 1000);
        assert!((summary.mean_us - 500.5).abs() < 1.0, "{summary:?}");
    }

    #[test]
    fn merging_an_empty_histogram_changes_nothing() {
        let mut run: RunHistogram = new_histogram();
        merge(&mut run, &new_histogram::<u32>());
        assert_eq!(LatencySummary::of(&run), LatencySummary::default());
    }

    #[test]
    fn values_past_the_range_are_clamped_not_lost() {
        let mut h: RunHistogram = new_histogram();
        record(&mut h, 0);
        record(&mut h, 10 * MAX_LATENCY_US);
        let mut run: RunHistogram = new_histogram();
        merge(&mut run, &h);
        let summary = LatencySummary::of(&run);
        assert_eq!(summary.count, 2);
        assert!(summary.max_us >= MAX_LATENCY_US, "{summary:?}");
    }

    #[test]
    fn shards_merge_what_every_thread_recorded() {
        let shards = std::sync::Arc::new(Shards::default());
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let shards = std::sync::Arc::clone(&shards);
                std::thread::spawn(move || {
                    for us in 1..=250 {
                        shards.with_local(0, |h| record(h, t * 250 + us));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let summary = LatencySummary::of(&shards.merged());
        assert_eq!(summary.count, 1000);
        assert_eq!(summary.p50_us, 500);
        assert_eq!(summary.max_us, 1000);
    }

    #[test]
    fn large_values_keep_three_significant_digits() {
        let mut h: RunHistogram = new_histogram();
        record(&mut h, 12_345_678);
        let mut run: RunHistogram = new_histogram();
        merge(&mut run, &h);
        let max = LatencySummary::of(&run).max_us;
        assert!((12_330_000..=12_360_000).contains(&max), "{max}");
    }

    #[test]
    fn each_read_lands_in_the_interval_of_its_time() {
        let shards = Shards::default();
        // The run's first slot is 5 s into the epoch.
        shards.set_origin(5_000_000);
        shards.with_local(5_100_000, |h| record(h, 1_000));
        shards.with_local(5_900_000, |h| record(h, 1_000));
        // Nothing in the second interval; the third has the slow ones.
        shards.with_local(7_000_000, |h| record(h, 40_000));
        shards.with_local(7_500_000, |h| record(h, 40_000));
        let timeline = shards.timeline();
        assert_eq!(timeline.delivered, vec![2, 0, 2]);
        assert!(
            matches!(timeline.p50_us[0], Some(990..=1_010)),
            "{timeline:?}"
        );
        assert_eq!(timeline.p50_us[1], None);
        assert!(
            matches!(timeline.p99_us[2], Some(39_500..=40_500)),
            "{timeline:?}"
        );
        // The run's histogram has every delivery at full resolution.
        let summary = LatencySummary::of(&shards.merged());
        assert_eq!(summary.count, 4);
        assert_eq!(summary.p50_us, 1_000);
        assert!((40_000..40_050).contains(&summary.max_us), "{summary:?}");
    }

    #[test]
    fn threads_in_different_intervals_add_up_per_interval() {
        let shards = std::sync::Arc::new(Shards::default());
        let threads: Vec<_> = (0..3u64)
            .map(|t| {
                let shards = std::sync::Arc::clone(&shards);
                std::thread::spawn(move || {
                    // Every thread records 10 in interval 0 and t + 1 in
                    // interval 1, and never reads again afterwards.
                    for _ in 0..10 {
                        shards.with_local(200_000, |h| record(h, 500));
                    }
                    for _ in 0..=t {
                        shards.with_local(1_200_000, |h| record(h, 700));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(shards.timeline().delivered, vec![30, 6]);
        assert_eq!(shards.merged().len(), 36);
        // Looking does not change what is there.
        assert_eq!(shards.timeline().delivered, vec![30, 6]);
    }
}
