//! A run second by second: how many deliveries arrived in each interval
//! and how late they were, so a chart (or a script) can show how latency
//! and throughput moved during the run rather than only its totals.
//!
//! The report keeps it in columns (one array per figure, one entry per
//! interval), which stays compact in `--json`: a 10-second run adds four
//! arrays of about a dozen numbers.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::latency::IntervalHistogram;

/// Deliveries and latency percentiles per interval of a run, counted from
/// its first slot: entry `i` covers `[i, i + 1) x interval_s` seconds.
/// Every array has one entry per interval, up to the last interval in
/// which anything was delivered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Seconds each entry covers.
    pub interval_s: f64,
    /// Deliveries that arrived in the interval.
    pub delivered: Vec<u64>,
    /// Median latency of those deliveries, microseconds (`null` when none arrived).
    pub p50_us: Vec<Option<u64>>,
    /// 99th percentile, microseconds.
    pub p99_us: Vec<Option<u64>>,
    /// 99.9th percentile, microseconds.
    pub p999_us: Vec<Option<u64>>,
}

impl Timeline {
    /// The timeline of per-interval histograms keyed by interval number.
    pub fn of(intervals: &BTreeMap<u64, IntervalHistogram>, interval: Duration) -> Timeline {
        let last = intervals
            .iter()
            .rev()
            .find(|(_, h)| !h.is_empty())
            .map(|(&i, _)| i);
        let mut timeline = Timeline {
            interval_s: interval.as_secs_f64(),
            ..Timeline::default()
        };
        let Some(last) = last else {
            return timeline;
        };
        for i in 0..=last {
            let histogram = intervals.get(&i).filter(|h| !h.is_empty());
            let at = |q: f64| histogram.map(|h| h.value_at_quantile(q));
            timeline.delivered.push(histogram.map_or(0, |h| h.len()));
            timeline.p50_us.push(at(0.50));
            timeline.p99_us.push(at(0.99));
            timeline.p999_us.push(at(0.999));
        }
        timeline
    }

    /// How many intervals it holds.
    pub fn len(&self) -> usize {
        self.delivered.len()
    }

    /// Whether it holds no interval (nothing was delivered, or the report
    /// predates timelines).
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty()
    }

    /// When entry `i` starts, in seconds from the first slot.
    pub fn start_s(&self, i: usize) -> f64 {
        i as f64 * self.interval_s
    }

    /// How many seconds of interval `i` the run measured: all of it, but
    /// for the last, which ends with the window (`window_s` from the first
    /// slot). An interval wholly after the window (deliveries read while
    /// the run was stopping) counts as whole.
    fn measured_s(&self, i: usize, window_s: f64) -> f64 {
        let covered = (window_s - self.start_s(i)).clamp(0.0, self.interval_s);
        if covered > 0.0 {
            covered
        } else {
            self.interval_s
        }
    }

    /// Deliveries per second in each interval, over its measured part.
    pub fn delivered_per_s(&self, window_s: f64) -> Vec<f64> {
        self.delivered
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                let seconds = self.measured_s(i, window_s);
                if seconds > 0.0 {
                    count as f64 / seconds
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The middle of each interval's measured part, in seconds from the
    /// first slot: where a chart places its point.
    pub fn midpoints_s(&self, window_s: f64) -> Vec<f64> {
        (0..self.len())
            .map(|i| self.start_s(i) + self.measured_s(i, window_s) / 2.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::new_interval_histogram;

    fn histogram(values: &[u64]) -> IntervalHistogram {
        let mut h = new_interval_histogram();
        for &v in values {
            h.saturating_record(v);
        }
        h
    }

    #[test]
    fn one_entry_per_interval_up_to_the_last_delivery() {
        let mut intervals = BTreeMap::new();
        intervals.insert(0, histogram(&[1_000, 2_000, 3_000]));
        // Interval 1 saw nothing; interval 3 only an empty histogram.
        intervals.insert(2, histogram(&[10_000]));
        intervals.insert(3, new_interval_histogram());
        let t = Timeline::of(&intervals, Duration::from_secs(1));
        assert_eq!(t.interval_s, 1.0);
        assert_eq!(t.delivered, vec![3, 0, 1]);
        assert_eq!(t.p50_us[1], None);
        assert!(matches!(t.p50_us[0], Some(1_990..=2_010)), "{t:?}");
        assert!(matches!(t.p99_us[2], Some(9_900..=10_100)), "{t:?}");
        assert_eq!(t.len(), 3);
        assert_eq!((t.p99_us.len(), t.p999_us.len()), (3, 3));
    }

    #[test]
    fn nothing_delivered_is_an_empty_timeline() {
        let t = Timeline::of(&BTreeMap::new(), Duration::from_secs(1));
        assert!(t.is_empty());
        assert!(t.delivered_per_s(5.0).is_empty());
    }

    #[test]
    fn the_last_interval_counts_only_its_measured_part() {
        let t = Timeline {
            interval_s: 1.0,
            delivered: vec![1000, 1000, 250],
            p50_us: vec![Some(1); 3],
            p99_us: vec![Some(1); 3],
            p999_us: vec![Some(1); 3],
        };
        assert_eq!(t.delivered_per_s(2.25), vec![1000.0, 1000.0, 1000.0]);
        // A window that ended before an interval (deliveries read while
        // the run was stopping) counts it as a whole interval.
        assert_eq!(t.delivered_per_s(1.0), vec![1000.0, 1000.0, 250.0]);
        assert_eq!(t.start_s(2), 2.0);
        // Points sit in the middle of what was measured.
        assert_eq!(t.midpoints_s(2.25), vec![0.5, 1.5, 2.125]);
    }

    #[test]
    fn serialises_as_columns() {
        let t = Timeline {
            interval_s: 1.0,
            delivered: vec![5, 0],
            p50_us: vec![Some(800), None],
            p99_us: vec![Some(900), None],
            p999_us: vec![Some(950), None],
        };
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "interval_s": 1.0,
                "delivered": [5, 0],
                "p50_us": [800, null],
                "p99_us": [900, null],
                "p999_us": [950, null],
            })
        );
        let back: Timeline = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }
}
