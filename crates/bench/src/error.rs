//! Why a bench run could not produce a report.

use std::time::Duration;

use thiserror::Error;

use crate::procstat::ProcError;

/// A run that could not be carried out (a run that completed with losses
/// is not an error: it is a report).
#[derive(Debug, Error)]
pub enum BenchError {
    /// The settings make no sense (the message names the flag).
    #[error("invalid settings: {0}")]
    Invalid(String),
    /// The server address could not be resolved.
    #[error("cannot resolve {server}: {reason}")]
    Resolve {
        /// The address as given.
        server: String,
        /// What went wrong.
        reason: String,
    },
    /// Not one client got in.
    #[error("no client could connect, log in and join: {0}")]
    NoneConnected(String),
    /// The run passed its global deadline (a phase hung).
    #[error("the run did not finish within its deadline of {0:?}")]
    Deadline(Duration),
    /// The bench's own figures could not be read.
    #[error("cannot read the bench's own CPU time: {0}")]
    OwnStats(ProcError),
    /// The history store (filling, or counting a data directory) failed.
    #[error("history store: {0}")]
    Store(#[from] chatroom_server::store::StoreError),
    /// A step of the history benchmark failed (the message says which).
    #[error("history benchmark: {0}")]
    History(String),
    /// The server's figures could not be read (is `--server-pid` a running
    /// local process?).
    #[error("cannot measure server process {pid}: {source}")]
    ServerStats {
        /// The process id given.
        pid: u32,
        /// What went wrong.
        source: ProcError,
    },
}
