//! The connection driver: one task per connection moving bytes between the
//! socket and a protocol session, and keeping the connection honest.
//!
//! It reads through an [`Inbound`] and writes through an [`Outbound`]
//! ([`transport`]): a byte stream (plain TCP or TLS) reads into a per-thread
//! scratch buffer, so an idle connection holds no read buffer of its own,
//! and gathers queued frames into one write; a message transport
//! (WebSocket) takes one protocol frame per message. The session keeps only
//! the bytes of an unfinished frame. Writing drains everything queued in the
//! client's [`Outbox`] and hands it over in as few system calls as it can.
//!
//! It also enforces the per-connection limits: a connection must log in
//! within the login timeout; an idle connection is pinged and closed if it
//! does not answer; chat messages pass one token bucket and every other
//! request another, weighted by what it costs the server and the people it
//! reaches ([`Cost`]); excess ones are refused and a sustained flood
//! disconnects; while the history store is too far behind ([`Backlog`]),
//! chat messages are refused as the server being busy. While it handles
//! input (which may wait), it goes on writing. When the connection ends, the
//! session says its last words, they are flushed within a deadline, and the
//! socket is closed gracefully.

pub mod transport;

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes};
use prometheus_client::metrics::counter::Counter;
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::limits::{RateLimit, TokenBucket, Verdict};
use crate::metrics::DriverMetrics;
use crate::outbox::{CloseReason, Outbox};
use crate::store::Backlog;
pub use transport::{ByteSink, ByteStream, Inbound, MessageStream, Outbound};

/// While traffic is dense, write queues keep up to this many slots of
/// capacity between writes (a busy connection reuses them); larger ones are
/// freed. Sparse traffic keeps none, and a quiet connection gives it all
/// back.
const KEEP_SLOTS: usize = 64;

/// How long a closing connection may take to flush its last frames when the
/// peer is still there but not reading.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// How long, at most, to keep reading (and discarding) after our last frame,
/// so the kernel does not answer unread input with a reset that destroys it.
const LINGER: Duration = Duration::from_secs(1);

/// The linger ends early once the peer has sent nothing for this long.
const LINGER_QUIET: Duration = Duration::from_millis(100);

/// How long a client whose replies pile up (it sends faster than it reads)
/// gets to read them before it is a slow consumer.
const BACKPRESSURE_WAIT: Duration = Duration::from_secs(30);

/// Whether to keep a connection after handling one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Close the connection for this reason.
    Close(CloseReason),
}

/// The timings and limits the driver enforces on every connection.
#[derive(Debug, Clone)]
pub struct DriverLimits {
    /// A connection that has not logged in after this long is closed.
    pub login_timeout: Duration,
    /// A logged-in connection silent for this long is pinged.
    pub ping_interval: Duration,
    /// A ping not answered within this long closes the connection.
    pub ping_timeout: Duration,
    /// The chat message rate limit; `None` for none.
    pub rate: Option<RateLimit>,
    /// The limit on every other request, in cost units ([`Cost::Request`]);
    /// `None` for none.
    pub requests: Option<RateLimit>,
    /// How long shutdown waits for the last frames to be written.
    pub shutdown_grace: Duration,
    /// When traffic is dense, frames queued within this long after a write
    /// wait for the rest of the window and go out together (sparse traffic,
    /// and a connection that just sent a request, are written at once; see
    /// [`Linger`]). Fewer, larger writes under load; zero disables.
    pub write_linger: Duration,
}

/// What one input costs against the connection's rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Nothing: answers to the server (a pong), leaving.
    Free,
    /// A chat message: one token of the chat bucket.
    Chat,
    /// Any other request: this many units of the request bucket. A cheap
    /// query is 1; what reaches other people (a nickname change, a join)
    /// or makes the server read history costs more.
    Request(u32),
}

/// One wire protocol's side of a connection.
pub trait Session: Send {
    /// One decoded unit of input (a request, or a decoding problem).
    type Input: Send;

    /// Decodes freshly read bytes into inputs; keeps any unfinished frame.
    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Self::Input>);

    /// Acts on one input.
    fn handle(&mut self, input: Self::Input) -> impl Future<Output = Flow> + Send;

    /// Whether the client has logged in (the login timeout stops applying).
    fn logged_in(&self) -> bool;

    /// Sends a keepalive ping carrying `token`. Returns false when this
    /// client cannot answer pings (it is then not expected to).
    fn ping(&mut self, token: u64) -> bool;

    /// What this input costs against the rate limits.
    fn cost(&self, input: &Self::Input) -> Cost;

    /// Tells the client this input was dropped by a rate limit.
    fn rate_limited(&mut self, input: Self::Input);

    /// Tells the client this chat message was dropped because the server
    /// is too busy to store it (the history store's backlog is full).
    fn busy(&mut self, input: Self::Input);

    /// The connection is ending for `reason`: leave the hub and return the
    /// frame to send last, if any. Called exactly once.
    fn finish(&mut self, reason: CloseReason) -> Option<Bytes>;
}

/// What the driver needs from the server, shared by every connection.
#[derive(Debug)]
pub struct DriverSettings {
    /// Cancelled when the server shuts down.
    pub shutdown: CancellationToken,
    /// The limits enforced on every connection.
    pub limits: DriverLimits,
    /// Whether the history store has fallen so far behind that chat
    /// messages are refused until it catches up; `None` to take them
    /// regardless.
    pub backlog: Option<Backlog>,
    /// Bytes sent, rate-limit refusals and disconnects, for the metrics.
    pub(crate) metrics: DriverMetrics,
}

/// Runs a connection (its read and write halves) until it ends, then
/// closes it. `guard` is held until then (a connection slot, say).
///
/// This future is most of what an idle connection costs, so it is spawned
/// as the connection's task itself, and everything that is not waiting for
/// the next event (handling input, closing) keeps its state boxed or short.
/// It is a plain function returning an `async move` block so the arguments
/// are stored once, not once as arguments and again as locals.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store its arguments twice (rust-lang/rust#62958)"
)]
pub fn drive<I, O, S, G>(
    mut reader: I,
    mut writer: O,
    outbox: Arc<Outbox>,
    mut session: S,
    settings: Arc<DriverSettings>,
    guard: G,
) -> impl Future<Output = ()> + Send
where
    I: Inbound,
    O: Outbound,
    S: Session,
    G: Send,
{
    async move {
        let mut writing: VecDeque<Bytes> = VecDeque::new();
        let reason = run(
            &mut reader,
            &mut writer,
            &outbox,
            &mut session,
            &mut writing,
            &settings,
        )
        .await;
        // Counted before the last words go out: whoever sees them closed
        // sees the count.
        settings.metrics.closed(reason);
        // Nothing more is queued once the last words are chosen (a late
        // acknowledgement from the store would otherwise follow them).
        outbox.close(reason);
        let last_words = session.finish(reason);
        if reason != CloseReason::Reset {
            outbox.take(&mut writing);
            writing.extend(last_words);
            let flush_for = if reason == CloseReason::Shutdown {
                settings.limits.shutdown_grace
            } else {
                CLOSE_FLUSH
            };
            let deadline = Instant::now() + flush_for;
            Box::pin(close_gracefully(
                &mut reader,
                &mut writer,
                &outbox,
                &mut writing,
                deadline,
                &settings.metrics,
            ))
            .await;
        }
        // The socket goes before the slot it held.
        drop((reader, writer));
        drop(guard);
    }
}

/// The main loop; returns why the connection ends.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would store its arguments twice (rust-lang/rust#62958)"
)]
fn run<'a, I, O, S>(
    reader: &'a mut I,
    writer: &'a mut O,
    outbox: &'a Outbox,
    session: &'a mut S,
    writing: &'a mut VecDeque<Bytes>,
    settings: &'a DriverSettings,
) -> impl Future<Output = CloseReason> + Send + 'a
where
    I: Inbound,
    O: Outbound,
    S: Session,
{
    async move {
        let limits = &settings.limits;
        let sent = &settings.metrics.sent_bytes;
        let mut inputs = Vec::new();
        let started = Instant::now();
        let mut last_input = started;
        let mut ping_sent: Option<Instant> = None;
        let mut pings = 0u64;
        let mut buckets = Buckets {
            chat: limits.rate.map_or(TokenBucket::new(OFF), TokenBucket::new),
            requests: limits
                .requests
                .map_or(TokenBucket::new(OFF), TokenBucket::new),
        };
        let mut linger = Linger::new(limits.write_linger, started);
        // The shutdown wait and the timer are made once, not per turn: it
        // saves a timer registration per turn.
        let cancelled = settings.shutdown.cancelled();
        let timer = sleep_until(started);
        tokio::pin!(cancelled, timer);
        loop {
            // Write whatever the socket takes right now, without waiting
            // (unless new frames are waiting out the linger window).
            if !writing.is_empty() || linger.until.is_none() {
                let mut frames = 0;
                let drained = poll_drain(
                    writer,
                    outbox,
                    writing,
                    &mut Context::from_waker(Waker::noop()),
                    &mut frames,
                    sent,
                );
                if let Poll::Ready(Err(_)) = drained {
                    return CloseReason::Reset;
                }
                linger.wrote(Instant::now(), frames);
            }
            // Sparse traffic keeps no write queue between frames: most
            // connections are idle most of the time.
            if writing.is_empty() && writing.capacity() > 0 && !linger.dense {
                *writing = VecDeque::new();
            }

            if let Some(reason) = outbox.close_reason() {
                return reason;
            }
            let deadline = if !session.logged_in() {
                started + limits.login_timeout
            } else if let Some(sent) = ping_sent {
                sent + limits.ping_timeout
            } else {
                last_input + limits.ping_interval
            };
            // One timer for both the linger window and the deadline.
            let wake_at = linger.until.map_or(deadline, |until| until.min(deadline));
            if timer.deadline() != wake_at {
                timer.as_mut().reset(wake_at);
            }
            let blocked = !writing.is_empty();
            tokio::select! {
                biased;
                () = &mut cancelled => return CloseReason::Shutdown,
                // With nothing to write, wait for frames; while frames
                // wait out the linger window, only a reply the client
                // waits for, or closing, wakes the driver (a push to a
                // queue that holds frames already wakes nobody). Blocked
                // on a full socket, wait only for closing: a slow
                // consumer's queue may pass its budget, and that is
                // noticed now, not when the socket drains.
                () = outbox.wait_while(blocked) => {
                    if !blocked {
                        if linger.until.is_none() {
                            linger.arrived(Instant::now());
                        }
                        // A reply that came after its request was handled
                        // (an acknowledgement) never waits for room traffic.
                        if linger.until.is_some() && outbox.reply_waiting() {
                            linger.until = None;
                        }
                    }
                }
                drained = poll_fn(|cx| poll_drain(writer, outbox, writing, cx, &mut 0, sent)), if blocked => {
                    if drained.is_err() {
                        return CloseReason::Reset;
                    }
                }
                read = poll_fn(|cx| reader.poll_read(cx, |bytes| session.decode(bytes, &mut inputs))) => {
                    match read {
                        Ok(0) => return CloseReason::Closed,
                        Ok(_) => {
                            last_input = Instant::now();
                            ping_sent = None;
                            // A client that just spoke is answered at once:
                            // only traffic it did not ask for waits out the
                            // linger.
                            linger.until = None;
                        }
                        Err(_) => return CloseReason::Reset,
                    }
                    // Boxed: handling input may wait (a login, a history
                    // read, a client reading its replies), and that state
                    // should not sit in every idle connection's task. One
                    // allocation per read that completed a frame, none per
                    // recipient.
                    if !inputs.is_empty() {
                        let inputs = std::mem::take(&mut inputs);
                        let handled = Box::pin(writing_while(
                            handle(outbox, session, &mut buckets, settings, inputs),
                            writer,
                            outbox,
                            writing,
                            sent,
                        ));
                        if let Some(reason) = handled.await {
                            return reason;
                        }
                    }
                }
                () = &mut timer => {
                    let now = Instant::now();
                    if linger.until.is_some_and(|until| until <= now) {
                        linger.until = None;
                    }
                    if now < deadline {
                        continue;
                    }
                    if !session.logged_in() {
                        return CloseReason::LoginTimeout;
                    }
                    if ping_sent.is_some() {
                        return CloseReason::PingTimeout;
                    }
                    // A quiet connection gives its write buffers back.
                    if writing.is_empty() {
                        *writing = VecDeque::new();
                        outbox.release_idle();
                    }
                    pings += 1;
                    if session.ping(pings) {
                        ping_sent = Some(now);
                    } else {
                        // The client cannot answer pings: TCP keepalive
                        // watches it.
                        last_input = now;
                    }
                }
            }
        }
    }
}

/// Acts on freshly decoded inputs in order, through the rate limits and the
/// store's backlog; returns why the connection must close, if it must.
async fn handle<S: Session>(
    outbox: &Outbox,
    session: &mut S,
    buckets: &mut Buckets,
    settings: &DriverSettings,
    inputs: Vec<S::Input>,
) -> Option<CloseReason> {
    let (limits, metrics) = (&settings.limits, &settings.metrics);
    for input in inputs {
        let kind = session.cost(&input);
        let (bucket, cost) = match kind {
            Cost::Free => (None, 0),
            Cost::Chat => (limits.rate.map(|l| (&mut buckets.chat, l)), 1),
            Cost::Request(cost) => (limits.requests.map(|l| (&mut buckets.requests, l)), cost),
        };
        if let Some((bucket, limit)) = bucket {
            match bucket.take_n(limit, Instant::now().into_std(), cost) {
                Verdict::Pass => {}
                Verdict::Refuse => {
                    metrics.rate_limited.inc();
                    session.rate_limited(input);
                    continue;
                }
                Verdict::Flood => return Some(CloseReason::Flood),
            }
        }
        if kind == Cost::Chat
            && let Some(backlog) = &settings.backlog
            && !backlog.admits_message()
        {
            session.busy(input);
            continue;
        }
        if let Flow::Close(reason) = session.handle(input).await {
            return Some(reason);
        }
        // Replies piling up: take no more input until the client has read
        // half of them (it is sending faster than it reads); they are
        // written meanwhile ([`writing_while`]).
        if outbox.is_half_full() {
            match timeout(BACKPRESSURE_WAIT, outbox.wait_half_drained()).await {
                Ok(true) => {}
                Ok(false) => {
                    return Some(outbox.close_reason().unwrap_or(CloseReason::SlowConsumer));
                }
                Err(_) => return Some(CloseReason::SlowConsumer),
            }
        }
    }
    None
}

/// Awaits `work` (handling input) while writing what is queued for the
/// client meanwhile. A request may wait (a history read behind a busy
/// store, a password hash, a client reading its replies), and deliveries to
/// the client go on arriving: unwritten they would pile up past its budget
/// and cut it off as a slow consumer for a wait of the server's making.
/// `work` always runs to its end (it may have changed shared state half
/// way); a failed socket closes the outbox, which ends any wait in it.
async fn writing_while<O: Outbound, T>(
    work: impl Future<Output = T>,
    writer: &mut O,
    outbox: &Outbox,
    writing: &mut VecDeque<Bytes>,
    sent: &Counter,
) -> T {
    tokio::pin!(work);
    loop {
        let now = poll_drain(
            writer,
            outbox,
            writing,
            &mut Context::from_waker(Waker::noop()),
            &mut 0,
            sent,
        );
        if let Poll::Ready(Err(_)) = now {
            outbox.close(CloseReason::Reset);
        }
        if outbox.close_reason().is_some() {
            return work.await;
        }
        let blocked = !writing.is_empty();
        tokio::select! {
            biased;
            done = &mut work => return done,
            // Blocked on a full socket: wait for it to take more (or for
            // closing); otherwise for new frames.
            drained = poll_fn(|cx| poll_drain(writer, outbox, writing, cx, &mut 0, sent)), if blocked => {
                if drained.is_err() {
                    outbox.close(CloseReason::Reset);
                }
            }
            () = outbox.wait_while(blocked) => {}
        }
    }
}

/// A connection's two rate limits' buckets (unused when a limit is off).
struct Buckets {
    chat: TokenBucket,
    requests: TokenBucket,
}

/// What an unused bucket is made with.
const OFF: RateLimit = RateLimit {
    per_second: 0.0,
    burst: 0,
};

/// When traffic the client did not ask for waits to share a write (see
/// [`DriverLimits::write_linger`]).
///
/// Traffic is dense once a write carried several frames, and stays dense
/// until a frame arrives after a whole quiet window. While it is dense, a
/// frame arriving within the window after a write waits for the window's
/// end; sparse traffic is written at once, as waiting would gather nothing
/// and only add latency. Replies never wait: those to a request just read
/// go out with it, and one that comes later (an acknowledgement once its
/// message is durable: `Outbox::push_reply`) ends the wait.
struct Linger {
    window: Duration,
    last_write: Instant,
    dense: bool,
    /// Until when queued frames wait, if they do.
    until: Option<Instant>,
}

impl Linger {
    fn new(window: Duration, now: Instant) -> Self {
        Linger {
            window,
            last_write: now.checked_sub(window).unwrap_or(now),
            dense: false,
            until: None,
        }
    }

    /// Records a write at `now` that sent `frames` whole frames.
    fn wrote(&mut self, now: Instant, frames: usize) {
        if frames > 0 {
            self.last_write = now;
            self.dense |= frames > 1;
        }
    }

    /// A frame was queued at `now` while nothing was: decides whether it
    /// waits (sets `until`).
    fn arrived(&mut self, now: Instant) {
        let until = self.last_write + self.window;
        if now >= until {
            self.dense = false;
        } else if self.dense {
            self.until = Some(until);
        }
    }
}

/// Writes queued frames (and flushes) until everything is out (`Ready`) or
/// the socket is full (`Pending`); adds the frames written whole to
/// `frames`, and each write's bytes to `sent`.
fn poll_drain<O: Outbound>(
    writer: &mut O,
    outbox: &Outbox,
    writing: &mut VecDeque<Bytes>,
    cx: &mut Context<'_>,
    frames: &mut usize,
    sent: &Counter,
) -> Poll<io::Result<()>> {
    loop {
        if writing.is_empty() {
            outbox.take(writing);
            if writing.is_empty() {
                return writer.poll_flush(cx);
            }
        }
        match writer.poll_write(cx, writing) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                outbox.written(n);
                sent.inc_by(n as u64);
                *frames += consume(writing, n);
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Drops the first `n` written bytes from the front of `writing`; returns how
/// many frames went out whole.
fn consume(writing: &mut VecDeque<Bytes>, mut n: usize) -> usize {
    let mut whole = 0;
    while n > 0 {
        let Some(front) = writing.front_mut() else {
            break;
        };
        if front.len() <= n {
            n -= front.len();
            writing.pop_front();
            whole += 1;
        } else {
            front.advance(n);
            n = 0;
        }
    }
    if writing.is_empty() && writing.capacity() > KEEP_SLOTS {
        *writing = VecDeque::new();
    }
    whole
}

/// Flushes the last frames before `deadline`, closes our side, and reads
/// until the peer closes too (or a short while passes) before dropping the
/// socket.
async fn close_gracefully<I, O>(
    reader: &mut I,
    writer: &mut O,
    outbox: &Outbox,
    writing: &mut VecDeque<Bytes>,
    deadline: Instant,
    metrics: &DriverMetrics,
) where
    I: Inbound,
    O: Outbound,
{
    let flushed = timeout_at(
        deadline,
        poll_fn(|cx| poll_drain(writer, outbox, writing, cx, &mut 0, &metrics.sent_bytes)),
    )
    .await;
    if !matches!(flushed, Ok(Ok(()))) {
        return;
    }
    if timeout_at(deadline, poll_fn(|cx| writer.poll_shutdown(cx)))
        .await
        .is_err()
    {
        return;
    }
    let _ = timeout(LINGER, async {
        loop {
            match timeout(LINGER_QUIET, poll_fn(|cx| reader.poll_read(cx, |_| {}))).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dense_traffic_lingers() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let mut linger = Linger::new(ms(10), t0);
        // Sparse: one frame per write, each written at once.
        linger.wrote(t0, 1);
        linger.arrived(t0 + ms(3));
        assert_eq!(linger.until, None);
        // A write that gathered frames makes traffic dense: the next frame
        // within the window waits for its end.
        linger.wrote(t0 + ms(4), 3);
        linger.arrived(t0 + ms(5));
        assert_eq!(linger.until, Some(t0 + ms(14)));
        linger.until = None;
        // Single-frame writes keep it dense while frames keep coming...
        linger.wrote(t0 + ms(14), 1);
        linger.arrived(t0 + ms(20));
        assert_eq!(linger.until, Some(t0 + ms(24)));
        linger.until = None;
        // ...until one arrives after a whole quiet window.
        linger.wrote(t0 + ms(24), 2);
        linger.arrived(t0 + ms(40));
        assert_eq!(linger.until, None);
        linger.wrote(t0 + ms(40), 1);
        linger.arrived(t0 + ms(41));
        assert_eq!(linger.until, None);
    }

    #[test]
    fn a_zero_window_never_lingers() {
        let t0 = Instant::now();
        let mut linger = Linger::new(Duration::ZERO, t0);
        linger.wrote(t0, 5);
        linger.arrived(t0);
        assert_eq!(linger.until, None);
    }

    #[test]
    fn consume_handles_partial_writes() {
        let mut w: VecDeque<Bytes> = [Bytes::from_static(b"abc"), Bytes::from_static(b"de")].into();
        assert_eq!(consume(&mut w, 2), 0);
        assert_eq!(w, [Bytes::from_static(b"c"), Bytes::from_static(b"de")]);
        assert_eq!(consume(&mut w, 2), 1);
        assert_eq!(w, [Bytes::from_static(b"e")]);
        assert_eq!(consume(&mut w, 1), 1);
        assert!(w.is_empty());
    }
}
