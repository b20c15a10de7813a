//! Why a chart could not be drawn.

use std::path::PathBuf;

use thiserror::Error;

/// A report that could not be read or charted.
#[derive(Debug, Error)]
pub enum PlotError {
    /// The report file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The report file holds nothing.
    #[error("{} is empty: expected the --json report of `chatroom bench`", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a report of a message run or a `--find-max` search.
    #[error("{} is not a `chatroom bench --json` report: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// There is nothing in the report to draw (no delivery, no step, no
    /// timeline).
    #[error("nothing to plot: {0}")]
    Nothing(String),
    /// The chart could not be drawn.
    #[error("cannot draw the chart: {0}")]
    Draw(String),
}

impl PlotError {
    /// A drawing error from plotters.
    pub(crate) fn draw(e: impl std::fmt::Display) -> Self {
        PlotError::Draw(e.to_string())
    }
}
