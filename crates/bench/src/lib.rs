//! `chatroom bench`: a load generator that measures how well a chat server
//! fans messages out, over the chatroom JSON protocol or IRC (so the same
//! run can drive ours, ngIRCd or InspIRCd), each over TCP or over a
//! WebSocket ([`Proto`]).
//!
//! A run connects N clients into one room at a steady ramp, then S of them
//! send R messages per second each, open loop (by the clock, never waiting
//! for replies), for a duration. Every message carries its sender, sequence
//! number and send time ([`payload`]), so the receivers count deliveries
//! and measure latency without parsing frames or synchronising clocks.
//! After the last send the run waits for stragglers, then reports offered,
//! sent, expected and delivered counts, loss, throughput, latency
//! percentiles and the CPU time of the bench and (for a local server) of
//! the server ([`Report`]).
//!
//! - [`run`]: one message run.
//! - [`idle`]: connect and hold N clients; memory per idle connection.
//! - [`find_max`]: search for the highest clean rate.
//! - [`plot`]: SVG charts of a run, a search, or recorded reports side by side.
//! - [`history`]: history at scale: fill a data directory, then measure the
//!   real server's ingest, joins, paging, search, start and size on it.
//!
//! The binary's `chatroom bench` subcommand only parses flags into a
//! [`Config`] and prints what these return; `docs/bench.md` is the manual.

pub mod config;
pub mod error;
mod find_max;
mod fleet;
pub mod history;
mod idle;
pub mod latency;
pub mod names;
pub mod payload;
pub mod plot;
pub mod procstat;
mod progress;
pub mod report;
mod run;
pub mod schedule;
mod session;
pub mod tally;
pub mod timeline;
mod transport;
mod websocket;
pub mod wire;
mod ws_frame;

pub use config::Config;
pub use error::BenchError;
pub use find_max::{FindMax, find_max, next_rate, verdict};
pub use idle::idle;
pub use report::{
    FindMaxReport, IdleReport, Report, ServerShare, ServerStats, Step, Verdict, to_json,
};
pub use run::run;
pub use wire::Proto;
