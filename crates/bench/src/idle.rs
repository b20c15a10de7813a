//! `--idle`: connect and log in N clients, hold them, and measure what
//! idle connections cost the server.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Config, IDLE_READ_BUFFER};
use crate::error::BenchError;
use crate::fleet;
use crate::procstat::{ServerProbe, own_cpu};
use crate::progress;
use crate::report::IdleReport;
use crate::run::{ServerReadings, Shares, Sums, shared_state};

/// Connects `config.clients` clients into the room, holds them for
/// `config.duration` (answering pings, reading notices), then logs them out.
/// With `--server-pid`, the report's `rss_per_client_bytes` is what one idle
/// logged-in connection costs the server. With several servers the clients
/// are spread over them as in a message run.
pub async fn idle(config: &Config) -> Result<IdleReport, BenchError> {
    config.check_common()?;
    let addrs = fleet::resolve_all(&config.servers).await?;
    let limit = config.idle_deadline();
    tokio::time::timeout(limit, idle_at(config, &addrs))
        .await
        .map_err(|_| BenchError::Deadline(limit))?
}

async fn idle_at(config: &Config, addrs: &[SocketAddr]) -> Result<IdleReport, BenchError> {
    let probe = ServerProbe::new(&config.server_pids)?;
    let rss_before = probe.rss_kib()?;
    let shared = shared_state(config);
    let _stop_all = shared.stop.clone().drop_guard();
    // Nobody is ever told to send.
    let (_start_tx, start_rx) = watch::channel(None);
    let fleet = fleet::connect_all(config, addrs, &shared, &start_rx, IDLE_READ_BUFFER).await;
    if fleet.sessions.is_empty() {
        return Err(BenchError::NoneConnected(
            fleet.first_failure.unwrap_or_default(),
        ));
    }
    let rss_joined = probe.rss_kib()?;
    let shares = Shares::new(config, &fleet);
    let cpu_start = own_cpu()?;
    let server_cpu_start = probe.cpu()?;
    let held_from = Instant::now();
    let bar = progress::running(config, "holding", config.duration);
    let connected = fleet.sessions.len() as u64;
    let show = |bar: &indicatif::ProgressBar| {
        bar.set_position(progress::tenths(held_from.elapsed()));
        let dropped = shared.dropped.load(Ordering::Relaxed);
        bar.set_message(format!(
            "{} {} clients held, {dropped} dropped",
            progress::seconds(bar),
            connected.saturating_sub(dropped)
        ));
    };
    let hold_end = held_from + config.duration;
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(100));
    while Instant::now() < hold_end {
        tokio::select! {
            _ = tokio::time::sleep_until(hold_end) => {}
            _ = ticker.tick() => show(&bar),
        }
    }
    bar.finish_and_clear();
    let held = held_from.elapsed();
    let bench_cpu = own_cpu()?.since(cpu_start);
    let server = ServerReadings {
        rss_before,
        rss_joined,
        rss_end: probe.rss_kib()?,
        cpu_start: server_cpu_start,
        cpu_end: probe.cpu()?,
    };
    shared.stop.cancel();
    let mut collected = fleet::collect(fleet.sessions, config.servers.len()).await;
    let sockets = std::mem::take(&mut collected.sockets);
    fleet::disconnect(config.proto, sockets).await;
    let sums = Sums::of(&collected);
    let server_processes = server.stats(probe.processes(), held, connected);
    Ok(IdleReport {
        proto: config.proto,
        server: config.server_label(),
        servers: shares.finish(&collected),
        room: config.room.clone(),
        clients: config.clients,
        connected,
        failed: fleet.failed,
        first_failure: fleet.first_failure,
        connect_s: fleet.connect_time.as_secs_f64(),
        held_s: held.as_secs_f64(),
        dropped: sums.dropped,
        first_drop: sums.first_drop,
        bench_cpu,
        server_process: server_processes.first().cloned(),
        server_processes,
    })
}
