//! Keeping the message index (`index`) up to date with the stored
//! messages, apart from storing them.
//!
//! The index lives in a file of its own, `index.db` beside `chatroom.db`,
//! attached to every connection as the schema `idx`, and for a database on
//! disk it is written by a thread of its own (`history-index`) with a
//! connection of its own: adding a batch of messages to the index (an FTS5
//! flush, and now and then a merge of segments) takes tens of
//! milliseconds, and while it ran on the writer's thread no batch of
//! messages could commit, so acknowledgements waited for it. Now the
//! writer commits a batch, acknowledges it and hands its messages here;
//! the two files are written at once by two threads.
//!
//! What a read may rely on: `Progress::done` moves past a message only
//! once it is committed *and* indexed (or its batch failed), and reads
//! wait on it, so a read sees every message relayed before it.
//!
//! Crash consistency: the index's watermark ([`INDEXED_THROUGH`], the
//! highest message id it holds) is committed in the same transaction as
//! the entries it covers, so at the next start the messages after it
//! (committed, acknowledged, not yet indexed) are indexed first
//! (`schema::catch_up`); an `index.db` that is missing (deleted, or a
//! backup restored) starts at 0 and is built again from every message.
//! Retention deletes a message in `chatroom.db` first and removes it from
//! the index afterwards, here: a crash in between leaves an index entry
//! whose row is gone. Every read of the index joins `messages` on the
//! message id, so such an entry is skipped, never shown.
//!
//! `index.db` is synced at checkpoints only (`synchronous = NORMAL`): it
//! can always be rebuilt from `messages` past its watermark, so it needs
//! no sync of its own at every commit.
//!
//! Merging when idle: every write adds a segment to the index, and FTS5
//! merges segments only once eight of one level are there
//! (`schema::AUTOMERGE`), so a busy spell leaves up to seven on each
//! level, and a search looks each of its terms up in every one (at
//! 10,000,000 messages, searches after a busy spell took 1.6 times as long
//! as on a merged index). Once nothing has come for [`MERGE_AFTER`], the
//! thread merges what it can, a little at a time ([`MERGE_PAGES`]), until
//! each level holds one segment (FTS5's `usermerge` of 2). Levels count
//! merges, not sizes: after a large fill one segment holds nearly
//! everything, and a later merge that reaches its level writes the whole
//! index again (22 s at 13.6 million messages, idle time only). Only the
//! indexing of a write that comes meanwhile, and the reads that wait for
//! it, wait for the step under way; acknowledgements never do.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::{Progress, StoreError};

/// Messages are added to the index in their own transactions, after the
/// transaction that stores them (and the acknowledgements): FTS5 writes a
/// new segment at every commit, at a cost that grows with the distinct
/// terms of the commit more than with its messages, so indexing in larger
/// batches costs far less per message. Under a steady stream of writes
/// the indexer indexes what is waiting this often...
const INDEX_EVERY: Duration = Duration::from_millis(50);

/// ... and when nothing has come for this long (or a read waits).
const INDEX_WHEN_IDLE: Duration = Duration::from_millis(2);

/// ... or once this many messages wait to be indexed (or removed).
const INDEX_MOST: usize = 16_384;

/// How long the thread waits for more to index before it merges segments
/// (see the module's comment): a steady stream of writes hands over a
/// batch every few milliseconds, and merging then would only compete with
/// indexing for the two files' caches and the cores.
const MERGE_AFTER: Duration = Duration::from_millis(50);

/// FTS5 pages (about 4 KB each) written by one merge step: a few
/// milliseconds, the most a write that comes in meanwhile waits.
const MERGE_PAGES: i64 = 256;

/// The `index_meta` key of the highest message id in the message index:
/// on startup the messages after it (stored, acknowledged, not yet indexed
/// when the process stopped) are indexed first.
pub const INDEXED_THROUGH: &str = "indexed_through";

/// What the writer tells the indexer, in the order it happened.
pub enum Op {
    /// These messages (id and terms) are committed; every message id
    /// through `through` is now committed or failed.
    Add {
        /// Committed messages, to index.
        entries: Vec<(i64, String)>,
        /// The highest message id of every batch so far.
        through: u64,
    },
    /// Retention deleted these messages (id and the terms they were
    /// handed over with): they leave the index.
    Remove(Vec<(i64, String)>),
    /// Answered once everything handed over before it is indexed and the
    /// index's segments are merged as far as merging when idle goes.
    Merged(oneshot::Sender<()>),
}

/// The index's work in hand: committed messages not yet in it, deleted
/// ones still in it.
#[derive(Default)]
pub struct Indexer {
    /// Committed messages not yet in the index: id and terms.
    pending: Vec<(i64, String)>,
    /// Deleted messages still in the index: id and terms.
    removals: Vec<(i64, String)>,
    /// When the oldest of either was handed over.
    since: Option<Instant>,
    /// Every message id through this is committed (or failed) and handed
    /// over.
    through: u64,
    /// Segments may be there to merge: the index was written since the
    /// last merge step that found nothing to do (and at the start).
    unmerged: bool,
    /// Those waiting for the index to be merged (`Op::Merged`).
    merged_waiters: Vec<oneshot::Sender<()>>,
}

impl Indexer {
    /// An indexer with nothing to index; segments a previous run left
    /// unmerged are merged when idle.
    pub fn new() -> Self {
        Indexer {
            unmerged: true,
            ..Indexer::default()
        }
    }

    /// Takes what the writer says; lets reads go at once if nothing it
    /// handed over waits to be indexed (a failed batch, say).
    pub fn take(&mut self, op: Op, progress: &Progress) {
        match op {
            Op::Add { entries, through } => {
                self.through = self.through.max(through);
                if !entries.is_empty() {
                    self.since.get_or_insert_with(Instant::now);
                    self.pending.extend(entries);
                }
            }
            Op::Remove(removed) => self.remove(removed),
            Op::Merged(done) => self.merged_waiters.push(done),
        }
        if self.pending.is_empty() {
            self.publish(progress);
        }
        self.answer_merged();
    }

    /// Deleted messages leave the index; those still waiting to be indexed
    /// leave the queue instead (they are never indexed).
    fn remove(&mut self, mut removed: Vec<(i64, String)>) {
        cancel_waiting(&mut self.pending, &mut removed);
        if !removed.is_empty() {
            self.since.get_or_insert_with(Instant::now);
            self.removals.extend(removed);
        }
    }

    /// Whether nothing waits to be written to the index.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.removals.is_empty()
    }

    /// Whether enough waits, or for long enough, to index it now.
    pub fn due(&self) -> bool {
        self.pending.len() + self.removals.len() >= INDEX_MOST
            || self.since.is_some_and(|s| s.elapsed() >= INDEX_EVERY)
    }

    /// Writes what waits to the index, in one transaction with the index's
    /// watermark, then lets reads go.
    pub fn index(&mut self, conn: &Connection, progress: &Progress) {
        if self.is_empty() {
            self.publish(progress);
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let removals = std::mem::take(&mut self.removals);
        self.since = None;
        self.unmerged = true;
        if let Err(e) = write(conn, &pending, &removals) {
            // The messages are stored; they wait for the next try (or the
            // next start), ahead of the ones handed over since, so that
            // the watermark never passes a message the index lacks. Reads
            // go on all the same (as they always have): a failing disk
            // must not hold every read forever.
            tracing::error!(
                error = %e,
                messages = pending.len(),
                removals = removals.len(),
                "could not index stored messages"
            );
            let since = std::mem::replace(&mut self.pending, pending);
            self.pending.extend(since);
            let since = std::mem::replace(&mut self.removals, removals);
            self.removals.extend(since);
            self.since.get_or_insert_with(Instant::now);
        }
        self.publish(progress);
    }

    /// Whether a merge step may find segments to merge.
    pub fn merging(&self) -> bool {
        self.unmerged
    }

    /// One merge step (see the module's comment): writes up to
    /// [`MERGE_PAGES`] pages of merged segments. Once a step finds nothing
    /// to merge, or fails (logged), there is nothing more to do until the
    /// index is written again.
    pub fn merge_step(&mut self, conn: &Connection) {
        let before = conn.total_changes();
        let merged = conn.execute(
            "INSERT INTO message_index (message_index, rank) VALUES ('merge', ?1)",
            [MERGE_PAGES],
        );
        match merged {
            // FTS5 counts a step that merged as two changes or more.
            Ok(_) if conn.total_changes() - before >= 2 => return,
            Ok(_) => tracing::trace!("message index merged"),
            Err(e) => tracing::error!(error = %e, "could not merge the message index's segments"),
        }
        self.unmerged = false;
        self.answer_merged();
    }

    /// Tells those waiting for a merged index, once nothing is left to
    /// index or merge.
    fn answer_merged(&mut self) {
        if !self.unmerged && self.is_empty() {
            for done in self.merged_waiters.drain(..) {
                let _ = done.send(());
            }
        }
    }

    /// Lets reads waiting for the messages handed over so far go.
    fn publish(&self, progress: &Progress) {
        let through = self.through;
        progress.done.send_if_modified(|done| {
            let moved = through > *done;
            *done = (*done).max(through);
            moved
        });
    }
}

/// Deleted messages (`removed`, id and terms) that are still `waiting` to
/// be indexed leave `waiting` and `removed` both: a message never indexed
/// has nothing to remove from the index. Leaves `removed` sorted by id.
pub fn cancel_waiting(waiting: &mut Vec<(i64, String)>, removed: &mut Vec<(i64, String)>) {
    removed.sort_unstable_by_key(|(id, _)| *id);
    let mut cancelled = Vec::new();
    waiting.retain(|(id, _)| {
        let gone = removed.binary_search_by_key(id, |(r, _)| *r).is_ok();
        if gone {
            cancelled.push(*id);
        }
        !gone
    });
    if !cancelled.is_empty() {
        cancelled.sort_unstable();
        removed.retain(|(id, _)| cancelled.binary_search(id).is_err());
    }
}

/// Adds `pending` to the index and removes `removals` from it (by FTS5's
/// `'delete'` with the terms they were indexed with, see
/// `schema::MESSAGE_INDEX`), and moves the watermark, in one transaction.
fn write(
    conn: &Connection,
    pending: &[(i64, String)],
    removals: &[(i64, String)],
) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert =
            tx.prepare_cached("INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)")?;
        for (id, terms) in pending {
            insert.execute(params![id, terms])?;
        }
        let mut delete = tx.prepare_cached(
            "INSERT INTO message_index (message_index, rowid, terms) VALUES ('delete', ?1, ?2)",
        )?;
        for (id, terms) in removals {
            delete.execute(params![id, terms])?;
        }
    }
    if let Some(through) = pending.iter().map(|(id, _)| *id).max() {
        raise_watermark(&tx, through)?;
    }
    tx.commit()?;
    Ok(())
}

/// The highest message id the index holds (0: none).
pub fn watermark(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT value FROM index_meta WHERE key = ?1",
            [INDEXED_THROUGH],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Moves the index's watermark up to `through` (never down).
pub fn raise_watermark(conn: &Connection, through: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO index_meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
        params![INDEXED_THROUGH, through],
    )?;
    Ok(())
}

/// Where the writer's messages go to be indexed: an indexer on the
/// writer's own thread (a database in memory, whose reads the writer
/// answers itself), or the indexer thread of a database on disk.
pub enum Indexing {
    /// Indexed on the writer's thread and connection.
    Inline(Indexer),
    /// Indexed by the `history-index` thread.
    Thread {
        /// Its queue.
        ops: mpsc::Sender<Op>,
        /// The thread, joined at the end.
        thread: JoinHandle<()>,
    },
}

impl Indexing {
    /// Hands `op` over.
    pub fn send(&mut self, op: Op, progress: &Progress) {
        match self {
            Indexing::Inline(indexer) => indexer.take(op, progress),
            Indexing::Thread { ops, .. } => {
                if ops.send(op).is_err() {
                    tracing::error!("the history index thread has stopped");
                }
            }
        }
    }

    /// The indexer on the writer's thread, if it is there.
    pub fn inline(&mut self) -> Option<&mut Indexer> {
        match self {
            Indexing::Inline(indexer) => Some(indexer),
            Indexing::Thread { .. } => None,
        }
    }

    /// Indexes whatever is left and, for a thread, waits for it to end.
    pub fn finish(self, conn: &Connection, progress: &Progress) {
        match self {
            Indexing::Inline(mut indexer) => indexer.index(conn, progress),
            Indexing::Thread { ops, thread } => {
                drop(ops);
                if thread.join().is_err() {
                    tracing::error!("the history index thread panicked");
                }
            }
        }
    }
}

/// Opens the index file for the indexer thread, with a page cache of
/// `cache_mib` (FTS5's merges read back the segments they merge).
pub fn connect(path: &Path, cache_mib: u32) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    // Rebuilt from `messages` past the watermark if a power cut loses the
    // last commits: no sync at every commit (see the module's comment).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A negative `cache_size` is in KiB.
    conn.pragma_update(None, "cache_size", -i64::from(cache_mib) * 1024)?;
    Ok(conn)
}

/// The indexer thread: indexes what the writer hands over, every
/// [`INDEX_EVERY`] or [`INDEX_MOST`] messages under load, at once when a
/// read waits and nothing more is queued; merges segments when nothing
/// has come for [`MERGE_AFTER`]; runs until the writer is gone, then
/// indexes what is left.
pub fn run(conn: &Connection, ops: &Receiver<Op>, progress: &Progress) {
    let mut indexer = Indexer::new();
    // When the thread last took an op or wrote the index: quiet is
    // counted from there (a slow write is not a quiet spell).
    let mut last_busy = Instant::now();
    loop {
        let op = if !indexer.is_empty() {
            ops.recv_timeout(INDEX_WHEN_IDLE)
        } else if indexer.merging() {
            // Quiet for `MERGE_AFTER`: merge step after step, as long as
            // nothing comes.
            match ops.recv_timeout(MERGE_AFTER.saturating_sub(last_busy.elapsed())) {
                Err(RecvTimeoutError::Timeout) => {
                    indexer.merge_step(conn);
                    continue;
                }
                op => op,
            }
        } else {
            ops.recv().map_err(|_| RecvTimeoutError::Disconnected)
        };
        match op {
            Ok(op) => indexer.take(op, progress),
            Err(RecvTimeoutError::Timeout) => {
                indexer.index(conn, progress);
                last_busy = Instant::now();
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Whether the queue was found empty (rather than enough taken).
        let mut drained = false;
        while !indexer.due() {
            match ops.try_recv() {
                Ok(op) => indexer.take(op, progress),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    drained = true;
                    break;
                }
            }
        }
        // A read waits for the index: index now rather than later.
        let read_waits = progress.done.receiver_count() > 0;
        if indexer.due() || drained && read_waits && !indexer.is_empty() {
            indexer.index(conn, progress);
        }
        last_busy = Instant::now();
    }
    indexer.index(conn, progress);
    tracing::debug!("history index closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn progress() -> Progress {
        Progress {
            queued: AtomicU64::new(0),
            done: tokio::sync::watch::Sender::new(0),
        }
    }

    fn index_db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        conn
    }

    fn indexed(conn: &Connection) -> Vec<i64> {
        conn.prepare(
            "SELECT rowid FROM message_index WHERE message_index MATCH 'word' ORDER BY rowid",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    fn add(ids: std::ops::RangeInclusive<i64>) -> Op {
        let through = u64::try_from(*ids.end()).unwrap();
        Op::Add {
            entries: ids.map(|id| (id, format!("word w{id}"))).collect(),
            through,
        }
    }

    #[test]
    fn reads_go_only_once_what_was_handed_over_is_indexed() {
        let (conn, progress) = (index_db(), progress());
        let mut indexer = Indexer::new();
        indexer.take(add(1..=5), &progress);
        assert_eq!(*progress.done.borrow(), 0);
        indexer.index(&conn, &progress);
        assert_eq!(*progress.done.borrow(), 5);
        assert_eq!(indexed(&conn), [1, 2, 3, 4, 5]);
        assert_eq!(watermark(&conn).unwrap(), 5);
        // A failed batch: nothing to index, reads go at once.
        indexer.take(
            Op::Add {
                entries: Vec::new(),
                through: 9,
            },
            &progress,
        );
        assert_eq!(*progress.done.borrow(), 9);
    }

    /// The index's segments (each has entries in FTS5's `_idx` table).
    fn segments(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT count(DISTINCT segid) FROM message_index_idx",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn idle_merges_leave_one_segment_a_level_and_the_same_answers() {
        let (conn, progress) = (index_db(), progress());
        let mut indexer = Indexer::new();
        // One segment a write: three, fewer than FTS5's own merges (eight)
        // or its default `usermerge` (four) would merge.
        for i in 0..3 {
            indexer.take(add(i * 10 + 1..=i * 10 + 10), &progress);
            indexer.index(&conn, &progress);
        }
        assert_eq!(segments(&conn), 3);
        let before = indexed(&conn);
        let (done, mut answer) = oneshot::channel();
        indexer.take(Op::Merged(done), &progress);
        let mut steps = 0;
        while indexer.merging() {
            assert!(answer.try_recv().is_err(), "answered before merged");
            indexer.merge_step(&conn);
            steps += 1;
            assert!(steps < 100, "merging does not end");
        }
        assert_eq!(answer.try_recv(), Ok(()));
        // The three of level 0 merged into one of level 1.
        assert_eq!(segments(&conn), 1);
        assert_eq!(indexed(&conn), before);
        conn.execute(
            "INSERT INTO message_index (message_index) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
        // Written again: there may be something to merge again.
        indexer.take(add(1_001..=1_010), &progress);
        indexer.index(&conn, &progress);
        assert!(indexer.merging());
    }

    #[test]
    fn the_thread_answers_merged_after_indexing_and_merging_what_came_before() {
        let progress = std::sync::Arc::new(progress());
        let (ops, rx) = mpsc::channel();
        let shared = progress.clone();
        let thread = std::thread::spawn(move || {
            let conn = index_db();
            run(&conn, &rx, &shared);
            (indexed(&conn), segments(&conn))
        });
        // Three writes, each indexed before the next comes: three
        // segments, unless the thread merged between them.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut done = progress.done.subscribe();
        for first in [1, 6, 11] {
            ops.send(add(first..=first + 4)).unwrap();
            let through = u64::try_from(first + 4).unwrap();
            runtime.block_on(done.wait_for(|d| *d >= through)).unwrap();
        }
        let (merged, answer) = oneshot::channel();
        ops.send(Op::Merged(merged)).unwrap();
        answer.blocking_recv().unwrap();
        drop(ops);
        let (ids, segments) = thread.join().unwrap();
        assert_eq!(ids, (1..=15).collect::<Vec<_>>());
        assert_eq!(segments, 1);
    }

    #[test]
    fn a_removal_drops_what_waits_and_deletes_what_is_indexed() {
        let (conn, progress) = (index_db(), progress());
        let mut indexer = Indexer::new();
        indexer.take(add(1..=4), &progress);
        indexer.index(&conn, &progress);
        indexer.take(add(5..=8), &progress);
        let removed = [2, 6]
            .into_iter()
            .map(|id| (id, format!("word w{id}")))
            .collect();
        indexer.take(Op::Remove(removed), &progress);
        indexer.index(&conn, &progress);
        assert_eq!(indexed(&conn), [1, 3, 4, 5, 7, 8]);
        conn.execute(
            "INSERT INTO message_index (message_index) VALUES ('integrity-check')",
            [],
        )
        .unwrap();
    }
}
