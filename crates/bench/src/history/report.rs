//! What `chatroom bench history` measured, for people (`Display`) and as
//! JSON (`--json`; durations in microseconds `_us` or milliseconds `_ms`,
//! sizes in bytes or KiB `_kib`).

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::fill::{FillReport, Layout};
use super::ingest::IngestReport;
use super::probes::{Latency, SearchReport};
use crate::error::BenchError;

/// What the database holds and takes on disk.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SizeReport {
    /// Stored messages.
    pub messages: u64,
    /// Bytes of their texts.
    pub text_bytes: u64,
    /// Bytes of the same history as a plain-text log.
    pub log_bytes: u64,
    /// Bytes of the database and its WAL.
    pub file_bytes: u64,
}

impl SizeReport {
    /// Counts `dir`'s database (with no server running on it, or one).
    pub fn of(dir: &Path) -> Result<SizeReport, BenchError> {
        let stats = chatroom_server::store::stats(dir)?;
        Ok(SizeReport {
            messages: stats.messages,
            text_bytes: stats.text_bytes,
            log_bytes: stats.log_bytes,
            file_bytes: stats.file_bytes,
        })
    }

    fn per_message(&self, bytes: u64) -> f64 {
        bytes as f64 / self.messages.max(1) as f64
    }
}

impl fmt::Display for SizeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages, {:.1} MiB on disk: {:.1} bytes per message; text {:.1} bytes \
             ({:.2}x on disk), as a plain log {:.1} bytes ({:.2}x)",
            self.messages,
            self.file_bytes as f64 / 1_048_576.0,
            self.per_message(self.file_bytes),
            self.per_message(self.text_bytes),
            self.file_bytes as f64 / self.text_bytes.max(1) as f64,
            self.per_message(self.log_bytes),
            self.file_bytes as f64 / self.log_bytes.max(1) as f64,
        )
    }
}

/// The ingest while retention deleted the oldest messages.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionReport {
    /// The `--retention` policy the server ran with.
    pub policy: String,
    /// Its start, until the first `welcome` (the sweep starts meanwhile).
    pub start_ms: f64,
    /// Messages the sweep deleted before the server stopped.
    pub deleted: u64,
    /// The ingest meanwhile.
    pub ingest: IngestReport,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    /// The generated history.
    pub layout: Layout,
    /// This run's fill.
    pub fill: FillReport,
    /// The database after the fill.
    pub filled: SizeReport,
    /// Each timed start, until the first `welcome`.
    pub starts_ms: Vec<f64>,
    /// The server's memory after its start.
    pub rss_started_kib: u64,
    /// Joins (replay of 50) on the quiet server.
    pub join: Latency,
    /// History pages of 50, far back.
    pub page: Latency,
    /// Joins over IRC (their `chathistory` batch).
    pub irc_join: Latency,
    /// Searches.
    pub search: SearchReport,
    /// The server's memory after the reads, and its peak.
    pub rss_read_kib: u64,
    /// Of `rss_read_kib`, its own memory: without the pages of the
    /// database files its readers map (which the operating system drops
    /// whenever it needs the memory).
    pub anon_read_kib: u64,
    /// Its peak so far.
    pub rss_peak_kib: u64,
    /// Ingest runs, by `synchronous` mode.
    pub ingest: Vec<(String, IngestReport)>,
    /// The retention pass.
    pub retention: Option<RetentionReport>,
    /// The database at the end.
    pub end: SizeReport,
}

fn ingest_lines(f: &mut fmt::Formatter<'_>, label: &str, r: &IngestReport) -> fmt::Result {
    writeln!(
        f,
        "{label}: offered {} ({:.0}/s, {} senders, {} rooms each, {:.0} s), sent {}, acked {} ({:.0}/s), errors {}",
        r.offered,
        r.config.rate,
        r.config.senders,
        r.config.rooms_per_sender,
        r.config.duration_s,
        r.sent,
        r.acked,
        r.acked_per_s,
        r.errors
    )?;
    writeln!(f, "  time to ack        {}", r.ack)?;
    writeln!(f, "  join meanwhile     {}", r.join_meanwhile)?;
    writeln!(f, "  page meanwhile     {}", r.page_meanwhile)?;
    let threads: Vec<String> = r
        .server_threads
        .iter()
        .take(6)
        .map(|(name, cores)| format!("{name} {cores:.2}"))
        .collect();
    writeln!(
        f,
        "  cpu                server {:.2} cores ({}), bench {:.2} cores",
        r.server_cores,
        threads.join(", "),
        r.bench_cores
    )?;
    if let Some(e) = &r.first_error {
        writeln!(f, "  first error        {e}")?;
    }
    Ok(())
}

impl fmt::Display for HistoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = &self.layout;
        writeln!(
            f,
            "chatroom bench history: {} generated messages, {} rooms, {} people, {} direct pairs (seed {})",
            l.filled, l.rooms, l.users, l.dm_pairs, l.seed
        )?;
        writeln!(
            f,
            "fill               {} added in {:.1} s ({:.0}/s, the store alone), packed and merged in {:.1} s more",
            self.fill.added, self.fill.seconds, self.fill.per_s, self.fill.settling_seconds
        )?;
        writeln!(f, "size               {}", self.filled)?;
        let starts: Vec<String> = self
            .starts_ms
            .iter()
            .map(|ms| format!("{ms:.0} ms"))
            .collect();
        writeln!(f, "start              {}", starts.join(", "))?;
        writeln!(f, "join (replay 50)   {}", self.join)?;
        writeln!(f, "page (50, far back) {}", self.page)?;
        writeln!(f, "irc join           {}", self.irc_join)?;
        writeln!(
            f,
            "search             {} ({:.1} results each)",
            self.search.all, self.search.mean_hits
        )?;
        for (kind, latency) in &self.search.by_kind {
            writeln!(f, "  {kind:<16} {latency}")?;
        }
        writeln!(
            f,
            "rss                {:.1} MiB started, {:.1} MiB after the reads \
             ({:.1} MiB its own, the rest mapped files), peak {:.1} MiB",
            self.rss_started_kib as f64 / 1024.0,
            self.rss_read_kib as f64 / 1024.0,
            self.anon_read_kib as f64 / 1024.0,
            self.rss_peak_kib as f64 / 1024.0
        )?;
        for (mode, report) in &self.ingest {
            ingest_lines(f, &format!("ingest, synchronous={mode}"), report)?;
        }
        if let Some(r) = &self.retention {
            writeln!(
                f,
                "retention pass     --retention {}: started in {:.0} ms, {} deleted while ingesting",
                r.policy, r.start_ms, r.deleted
            )?;
            ingest_lines(f, "ingest during the retention pass", &r.ingest)?;
        }
        writeln!(f, "size at the end    {}", self.end)
    }
}
