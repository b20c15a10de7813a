//! Errors that end a run, and the process exit codes they map to.
//!
//! Scripts use netassist as a stand-in peer, so the exit code has to say *why* a
//! run ended: the numbers below are part of the documented interface (see
//! `netassist --help` and `docs/netassist.md`) and must not be renumbered.

use std::io;
use std::net::SocketAddr;

/// Exit code: the run finished normally (input done, waiting over, or stopped by Ctrl-C).
pub const EXIT_OK: u8 = 0;
/// Exit code: any other failure (I/O error, cannot bind, name did not resolve, ...).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad command line or bad argument value (same code clap uses).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the peer refused the TCP connection (or reset it at once).
pub const EXIT_REFUSED: u8 = 3;
/// Exit code: connecting took longer than `--connect-timeout`.
pub const EXIT_TIMED_OUT: u8 = 4;
/// Exit code: the peer closed or reset the connection while we still had input to send.
/// An idle peer closing while nothing is pending is a normal end.
pub const EXIT_PEER_CLOSED: u8 = 5;

/// Everything that can make a run fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value or an address that cannot be used (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The peer actively refused the connection (exit code 3).
    #[error("connection to {0} refused")]
    Refused(String),
    /// Connecting did not finish in time (exit code 4).
    #[error("connecting to {0} timed out after {1}")]
    TimedOut(String, String),
    /// A host name did not resolve to any address.
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    /// Binding a listening or UDP socket failed.
    #[error("cannot bind {0}: {1}")]
    Bind(SocketAddr, io::Error),
    /// Reading the `--file` payload or opening the `--log` file failed.
    #[error("{0}: {1}")]
    File(String, io::Error),
    /// TLS could not be set up, or its handshake failed.
    #[error("{0}")]
    Tls(String),
    /// Any other I/O failure.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            Error::Refused(_) => EXIT_REFUSED,
            Error::TimedOut(..) => EXIT_TIMED_OUT,
            Error::Resolve(..)
            | Error::Bind(..)
            | Error::File(..)
            | Error::Tls(_)
            | Error::Io(_) => EXIT_FAILURE,
        }
    }
}

/// How a run that did not fail came to an end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Input finished (and any `--wait` passed), or the user quit.
    Done,
    /// Stopped by Ctrl-C / SIGTERM or by the caller's shutdown future.
    Stopped,
    /// The peer closed the connection while input was still being sent:
    /// lines were waiting, a `--count` was unfinished, or queued data could
    /// not be written.
    PeerClosed,
    /// The peer reset the connection before anything was exchanged, the way
    /// a full server (`tcp-server --max-clients`) turns a client away.
    Refused,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done | Outcome::Stopped => EXIT_OK,
            Outcome::PeerClosed => EXIT_PEER_CLOSED,
            Outcome::Refused => EXIT_REFUSED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_distinct_and_documented() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Refused("a".into()).exit_code(), 3);
        assert_eq!(Error::TimedOut("a".into(), "1s".into()).exit_code(), 4);
        assert_eq!(Outcome::PeerClosed.exit_code(), 5);
        assert_eq!(Outcome::Refused.exit_code(), 3);
        assert_eq!(Outcome::Done.exit_code(), 0);
        assert_eq!(Error::Io(io::Error::other("x")).exit_code(), 1);
    }
}
