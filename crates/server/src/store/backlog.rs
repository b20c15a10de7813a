//! Backpressure from the store to the connections: when messages are handed
//! to the store faster than it can commit and index them, connections stop
//! reading until it has caught up.
//!
//! The hub hands each message to the store without waiting (a fan-out
//! must never wait for a disk), so the store's queues are unbounded; what
//! bounds them is this. Without it a server offered more than its store
//! can take (a flood from many connections, a disk that stalls) would
//! queue messages in memory until the operating system killed it, losing
//! every message not yet stored. With it, once more than a limit of
//! messages wait, every connection's driver stops reading input (it still
//! writes: deliveries and acknowledgements go on) until the backlog is
//! down to half the limit; clients' own sockets then fill and TCP slows
//! them, as it would any server that cannot keep up. Nothing is refused
//! and nothing is lost.
//!
//! The backlog is counted in message ids: from the highest id handed to
//! the store to the highest id through which everything is committed and
//! indexed (the same two marks reads wait on), which counts the messages
//! in both the writer's and the indexer's queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;

use super::Progress;

/// Messages waiting to be stored past which connections stop reading, by
/// default: a second or so of a busy server's messages, a few tens of
/// MiB of memory for chat-sized ones.
pub const DEFAULT_BACKLOG: u64 = 65_536;

/// Tells the connection drivers whether to read: a cheap handle on the
/// store's progress, shared by every connection.
#[derive(Clone)]
pub struct Backlog {
    progress: Arc<Progress>,
    /// Messages waiting past which reading stops; it resumes at half.
    limit: u64,
    /// The store's progress as last looked up: every connection asks at
    /// every turn, and this answers most of them without the lock behind
    /// the store's own mark (it is never ahead of it).
    seen_done: Arc<AtomicU64>,
    /// Whether connections are holding off now (to log and count each
    /// hold once, not once per connection).
    holding: Arc<AtomicBool>,
    /// Holds so far, for the metrics.
    holds: Counter,
}

impl std::fmt::Debug for Backlog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backlog")
            .field("limit", &self.limit)
            .field("waiting", &self.waiting())
            .finish_non_exhaustive()
    }
}

impl Backlog {
    /// A handle that holds connections off past `limit` waiting messages.
    pub(super) fn new(progress: Arc<Progress>, limit: u64, holds: Counter) -> Self {
        let seen_done = Arc::new(AtomicU64::new(*progress.done.borrow()));
        Backlog {
            progress,
            limit,
            seen_done,
            holding: Arc::new(AtomicBool::new(false)),
            holds,
        }
    }

    /// Messages handed to the store and not yet committed and indexed.
    pub fn waiting(&self) -> u64 {
        self.progress.waiting(*self.progress.done.borrow())
    }

    /// Whether so many messages wait that connections should stop reading.
    pub fn over(&self) -> bool {
        let queued = self.progress.queued.load(Ordering::Acquire);
        if queued.saturating_sub(self.seen_done.load(Ordering::Relaxed)) <= self.limit {
            return false;
        }
        let done = *self.progress.done.borrow();
        self.seen_done.fetch_max(done, Ordering::Relaxed);
        let waiting = queued.saturating_sub(done);
        if waiting <= self.limit {
            return false;
        }
        if !self.holding.swap(true, Ordering::AcqRel) {
            self.holds.inc();
            tracing::warn!(
                waiting,
                limit = self.limit,
                "the history store is behind: connections stop reading until it catches up"
            );
        }
        true
    }

    /// Waits until the backlog is down to half the limit (or the store has
    /// stopped).
    pub async fn eased(&self) {
        let mut done = self.progress.done.subscribe();
        let _ = done
            .wait_for(|&done| self.progress.waiting(done) <= self.limit / 2)
            .await;
        if self.holding.swap(false, Ordering::AcqRel) {
            tracing::info!(
                waiting = self.waiting(),
                "the history store has caught up: connections read again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use super::*;

    fn progress(queued: u64, done: u64) -> Arc<Progress> {
        Arc::new(Progress {
            queued: AtomicU64::new(queued),
            done: tokio::sync::watch::Sender::new(done),
        })
    }

    #[test]
    fn over_past_the_limit_only_and_each_hold_counted_once() {
        let progress = progress(1_000, 1_000);
        let holds = Counter::default();
        let backlog = Backlog::new(progress.clone(), 10, holds.clone());
        assert!(!backlog.over());
        progress.queued.store(1_010, Ordering::Release);
        assert_eq!(backlog.waiting(), 10);
        assert!(!backlog.over(), "at the limit is not past it");
        progress.queued.store(1_011, Ordering::Release);
        assert!(backlog.over());
        assert!(backlog.over());
        assert_eq!(holds.get(), 1, "one hold however many ask");
    }

    #[tokio::test]
    async fn eased_waits_for_half_the_limit() {
        let progress = progress(1_100, 1_000);
        let backlog = Backlog::new(progress.clone(), 40, Counter::default());
        assert!(backlog.over());
        let waiter = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.eased().await }
        });
        // 30 still waiting: past half the limit, the waiter waits on.
        progress.done.send_replace(1_070);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        progress.done.send_replace(1_080);
        tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("eased at half the limit")
            .unwrap();
        assert!(!backlog.over());
    }

    #[tokio::test]
    async fn a_stopped_store_holds_no_one() {
        let progress = progress(5_000, 0);
        let backlog = Backlog::new(progress.clone(), 10, Counter::default());
        assert!(backlog.over());
        progress.done.send_replace(u64::MAX);
        assert!(!backlog.over());
        tokio::time::timeout(Duration::from_secs(30), backlog.eased())
            .await
            .expect("a stopped store has no backlog");
    }
}
