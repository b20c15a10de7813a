//! Durable ingest through the real server: many senders across many rooms
//! send `broadcast`s open loop (by the clock, never waiting for replies),
//! and the time from each message's slot to its `ack` (which the server
//! sends only once the message's batch is committed) is recorded.
//!
//! Latency is measured from the slot a message was due in, not from when
//! the sender got to write it, so a server that falls behind is charged
//! for the wait (no coordinated omission). While the senders send, one more
//! client joins rooms and pages history, to show what a heavy writer does
//! to readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::client::{Client, failed};
use super::corpus::Corpus;
use super::fill::Layout;
use super::probes::{self, Latency};
use super::server::Server;
use crate::error::BenchError;
use crate::procstat::{self, CpuTime};

/// After the last slot, how long to wait for the last acknowledgements.
const DRAIN: Duration = Duration::from_secs(20);

/// Distinct texts the senders cycle through (generated before the run).
const TEXTS: usize = 4_096;

/// How an ingest run is shaped.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct IngestConfig {
    /// Messages per second offered, all senders together.
    pub rate: f64,
    /// Sending connections.
    pub senders: u32,
    /// Rooms each sender joins and sends to in turn.
    pub rooms_per_sender: u32,
    /// How long they send.
    pub duration_s: f64,
}

/// What an ingest run measured.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// What was asked for.
    pub config: IngestConfig,
    /// Messages due by the schedule.
    pub offered: u64,
    /// Messages written.
    pub sent: u64,
    /// Acknowledgements received.
    pub acked: u64,
    /// Acknowledgements per second over the sending window.
    pub acked_per_s: f64,
    /// Error frames received (the first one, if any).
    pub errors: u64,
    /// The first error frame.
    pub first_error: Option<String>,
    /// Time from a message's slot to its `ack`.
    pub ack: Latency,
    /// Joins (replay included) by another client meanwhile.
    pub join_meanwhile: Latency,
    /// History pages read by that client meanwhile.
    pub page_meanwhile: Latency,
    /// The server's CPU over the window, in cores.
    pub server_cores: f64,
    /// The server's CPU by thread (cores), the busiest first.
    pub server_threads: Vec<(String, f64)>,
    /// The bench's own CPU over the window, in cores.
    pub bench_cores: f64,
}

/// The slots of one sender: when each message was due, in microseconds
/// after the start (0: not sent yet).
struct Slots {
    due_us: Vec<AtomicU64>,
}

/// Runs the senders against `server` and measures them.
pub async fn ingest(
    server: &Server,
    layout: &Layout,
    config: IngestConfig,
    seed: u64,
) -> Result<IngestReport, BenchError> {
    if config.senders == 0 || config.rate <= 0.0 || config.duration_s <= 0.0 {
        return Err(BenchError::Invalid(
            "the ingest needs senders, a rate and a duration".into(),
        ));
    }
    let corpus = Corpus::new();
    let mut rng = fastrand::Rng::with_seed(seed);
    let texts: Arc<Vec<String>> = Arc::new(
        (0..TEXTS)
            .map(|_| serde_json::to_string(&corpus.message(&mut rng)).unwrap_or_default())
            .collect(),
    );
    let per_sender = config.rate / f64::from(config.senders);
    let slots = (per_sender * config.duration_s).floor() as u64;
    let mut connections = Vec::new();
    for i in 0..config.senders {
        let mut client = Client::guest(server.json, &format!("hs{i}")).await?;
        let mut rooms = Vec::new();
        for j in 0..config.rooms_per_sender {
            let r = (u64::from(i) * u64::from(config.rooms_per_sender) + u64::from(j)) * 7_919
                % u64::from(layout.rooms);
            let room = Layout::room(u32::try_from(r).unwrap_or(0));
            client.join(&room).await?;
            rooms.push(serde_json::to_string(&room).unwrap_or_default());
        }
        connections.push((client, rooms));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let prober = tokio::spawn(probes::meanwhile(
        server.json,
        *layout,
        stop.clone(),
        seed ^ 0x5eed,
    ));
    let cpu_before = server.cpu()?;
    let threads_before = server.threads()?;
    let own_before = procstat::self_cpu().map_err(BenchError::OwnStats)?;
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::new();
    for (i, (client, rooms)) in connections.into_iter().enumerate() {
        let (lines, writer) = client.into_parts();
        let slots_of = Arc::new(Slots {
            due_us: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        });
        let phase = i as f64 / f64::from(config.senders);
        let until = start + Duration::from_secs_f64(config.duration_s) + DRAIN;
        let reader = tokio::spawn(read_acks(lines, slots_of.clone(), start, until));
        let writer = tokio::spawn(send(
            writer,
            rooms,
            texts.clone(),
            slots_of,
            start,
            per_sender,
            phase,
            i,
        ));
        tasks.push((writer, reader));
    }
    let mut sent = 0;
    let mut readers = Vec::new();
    // The write halves stay open until every acknowledgement is in: a
    // closed write half ends the connection before the last ones are sent.
    let mut open = Vec::new();
    for (writer, reader) in tasks {
        let (count, half) = writer.await.map_err(|e| failed("sender", e))??;
        sent += count;
        open.push(half);
        readers.push(reader);
    }
    let window = start.elapsed();
    let mut ack =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| failed("histogram", e))?;
    let (mut acked, mut errors, mut first_error) = (0, 0, None);
    let mut last_ack = Duration::ZERO;
    for reader in readers {
        let read = reader.await.map_err(|e| failed("reader", e))??;
        acked += read.acked;
        errors += read.errors;
        first_error = first_error.or(read.first_error);
        last_ack = last_ack.max(read.last_ack);
        ack.add(&read.histogram)
            .map_err(|e| failed("histogram", e))?;
    }
    drop(open);
    let cpu = server.cpu()?.since(cpu_before);
    let threads = thread_cores(&threads_before, &server.threads()?, window);
    let own = procstat::self_cpu()
        .map_err(BenchError::OwnStats)?
        .since(own_before);
    stop.store(true, Ordering::Relaxed);
    let (join_meanwhile, page_meanwhile) = prober.await.map_err(|e| failed("prober", e))??;
    let sending = last_ack.max(Duration::from_secs_f64(config.duration_s));
    Ok(IngestReport {
        config,
        offered: slots * u64::from(config.senders),
        sent,
        acked,
        acked_per_s: acked as f64 / sending.as_secs_f64(),
        errors,
        first_error,
        ack: Latency::of(&ack),
        join_meanwhile,
        page_meanwhile,
        server_cores: cpu.cores(window),
        server_threads: threads,
        bench_cores: own.cores(window),
    })
}

/// Each thread's CPU between two readings, in cores over `window`, the
/// busiest first (threads with the same name together).
fn thread_cores(
    before: &[(String, CpuTime)],
    after: &[(String, CpuTime)],
    window: Duration,
) -> Vec<(String, f64)> {
    let mut cores: Vec<(String, f64)> = after
        .iter()
        .map(|(name, cpu)| {
            let earlier = before
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, c)| *c)
                .unwrap_or_default();
            (name.clone(), cpu.since(earlier).cores(window))
        })
        .filter(|(_, c)| *c >= 0.005)
        .collect();
    cores.sort_by(|a, b| b.1.total_cmp(&a.1));
    cores
}

/// One sender: every due message in one write, by the clock. Returns how
/// many it sent, and the write half (to be closed once the answers are in).
#[allow(clippy::too_many_arguments)]
async fn send(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    rooms: Vec<String>,
    texts: Arc<Vec<String>>,
    slots: Arc<Slots>,
    start: Instant,
    rate: f64,
    phase: f64,
    sender: usize,
) -> Result<(u64, tokio::net::tcp::OwnedWriteHalf), BenchError> {
    let total = slots.due_us.len();
    let due = |k: usize| start + Duration::from_secs_f64((k as f64 + phase) / rate);
    let mut next = 0;
    let mut buffer = Vec::new();
    while next < total {
        tokio::time::sleep_until(due(next).into()).await;
        let now = Instant::now();
        buffer.clear();
        while next < total && due(next) <= now {
            let due_us = u64::try_from(due(next).duration_since(start).as_micros()).unwrap_or(0);
            slots.due_us[next].store(due_us.max(1), Ordering::Release);
            let room = &rooms[next % rooms.len()];
            let text = &texts[(next * 31 + sender * 17) % texts.len()];
            buffer.extend_from_slice(
                format!(r#"{{"type":"broadcast","room":{room},"message":{text},"ref":{next}}}"#)
                    .as_bytes(),
            );
            buffer.push(b'\n');
            next += 1;
        }
        writer
            .write_all(&buffer)
            .await
            .map_err(|e| failed("send", e))?;
    }
    Ok((total as u64, writer))
}

/// What one sender's reader saw.
struct Read {
    acked: u64,
    errors: u64,
    first_error: Option<String>,
    last_ack: Duration,
    histogram: Histogram<u64>,
}

/// Reads a sender's connection until every slot is acknowledged (or the
/// drain time after the last slot passes), timing each `ack`.
async fn read_acks(
    mut lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>>,
    slots: Arc<Slots>,
    start: Instant,
    until: Instant,
) -> Result<Read, BenchError> {
    let total = slots.due_us.len() as u64;
    let mut read = Read {
        acked: 0,
        errors: 0,
        first_error: None,
        last_ack: Duration::ZERO,
        histogram: Histogram::new_with_bounds(1, 60_000_000, 3)
            .map_err(|e| failed("histogram", e))?,
    };
    while read.acked + read.errors < total {
        let line = match tokio::time::timeout_at(until.into(), lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        };
        if line.contains(r#""type":"ack""#) {
            let now = start.elapsed();
            let slot = reference(&line).and_then(|k| slots.due_us.get(k));
            if let Some(due) = slot {
                let due = due.load(Ordering::Acquire);
                let us = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
                read.histogram
                    .saturating_record(us.saturating_sub(due).max(1));
            }
            read.acked += 1;
            read.last_ack = now;
        } else if line.contains(r#""type":"error""#) {
            read.errors += 1;
            read.first_error.get_or_insert(line);
        }
    }
    Ok(read)
}

/// The numeric `ref` of a frame.
fn reference(line: &str) -> Option<usize> {
    let at = line.find(r#""ref":"#)? + 6;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_reference() {
        assert_eq!(
            reference(r#"{"type":"ack","ref":42,"msg_id":7,"ts":1}"#),
            Some(42)
        );
        assert_eq!(reference(r#"{"type":"ack","msg_id":7}"#), None);
    }
}
