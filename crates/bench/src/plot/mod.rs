//! Charts of bench reports as SVG files, so a run, a `--find-max` search
//! or a comparison of servers can be seen at a glance instead of read off
//! a table.
//!
//! - [`run_chart`]: one run second by second: latency p50, p99 and p99.9
//!   over time, with deliveries per second (and the offered rate) on a
//!   second axis. It needs the report's [`Timeline`](crate::timeline::Timeline).
//! - [`find_max_chart`]: a `--find-max` search step by step: p99 against
//!   the clean threshold, and delivered against offered deliveries per
//!   second.
//! - [`comparison_chart`]: several recorded reports, p99 against offered
//!   load on logarithmic axes, one line per series: how latency grows with
//!   load and where each server falls over.
//!
//! Charts are drawn by plotters' SVG backend, which writes text as SVG
//! `<text>` elements: no font files, no system libraries, no browser. Each
//! function returns the SVG document as a string; [`load`] reads a
//! recorded `--json` report back.

mod comparison;
mod error;
mod find_max_chart;
mod input;
mod run_chart;
#[cfg(test)]
mod samples;
mod style;

pub use comparison::comparison_chart;
pub use error::PlotError;
pub use find_max_chart::find_max_chart;
pub use input::{Recorded, labelled, load, parse};
pub use run_chart::run_chart;
