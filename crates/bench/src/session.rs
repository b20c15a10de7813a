//! One logged-in client during a run: a reader task and a writer task.
//!
//! The two halves of the socket are driven by separate tasks so that a
//! sender blocked on a full socket never stops its own connection from
//! reading (which could deadlock against a server that is itself blocked
//! writing to it), and a busy reader never delays a scheduled send.
//!
//! - The **reader** reads with a big buffer and hands each run of complete
//!   lines (over a WebSocket: the messages of each read, as slices of the
//!   buffer, see [`websocket::read_loop`]) to [`Scanner`]: one SIMD search
//!   for the run's marker, no protocol parsing. Each stamp found is a
//!   delivery (or an echo of the client's own message); its latency goes
//!   into its thread's histogram ([`Shards`]). In IRC it also answers
//!   `PING`s (over a WebSocket also WebSocket pings), through the writer.
//! - The **writer** waits for the start signal; a sender then follows its
//!   open-loop [`Schedule`], writing every due message of a wake-up in one
//!   `write` (over a WebSocket: one frame each, in one write). It also
//!   writes the reader's `PONG`s.
//!
//! Both stop when the run's stop token is cancelled and hand back their
//! figures and their half of the socket, so the connection can be closed
//! politely.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::latency::{self, Shards};
use crate::names::RunId;
use crate::payload::{self, Scanner, Stamp};
use crate::schedule::{MAX_SEND_LAG, Schedule};
use crate::transport::{Conn, ReadHalf, WriteHalf};
use crate::websocket;
use crate::wire::{self, MessageFrame, Proto};

/// The longest line a reader accepts during the run (its buffer grows up
/// to this for one line); a longer one ends the connection.
pub const MAX_RUN_LINE: usize = 1 << 20;

/// Reads are never smaller than this: when less room is left at the end
/// of the buffer, the unfinished line is moved to the front.
const MIN_READ: usize = 8 * 1024;

/// What every task of a run shares.
#[derive(Debug)]
pub struct Shared {
    /// The run's monotonic epoch: send times are microseconds since it.
    pub epoch: Instant,
    /// The run's id (nicknames and payload marker).
    pub run: RunId,
    /// The protocol spoken.
    pub proto: Proto,
    /// The bytes of a message around its text (to the run's room).
    pub message: MessageFrame,
    /// Bytes per message text.
    pub size: usize,
    /// Deliveries seen so far, all connections together (for the drain
    /// and the progress bar; the report adds up the per-connection counts).
    pub delivered: AtomicU64,
    /// Messages sent so far.
    pub sent: AtomicU64,
    /// Connections the server ended so far (for the progress bars; the
    /// report counts them per connection).
    pub dropped: AtomicU64,
    /// Latency of every delivery, one histogram per worker thread, and per
    /// second of the run for its timeline.
    pub latencies: Shards,
    /// Senders that have not finished their schedule.
    pub senders_active: AtomicU64,
    /// Cancelled when the run is over (or abandoned).
    pub stop: CancellationToken,
}

impl Shared {
    /// Microseconds since the epoch.
    pub fn now_us(&self) -> u64 {
        micros(Instant::now().saturating_duration_since(self.epoch))
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The start signal: when sending begins and who sends.
#[derive(Debug)]
pub struct StartPlan {
    /// When slot 0 of a sender at phase 0 is due.
    pub t0: Instant,
    /// Messages per second per sender.
    pub rate: f64,
    /// How long senders send.
    pub duration: Duration,
    /// Indexed by client: `Some(phase)` for senders, `None` for the others.
    pub roles: Vec<Option<f64>>,
}

/// What a reader saw.
#[derive(Debug, Default)]
pub struct ReaderStats {
    /// Stamps of other clients' messages.
    pub deliveries: u64,
    /// Stamps of this client's own messages (a server that echoes).
    pub echoes: u64,
    /// When the last delivery arrived, in microseconds since the epoch.
    pub last_delivery_us: u64,
    /// Bytes read after login.
    pub bytes: u64,
    /// Reads that returned data after login.
    pub reads: u64,
    /// Why the connection ended before the run did, if it did.
    pub closed: Option<String>,
}

/// What a writer did.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Messages written.
    pub sent: u64,
    /// The latest any message was written after its slot, in microseconds.
    pub max_lag_us: u64,
    /// Sum of every message's lateness, in microseconds.
    pub total_lag_us: u64,
    /// Why writing failed, if it did.
    pub failed: Option<String>,
}

/// The tasks of one client.
#[derive(Debug)]
pub struct Session {
    /// The client's index in the run.
    pub index: u32,
    /// The reader task.
    pub reader: JoinHandle<(ReaderStats, ReadHalf)>,
    /// The writer task.
    pub writer: JoinHandle<(WriterStats, WriteHalf)>,
}

/// Starts the tasks of a logged-in client; `read_buffer` is the reader's
/// buffer size.
pub fn spawn(
    index: u32,
    conn: Conn,
    shared: Arc<Shared>,
    start: watch::Receiver<Option<Arc<StartPlan>>>,
    read_buffer: usize,
) -> Session {
    let (read_half, write_half, leftover) = conn.split();
    let (pong_tx, pong_rx) = mpsc::channel(16);
    let state = Reader {
        index,
        shared: Arc::clone(&shared),
        scanner: Scanner::new(shared.run),
        pongs: pong_tx,
        stats: ReaderStats::default(),
    };
    let reader = match read_half {
        ReadHalf::Tcp(half) => tokio::spawn(async move {
            let (stats, half) = read_loop(state, half, leftover, read_buffer).await;
            (stats, ReadHalf::Tcp(half))
        }),
        ReadHalf::Ws(half) => tokio::spawn(async move {
            let (stats, half) = websocket::read_loop(state, half, leftover, read_buffer).await;
            (stats, ReadHalf::Ws(half))
        }),
    };
    let writer = tokio::spawn(write_loop(index, shared, write_half, start, pong_rx));
    Session {
        index,
        reader,
        writer,
    }
}

/// A reader's state besides its buffer.
pub struct Reader {
    /// The client's index in the run.
    pub index: u32,
    /// What the run's tasks share.
    pub shared: Arc<Shared>,
    scanner: Scanner,
    /// Bytes for the writer to write as they are (pongs).
    pongs: mpsc::Sender<Vec<u8>>,
    /// What it saw so far.
    pub stats: ReaderStats,
}

impl Reader {
    /// Counts the stamps in runs of complete lines (or WebSocket messages)
    /// read at `now_us`, and answers IRC pings in them.
    pub fn lines<'a, I>(&mut self, chunks: I, now_us: u64)
    where
        I: IntoIterator<Item = &'a [u8]> + Clone,
    {
        let index = self.index;
        let scanner = &self.scanner;
        let mut deliveries = 0;
        let mut echoes = 0;
        self.shared.latencies.with_local(now_us, |histogram| {
            for chunk in chunks.clone() {
                scanner.for_each(chunk, |stamp: Stamp| {
                    if stamp.sender == index {
                        echoes += 1;
                    } else {
                        deliveries += 1;
                        latency::record(histogram, now_us.saturating_sub(stamp.sent_us));
                    }
                });
            }
        });
        let stats = &mut self.stats;
        stats.echoes += echoes;
        if deliveries > 0 {
            stats.deliveries += deliveries;
            stats.last_delivery_us = now_us;
            self.shared
                .delivered
                .fetch_add(deliveries, Ordering::Relaxed);
        }
        if self.shared.proto.is_irc() {
            let mut pongs = Vec::new();
            let found: usize = chunks
                .into_iter()
                .map(|chunk| wire::irc_pongs(chunk, &mut pongs))
                .sum();
            if found > 0 {
                if self.shared.proto.is_websocket() {
                    let mut frames = Vec::with_capacity(pongs.len() + 64);
                    websocket::push_lines(&mut frames, &pongs);
                    pongs = frames;
                }
                self.reply(pongs);
            }
        }
    }

    /// Has the writer write `bytes` as they are (pongs, over a WebSocket
    /// already framed).
    pub fn reply(&self, bytes: Vec<u8>) {
        // A writer that cannot keep up with pings has bigger problems;
        // dropping a pong then changes nothing.
        let _ = self.pongs.try_send(bytes);
    }
}

async fn read_loop(
    mut reader: Reader,
    mut half: OwnedReadHalf,
    leftover: Vec<u8>,
    read_buffer: usize,
) -> (ReaderStats, OwnedReadHalf) {
    let mut buf = vec![0u8; read_buffer.max(leftover.len() + MIN_READ)];
    buf[..leftover.len()].copy_from_slice(&leftover);
    // buf[..start] has been handled, buf[start..end] is an unfinished line.
    let mut start = 0;
    let mut end = leftover.len();
    let stop = reader.shared.stop.clone();
    loop {
        if let Some(nl) = memchr::memrchr(b'\n', &buf[start..end]) {
            let now_us = reader.shared.now_us();
            reader.lines([&buf[start..=start + nl]], now_us);
            start += nl + 1;
        }
        if buf.len() - end < MIN_READ {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if buf.len() - end < MIN_READ {
                if buf.len() >= MAX_RUN_LINE {
                    let reason = format!("the server sent a line longer than {MAX_RUN_LINE} bytes");
                    tracing::warn!(client = reader.index, "{reason}");
                    reader.stats.closed = Some(reason);
                    break;
                }
                buf.resize((buf.len() * 2).min(MAX_RUN_LINE), 0);
            }
        }
        let read = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            read = half.read(&mut buf[end..]) => read,
        };
        match read {
            Ok(0) => {
                let reason = close_reason(&buf[..start]);
                tracing::debug!(client = reader.index, "{reason}");
                reader.stats.closed = Some(reason);
                break;
            }
            Ok(n) => {
                end += n;
                reader.stats.bytes += n as u64;
                reader.stats.reads += 1;
            }
            Err(e) => {
                tracing::debug!(client = reader.index, "read failed: {e}");
                reader.stats.closed = Some(format!("read failed: {e}"));
                break;
            }
        }
    }
    if reader.stats.closed.is_some() {
        reader.shared.dropped.fetch_add(1, Ordering::Relaxed);
    }
    (reader.stats, half)
}

/// Why the server closed: its last line when that was an error or a
/// goodbye (JSON `error`/`bye`, IRC `ERROR`), else just that it closed.
fn close_reason(handled: &[u8]) -> String {
    let trimmed = handled.strip_suffix(b"\n").unwrap_or(handled);
    let last = match memchr::memrchr(b'\n', trimmed) {
        Some(nl) => &trimmed[nl + 1..],
        None => trimmed,
    };
    match telling(last) {
        Some(shown) => format!("closed by the server after: {shown}"),
        None => "closed by the server".to_owned(),
    }
}

/// A server's last line, shortened, when it says why the server closes:
/// an error or a goodbye (JSON `error`/`bye`, IRC `ERROR`).
pub fn telling(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    let telling = text.starts_with("ERROR")
        || text.contains("\"type\":\"error\"")
        || text.contains("\"type\":\"bye\"");
    telling.then(|| text.chars().take(200).collect())
}

async fn write_loop(
    index: u32,
    shared: Arc<Shared>,
    mut half: WriteHalf,
    mut start: watch::Receiver<Option<Arc<StartPlan>>>,
    mut pongs: mpsc::Receiver<Vec<u8>>,
) -> (WriterStats, WriteHalf) {
    let mut stats = WriterStats::default();
    let stop = shared.stop.clone();
    let mut waiting = true;
    let mut sender: Option<Sender> = None;
    loop {
        let wake = sender.as_ref().and_then(|s| s.next_wake(shared.epoch));
        let outcome = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            Some(pong) = pongs.recv() => until_stopped(half.write_raw(&pong), &stop).await,
            changed = start.changed(), if waiting => {
                waiting = false;
                if changed.is_ok() {
                    let plan = start.borrow_and_update().clone();
                    match plan {
                        Some(plan) => sender = Sender::new(index, &shared, &plan),
                        None => waiting = true,
                    }
                }
                Ok(())
            }
            _ = sleep_until_some(wake), if wake.is_some() => match sender.as_mut() {
                Some(s) => s.send_due(&shared, &mut half, &mut stats).await,
                None => Ok(()),
            },
        };
        if let Err(e) = outcome {
            // A write cut short by the end of the run is no failure.
            if !stop.is_cancelled() {
                stats.failed = Some(e);
            }
            break;
        }
    }
    (stats, half)
}

async fn sleep_until_some(wake: Option<Instant>) {
    if let Some(at) = wake {
        tokio::time::sleep_until(at).await;
    }
}

/// Finishes a write unless the run stops first.
async fn until_stopped(
    write: impl Future<Output = Result<(), String>>,
    stop: &CancellationToken,
) -> Result<(), String> {
    tokio::select! {
        biased;
        _ = stop.cancelled() => Err("stopped while writing".to_owned()),
        written = write => written,
    }
}

/// A writer's sending state.
struct Sender {
    index: u32,
    schedule: Schedule,
    /// The first slot not yet sent or given up.
    next: u64,
    /// Holds the `senders_active` count up until the schedule is done.
    active: Option<ActiveSender>,
    text: String,
    out: Vec<u8>,
}

impl Sender {
    /// The sending state of client `index` if the plan makes it a sender.
    fn new(index: u32, shared: &Arc<Shared>, plan: &StartPlan) -> Option<Sender> {
        let phase = (*plan.roles.get(index as usize)?)?;
        let t0 = plan.t0.saturating_duration_since(shared.epoch);
        let schedule = Schedule::new(t0, plan.rate, plan.duration, phase);
        let mut active = Some(ActiveSender(Arc::clone(shared)));
        if schedule.total() == 0 {
            active = None;
        }
        Some(Sender {
            index,
            schedule,
            next: 0,
            active,
            text: String::with_capacity(shared.size),
            out: Vec::new(),
        })
    }

    /// When the next slot is due, if any is left.
    fn next_wake(&self, epoch: Instant) -> Option<Instant> {
        (self.active.is_some() && self.next < self.schedule.total())
            .then(|| epoch + self.schedule.slot_time(self.next))
    }

    /// Sends every slot due now in one write, giving up the ones too late.
    async fn send_due(
        &mut self,
        shared: &Shared,
        half: &mut WriteHalf,
        stats: &mut WriterStats,
    ) -> Result<(), String> {
        let now = Instant::now().saturating_duration_since(shared.epoch);
        let plan = self.schedule.plan(self.next, now, MAX_SEND_LAG);
        self.next = plan.send.end;
        let sent_us = micros(now);
        self.out.clear();
        let (mut count, mut max_lag, mut total_lag) = (0u64, 0u64, 0u64);
        for seq in plan.send {
            self.text.clear();
            let stamp = Stamp {
                sender: self.index,
                seq,
                sent_us,
            };
            if let Err(e) = payload::encode(shared.run, stamp, shared.size, &mut self.text) {
                // The settings were checked against the largest stamp of
                // the run, so this is a bug; say so (it shows as shortfall).
                tracing::error!("message not sent: {e}");
                continue;
            }
            shared.message.encode(&self.text, &mut self.out);
            let lag = micros(now.saturating_sub(self.schedule.slot_time(seq)));
            count += 1;
            max_lag = max_lag.max(lag);
            total_lag = total_lag.saturating_add(lag);
        }
        if self.next >= self.schedule.total() {
            self.active = None;
        }
        if count == 0 {
            return Ok(());
        }
        until_stopped(half.write_lines(&self.out), &shared.stop).await?;
        stats.sent += count;
        stats.max_lag_us = stats.max_lag_us.max(max_lag);
        stats.total_lag_us = stats.total_lag_us.saturating_add(total_lag);
        shared.sent.fetch_add(count, Ordering::Relaxed);
        Ok(())
    }
}

/// Counts a sender as active in [`Shared::senders_active`] until dropped:
/// when its schedule is done, or when its task ends for any reason.
struct ActiveSender(Arc<Shared>);

impl Drop for ActiveSender {
    fn drop(&mut self) {
        self.0.senders_active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_quotes_a_final_error() {
        assert_eq!(
            close_reason(
                b"{\"type\":\"message\"}\n{\"type\":\"error\",\"code\":\"slow_consumer\"}\n"
            ),
            "closed by the server after: {\"type\":\"error\",\"code\":\"slow_consumer\"}"
        );
        assert_eq!(
            close_reason(b":x PRIVMSG #a :hi\r\nERROR :Closing link (Excess flood)\r\n"),
            "closed by the server after: ERROR :Closing link (Excess flood)"
        );
        assert_eq!(
            close_reason(b":x PRIVMSG #a :hi\r\n"),
            "closed by the server"
        );
        assert_eq!(close_reason(b""), "closed by the server");
    }
}
