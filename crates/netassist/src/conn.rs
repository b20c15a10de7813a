//! One TCP connection as two tasks: a reader that shows what arrives and
//! answers it (echo / rules), and a writer that drains a bounded queue.
//!
//! Used by both the client (one connection) and the server (one per client).
//! The queue is bounded, so a peer that never reads cannot make us buffer
//! without limit: everything sent waits for room (TCP backpressure). Only a
//! server broadcast gives up on a peer whose queue stays full for the stall
//! timeout ([`Outbox::deliver`]), so one stalled client cannot hold up the rest.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::console::Direction;
use crate::encoding::{StreamDecoder, decode_whole};
use crate::session::Session;
use crate::stats::Counters;

/// Messages queued per connection before senders have to wait.
pub const QUEUE_LEN: usize = 256;
/// Size of one read; also the largest chunk shown at once.
const READ_BUF: usize = 64 * 1024;

/// A byte stream a connection can run on: plain TCP or TLS over TCP.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for S {}

/// Something for the writer task to do.
#[derive(Debug)]
enum Out {
    /// Write these bytes.
    Data(Bytes),
    /// Signal once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
    /// Write what is queued, then close our sending side (half-close).
    Shutdown,
}

/// The sending side of a connection: its writer's bounded queue. Cheap to
/// clone; the writer finishes once every clone is dropped.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Out>,
    used: Arc<AtomicBool>,
    stall: Arc<Stall>,
}

/// Whether broadcasts currently skip this peer, and how many they skipped.
#[derive(Debug, Default)]
struct Stall {
    stalled: AtomicBool,
    dropped: AtomicU64,
}

/// What became of a broadcast message (see [`Outbox::deliver`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued.
    Queued,
    /// Queued, and the peer reads again after a stall in which `dropped`
    /// messages were skipped.
    Resumed {
        /// Messages dropped while the peer was stalled.
        dropped: u64,
    },
    /// Not queued: the queue stayed full until the deadline; the peer is
    /// stalled from now on.
    Stalled,
    /// Not queued: the peer is still stalled.
    Dropped,
    /// Not queued: the connection is closing.
    Closed,
}

impl Outbox {
    fn new(tx: mpsc::Sender<Out>) -> Outbox {
        Outbox {
            tx,
            used: Arc::new(AtomicBool::new(false)),
            stall: Arc::new(Stall::default()),
        }
    }

    /// Queues a broadcast message if that needs no waiting: there is room,
    /// or the peer is stalled (then the message is dropped). `Err` gives the
    /// message back when the queue is full; then [`Outbox::deliver`] waits.
    ///
    /// A stalled peer is waited for again once its queue is half empty.
    pub fn try_deliver(&self, bytes: Bytes) -> Result<Delivery, Bytes> {
        let mut resumed = None;
        if self.stall.stalled.load(Ordering::Relaxed) {
            if self.tx.is_closed() {
                return Ok(Delivery::Closed);
            }
            if self.tx.capacity() < self.tx.max_capacity() / 2 {
                self.stall.dropped.fetch_add(1, Ordering::Relaxed);
                return Ok(Delivery::Dropped);
            }
            self.stall.stalled.store(false, Ordering::Relaxed);
            resumed = Some(self.stall.dropped.swap(0, Ordering::Relaxed));
        }
        match self.tx.try_send(Out::Data(bytes)) {
            Ok(()) => {
                self.used.store(true, Ordering::Relaxed);
                Ok(resumed.map_or(Delivery::Queued, |dropped| Delivery::Resumed { dropped }))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(Delivery::Closed),
            Err(mpsc::error::TrySendError::Full(out)) => match out {
                Out::Data(bytes) => Err(bytes),
                Out::Flush(_) | Out::Shutdown => Ok(Delivery::Closed),
            },
        }
    }

    /// Queues a broadcast message, waiting for room until `deadline`: a peer
    /// that reads, however slowly, holds the sender back (backpressure). A
    /// peer whose queue is still full at the deadline has stalled: its
    /// messages are dropped without waiting (see [`Outbox::try_deliver`]).
    pub async fn deliver(&self, bytes: Bytes, deadline: Instant) -> Delivery {
        let bytes = match self.try_deliver(bytes) {
            Ok(done) => return done,
            Err(bytes) => bytes,
        };
        self.used.store(true, Ordering::Relaxed);
        match tokio::time::timeout_at(deadline, self.tx.send(Out::Data(bytes))).await {
            Ok(Ok(())) => Delivery::Queued,
            Ok(Err(_)) => Delivery::Closed,
            Err(_) => {
                self.stall.stalled.store(true, Ordering::Relaxed);
                self.stall.dropped.store(1, Ordering::Relaxed);
                Delivery::Stalled
            }
        }
    }

    /// Queues `bytes`, waiting for room (backpressure). `false` if the
    /// writer is gone.
    pub async fn send(&self, bytes: Bytes) -> bool {
        self.used.store(true, Ordering::Relaxed);
        self.tx.send(Out::Data(bytes)).await.is_ok()
    }

    /// Waits until everything queued so far has been written (or the writer is gone).
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Out::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Closes our sending side once everything queued so far is written
    /// (half-close, like ncat at the end of its input): the peer reads
    /// end-of-file and can still answer. Nothing can be sent after this.
    pub async fn close_write(&self) {
        let _ = self.tx.send(Out::Shutdown).await;
    }

    /// Whether anything was ever queued for this connection.
    pub fn used(&self) -> bool {
        self.used.load(Ordering::Relaxed)
    }
}

/// Why the reading side ended.
#[derive(Debug)]
pub enum Closed {
    /// The peer closed its side (EOF).
    Eof,
    /// Reading failed, e.g. the connection was reset.
    Error(io::Error),
}

/// A running connection.
#[derive(Debug)]
pub struct Conn {
    /// Queue to the writer.
    pub outbox: Outbox,
    /// This connection's counters.
    pub stats: Arc<Counters>,
    /// The reader; finishes when the peer closes or reading fails.
    pub reader: JoinHandle<Closed>,
    /// The writer; finishes once every sender is dropped and the queue is
    /// written (then it shuts down our sending side), or with the error of a
    /// write that failed (what was queued is then lost).
    pub writer: JoinHandle<io::Result<()>>,
}

impl Conn {
    /// Starts the reader and writer tasks for `stream`, labelled `label` in output.
    pub fn spawn(session: Arc<Session>, stream: impl Stream, label: String) -> Conn {
        Conn::start(session, stream, label, None)
    }

    /// Like [`Conn::spawn`], but the reader waits until the returned sender
    /// is used or dropped: the server registers and announces a client
    /// before anything it sends is shown.
    pub fn spawn_held(
        session: Arc<Session>,
        stream: impl Stream,
        label: String,
    ) -> (Conn, oneshot::Sender<()>) {
        let (release, held) = oneshot::channel();
        (Conn::start(session, stream, label, Some(held)), release)
    }

    fn start<S: Stream>(
        session: Arc<Session>,
        stream: S,
        label: String,
        held: Option<oneshot::Receiver<()>>,
    ) -> Conn {
        let (read_half, write_half) = tokio::io::split(stream);
        let (tx, rx) = mpsc::channel(QUEUE_LEN);
        let outbox = Outbox::new(tx);
        let stats = Arc::new(Counters::default());
        let writer = tokio::spawn(write_loop(
            session.clone(),
            write_half,
            rx,
            label.clone(),
            stats.clone(),
        ));
        let reader = tokio::spawn(read_loop(
            session,
            read_half,
            outbox.clone(),
            label,
            stats.clone(),
            held,
        ));
        Conn {
            outbox,
            stats,
            reader,
            writer,
        }
    }
}

async fn write_loop<S: Stream>(
    session: Arc<Session>,
    mut socket: WriteHalf<S>,
    mut rx: mpsc::Receiver<Out>,
    label: String,
    stats: Arc<Counters>,
) -> io::Result<()> {
    let mut offset = 0u64;
    while let Some(out) = rx.recv().await {
        match out {
            Out::Data(bytes) => {
                if let Err(e) = socket.write_all(&bytes).await {
                    session
                        .console
                        .status(&format!("{label}: write failed: {e}"));
                    return Err(e);
                }
                stats.record_tx(bytes.len());
                session.totals.record_tx(bytes.len());
                let text = decode_whole(&bytes, session.settings().encoding);
                session
                    .console
                    .data(Direction::Tx, &label, &bytes, &text, offset);
                offset += bytes.len() as u64;
            }
            Out::Flush(ack) => {
                let _ = ack.send(());
            }
            Out::Shutdown => break,
        }
    }
    // Every sender is gone, or a half-close was asked for: tell the peer we
    // are done sending. Whatever is queued after a half-close is dropped.
    let _ = socket.shutdown().await;
    Ok(())
}

async fn read_loop<S: Stream>(
    session: Arc<Session>,
    mut socket: ReadHalf<S>,
    outbox: Outbox,
    label: String,
    stats: Arc<Counters>,
    held: Option<oneshot::Receiver<()>>,
) -> Closed {
    if let Some(held) = held {
        let _ = held.await;
    }
    let mut buf = vec![0u8; READ_BUF];
    let mut encoding = session.settings().encoding;
    let mut decoder = StreamDecoder::new(encoding);
    let mut offset = 0u64;
    loop {
        let n = match socket.read(&mut buf).await {
            Ok(0) => return Closed::Eof,
            Ok(n) => n,
            Err(e) => return Closed::Error(e),
        };
        let bytes = &buf[..n];
        // `/encoding` switched: decode with the new one from here on.
        let now = session.settings().encoding;
        if now != encoding {
            encoding = now;
            decoder = StreamDecoder::new(encoding);
        }
        stats.record_rx(n);
        session.totals.record_rx(n);
        let text = decoder.decode(bytes, false);
        session
            .console
            .data(Direction::Rx, &label, bytes, &text, offset);
        offset += n as u64;
        for reply in session.responses(bytes, &text) {
            // Waiting here is TCP backpressure: while the peer does not read
            // our replies, we stop reading its requests.
            if !outbox.send(reply).await {
                break;
            }
        }
    }
}
