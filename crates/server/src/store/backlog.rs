//! Load shedding for the store: when messages are handed to the store
//! faster than it can commit and index them, new chat messages are refused
//! ("the server is busy") until it has caught up.
//!
//! The hub hands each message to the store without waiting (a fan-out
//! must never wait for a disk), so the store's queues are unbounded; what
//! bounds them is this. Without it a server offered more than its store
//! can take (a flood from many connections, a disk that stalls) would
//! queue messages in memory until the operating system killed it, losing
//! every message not yet stored. With it, once more than a limit of
//! messages wait, each new chat message is refused with `server_busy` (an
//! IRC notice) and never relayed: its sender knows it was not sent, and
//! everything accepted is still stored and acknowledged. A burst passes
//! (the limit is a couple of seconds of a busy server's messages); a
//! sustained overload is refused in part, for every sender alike.
//!
//! Refusing is chosen over holding senders back by no longer reading their
//! sockets: measured, holding moved the queue into the kernel's socket
//! buffers, and releasing a held sender delivered seconds of its messages
//! at once, so that a reader in its room fell past its outbox budget and
//! was cut off (`docs/benchmarks.md`, "The store's backlog").
//!
//! The backlog is counted in message ids: from the highest id handed to
//! the store to the highest id through which everything is committed and
//! indexed (the same two marks reads wait on), which counts the messages
//! in both the writer's and the indexer's queues.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use prometheus_client::metrics::counter::Counter;

use super::Progress;

/// Messages waiting to be stored past which chat messages are refused, by
/// default: about two seconds of what the store takes on a small machine
/// (the backlog of a store keeping up with 100,000 messages a second comes
/// and goes well below it), about 250 MiB of memory for chat-sized ones
/// (measured: 0.9 KiB a waiting message, `docs/benchmarks.md`).
pub const DEFAULT_BACKLOG: u64 = 262_144;

/// Tells the connection drivers whether to take a chat message: a cheap
/// handle on the store's progress, shared by every connection.
pub struct Backlog {
    progress: Arc<Progress>,
    /// Messages waiting past which chat messages are refused.
    limit: u64,
    /// The store's progress as last looked up: every chat message asks,
    /// and this answers most of them without the lock behind the store's
    /// own mark (it is never ahead of it).
    seen_done: AtomicU64,
    /// Whether messages are being refused now (to log each spell once,
    /// not once per message).
    refusing: AtomicBool,
    /// Messages refused so far, for the metrics.
    refused: Counter,
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
    /// A handle that refuses chat messages past `limit` waiting ones.
    pub(super) fn new(progress: Arc<Progress>, limit: u64, refused: Counter) -> Self {
        let seen_done = AtomicU64::new(*progress.done.borrow());
        Backlog {
            progress,
            limit,
            seen_done,
            refusing: AtomicBool::new(false),
            refused,
        }
    }

    /// Messages handed to the store and not yet committed and indexed.
    pub fn waiting(&self) -> u64 {
        self.progress.waiting(*self.progress.done.borrow())
    }

    /// Whether a new chat message may be taken now; counts it (and logs
    /// the start of a spell of refusals) when not.
    pub fn admits_message(&self) -> bool {
        let queued = self.progress.queued.load(Ordering::Acquire);
        let over = queued.saturating_sub(self.seen_done.load(Ordering::Relaxed)) > self.limit && {
            let done = *self.progress.done.borrow();
            self.seen_done.fetch_max(done, Ordering::Relaxed);
            queued.saturating_sub(done) > self.limit
        };
        if over {
            self.refused.inc();
            if !self.refusing.swap(true, Ordering::AcqRel) {
                tracing::warn!(
                    waiting = queued.saturating_sub(self.seen_done.load(Ordering::Relaxed)),
                    limit = self.limit,
                    "the history store is behind: chat messages are refused until it catches up"
                );
            }
        } else if self.refusing.load(Ordering::Relaxed)
            && self.refusing.swap(false, Ordering::AcqRel)
        {
            tracing::info!("the history store has caught up: chat messages are taken again");
        }
        !over
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(queued: u64, done: u64) -> Arc<Progress> {
        Arc::new(Progress {
            queued: AtomicU64::new(queued),
            done: tokio::sync::watch::Sender::new(done),
        })
    }

    #[test]
    fn refuses_past_the_limit_only_and_counts_each_refusal() {
        let progress = progress(1_000, 1_000);
        let refused = Counter::default();
        let backlog = Backlog::new(progress.clone(), 10, refused.clone());
        assert!(backlog.admits_message());
        progress.queued.store(1_010, Ordering::Release);
        assert_eq!(backlog.waiting(), 10);
        assert!(backlog.admits_message(), "at the limit is not past it");
        progress.queued.store(1_011, Ordering::Release);
        assert!(!backlog.admits_message());
        assert!(!backlog.admits_message());
        assert_eq!(refused.get(), 2);
    }

    #[test]
    fn takes_messages_again_once_the_store_catches_up() {
        let progress = progress(1_100, 1_000);
        let backlog = Backlog::new(progress.clone(), 40, Counter::default());
        assert!(!backlog.admits_message());
        assert!(backlog.refusing.load(Ordering::Relaxed));
        progress.done.send_replace(1_060);
        assert!(backlog.admits_message());
        assert!(!backlog.refusing.load(Ordering::Relaxed));
    }

    #[test]
    fn a_stopped_store_refuses_nothing() {
        let progress = progress(5_000, 0);
        let backlog = Backlog::new(progress.clone(), 10, Counter::default());
        assert!(!backlog.admits_message());
        progress.done.send_replace(u64::MAX);
        assert!(backlog.admits_message());
    }
}
