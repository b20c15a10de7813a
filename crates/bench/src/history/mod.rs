//! `chatroom bench history`: history at scale, on the real store through
//! the real server.
//!
//! A run fills a data directory with a generated history ([`fill`]: N
//! messages in R rooms and D direct-message pairs, English and Chinese text
//! of chat-like lengths, timestamps over years), counts what it takes on
//! disk, then starts the real server (`chatroom serve`, as a child process
//! on loopback) on it and measures:
//!
//! - how long the server takes to start (to its first `welcome`), and its
//!   memory;
//! - joins (the replay), history pages far back, searches and IRC joins,
//!   one at a time on a quiet server ([`probes`]);
//! - durable ingest: many senders across many rooms, open loop, the time to
//!   each `ack`, with `synchronous` full and normal ([`ingest`]);
//! - ingest while retention deletes the oldest messages (the server
//!   restarted with an age limit that cuts them).
//!
//! `docs/bench.md` is the manual, `docs/benchmarks.md` has the results.

pub mod corpus;

mod client;
mod fill;
mod ingest;
mod probes;
mod report;
mod server;

use std::path::PathBuf;
use std::time::Duration;

pub use fill::{FillReport, Layout};
pub use ingest::{IngestConfig, IngestReport};
pub use probes::{Latency, SearchReport};
pub use report::{HistoryReport, RetentionReport, SizeReport};

use crate::error::BenchError;
use server::Server;

/// What to fill and measure.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// The data directory (created, or grown when it holds a generated
    /// history already).
    pub data_dir: PathBuf,
    /// The `chatroom` binary to start as the server.
    pub bin: PathBuf,
    /// Generated messages the directory should hold.
    pub messages: u64,
    /// Rooms, people and direct-message pairs, and the seed.
    pub layout: Layout,
    /// How many joins, pages and searches to time; IRC joins are a quarter
    /// of the joins.
    pub joins: u32,
    /// History pages to time.
    pub pages: u32,
    /// Searches to time.
    pub searches: u32,
    /// Timed starts of the server.
    pub starts: u32,
    /// The ingest runs' shape; `None` skips them.
    pub ingest: Option<IngestConfig>,
    /// The share of the generated messages the retention pass deletes;
    /// `None` skips it.
    pub retention_share: Option<f64>,
}

/// Fills and measures (see the module documentation).
pub async fn history(config: &HistoryConfig) -> Result<HistoryReport, BenchError> {
    if config.layout.rooms == 0 || config.layout.users < 2 || config.messages == 0 {
        return Err(BenchError::Invalid(
            "--messages and --rooms must be at least 1, --users at least 2".into(),
        ));
    }
    let dir = &config.data_dir;
    let (layout, fill) = fill::fill(dir, config.layout, config.messages).await?;
    let filled = SizeReport::of(dir)?;
    let seed = layout.seed;

    let mut starts_ms = Vec::new();
    let mut server = None;
    for k in 0..config.starts.max(1) {
        if let Some(running) = server.take() {
            Server::stop(running).await?;
        }
        let started = Server::start(&config.bin, dir, &[]).await?;
        starts_ms.push(started.start.as_secs_f64() * 1000.0);
        tracing::info!(start = k, ms = started.start.as_millis(), "server started");
        server = Some(started);
    }
    let server = server.ok_or_else(|| BenchError::Invalid("no server start".into()))?;
    let rss_started_kib = server.rss_kib()?.0;
    let join = probes::joins(server.json, &layout, config.joins, seed ^ 1).await?;
    let page = probes::pages(server.json, &layout, config.pages, seed ^ 2).await?;
    let irc_join = probes::irc_joins(server.irc, &layout, config.joins / 4, seed ^ 3).await?;
    let search = probes::searches(server.json, &layout, config.searches, seed ^ 4).await?;
    let (rss_read_kib, rss_peak_kib) = server.rss_kib()?;
    let anon_read_kib = server.anon_rss_kib()?;

    let mut ingests = Vec::new();
    let mut server = Some(server);
    if let Some(shape) = config.ingest {
        for mode in ["full", "normal"] {
            let running = match server.take() {
                Some(running) if mode == "full" => running,
                Some(running) => {
                    running.stop().await?;
                    Server::start(&config.bin, dir, &["--synchronous".into(), mode.into()]).await?
                }
                None => {
                    Server::start(&config.bin, dir, &["--synchronous".into(), mode.into()]).await?
                }
            };
            let report = ingest::ingest(&running, &layout, shape, seed ^ 5).await?;
            ingests.push((mode.to_owned(), report));
            server = Some(running);
        }
    }
    if let Some(running) = server.take() {
        running.stop().await?;
    }

    let retention = match (config.retention_share, config.ingest) {
        (Some(share), Some(shape)) => Some(retention_pass(config, &layout, share, shape).await?),
        _ => None,
    };
    Ok(HistoryReport {
        layout,
        fill,
        filled,
        starts_ms,
        rss_started_kib,
        join,
        page,
        irc_join,
        search,
        rss_read_kib,
        anon_read_kib,
        rss_peak_kib,
        ingest: ingests,
        retention,
        end: SizeReport::of(dir)?,
    })
}

/// Restarts the server with an age limit that cuts the oldest `share` of
/// the generated messages, and runs the ingest while its sweep deletes them.
async fn retention_pass(
    config: &HistoryConfig,
    layout: &Layout,
    share: f64,
    shape: IngestConfig,
) -> Result<RetentionReport, BenchError> {
    let dir = &config.data_dir;
    let before = SizeReport::of(dir)?;
    let cut = (layout.filled as f64 * share.clamp(0.0, 1.0)) as u64;
    let age = Duration::from_millis(
        u64::try_from(fill::now_ms() - layout.ts(cut))
            .unwrap_or(0)
            .max(1_000),
    );
    let age_flag = format!("age={}s", age.as_secs());
    let server = Server::start(&config.bin, dir, &["--retention".into(), age_flag.clone()]).await?;
    let start_ms = server.start.as_secs_f64() * 1000.0;
    let ingest = ingest::ingest(&server, layout, shape, layout.seed ^ 6).await?;
    server.stop().await?;
    let after = SizeReport::of(dir)?;
    let deleted = (before.messages + ingest.acked).saturating_sub(after.messages);
    Ok(RetentionReport {
        policy: age_flag,
        start_ms,
        deleted,
        ingest,
    })
}
