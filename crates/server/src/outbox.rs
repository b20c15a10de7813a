//! A member's outbound queue: encoded frames waiting to be written to its
//! socket, bounded in bytes.
//!
//! Anyone may push (the hub fanning out a message, the session answering a
//! request); only the member's connection driver drains it. A member that
//! does not read falls behind until its queue passes the byte budget; it is
//! then marked for disconnection (the slow-consumer policy), its queue is
//! dropped, and pushes are refused. Senders are never slowed and memory never
//! grows past the budget.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use chatroom_prefetch::{prefetch, prefetch_address};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::event::Framing;

/// Why a connection is being closed by the server side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CloseReason {
    /// The client asked to log out.
    Logout,
    /// The client closed its side of the connection.
    Closed,
    /// The connection failed (reset, broken pipe, ...).
    Reset,
    /// The server is shutting down.
    Shutdown,
    /// The client did not read fast enough; its queue passed the budget.
    SlowConsumer,
    /// The client sent a frame over the size cap.
    FrameTooLarge,
    /// The client did not log in within the login timeout.
    LoginTimeout,
    /// The client did not answer the server's ping in time.
    PingTimeout,
    /// The client kept sending faster than the rate limit allows.
    Flood,
    /// An operator disconnected the client.
    Killed,
    /// The client (its nickname or address) is banned.
    Banned,
    /// The client gave too many wrong passwords on this connection.
    TooManyAttempts,
}

impl CloseReason {
    /// The reason as a short word, as it appears in leave notices and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Logout => "logout",
            CloseReason::Closed => "closed",
            CloseReason::Reset => "reset",
            CloseReason::Shutdown => "shutdown",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::FrameTooLarge => "frame_too_large",
            CloseReason::LoginTimeout => "login_timeout",
            CloseReason::PingTimeout => "ping_timeout",
            CloseReason::Flood => "flood",
            CloseReason::Killed => "killed",
            CloseReason::Banned => "banned",
            CloseReason::TooManyAttempts => "too_many_attempts",
        }
    }
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for writing.
    Queued,
    /// Refused: the connection is closing (possibly because this push passed
    /// the budget just now).
    Refused,
}

struct State {
    queue: VecDeque<Bytes>,
    /// Bytes queued or taken by the driver and not yet written.
    bytes: usize,
    close: Option<CloseReason>,
}

/// What a push reads and writes but the frame's slot, in one 64-byte cache
/// line: the lock, the queue's header, and where the next frame goes.
#[repr(align(64))]
struct Line {
    state: Mutex<State>,
    /// The address of the queue's slot the next push writes, kept under
    /// the lock and read without it: only a hint for [`Outbox::prefetch_slot`]
    /// (0 when the queue has no room yet).
    next_slot: AtomicUsize,
}

/// The bounded outbound queue of one connection.
///
/// A room's message is pushed into every member's outbox, one after
/// another, by the task that publishes it, while each member's driver takes
/// its queue on whichever core it runs. So a push mostly finds the
/// outbox's lock and the queue's slot out of its core's cache, and waits
/// for memory. The fan-out announces both lines some members ahead
/// ([`Outbox::prefetch`], [`Outbox::prefetch_slot`]), so that those loads
/// overlap rather than follow each other (`docs/benchmarks.md`,
/// "Prefetching the fan-out").
pub struct Outbox {
    line: Line,
    wake: Notify,
    /// Woken only by closing, for a driver blocked on a full socket (it no
    /// longer listens to `wake`, which every push after a take would fire).
    closing: Notify,
    /// Woken when the unwritten bytes fall to half the budget or less, and
    /// by closing: for input held back until the client reads its replies.
    drained: Notify,
    budget: usize,
    /// What the connection's transport takes events as.
    framing: Framing,
    /// A reply that came after its request was handled is queued
    /// ([`Outbox::push_reply`]); cleared when the driver takes the queue.
    /// Outside [`Line`]: rare, and read by the driver when it wakes.
    reply: AtomicBool,
}

impl Outbox {
    /// An empty queue that holds at most `budget` unwritten bytes, of
    /// lines.
    pub fn new(budget: usize) -> Self {
        Outbox::with_framing(budget, Framing::Lines)
    }

    /// An empty queue that holds at most `budget` unwritten bytes, for a
    /// transport that takes events as `framing` says.
    pub fn with_framing(budget: usize, framing: Framing) -> Self {
        Outbox {
            line: Line {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    bytes: 0,
                    close: None,
                }),
                next_slot: AtomicUsize::new(0),
            },
            wake: Notify::new(),
            closing: Notify::new(),
            drained: Notify::new(),
            budget,
            framing,
            reply: AtomicBool::new(false),
        }
    }

    /// What the connection's transport takes events as: the hub queues
    /// them framed so (`Event::framed`).
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Starts loading what a push reads first (the lock and the queue's
    /// header, and the wake-up a push to an empty queue fires), for a
    /// fan-out some members ahead of its pushes.
    pub fn prefetch(&self) {
        prefetch(&self.line);
        prefetch(&self.wake);
    }

    /// Starts loading the queue's slot the next push writes, by the hint
    /// the last push or take left. For a fan-out a few members ahead of its
    /// pushes, after [`Outbox::prefetch`] has had time to bring the hint.
    pub fn prefetch_slot(&self) {
        prefetch_address(self.line.next_slot.load(Ordering::Relaxed));
    }

    /// Records where the next push writes (see [`Line::next_slot`]): after
    /// the last frame queued, or, with none, at the start of the buffer
    /// (`take` leaves an empty queue starting there). A full queue grows
    /// at the next push, which the hint cannot know: it is then stale,
    /// which costs one wasted load.
    fn hint_next_slot(&self, queue: &VecDeque<Bytes>) {
        let slot = match queue.back() {
            Some(last) => (last as *const Bytes).wrapping_add(1) as usize,
            None if queue.capacity() > 0 => queue.as_slices().0.as_ptr() as usize,
            None => 0,
        };
        self.line.next_slot.store(slot, Ordering::Relaxed);
    }

    /// Queues one encoded frame. Passing the budget closes the outbox with
    /// [`CloseReason::SlowConsumer`] and drops everything queued. An empty
    /// frame is nothing to send and is not queued (a zero-length write
    /// would read as a closed connection).
    pub fn push(&self, frame: Bytes) -> Pushed {
        self.queue(frame, false)
    }

    /// Queues a reply to the client's own request that comes after the
    /// request was handled (an acknowledgement, once its message is
    /// durable), as [`Outbox::push`] does, and wakes the driver even while
    /// it gathers room traffic for a later write: the client waits for
    /// this one ([`Outbox::reply_waiting`]).
    pub fn push_reply(&self, frame: Bytes) -> Pushed {
        self.queue(frame, true)
    }

    /// [`Outbox::push`], and for a `reply` the mark and the wake-up that
    /// [`Outbox::push_reply`] promises (a push to a queue that holds frames
    /// already wakes nobody otherwise).
    #[inline]
    fn queue(&self, frame: Bytes, reply: bool) -> Pushed {
        let mut state = self.line.state.lock();
        if state.close.is_some() {
            return Pushed::Refused;
        }
        if frame.is_empty() {
            return Pushed::Queued;
        }
        if state.bytes + frame.len() > self.budget {
            state.close = Some(CloseReason::SlowConsumer);
            state.queue = VecDeque::new();
            self.hint_next_slot(&state.queue);
            drop(state);
            self.wake.notify_one();
            self.closing.notify_one();
            self.drained.notify_one();
            return Pushed::Refused;
        }
        let was_empty = state.queue.is_empty();
        state.bytes += frame.len();
        state.queue.push_back(frame);
        self.hint_next_slot(&state.queue);
        if reply {
            // Under the lock, as `take` clears it: set exactly while the
            // reply waits in the queue.
            self.reply.store(true, Ordering::Release);
        }
        drop(state);
        if was_empty || reply {
            self.wake.notify_one();
        }
        Pushed::Queued
    }

    /// Whether a reply pushed with [`Outbox::push_reply`] waits in the
    /// queue: the driver then writes at once rather than waiting out its
    /// linger window.
    pub fn reply_waiting(&self) -> bool {
        self.reply.load(Ordering::Acquire)
    }

    /// Marks the outbox closing for `reason` (the first reason wins); what is
    /// already queued is still written, new pushes are refused. This is how
    /// the server ends someone else's connection (an operator's kill or ban).
    pub fn close(&self, reason: CloseReason) {
        let mut state = self.line.state.lock();
        if state.close.is_none() {
            state.close = Some(reason);
        }
        drop(state);
        self.wake.notify_one();
        self.closing.notify_one();
        self.drained.notify_one();
    }

    /// Why the outbox is closing, if it is.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.line.state.lock().close
    }

    /// Moves everything queued onto the end of `into` (the driver's list of
    /// frames being written). Returns the close reason, if any.
    pub fn take(&self, into: &mut VecDeque<Bytes>) -> Option<CloseReason> {
        let mut state = self.line.state.lock();
        if into.is_empty() {
            std::mem::swap(&mut state.queue, into);
        } else {
            into.append(&mut state.queue);
        }
        // Empty now; the next frame goes to the start of its buffer.
        state.queue.clear();
        self.reply.store(false, Ordering::Relaxed);
        self.hint_next_slot(&state.queue);
        state.close
    }

    /// Whether more than half the budget is waiting to be written: the
    /// driver then stops taking input until the client reads some.
    pub fn is_half_full(&self) -> bool {
        self.line.state.lock().bytes > self.budget / 2
    }

    /// Frees the queue's memory if nothing is queued (a quiet connection).
    pub fn release_idle(&self) {
        let mut state = self.line.state.lock();
        if state.queue.is_empty() {
            state.queue = VecDeque::new();
            self.hint_next_slot(&state.queue);
        }
    }

    /// Records that `n` bytes were written to the socket.
    pub fn written(&self, n: usize) {
        let mut state = self.line.state.lock();
        let half = self.budget / 2;
        let was_over = state.bytes > half;
        state.bytes = state.bytes.saturating_sub(n);
        if was_over && state.bytes <= half {
            drop(state);
            self.drained.notify_one();
        }
    }

    /// Waits until at most half the budget is unwritten; false if the
    /// outbox closed first.
    pub async fn wait_half_drained(&self) -> bool {
        loop {
            {
                let state = self.line.state.lock();
                if state.close.is_some() {
                    return false;
                }
                if state.bytes <= self.budget / 2 {
                    return true;
                }
            }
            self.drained.notified().await;
        }
    }

    /// Waits until something is pushed or the outbox is closed.
    pub async fn wait(&self) {
        self.wake.notified().await;
    }

    /// Waits as the driver needs it: for anything while it has nothing to
    /// write ([`Outbox::wait`]), only for closing while it is blocked on a
    /// full socket ([`Outbox::wait_closed`]). One future for both keeps the
    /// driver's state small.
    pub async fn wait_while(&self, writing: bool) {
        if writing {
            self.wait_closed().await;
        } else {
            self.wait().await;
        }
    }

    /// Waits until the outbox is closed (returns at once if it was closed
    /// since the last call).
    pub async fn wait_closed(&self) {
        self.closing.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where `outbox`'s newest queued frame is.
    fn newest_slot(outbox: &Outbox) -> usize {
        let state = outbox.line.state.lock();
        state.queue.back().map_or(0, |b| b as *const Bytes as usize)
    }

    #[test]
    fn what_a_push_reads_is_one_cache_line() {
        assert!(
            std::mem::size_of::<Line>() <= 64,
            "{}",
            std::mem::size_of::<Line>()
        );
        assert_eq!(std::mem::align_of::<Line>(), 64);
    }

    #[test]
    fn the_hint_names_the_slot_the_next_push_writes() {
        let frame = || Bytes::from_static(b"x");
        let outbox = Outbox::new(100);
        // Nothing allocated yet: no hint.
        assert_eq!(outbox.line.next_slot.load(Ordering::Relaxed), 0);
        outbox.push(frame());
        outbox.push(frame());
        // Behind the last frame, while the buffer has room.
        for _ in 0..2 {
            let hint = outbox.line.next_slot.load(Ordering::Relaxed);
            outbox.push(frame());
            assert_eq!(newest_slot(&outbox), hint);
        }
        // Taken by a driver whose list is empty: the queue gets that
        // list's buffer, written from the front (so not starting at its
        // first slot), and the next frame goes to the buffer's start.
        let mut written = VecDeque::with_capacity(8);
        written.extend([frame(), frame()]);
        written.pop_front();
        written.pop_front();
        outbox.take(&mut written);
        assert_eq!(written.len(), 4);
        let hint = outbox.line.next_slot.load(Ordering::Relaxed);
        assert_ne!(hint, 0);
        outbox.push(frame());
        assert_eq!(newest_slot(&outbox), hint);
        // Taken into a list that holds frames already: the queue keeps its
        // buffer, and the next frame goes to its start again.
        outbox.push(frame());
        outbox.take(&mut written);
        assert_eq!(written.len(), 6);
        let hint = outbox.line.next_slot.load(Ordering::Relaxed);
        outbox.push(frame());
        assert_eq!(newest_slot(&outbox), hint);
        // Let go when idle: no hint again.
        outbox.take(&mut written);
        outbox.release_idle();
        assert_eq!(outbox.line.next_slot.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn frames_come_out_in_order() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(Bytes::from_static(b"a")), Pushed::Queued);
        assert_eq!(outbox.push(Bytes::from_static(b"b")), Pushed::Queued);
        let mut out = VecDeque::new();
        assert_eq!(outbox.take(&mut out), None);
        assert_eq!(
            out,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        outbox.push(Bytes::from_static(b"c"));
        outbox.take(&mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn an_empty_frame_is_not_queued() {
        let outbox = Outbox::new(100);
        assert_eq!(outbox.push(Bytes::new()), Pushed::Queued);
        let mut out = VecDeque::new();
        assert_eq!(outbox.take(&mut out), None);
        assert!(out.is_empty(), "nothing to write: {out:?}");
    }

    #[test]
    fn passing_the_budget_closes_and_drops_the_queue() {
        let outbox = Outbox::new(10);
        assert_eq!(outbox.push(Bytes::from_static(b"123456")), Pushed::Queued);
        assert_eq!(outbox.push(Bytes::from_static(b"123456")), Pushed::Refused);
        assert_eq!(outbox.close_reason(), Some(CloseReason::SlowConsumer));
        let mut out = VecDeque::new();
        assert_eq!(outbox.take(&mut out), Some(CloseReason::SlowConsumer));
        assert!(out.is_empty());
        assert_eq!(outbox.push(Bytes::from_static(b"1")), Pushed::Refused);
    }

    #[test]
    fn unwritten_bytes_count_against_the_budget_until_written() {
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"12345678"));
        let mut out = VecDeque::new();
        outbox.take(&mut out);
        // Taken by the driver but not yet written: still counted.
        assert_eq!(outbox.push(Bytes::from_static(b"123")), Pushed::Refused);
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"12345678"));
        outbox.take(&mut out);
        outbox.written(8);
        assert_eq!(outbox.push(Bytes::from_static(b"123")), Pushed::Queued);
    }

    #[test]
    fn first_close_reason_wins_and_queued_frames_stay() {
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"bye"));
        outbox.close(CloseReason::Killed);
        outbox.close(CloseReason::Shutdown);
        assert_eq!(outbox.close_reason(), Some(CloseReason::Killed));
        assert_eq!(outbox.push(Bytes::from_static(b"x")), Pushed::Refused);
        let mut out = VecDeque::new();
        outbox.take(&mut out);
        assert_eq!(out, [Bytes::from_static(b"bye")]);
    }

    #[tokio::test]
    async fn only_closing_wakes_a_wait_for_closing() {
        let outbox = Outbox::new(10);
        outbox.push(Bytes::from_static(b"x"));
        let early = tokio::time::timeout(std::time::Duration::ZERO, outbox.wait_closed()).await;
        assert!(early.is_err(), "a push woke the wait for closing");
        outbox.push(Bytes::from_static(b"0123456789"));
        tokio::time::timeout(std::time::Duration::from_secs(10), outbox.wait_closed())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn push_wakes_the_waiter() {
        let outbox = std::sync::Arc::new(Outbox::new(10));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.wait().await })
        };
        outbox.push(Bytes::from_static(b"x"));
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_reply_wakes_the_driver_behind_queued_frames_and_is_marked() {
        let outbox = std::sync::Arc::new(Outbox::new(100));
        outbox.push(Bytes::from_static(b"room traffic"));
        // The driver took that wake-up and now waits out its linger
        // window; another push to the waiting queue wakes nobody.
        outbox.wait().await;
        outbox.push(Bytes::from_static(b"more traffic"));
        assert!(!outbox.reply_waiting());
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.wait().await })
        };
        outbox.push_reply(Bytes::from_static(b"ack"));
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(outbox.reply_waiting());
        let mut taken = VecDeque::new();
        outbox.take(&mut taken);
        assert_eq!(taken.len(), 3);
        assert!(!outbox.reply_waiting(), "taken with the rest");
        // Refused once closing: nothing is marked.
        outbox.close(CloseReason::Logout);
        assert_eq!(
            outbox.push_reply(Bytes::from_static(b"ack")),
            Pushed::Refused
        );
        assert!(!outbox.reply_waiting());
    }

    #[tokio::test]
    async fn a_wait_for_half_drained_ends_at_half_the_budget_or_closing() {
        let outbox = std::sync::Arc::new(Outbox::new(10));
        outbox.push(Bytes::from_static(b"01234567"));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.wait_half_drained().await })
        };
        outbox.written(2);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "6 of 10 unwritten is more than half");
        outbox.written(1);
        let drained = tokio::time::timeout(std::time::Duration::from_secs(10), waiter);
        assert!(drained.await.unwrap().unwrap(), "5 of 10 is half");

        outbox.push(Bytes::from_static(b"xy"));
        let waiter = {
            let outbox = outbox.clone();
            tokio::spawn(async move { outbox.wait_half_drained().await })
        };
        outbox.close(CloseReason::Reset);
        let closed = tokio::time::timeout(std::time::Duration::from_secs(10), waiter);
        assert!(!closed.await.unwrap().unwrap(), "closing ends the wait");
    }
}
