//! Bringing clients in and out: connecting them at the ramp rate, taking
//! their figures back at the end, and logging them out politely.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::{Config, WIND_DOWN, server_index};
use crate::error::BenchError;
use crate::progress;
use crate::session::{self, ReaderStats, Session, Shared, StartPlan, WriterStats};
use crate::transport::Conn;
use crate::wire::{self, LoginError, Proto};

/// The clients that got in.
#[derive(Debug)]
pub struct Fleet {
    /// One per connected client, in index order.
    pub sessions: Vec<Session>,
    /// Clients that could not connect, log in or join.
    pub failed: u64,
    /// Of those, how many per server (indexed like [`Config::servers`]).
    pub failed_by_server: Vec<u64>,
    /// The first of their errors.
    pub first_failure: Option<String>,
    /// From the first connection attempt to the last client in.
    pub connect_time: Duration,
}

/// Resolves every server of the run, in order, each to the first
/// address it names.
pub async fn resolve_all(servers: &[String]) -> Result<Vec<SocketAddr>, BenchError> {
    let mut addrs = Vec::with_capacity(servers.len());
    for server in servers {
        addrs.push(resolve(server).await?);
    }
    Ok(addrs)
}

/// Resolves `HOST:PORT` to the first address it names.
pub async fn resolve(server: &str) -> Result<SocketAddr, BenchError> {
    let failed = |reason: String| BenchError::Resolve {
        server: server.to_owned(),
        reason,
    };
    tokio::net::lookup_host(server)
        .await
        .map_err(|e| failed(e.to_string()))?
        .next()
        .ok_or_else(|| failed("no address".to_owned()))
}

/// Connects, logs in and joins every client, starting `ramp` per second,
/// and starts each one's tasks as soon as it is in (so it reads from then
/// on). Client `i` goes to server [`Config::server_of`]`(i)`, whose
/// resolved address is `addrs[that]`. Clients that fail are counted, not
/// retried.
pub async fn connect_all(
    config: &Config,
    addrs: &[SocketAddr],
    shared: &Arc<Shared>,
    start: &watch::Receiver<Option<Arc<StartPlan>>>,
    read_buffer: usize,
) -> Fleet {
    let bar = progress::connecting(config);
    let began = Instant::now();
    let mut attempts = JoinSet::new();
    for index in 0..config.clients {
        let at = began + Duration::from_secs_f64(f64::from(index) / config.ramp);
        let nick = shared.run.nick(index);
        let (proto, room, limit) = (config.proto, config.room.clone(), config.connect_timeout);
        let which = config.server_of(index);
        let (Some(server), Some(&addr)) = (config.servers.get(which), addrs.get(which)) else {
            // The settings' checks and `resolve_all` give every server an
            // address; should one be missing, its clients fail.
            attempts.spawn(async move { (index, Err(LoginError::NoServer)) });
            continue;
        };
        let server = server.clone();
        attempts.spawn(async move {
            tokio::time::sleep_until(at).await;
            let login =
                tokio::time::timeout(limit, connect_one(proto, &server, addr, &nick, &room)).await;
            (index, login.unwrap_or(Err(LoginError::Timeout(limit))))
        });
    }
    let mut fleet = Fleet {
        sessions: Vec::with_capacity(config.clients as usize),
        failed: 0,
        failed_by_server: vec![0; config.servers.len()],
        first_failure: None,
        connect_time: Duration::ZERO,
    };
    while let Some(attempt) = attempts.join_next().await {
        let failure = match attempt {
            Ok((index, Err(e))) => {
                if let Some(n) = fleet.failed_by_server.get_mut(config.server_of(index)) {
                    *n += 1;
                }
                Some(format!("client {index}: {e}"))
            }
            Ok((index, Ok(conn))) => {
                let start = start.clone();
                fleet.sessions.push(session::spawn(
                    index,
                    conn,
                    Arc::clone(shared),
                    start,
                    read_buffer,
                ));
                None
            }
            Err(e) => Some(format!("a connecting task failed: {e}")),
        };
        if let Some(failure) = failure {
            tracing::debug!("{failure}");
            fleet.failed += 1;
            fleet.first_failure.get_or_insert(failure);
        }
        bar.inc(1);
        bar.set_message(format!("{} failed", fleet.failed));
    }
    fleet.connect_time = began.elapsed();
    bar.finish_and_clear();
    fleet.sessions.sort_by_key(|s| s.index);
    fleet
}

/// Connects one client (over TCP or a WebSocket) and logs it in.
async fn connect_one(
    proto: Proto,
    server: &str,
    addr: SocketAddr,
    nick: &str,
    room: &str,
) -> Result<Conn, LoginError> {
    let mut conn = Conn::connect(proto, server, addr).await?;
    wire::login(proto, &mut conn, nick, room).await?;
    Ok(conn)
}

/// The figures and sockets handed back by the clients' tasks.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every reader's figures.
    pub readers: Vec<ReaderStats>,
    /// Every writer's figures.
    pub writers: Vec<WriterStats>,
    /// Connections whose two halves both came back, to be closed politely.
    pub sockets: Vec<Conn>,
    /// Tasks that did not hand back in time (aborted; their figures are lost).
    pub lost_tasks: u64,
    /// Deliveries counted by the clients of each server (indexed like
    /// [`Config::servers`]).
    pub delivered_by_server: Vec<u64>,
    /// Messages written by the clients of each server.
    pub sent_by_server: Vec<u64>,
}

/// Takes the figures back from every client's tasks once the run's stop
/// token is cancelled; a task that takes longer than [`WIND_DOWN`] is aborted.
/// Deliveries and sends are also added up per server, of `servers`.
pub async fn collect(sessions: Vec<Session>, servers: usize) -> Collected {
    let deadline = Instant::now() + WIND_DOWN;
    let mut collected = Collected {
        delivered_by_server: vec![0; servers],
        sent_by_server: vec![0; servers],
        ..Collected::default()
    };
    for session in sessions {
        let which = server_index(session.index, servers);
        let mut reader = session.reader;
        let mut writer = session.writer;
        let read = tokio::time::timeout_at(deadline, &mut reader).await;
        let write = tokio::time::timeout_at(deadline, &mut writer).await;
        let read_half = match read {
            Ok(Ok((stats, half))) => {
                if let Some(n) = collected.delivered_by_server.get_mut(which) {
                    *n += stats.deliveries;
                }
                collected.readers.push(stats);
                Some(half)
            }
            _ => {
                reader.abort();
                collected.lost_tasks += 1;
                None
            }
        };
        let write_half = match write {
            Ok(Ok((stats, half))) => {
                if let Some(n) = collected.sent_by_server.get_mut(which) {
                    *n += stats.sent;
                }
                collected.writers.push(stats);
                Some(half)
            }
            _ => {
                writer.abort();
                collected.lost_tasks += 1;
                None
            }
        };
        if let (Some(r), Some(w)) = (read_half, write_half)
            && let Some(conn) = Conn::reunite(r, w)
        {
            collected.sockets.push(conn);
        }
    }
    collected
}

/// Logs every client out (JSON `logout`, IRC `QUIT`) and reads until the
/// server closes, all at once, for at most [`WIND_DOWN`]; connections still
/// open then are dropped. Returns how many closed cleanly.
pub async fn disconnect(proto: Proto, sockets: Vec<Conn>) -> u64 {
    let goodbye = Arc::new(wire::goodbye(proto));
    let mut closing = JoinSet::new();
    for conn in sockets {
        let goodbye = Arc::clone(&goodbye);
        closing.spawn(async move { conn.close(&goodbye).await });
    }
    let deadline = Instant::now() + WIND_DOWN;
    let mut clean = 0;
    while let Ok(Some(closed)) = tokio::time::timeout_at(deadline, closing.join_next()).await {
        if matches!(closed, Ok(true)) {
            clean += 1;
        }
    }
    closing.shutdown().await;
    clean
}
