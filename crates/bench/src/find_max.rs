//! `--find-max`: the highest offered rate the server handles cleanly.
//!
//! Each step is a complete short run (fresh connections, fresh nicknames)
//! at one rate per sender. Starting from `--rate`, the rate doubles while
//! steps are clean and halves while they are not; once there is a clean
//! rate below an unclean one, the gap is bisected until the two are within
//! [`FindMax::precision`] of each other. A step is clean when nothing was
//! lost, nobody was dropped or failed to connect, the bench sent all it
//! offered, and p99 latency stayed within [`FindMax::max_p99`].

use std::time::Duration;

use crate::config::Config;
use crate::error::BenchError;
use crate::report::{self, FindMaxReport, Report, Step, Verdict};
use crate::run::run;
use crate::schedule;

/// How the search goes.
#[derive(Debug, Clone, Copy)]
pub struct FindMax {
    /// The p99 latency a clean step stays within.
    pub max_p99: Duration,
    /// Stop when the lowest unclean rate is at most this factor above the
    /// highest clean one (1.1 = within 10 %).
    pub precision: f64,
    /// The most steps to run.
    pub max_steps: u32,
}

impl Default for FindMax {
    /// p99 within 50 ms, 10 % precision, at most 12 steps.
    fn default() -> Self {
        FindMax {
            max_p99: Duration::from_millis(50),
            precision: 1.1,
            max_steps: 12,
        }
    }
}

/// Whether a step's report meets the bar, and if not the first reason why.
pub fn verdict(report: &Report, max_p99_us: u64) -> Verdict {
    if report.failed > 0 {
        Verdict::ConnectFailed {
            failed: report.failed,
        }
    } else if report.lost > 0 {
        Verdict::Loss { lost: report.lost }
    } else if report.dropped > 0 {
        Verdict::Dropped {
            clients: report.dropped,
        }
    } else if report.shortfall > 0 {
        Verdict::Shortfall {
            missing: report.shortfall,
        }
    } else if report.latency.p99_us > max_p99_us {
        Verdict::SlowP99 {
            p99_us: report.latency.p99_us,
        }
    } else {
        Verdict::Clean
    }
}

/// The rate to try next, given the highest clean rate and the lowest
/// unclean rate so far; `None` when the search is over: the two are within
/// `precision`, or halving would offer no message in `duration`.
pub fn next_rate(
    start: f64,
    clean: Option<f64>,
    unclean: Option<f64>,
    precision: f64,
    duration: Duration,
) -> Option<f64> {
    let next = match (clean, unclean) {
        (None, None) => start,
        (Some(lo), None) => lo * 2.0,
        (None, Some(hi)) => hi / 2.0,
        (Some(lo), Some(hi)) => {
            if hi <= lo * precision {
                return None;
            }
            (lo + hi) / 2.0
        }
    };
    (schedule::offered(next, duration) > 0).then_some(next)
}

/// Runs the search and reports every step.
pub async fn find_max(config: &Config, search: FindMax) -> Result<FindMaxReport, BenchError> {
    config.check_messaging()?;
    if !(search.precision.is_finite() && search.precision > 1.0) {
        return Err(BenchError::Invalid(
            "the find-max precision must be a factor above 1".to_owned(),
        ));
    }
    let max_p99_us = u64::try_from(search.max_p99.as_micros()).unwrap_or(u64::MAX);
    let mut steps: Vec<Step> = Vec::new();
    let (mut clean, mut unclean): (Option<f64>, Option<f64>) = (None, None);
    while steps.len() < search.max_steps as usize {
        let Some(rate) = next_rate(
            config.rate,
            clean,
            unclean,
            search.precision,
            config.duration,
        ) else {
            break;
        };
        let mut step_config = config.clone();
        step_config.rate = rate;
        let offered = report::rate(step_config.planned_deliveries_per_s());
        step_config.progress_label = format!(
            "step {} of up to {}, {offered} deliveries/s offered: ",
            steps.len() + 1,
            search.max_steps
        );
        let report = run(&step_config).await?;
        let verdict = verdict(&report, max_p99_us);
        tracing::info!(rate, %verdict, "find-max step");
        if config.progress {
            // What the step came to, kept on the screen once its bars are
            // cleared, so a long search shows its course.
            let outcome = match verdict {
                Verdict::SlowP99 { .. } => verdict.to_string(),
                _ => format!(
                    "{verdict}, p99 {}",
                    report::micros(report.latency.p99_us as f64)
                ),
            };
            eprintln!(
                "step {}: {rate} msg/s per sender, {offered} deliveries/s offered: {outcome}",
                steps.len() + 1
            );
        }
        if verdict == Verdict::Clean {
            clean = Some(clean.map_or(rate, |c| c.max(rate)));
        } else {
            unclean = Some(unclean.map_or(rate, |u| u.min(rate)));
        }
        steps.push(Step {
            rate,
            verdict,
            report,
        });
    }
    let best = clean.and_then(|rate| steps.iter().find(|s| s.rate == rate));
    Ok(FindMaxReport {
        max_p99_us,
        best_rate: clean,
        best_offered_deliveries_per_s: best.map(|s| s.report.offered_deliveries_per_s),
        best_delivered_per_s: best.map(|s| s.report.delivered_per_s),
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_while_clean_then_bisects() {
        assert_eq!(next_rate(10.0, None, None, 1.1, D), Some(10.0));
        assert_eq!(next_rate(10.0, Some(10.0), None, 1.1, D), Some(20.0));
        assert_eq!(next_rate(10.0, Some(20.0), Some(40.0), 1.1, D), Some(30.0));
        assert_eq!(next_rate(10.0, Some(20.0), Some(22.5), 1.1, D), Some(21.25));
        assert_eq!(next_rate(10.0, Some(20.0), Some(21.25), 1.1, D), None);
    }

    #[test]
    fn halves_while_unclean_until_nothing_is_offered() {
        assert_eq!(next_rate(10.0, None, Some(10.0), 1.1, D), Some(5.0));
        assert_eq!(next_rate(10.0, None, Some(2.0), 1.1, D), Some(1.0));
        assert_eq!(next_rate(10.0, None, Some(1.0), 1.1, D), None);
    }

    #[test]
    fn the_search_converges() {
        // A server that is clean up to 1234 msg/s per sender.
        let (mut clean, mut unclean) = (None, None);
        let mut steps = 0;
        while let Some(rate) = next_rate(100.0, clean, unclean, 1.05, D) {
            steps += 1;
            if rate <= 1234.0 {
                clean = Some(rate);
            } else {
                unclean = Some(rate);
            }
        }
        let (lo, hi) = (clean.unwrap(), unclean.unwrap());
        assert!(lo <= 1234.0 && 1234.0 < hi && hi <= lo * 1.05, "{lo} {hi}");
        assert!(steps < 12, "{steps}");
    }
}
