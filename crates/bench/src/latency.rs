//! Latency histograms: one per worker thread, merged for the report.
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
//! Values are microseconds from 1 µs to [`MAX_LATENCY_US`] at three
//! significant digits; anything slower is recorded as the maximum (the
//! report's `max` then reads 60 s, which says enough).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use hdrhistogram::{Counter, Histogram};
use serde::Serialize;

/// The slowest latency told apart, in microseconds (60 s).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// Significant decimal digits kept (0.1 % resolution).
const SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram of latencies in microseconds.
pub type RunHistogram = Histogram<u64>;

/// How many shards a run has: more than the worker threads of any runtime
/// the bench runs on, so each thread has its own.
const SHARDS: usize = 16;

/// Latency histograms, one per thread that records.
#[derive(Debug)]
pub struct Shards {
    shards: Box<[Mutex<RunHistogram>]>,
}

impl Default for Shards {
    fn default() -> Self {
        Shards {
            shards: (0..SHARDS).map(|_| Mutex::new(new_histogram())).collect(),
        }
    }
}

impl Shards {
    /// Runs `record` with the calling thread's histogram.
    pub fn with_local<R>(&self, record: impl FnOnce(&mut RunHistogram) -> R) -> R {
        let shard = &self.shards[thread_slot() % self.shards.len()];
        // A panic while recording leaves a histogram that is still valid.
        let mut histogram = shard.lock().unwrap_or_else(PoisonError::into_inner);
        record(&mut histogram)
    }

    /// All shards added up.
    pub fn merged(&self) -> RunHistogram {
        let mut all = new_histogram();
        for shard in self.shards.iter() {
            merge(
                &mut all,
                &shard.lock().unwrap_or_else(PoisonError::into_inner),
            );
        }
        all
    }
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

/// Adds every value of `from` to `into` (both made by [`new_histogram`];
/// `from` may count in a narrower type).
pub fn merge<T: Counter>(into: &mut RunHistogram, from: &Histogram<T>) {
    for value in from.iter_recorded() {
        into.saturating_record_n(value.value_iterated_to(), value.count_at_value().as_u64());
    }
}

/// The latency figures of a report, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
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
                        shards.with_local(|h| record(h, t * 250 + us));
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
}
