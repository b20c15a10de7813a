//! One message run: connect everyone, send open loop for the duration,
//! wait for stragglers, stop, add up, log out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, RUN_READ_BUFFER, START_LEAD};
use crate::error::BenchError;
use crate::fleet::{self, Collected, Fleet};
use crate::latency::{LatencySummary, Shards};
use crate::names::RunId;
use crate::procstat::{CpuTime, Probed, ServerProbe, own_cpu};
use crate::progress;
use crate::report::{Report, ServerShare, ServerStats};
use crate::session::{Shared, StartPlan};
use crate::tally::{self, DrainWatch};
use crate::wire::MessageFrame;

/// How often the drain looks at the delivered count.
const DRAIN_TICK: Duration = Duration::from_millis(50);

/// How often the progress bar is redrawn.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// Runs one message benchmark as `config` says and reports it. Bounded by
/// [`Config::run_deadline`]; every connection is closed when it returns.
pub async fn run(config: &Config) -> Result<Report, BenchError> {
    config.check_messaging()?;
    let addrs = fleet::resolve_all(&config.servers).await?;
    let limit = config.run_deadline();
    tokio::time::timeout(limit, run_at(config, &addrs))
        .await
        .map_err(|_| BenchError::Deadline(limit))?
}

/// The shared state of a fresh run.
pub(crate) fn shared_state(config: &Config) -> Arc<Shared> {
    Arc::new(Shared {
        epoch: Instant::now(),
        run: RunId::fresh(),
        proto: config.proto,
        message: MessageFrame::new(config.proto, &config.room),
        size: config.size,
        delivered: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        latencies: Shards::default(),
        senders_active: AtomicU64::new(0),
        stop: CancellationToken::new(),
    })
}

async fn run_at(config: &Config, addrs: &[SocketAddr]) -> Result<Report, BenchError> {
    let probe = ServerProbe::new(&config.server_pids)?;
    let rss_before = probe.rss_kib()?;
    let shared = shared_state(config);
    // However this function ends (even dropped at the deadline), every
    // client task stops and its socket closes.
    let _stop_all = shared.stop.clone().drop_guard();
    let (start_tx, start_rx) = watch::channel(None);
    let fleet = fleet::connect_all(config, addrs, &shared, &start_rx, RUN_READ_BUFFER).await;
    if fleet.sessions.is_empty() {
        return Err(BenchError::NoneConnected(
            fleet.first_failure.unwrap_or_default(),
        ));
    }
    let rss_joined = probe.rss_kib()?;
    let members = fleet.sessions.len() as u64;
    let senders = config.senders.min(fleet.sessions.len() as u32);
    let mut roles = vec![None; config.clients as usize];
    for (k, session) in fleet.sessions.iter().take(senders as usize).enumerate() {
        roles[session.index as usize] = Some(k as f64 / f64::from(senders));
    }
    let mut shares = Shares::new(config, &fleet);
    for session in fleet.sessions.iter().take(senders as usize) {
        shares.sender(config.server_of(session.index));
    }
    shared
        .senders_active
        .store(senders.into(), Ordering::Relaxed);

    let cpu_start = own_cpu()?;
    let server_cpu_start = probe.cpu()?;
    let t0 = Instant::now() + START_LEAD;
    // The timeline counts from the first slot.
    shared.latencies.set_origin(micros_since(shared.epoch, t0));
    start_tx.send_replace(Some(Arc::new(StartPlan {
        t0,
        rate: config.rate,
        duration: config.duration,
        roles,
    })));

    let bar = progress::running(config, "sending", config.duration);
    let show = |bar: &indicatif::ProgressBar| {
        bar.set_position(progress::tenths(t0.elapsed()));
        let dropped = shared.dropped.load(Ordering::Relaxed);
        bar.set_message(format!(
            "{} sent {} delivered {}{}",
            progress::seconds(bar),
            shared.sent.load(Ordering::Relaxed),
            shared.delivered.load(Ordering::Relaxed),
            if dropped > 0 {
                format!(" dropped {dropped}")
            } else {
                String::new()
            }
        ));
    };
    let send_end = t0 + config.duration;
    let mut ticker = tokio::time::interval(PROGRESS_TICK);
    while Instant::now() < send_end {
        tokio::select! {
            _ = tokio::time::sleep_until(send_end) => {}
            _ = ticker.tick() => show(&bar),
        }
    }

    let drain_start = Instant::now();
    let since_epoch = |at: Instant| at.saturating_duration_since(shared.epoch);
    let mut watch = DrainWatch::new(
        since_epoch(drain_start),
        shared.delivered.load(Ordering::Relaxed),
        config.quiet,
        config.drain_cap,
    );
    let mut ticker = tokio::time::interval(DRAIN_TICK);
    let drained = loop {
        ticker.tick().await;
        show(&bar);
        let expected = (shared.senders_active.load(Ordering::Relaxed) == 0)
            .then(|| tally::expected_deliveries(shared.sent.load(Ordering::Relaxed), members));
        let delivered = shared.delivered.load(Ordering::Relaxed);
        if let Some(why) = watch.check(since_epoch(Instant::now()), delivered, expected) {
            break why;
        }
    };
    let window_end = Instant::now();
    shared.stop.cancel();
    let bench_cpu = own_cpu()?.since(cpu_start);
    let server_cpu_end = probe.cpu()?;
    let rss_end = probe.rss_kib()?;
    bar.finish_and_clear();

    let mut collected = fleet::collect(fleet.sessions, config.servers.len()).await;
    let sockets = std::mem::take(&mut collected.sockets);
    let closed = fleet::disconnect(config.proto, sockets).await;
    tracing::debug!(closed, "clients logged out");

    let window = window_end.saturating_duration_since(t0);
    let server_processes = ServerReadings {
        rss_before,
        rss_joined,
        rss_end,
        cpu_start: server_cpu_start,
        cpu_end: server_cpu_end,
    }
    .stats(probe.processes(), window, members);
    let sums = Sums::of(&collected);
    let expected = tally::expected_deliveries(sums.sent, members);
    let loss = tally::loss(expected, sums.deliveries);
    let first_slot = since_epoch(t0);
    let last = Duration::from_micros(sums.last_delivery_us).saturating_sub(first_slot);
    let offered = u64::from(senders) * config.offered_per_sender();
    Ok(Report {
        proto: config.proto,
        server: config.server_label(),
        servers: shares.finish(&collected),
        room: config.room.clone(),
        clients: config.clients,
        connected: members,
        failed: fleet.failed,
        first_failure: fleet.first_failure,
        connect_s: fleet.connect_time.as_secs_f64(),
        senders,
        rate: config.rate,
        duration_s: config.duration.as_secs_f64(),
        size: config.size,
        offered,
        offered_deliveries_per_s: f64::from(senders) * config.rate * (members - 1) as f64,
        sent: sums.sent,
        shortfall: offered.saturating_sub(sums.sent),
        send_lag_max_us: sums.max_lag_us,
        send_lag_mean_us: if sums.sent > 0 {
            sums.total_lag_us as f64 / sums.sent as f64
        } else {
            0.0
        },
        expected,
        delivered: sums.deliveries,
        lost: loss.lost,
        loss_pct: loss.percent,
        extra: loss.extra,
        echoes: sums.echoes,
        reads: sums.reads,
        read_bytes: sums.read_bytes,
        delivered_per_s: tally::per_second(sums.deliveries, last.max(config.duration)),
        latency: LatencySummary::of(&shared.latencies.merged()),
        timeline: shared.latencies.timeline(),
        dropped: sums.dropped,
        first_drop: sums.first_drop,
        drained: drained.into(),
        drain_s: window_end
            .saturating_duration_since(drain_start)
            .as_secs_f64(),
        window_s: window.as_secs_f64(),
        bench_cpu,
        bench_cores: bench_cpu.cores(window),
        server_process: server_processes.first().cloned(),
        server_processes,
    })
}

/// `(joined - before)` KiB spread over `clients`, in bytes.
pub(crate) fn per_client_bytes(before_kib: u64, joined_kib: u64, clients: u64) -> f64 {
    if clients == 0 {
        return 0.0;
    }
    (joined_kib as f64 - before_kib as f64) * 1024.0 / clients as f64
}

/// Microseconds from `epoch` to `at`.
fn micros_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_micros()).unwrap_or(u64::MAX)
}

/// The clients' figures added up.
#[derive(Debug)]
pub(crate) struct Sums {
    pub deliveries: u64,
    pub echoes: u64,
    pub reads: u64,
    pub read_bytes: u64,
    pub last_delivery_us: u64,
    pub sent: u64,
    pub max_lag_us: u64,
    pub total_lag_us: u64,
    pub dropped: u64,
    pub first_drop: Option<String>,
}

impl Sums {
    pub(crate) fn of(collected: &Collected) -> Sums {
        let mut sums = Sums {
            deliveries: 0,
            echoes: 0,
            reads: 0,
            read_bytes: 0,
            last_delivery_us: 0,
            sent: 0,
            max_lag_us: 0,
            total_lag_us: 0,
            dropped: collected.lost_tasks,
            first_drop: None,
        };
        for r in &collected.readers {
            sums.deliveries += r.deliveries;
            sums.echoes += r.echoes;
            sums.reads += r.reads;
            sums.read_bytes += r.bytes;
            sums.last_delivery_us = sums.last_delivery_us.max(r.last_delivery_us);
            if let Some(why) = &r.closed {
                sums.dropped += 1;
                sums.first_drop.get_or_insert_with(|| why.clone());
            }
        }
        for w in &collected.writers {
            sums.sent += w.sent;
            sums.max_lag_us = sums.max_lag_us.max(w.max_lag_us);
            sums.total_lag_us = sums.total_lag_us.saturating_add(w.total_lag_us);
            // A failed write is a dropped connection too; its reader
            // usually tells why first.
            if let Some(why) = &w.failed {
                sums.first_drop.get_or_insert_with(|| why.clone());
            }
        }
        sums
    }
}

/// Each server's share of a run, filled in as the run goes.
#[derive(Debug)]
pub(crate) struct Shares {
    shares: Vec<ServerShare>,
}

impl Shares {
    /// The servers' shares once everyone connected: who was sent where,
    /// who got in and who did not.
    pub(crate) fn new(config: &Config, fleet: &Fleet) -> Shares {
        let mut shares: Vec<ServerShare> = config
            .servers
            .iter()
            .enumerate()
            .map(|(i, server)| ServerShare {
                server: server.clone(),
                clients: config.clients_on(i),
                connected: 0,
                failed: fleet.failed_by_server.get(i).copied().unwrap_or_default(),
                senders: 0,
                sent: 0,
                delivered: 0,
            })
            .collect();
        for session in &fleet.sessions {
            if let Some(share) = shares.get_mut(config.server_of(session.index)) {
                share.connected += 1;
            }
        }
        Shares { shares }
    }

    /// Counts a sender on server `server`.
    pub(crate) fn sender(&mut self, server: usize) {
        if let Some(share) = self.shares.get_mut(server) {
            share.senders += 1;
        }
    }

    /// The shares with what the clients of each server sent and received.
    pub(crate) fn finish(mut self, collected: &Collected) -> Vec<ServerShare> {
        for (i, share) in self.shares.iter_mut().enumerate() {
            share.sent = collected.sent_by_server.get(i).copied().unwrap_or_default();
            share.delivered = collected
                .delivered_by_server
                .get(i)
                .copied()
                .unwrap_or_default();
        }
        self.shares
    }
}

/// What was read of the measured processes during a run, each reading one
/// figure per process in the probe's order (all empty without
/// `--server-pid`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerReadings {
    pub rss_before: Vec<u64>,
    pub rss_joined: Vec<u64>,
    pub rss_end: Vec<u64>,
    pub cpu_start: Vec<CpuTime>,
    pub cpu_end: Vec<CpuTime>,
}

impl ServerReadings {
    /// The report's figures of each of `processes` over `window` with
    /// `clients` in, in order; a process missing a reading is left out.
    pub(crate) fn stats(
        &self,
        processes: &[Probed],
        window: Duration,
        clients: u64,
    ) -> Vec<ServerStats> {
        processes
            .iter()
            .enumerate()
            .filter_map(|(i, process)| {
                let cpu = self.cpu_end.get(i)?.since(*self.cpu_start.get(i)?);
                let (before, joined) = (*self.rss_before.get(i)?, *self.rss_joined.get(i)?);
                Some(ServerStats {
                    pid: process.pid,
                    name: process.name.clone(),
                    cpu,
                    cores: cpu.cores(window),
                    rss_before_kib: before,
                    rss_joined_kib: joined,
                    rss_end_kib: *self.rss_end.get(i)?,
                    rss_per_client_bytes: per_client_bytes(before, joined, clients),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{ReaderStats, WriterStats};

    #[test]
    fn sums_add_up_every_client() {
        let collected = Collected {
            readers: vec![
                ReaderStats {
                    deliveries: 2,
                    last_delivery_us: 5_000,
                    reads: 2,
                    bytes: 300,
                    ..ReaderStats::default()
                },
                ReaderStats {
                    deliveries: 0,
                    echoes: 1,
                    closed: Some("closed by the server".into()),
                    ..ReaderStats::default()
                },
            ],
            writers: vec![
                WriterStats {
                    sent: 9,
                    max_lag_us: 700,
                    total_lag_us: 900,
                    failed: None,
                },
                WriterStats::default(),
            ],
            sockets: Vec::new(),
            lost_tasks: 1,
            ..Collected::default()
        };
        let sums = Sums::of(&collected);
        assert_eq!(sums.deliveries, 2);
        assert_eq!(sums.echoes, 1);
        assert_eq!((sums.reads, sums.read_bytes), (2, 300));
        assert_eq!(sums.last_delivery_us, 5_000);
        assert_eq!(sums.sent, 9);
        assert_eq!(sums.max_lag_us, 700);
        assert_eq!(sums.dropped, 2);
        assert_eq!(sums.first_drop.as_deref(), Some("closed by the server"));
    }

    #[test]
    fn memory_per_client() {
        assert_eq!(per_client_bytes(1000, 3000, 1024), 2000.0);
        assert_eq!(per_client_bytes(1000, 3000, 0), 0.0);
        assert!(per_client_bytes(3000, 1000, 10) < 0.0);
    }

    #[test]
    fn server_figures_need_every_reading() {
        let cpu = |s| CpuTime {
            user_s: s,
            sys_s: s,
        };
        let readings = ServerReadings {
            rss_before: vec![1000, 500],
            rss_joined: vec![2000, 600],
            rss_end: vec![2100, 700],
            cpu_start: vec![cpu(1.0), cpu(0.0)],
            cpu_end: vec![cpu(2.0), cpu(1.0)],
        };
        let processes = [
            Probed {
                pid: 7,
                name: "chatroom".into(),
            },
            Probed {
                pid: 9,
                name: "redis-server".into(),
            },
        ];
        let stats = readings.stats(&processes, Duration::from_secs(4), 512);
        assert_eq!(stats.len(), 2);
        assert_eq!((stats[0].pid, stats[0].name.as_str()), (7, "chatroom"));
        assert_eq!(stats[0].cores, 0.5);
        assert_eq!(stats[0].rss_per_client_bytes, 2000.0);
        assert_eq!((stats[1].pid, stats[1].name.as_str()), (9, "redis-server"));
        assert_eq!(stats[1].cores, 0.5);
        assert_eq!(stats[1].rss_end_kib, 700);
        assert!(readings.stats(&[], Duration::from_secs(4), 512).is_empty());
        let partial = ServerReadings {
            cpu_end: vec![cpu(2.0)],
            ..readings
        };
        let stats = partial.stats(&processes, Duration::from_secs(4), 512);
        assert_eq!(stats.len(), 1, "{stats:?}");
        assert_eq!(stats[0].pid, 7);
    }
}
