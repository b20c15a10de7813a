//! The store thread: batches writes into transactions, tells senders once
//! their messages are committed, hands them to the indexer (`indexer`,
//! which publishes how far it has got, for the reader threads), keeps the
//! id ceilings ahead, answers reads itself for a database in memory,
//! enforces retention in small batches between the batches of writes, and
//! packs the texts it stored unpacked when it has nothing else to do.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::ids::Ceilings;
use super::index;
use super::indexer::{self, Indexing};
use super::reads;
use super::rows::Rows;
use super::texts::{self, Packer};
use super::{
    Failure, Op, Outcome, Progress, Receipt, Retention, StoreError, StoredAccount, StoredMessage,
    StoredRoom, to_sql_int,
};

use crate::clock::now_ms;
use crate::metrics::StoreMetrics;

/// Most records written in one transaction.
const MAX_BATCH: usize = 4096;

/// The documented bound on how long a relayed message waits for its commit;
/// a batch whose oldest record waited longer is logged as a warning.
const COMMIT_BOUND: Duration = Duration::from_millis(100);

/// How often age limits are enforced when nothing else happens.
const AGE_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A room's count limit is enforced once a sixteenth of the limit has been
/// inserted since the last time (every insert for small limits): a room
/// holds at most `limit + limit / 16` messages at any moment, and exactly
/// `limit` right after a trim, at a cost that does not grow with the limit.
const TRIM_FRACTION: u64 = 16;

/// Most messages one step of retention deletes: one short transaction,
/// after which the writes that queued meanwhile go first.
const RETENTION_BATCH: usize = 500;

/// How long the writer waits for work while the indexer on its own thread
/// (a database in memory) has messages to index: when nothing has come
/// for this long, it indexes them.
const INDEX_WHEN_IDLE: Duration = Duration::from_millis(2);

/// Under a steady stream of writes, a step of retention is taken at most
/// this often (and whenever the queue is empty): writes keep most of the
/// thread, and retention still gets on (at least `RETENTION_BATCH` messages
/// per interval).
const STEP_UNDER_LOAD: Duration = Duration::from_millis(25);

/// Deletions retention still has to make.
#[derive(Debug)]
enum Work {
    /// A room's messages with ids up to `through` (beyond its count limit).
    Trim { room_key: String, through: i64 },
    /// Messages older than `oldest` of the rooms without an age limit of
    /// their own (`skip`), and direct messages, looking at ids after
    /// `after`, oldest first.
    AgeDefault {
        oldest: i64,
        after: i64,
        skip: Vec<String>,
    },
    /// A room's messages older than `oldest`.
    AgeRoom { room_key: String, oldest: i64 },
}

struct Writer<'a> {
    conn: Connection,
    retention: Retention,
    ceilings: Ceilings,
    progress: &'a Progress,
    /// Where each batch's commit time goes.
    metrics: StoreMetrics,
    /// Messages inserted per room (folded key) since its last count trim.
    since_trim: HashMap<String, u64>,
    /// Retention's deletions still to make, a step at a time.
    work: VecDeque<Work>,
    /// Where committed messages go to be indexed.
    index: Indexing,
    /// The messages of the batch being applied (id and terms), handed to
    /// the indexer once its first retention steps are committed.
    fresh: Vec<(i64, String)>,
    /// Committed messages of rooms with a count limit, by room, that the
    /// index may not hold yet (ascending ids): a count trim counts them
    /// beside the indexed ones.
    unindexed: HashMap<String, Vec<i64>>,
    /// The highest message id of every batch so far.
    seen_through: u64,
    /// The numbers of the places and speakers written so far.
    rows: Rows,
    /// Packs texts (see `texts`).
    packer: Packer,
    /// Who waits for every text stored so far to be packed (and then the
    /// index merged: `Store::settled`).
    settling: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// The writer's connection and what it found in the database at start.
pub struct Opened {
    /// The connection, prepared (`schema::prepare`).
    pub conn: Connection,
    /// How far ids are reserved.
    pub ceilings: Ceilings,
    /// How texts are packed.
    pub packer: Packer,
}

/// Runs until every [`super::Store`] handle is dropped and the queue is empty.
pub fn run(
    opened: Opened,
    ops: Receiver<Op>,
    retention: Retention,
    index: Indexing,
    progress: &Progress,
    metrics: StoreMetrics,
) {
    let mut writer = Writer::new(opened, retention, index, progress, metrics);
    writer.sweep_ages();
    let mut last_sweep = Instant::now();
    let mut last_step = Instant::now();
    let mut batch = Vec::new();
    loop {
        // With deletions to make, take what has queued without waiting and
        // make one step of them after it; otherwise wait for work.
        if writer.work.is_empty() {
            let wait = match writer.index.inline() {
                Some(indexer) if !indexer.is_empty() => INDEX_WHEN_IDLE,
                _ => AGE_SWEEP_EVERY,
            };
            let wait = writer
                .packer
                .idle_work()
                .map_or(wait, |soon| soon.min(wait));
            match ops.recv_timeout(wait) {
                Ok(op) => batch.push(op),
                Err(RecvTimeoutError::Timeout) => writer.index_inline(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Whether the queue was found empty (rather than the batch full).
        let mut drained = false;
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(TryRecvError::Empty) => {
                    drained = true;
                    break;
                }
                Err(TryRecvError::Disconnected) => {
                    drained = true;
                    if batch.is_empty() {
                        writer.work.clear();
                    }
                    break;
                }
            }
        }
        let busy = !batch.is_empty();
        if busy {
            writer.apply(&mut batch);
        }
        // The indexer on this thread (a database in memory) indexes as
        // the thread of a database on disk does (`indexer::run`): when
        // enough waits, or at once when a read waits for it.
        let read_waits = writer.progress.done.receiver_count() > 0;
        if writer
            .index
            .inline()
            .is_some_and(|ix| ix.due() || drained && read_waits && !ix.is_empty())
        {
            writer.index_inline();
        }
        if !writer.work.is_empty() && (!busy || last_step.elapsed() >= STEP_UNDER_LOAD) {
            writer.step();
            last_step = Instant::now();
        } else if !busy && writer.packer.idle_work().is_some() {
            // Last of all: nothing else is waiting.
            writer.packer.when_idle(&mut writer.conn);
        }
        writer.answer_settled();
        if last_sweep.elapsed() >= AGE_SWEEP_EVERY {
            writer.sweep_ages();
            writer.forget_indexed();
            last_sweep = Instant::now();
        }
    }
    // What is left is indexed (and the index's thread has ended) before
    // reads are let go for good.
    writer.index.finish(&writer.conn, progress);
    progress.done.send_replace(u64::MAX);
    tracing::debug!("history store closed");
}

impl<'p> Writer<'p> {
    /// A writer that has done nothing yet.
    fn new(
        opened: Opened,
        retention: Retention,
        index: Indexing,
        progress: &'p Progress,
        metrics: StoreMetrics,
    ) -> Self {
        let Opened {
            conn,
            ceilings,
            packer,
        } = opened;
        Writer {
            conn,
            retention,
            ceilings,
            progress,
            metrics,
            since_trim: HashMap::new(),
            work: VecDeque::new(),
            index,
            fresh: Vec::new(),
            unindexed: HashMap::new(),
            seen_through: 0,
            rows: Rows::default(),
            packer,
            settling: Vec::new(),
        }
    }

    /// Writes every record of the batch in one transaction, tells the
    /// senders waiting for their messages, trims the rooms it filled, hands
    /// its messages to the indexer, then answers the reads and flushes
    /// (which thereby see all of it).
    fn apply(&mut self, batch: &mut Vec<Op>) {
        let mut touched = HashMap::new();
        let mut answers = Vec::new();
        let mut receipts = Vec::new();
        let records = batch.len();
        let oldest = batch.iter().find_map(|op| match op {
            Op::Message(_, queued, _) => Some(*queued),
            _ => None,
        });
        let last_id = batch.iter().fold(0, |last, op| match op {
            Op::Message(m, _, _) => last.max(m.id),
            _ => last,
        });
        let started = Instant::now();
        let written = self.write(batch, &mut touched, &mut answers, &mut receipts);
        if written.is_ok() {
            self.metrics.committed(started.elapsed());
        }
        let error = written.as_ref().err().map(Failure::NotStored);
        for (msg_id, ts, receipt) in receipts {
            receipt(Outcome { msg_id, ts, error });
        }
        match (&written, oldest) {
            (Err(e), _) => {
                // The places and speakers it added are gone with it.
                self.rows.forget();
                tracing::error!(error = %e, "could not store a batch of history");
            }
            (Ok(()), Some(queued)) => {
                let waited = queued.elapsed();
                if waited > COMMIT_BOUND {
                    tracing::warn!(
                        ?waited,
                        records,
                        "history commit slower than {COMMIT_BOUND:?}"
                    );
                } else {
                    tracing::debug!(?waited, records, "history batch committed");
                }
            }
            (Ok(()), None) => {}
        }
        if written.is_ok()
            && let Err(e) = self.packer.between_batches(&self.conn)
        {
            tracing::error!(error = %e, "could not train or store a text dictionary");
        }
        self.seen_through = self.seen_through.max(last_id);
        for (room, inserted) in touched {
            self.trim_count(room, inserted);
        }
        if last_id > 0 {
            // After the trims: once the indexer lets reads see the batch,
            // what they deleted is gone.
            let entries = std::mem::take(&mut self.fresh);
            let through = self.seen_through;
            self.index
                .send(indexer::Op::Add { entries, through }, self.progress);
        }
        if answers.iter().any(|op| matches!(op, Op::Read(_))) {
            // Reads here (a store in memory) see every message before them.
            self.index_inline();
        }
        for op in answers {
            match op {
                Op::Read(read) => reads::answer(&self.conn, &self.retention, read),
                Op::Flush(done) => {
                    let _ = done.send(());
                }
                Op::Settled(done) => self.settling.push(done),
                Op::Ping(reply) => {
                    let answered = self
                        .conn
                        .query_row("SELECT 1", [], |row| row.get::<_, i64>(0))
                        .map(drop)
                        .map_err(StoreError::from);
                    let _ = reply.send(answered);
                }
                Op::Account(account, reply) => {
                    let _ = reply.send(self.insert_account(&account));
                }
                Op::DeleteAccount(key, reply) => {
                    let _ = reply.send(self.delete_account(&key));
                }
                Op::AddCert(cert, reply) => {
                    let _ = reply.send(super::certs::add(&self.conn, &cert));
                }
                Op::RemoveCert(account, fingerprint, reply) => {
                    let _ = reply.send(super::certs::remove(&self.conn, &account, &fingerprint));
                }
                Op::MarkRead(marker, reply) => {
                    let _ = reply.send(super::markers::set(&self.conn, &marker));
                }
                Op::Message(..)
                | Op::UserId(_)
                | Op::ReleaseIds { .. }
                | Op::Room(_)
                | Op::Ban(_)
                | Op::Unban { .. } => {}
            }
        }
    }

    /// Once every text is packed, hands those waiting for the store to
    /// settle to the indexer, which answers them once the index is merged
    /// too (a store in memory merges only as FTS5 does by itself: answered
    /// here).
    fn answer_settled(&mut self) {
        if !self.settling.is_empty() && self.packer.settled() {
            let inline = self.index.inline().is_some();
            for done in std::mem::take(&mut self.settling) {
                if inline {
                    let _ = done.send(());
                } else {
                    self.index.send(indexer::Op::Merged(done), self.progress);
                }
            }
        }
    }

    /// Indexes what waits, if the indexer is on this thread (a database in
    /// memory).
    fn index_inline(&mut self) {
        if let Some(indexer) = self.index.inline() {
            indexer.index(&self.conn, self.progress);
        }
    }

    /// Retention deleted these messages (id and terms): those of the batch
    /// being applied are never handed to the indexer, the others leave the
    /// index.
    fn removed(&mut self, mut removed: Vec<(i64, String)>) {
        if removed.is_empty() {
            return;
        }
        // Before the batch's own deletions are cancelled: every deleted id
        // leaves the count trims' lists.
        removed.sort_unstable_by_key(|(id, _)| *id);
        let gone = |id: &i64| removed.binary_search_by_key(id, |(r, _)| *r).is_ok();
        for ids in self.unindexed.values_mut() {
            ids.retain(|id| !gone(id));
        }
        indexer::cancel_waiting(&mut self.fresh, &mut removed);
        if !removed.is_empty() {
            self.index.send(indexer::Op::Remove(removed), self.progress);
        }
    }

    fn write(
        &mut self,
        batch: &mut Vec<Op>,
        touched: &mut HashMap<String, u64>,
        answers: &mut Vec<Op>,
        receipts: &mut Vec<(u64, i64, Receipt)>,
    ) -> Result<(), StoreError> {
        // Taken out first, so that every waiting sender hears back even
        // when the transaction fails half way; and counted, for a busy
        // writer leaves packing for later (`texts`).
        let mut messages = 0;
        for op in batch.iter_mut() {
            if let Op::Message(m, _, receipt) = op {
                messages += 1;
                if let Some(receipt) = receipt.take() {
                    receipts.push((m.id, m.ts, receipt));
                }
            }
        }
        let busy = messages > texts::PACK_INLINE_MAX;
        // Deferred, as SQLite's default: its first statement is always a
        // write (see `rows`), which waits for the write lock as long as the
        // busy timeout allows. (`IMMEDIATE` would lock `idx` too, and hold
        // the indexer's writes off for the whole batch; a read first would
        // make the upgrade to writing fail at once while another connection
        // writes.)
        let tx = self.conn.transaction()?;
        let mut stored = Vec::new();
        let mut limited = Vec::new();
        let (mut max_message, mut max_user) = (0, 0);
        let mut release = None;
        {
            for op in batch.drain(..) {
                match op {
                    Op::Message(m, _, _) => {
                        max_message = max_message.max(m.id);
                        let id = to_sql_int(m.id);
                        self.rows
                            .insert(&tx, &m, self.packer.pack(id, &m.text, busy))?;
                        stored.push((id, terms_of(&m)));
                        if let Some((key, _)) = m.room {
                            if self.retention.for_room(&key).max_messages.is_some() {
                                limited.push((key.clone(), id));
                            }
                            *touched.entry(key).or_insert(0) += 1;
                        }
                    }
                    Op::UserId(id) => max_user = max_user.max(id),
                    Op::ReleaseIds {
                        next_message,
                        next_user,
                    } => release = Some((next_message, next_user)),
                    Op::Room(room) => {
                        upsert_room(&tx, &room)?;
                    }
                    Op::Ban(ban) => {
                        tx.execute(
                            "INSERT OR REPLACE INTO bans (kind, value, reason, by, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![ban.kind, ban.value, ban.reason, ban.by, ban.at],
                        )?;
                    }
                    Op::Unban { kind, value } => {
                        tx.execute(
                            "DELETE FROM bans WHERE kind = ?1 AND value = ?2",
                            params![kind, value],
                        )?;
                    }
                    other => answers.push(other),
                }
            }
        }
        // The ceilings change only if the transaction commits.
        let mut ceilings = self.ceilings;
        ceilings.cover(&tx, max_message, max_user)?;
        if let Some((next_message, next_user)) = release {
            ceilings.release(&tx, next_message, next_user)?;
        }
        tx.commit()?;
        self.ceilings = ceilings;
        self.fresh.extend(stored);
        for (key, id) in limited {
            self.unindexed.entry(key).or_default().push(id);
        }
        Ok(())
    }

    /// Stores a new account in its own transaction (after the batch, so it
    /// is committed when the caller hears back).
    fn insert_account(&self, account: &StoredAccount) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO accounts (key, nick, hash, created) VALUES (?1, ?2, ?3, ?4)",
            params![account.key, account.nick, account.hash, account.created],
        )?;
        Ok(())
    }

    /// Deletes an account and its certificate fingerprints, in one
    /// transaction of its own.
    fn delete_account(&mut self, key: &str) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM accounts WHERE key = ?1", params![key])?;
        tx.execute("DELETE FROM account_certs WHERE account = ?1", params![key])?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes a room's messages beyond its count limit, once enough have
    /// been inserted since the last trim (see [`TRIM_FRACTION`]): the first
    /// step at once (all of it, for a room that was within its limit), the
    /// rest a step at a time.
    fn trim_count(&mut self, room_key: String, inserted: u64) {
        let Some(keep) = self.retention.for_room(&room_key).max_messages else {
            return;
        };
        let since = self.since_trim.entry(room_key.clone()).or_insert(0);
        *since += inserted;
        if *since < (keep / TRIM_FRACTION).max(1) {
            return;
        }
        *since = 0;
        match self.beyond_limit(&room_key, keep) {
            Ok(Some(through)) => {
                self.work.push_front(Work::Trim { room_key, through });
                self.step();
            }
            Ok(None) => {}
            Err(e) => tracing::error!(room = room_key, error = %e, "could not trim history"),
        }
    }

    /// The newest message of a room beyond the newest `keep`, if any. The
    /// index finds the room's messages up to its watermark; the newer ones
    /// it may lack yet (its thread indexes them a little later) are in
    /// `Writer::unindexed`. The watermark and the index are read in one
    /// transaction, so that each message is counted once.
    ///
    /// Entries of messages retention deleted whose removal has not reached
    /// the index yet (or never will, after a crash) are counted too: they
    /// are the room's oldest, so they matter only when the room holds no
    /// more than `keep` messages anyway (then a trim finds nothing to
    /// delete).
    fn beyond_limit(&mut self, room_key: &str, keep: u64) -> Result<Option<i64>, StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        let watermark = indexer::watermark(&tx)?;
        let unindexed = self.unindexed.entry(room_key.to_owned()).or_default();
        unindexed.retain(|&id| id > watermark);
        unindexed.sort_unstable();
        let newer = u64::try_from(unindexed.len()).unwrap_or(u64::MAX);
        let through = if let Some(offset) = keep.checked_sub(newer) {
            tx.query_row(
                "SELECT rowid FROM message_index WHERE message_index MATCH ?1
                 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
                params![
                    index::quoted(&index::room_term(room_key)),
                    to_sql_int(offset)
                ],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
        } else {
            // More than `keep` are not indexed yet: the limit falls among them.
            let at = usize::try_from(newer - keep - 1).unwrap_or(0);
            unindexed.get(at).copied()
        };
        tx.commit()?;
        Ok(through)
    }

    /// Forgets the ids of messages the index has taken by now: a room is
    /// checked against its count limit only every `limit/16` inserts, and
    /// one that gets fewer would otherwise keep its ids in
    /// `Writer::unindexed` for as long as the server runs.
    fn forget_indexed(&mut self) {
        match indexer::watermark(&self.conn) {
            Ok(through) => self.unindexed.retain(|_, ids| {
                ids.retain(|&id| id > through);
                !ids.is_empty()
            }),
            Err(e) => tracing::warn!(error = %e, "could not read how far the message index goes"),
        }
    }

    /// Plans the deletion of messages past their room's (or the default)
    /// age limit; [`Writer::step`] carries it out.
    fn sweep_ages(&mut self) {
        if self
            .work
            .iter()
            .any(|w| matches!(w, Work::AgeDefault { .. } | Work::AgeRoom { .. }))
        {
            return; // the last sweep is still going
        }
        let now = now_ms();
        let cutoff =
            |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        for (key, policy) in &self.retention.rooms {
            if let Some(age) = policy.max_age {
                self.work.push_back(Work::AgeRoom {
                    room_key: key.clone(),
                    oldest: cutoff(age),
                });
            }
        }
        if let Some(age) = self.retention.default.max_age {
            self.work.push_back(Work::AgeDefault {
                oldest: cutoff(age),
                after: 0,
                skip: self.retention.rooms.keys().cloned().collect(),
            });
        }
    }

    /// Makes one step of the first deletion retention has to make: at most
    /// [`RETENTION_BATCH`] messages, in one transaction.
    fn step(&mut self) {
        let Some(mut work) = self.work.pop_front() else {
            return;
        };
        match self.step_of(&mut work) {
            Ok((deleted, finished)) => {
                if deleted > 0 {
                    tracing::debug!(deleted, ?work, "history retention step");
                }
                if !finished {
                    self.work.push_front(work);
                }
            }
            Err(e) => tracing::error!(error = %e, ?work, "could not enforce history retention"),
        }
    }

    /// One step of `work`: how many messages it deleted, and whether the
    /// work is done.
    fn step_of(&mut self, work: &mut Work) -> Result<(usize, bool), StoreError> {
        let limit = i64::try_from(RETENTION_BATCH).unwrap_or(i64::MAX);
        let (ids, finished) = match work {
            Work::Trim { room_key, through } => {
                let mut ids: Vec<i64> = self
                    .conn
                    .prepare_cached(
                        "SELECT f.rowid FROM message_index f JOIN messages m ON m.id = f.rowid
                         WHERE message_index MATCH ?1 AND f.rowid <= ?2 AND m.room_key = ?3
                         ORDER BY f.rowid LIMIT ?4",
                    )?
                    .query_map(
                        params![
                            index::quoted(&index::room_term(room_key)),
                            *through,
                            room_key.as_str(),
                            limit
                        ],
                        |r| r.get(0),
                    )?
                    .collect::<Result<_, _>>()?;
                // And those the index may not hold yet (some of them it
                // may hold by now: once each).
                let unindexed = self.unindexed.get(room_key.as_str());
                ids.extend(
                    unindexed
                        .into_iter()
                        .flatten()
                        .filter(|&&id| id <= *through),
                );
                ids.sort_unstable();
                ids.dedup();
                let finished = ids.len() < RETENTION_BATCH;
                ids.truncate(RETENTION_BATCH);
                (ids, finished)
            }
            Work::AgeRoom { room_key, oldest } => {
                let rows: Vec<(i64, i64)> = self
                    .conn
                    .prepare_cached(
                        "SELECT f.rowid, m.ts FROM message_index f JOIN messages m ON m.id = f.rowid
                         WHERE message_index MATCH ?1 AND m.room_key = ?2
                         ORDER BY f.rowid LIMIT ?3",
                    )?
                    .query_map(
                        params![index::quoted(&index::room_term(room_key)), room_key.as_str(), limit],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )?
                    .collect::<Result<_, _>>()?;
                // Oldest first: the first message young enough ends it.
                let old = rows.iter().take_while(|(_, ts)| ts < oldest).count();
                let finished = old < rows.len() || rows.len() < RETENTION_BATCH;
                (rows[..old].iter().map(|(id, _)| *id).collect(), finished)
            }
            Work::AgeDefault {
                oldest,
                after,
                skip,
            } => {
                let rows: Vec<(i64, i64, Option<String>)> = self
                    .conn
                    .prepare_cached(
                        "SELECT id, ts, room_key FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2",
                    )?
                    .query_map(params![*after, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let mut ids = Vec::new();
                let mut finished = rows.len() < RETENTION_BATCH;
                for (id, ts, room) in rows {
                    *after = id;
                    if room.as_ref().is_some_and(|r| skip.contains(r)) {
                        continue; // its own limit applies
                    }
                    if ts >= *oldest {
                        finished = true;
                        break;
                    }
                    ids.push(id);
                }
                (ids, finished)
            }
        };
        if !ids.is_empty() {
            // The rows go here; their index entries go by the indexer,
            // after this commit, named by the terms they were indexed with
            // (see `schema::MESSAGE_INDEX`). Until then a read of the index
            // finds entries whose rows are gone, and skips them (every read
            // joins `messages`).
            // The terms first, outside the transaction, so that its first
            // statement is a write (see `write`); nothing else deletes rows.
            let mut removed = Vec::with_capacity(ids.len());
            {
                let mut terms = self.conn.prepare_cached(&format!(
                    "SELECT {} FROM messages WHERE id = ?1",
                    index::TERM_COLUMNS
                ))?;
                for id in &ids {
                    if let Some(terms) = terms.query_row([id], index::stored_terms).optional()? {
                        removed.push((*id, terms));
                    }
                }
            }
            let tx = self.conn.transaction()?;
            {
                let mut delete = tx.prepare_cached("DELETE FROM message_rows WHERE id = ?1")?;
                for (id, _) in &removed {
                    delete.execute([id])?;
                }
            }
            tx.commit()?;
            self.removed(removed);
        }
        Ok((ids.len(), finished))
    }
}

/// A message's terms in the message index (see `index`).
fn terms_of(m: &StoredMessage) -> String {
    index::terms(
        &m.text,
        m.room.as_ref().map(|(key, _)| key.as_str()),
        (m.sender_id, &m.sender_nick),
        m.recipient.as_ref().map(|(id, nick)| (*id, nick.as_str())),
    )
}

fn upsert_room(tx: &rusqlite::Transaction<'_>, room: &StoredRoom) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO rooms (key, name, topic, topic_set_by, topic_set_at, settings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(key) DO UPDATE SET name = excluded.name, topic = excluded.topic,
           topic_set_by = excluded.topic_set_by, topic_set_at = excluded.topic_set_at,
           settings = excluded.settings",
        params![
            room.key,
            room.name,
            room.topic,
            room.set_by,
            room.set_at,
            room.settings
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RetentionPolicy, StoredKind, ids, schema};

    fn progress() -> Progress {
        Progress {
            queued: std::sync::atomic::AtomicU64::new(0),
            done: tokio::sync::watch::Sender::new(0),
        }
    }

    /// A writer on `conn`, prepared with `dictionaries`, indexing with `index`.
    fn writer_over(
        conn: Connection,
        dictionaries: std::sync::Arc<crate::store::texts::Dictionaries>,
        retention: Retention,
        index: Indexing,
        progress: &Progress,
    ) -> Writer<'_> {
        let (_, ceilings) = ids::start(&conn, false).unwrap();
        let packer = Packer::new(&conn, dictionaries).unwrap();
        let opened = Opened {
            conn,
            ceilings,
            packer,
        };
        Writer::new(opened, retention, index, progress, StoreMetrics::new())
    }

    fn writer(retention: Retention, progress: &Progress) -> Writer<'_> {
        let conn = Connection::open_in_memory().unwrap();
        let dictionaries = schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let index = Indexing::Inline(indexer::Indexer::new());
        writer_over(conn, dictionaries, retention, index, progress)
    }

    /// A writer on a database in `dir`, with the indexer on its own thread
    /// as `store::open` makes it.
    fn writer_on_disk(dir: &std::path::Path, retention: Retention) -> Writer<'static> {
        let progress: &'static Progress = Box::leak(Box::new(progress()));
        let index_file = dir.join(crate::store::INDEX_FILE);
        let conn = Connection::open(dir.join(crate::store::DB_FILE)).unwrap();
        let cache = crate::store::DEFAULT_CACHE_MIB;
        let on_disk = Some((index_file.as_path(), crate::store::Synchronous::Normal));
        let dictionaries = schema::prepare(&conn, on_disk, cache).unwrap();
        let index_conn = indexer::connect(&index_file, cache).unwrap();
        let (ops, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || indexer::run(&index_conn, &rx, progress));
        let index = Indexing::Thread { ops, thread };
        writer_over(conn, dictionaries, retention, index, progress)
    }

    /// Waits until the indexer has indexed everything handed to it.
    fn settle(w: &mut Writer<'_>) {
        w.index_inline();
        let mut done = w.progress.done.subscribe();
        let through = w.seen_through;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime
            .block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(30),
                    done.wait_for(|&done| done >= through),
                )
                .await
            })
            .expect("indexed in time")
            .unwrap();
    }

    /// Indexes what is left and ends the indexer's thread, if any.
    fn finish_indexing(w: &mut Writer<'_>) {
        let index = std::mem::replace(&mut w.index, Indexing::Inline(indexer::Indexer::new()));
        index.finish(&w.conn, w.progress);
    }

    fn message(id: u64, ts: i64, room: &str) -> Op {
        Op::Message(
            StoredMessage {
                id,
                ts,
                room: Some((room.into(), room.into())),
                sender_id: 1,
                sender_nick: "ann".into(),
                recipient: None,
                text: format!("message {id}"),
                action: false,
                kind: StoredKind::Message,
                tags: Vec::new(),
            },
            Instant::now(),
            None,
        )
    }

    fn count(w: &Writer<'_>, room: &str) -> i64 {
        w.conn
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE room_key = ?1",
                [room],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// Messages in the index: those with a scope term (every message has
    /// one, and they all begin with `0`; the index cannot be scanned).
    fn indexed(w: &Writer<'_>) -> i64 {
        w.conn
            .query_row(
                "SELECT COUNT(*) FROM message_index WHERE message_index MATCH '0*'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    fn limit(count: Option<u64>, age: Option<Duration>) -> RetentionPolicy {
        RetentionPolicy {
            max_messages: count,
            max_age: age,
        }
    }

    #[test]
    fn ids_kept_for_count_trims_are_forgotten_once_indexed() {
        let mut retention = Retention::default();
        retention
            .rooms
            .insert("big".into(), limit(Some(1000), None));
        let progress = progress();
        let mut w = writer(retention, &progress);
        let now = now_ms();
        let mut batch: Vec<Op> = (1..=10)
            .map(|id| message(id, now, if id % 2 == 0 { "big" } else { "small" }))
            .collect();
        w.apply(&mut batch);
        assert_eq!(
            w.unindexed.get("big").map(Vec::len),
            Some(5),
            "only rooms with a count limit"
        );
        assert!(!w.unindexed.contains_key("small"));
        w.forget_indexed();
        assert_eq!(
            w.unindexed.get("big").map(Vec::len),
            Some(5),
            "not indexed yet"
        );
        w.index_inline();
        w.forget_indexed();
        assert!(w.unindexed.is_empty(), "{:?}", w.unindexed);
    }

    #[test]
    fn a_room_name_is_stored_only_where_it_differs_from_its_key() {
        let progress = progress();
        let mut w = writer(Retention::default(), &progress);
        let now = now_ms();
        let mut named = message(2, now, "rust");
        if let Op::Message(m, _, _) = &mut named {
            m.room = Some(("rust".into(), "Rust".into()));
        }
        let mut batch = vec![message(1, now, "rust"), named];
        w.apply(&mut batch);
        w.index_inline();
        let stored: Vec<Option<String>> = w
            .conn
            .prepare("SELECT room_name FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, [None, Some("Rust".to_owned())]);
        let page = super::super::search::room_page(
            &w.conn,
            &w.retention,
            "rust",
            super::super::Span::default(),
            10,
        )
        .unwrap();
        let names: Vec<_> = page.messages.iter().map(|m| m.room.clone()).collect();
        assert_eq!(
            names,
            [
                Some(("rust".to_owned(), "rust".to_owned())),
                Some(("rust".to_owned(), "Rust".to_owned()))
            ],
            "read back as it was said"
        );
    }

    #[test]
    fn messages_are_indexed_after_their_commit_and_reads_wait_for_it() {
        let progress = progress();
        let mut w = writer(Retention::default(), &progress);
        let now = now_ms();
        let mut batch: Vec<Op> = (1..=10).map(|id| message(id, now, "lobby")).collect();
        w.apply(&mut batch);
        assert_eq!(count(&w, "lobby"), 10, "stored");
        assert_eq!(indexed(&w), 0, "not indexed yet");
        assert_eq!(*progress.done.borrow(), 0, "so reads wait");
        w.index_inline();
        assert_eq!(indexed(&w), 10);
        assert_eq!(*progress.done.borrow(), 10);
    }

    #[test]
    fn stored_messages_missing_from_the_index_are_indexed_at_the_next_start() {
        let progress = progress();
        let mut w = writer(Retention::default(), &progress);
        let now = now_ms();
        let mut batch: Vec<Op> = (1..=10).map(|id| message(id, now, "lobby")).collect();
        w.apply(&mut batch);
        w.index_inline();
        let mut batch: Vec<Op> = (11..=25).map(|id| message(id, now, "lobby")).collect();
        w.apply(&mut batch);
        // The process stops here (kill -9): 15 stored, not indexed.
        assert_eq!(indexed(&w), 10);
        assert_eq!(schema::catch_up(&w.conn).unwrap(), 15);
        assert_eq!(indexed(&w), 25);
        assert_eq!(schema::catch_up(&w.conn).unwrap(), 0, "once");
    }

    #[test]
    fn a_count_trim_deletes_in_small_steps() {
        let mut retention = Retention::default();
        retention.rooms.insert("big".into(), limit(Some(100), None));
        let progress = progress();
        let mut w = writer(retention, &progress);
        let now = now_ms();
        let mut batch: Vec<Op> = (1..=1000).map(|id| message(id, now, "big")).collect();
        w.apply(&mut batch);
        // The first step at once, the rest later; the limit is found among
        // messages not indexed yet.
        assert_eq!(count(&w, "big"), 1000 - RETENTION_BATCH as i64);
        assert_eq!(w.work.len(), 1);
        assert_eq!(*progress.done.borrow(), 0, "reads wait for the index");
        w.index_inline();
        assert_eq!(*progress.done.borrow(), 1000, "then see the batch");
        w.step();
        assert_eq!(count(&w, "big"), 100);
        assert!(w.work.is_empty());
        w.index_inline();
        let oldest: i64 = w
            .conn
            .query_row("SELECT MIN(id) FROM messages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(oldest, 901, "the newest are kept");
        assert_eq!(indexed(&w), 100, "and only they are indexed");
    }

    /// The ids the index finds for an FTS5 query, ascending.
    fn found(w: &Writer<'_>, query: &str) -> Vec<i64> {
        w.conn
            .prepare("SELECT rowid FROM message_index WHERE message_index MATCH ?1 ORDER BY rowid")
            .unwrap()
            .query_map([query], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The ids still stored, ascending.
    fn stored(w: &Writer<'_>) -> Vec<i64> {
        w.conn
            .prepare("SELECT id FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn direct(id: u64, ts: i64, text: &str) -> Op {
        Op::Message(
            StoredMessage {
                id,
                ts,
                room: None,
                sender_id: 1,
                sender_nick: "Ann".into(),
                recipient: Some((2, "Bob".into())),
                text: text.into(),
                action: false,
                kind: StoredKind::Message,
                tags: Vec::new(),
            },
            Instant::now(),
            None,
        )
    }

    /// Plans an age sweep and steps until retention has nothing left to
    /// do; returns how many steps it took.
    fn sweep_to_the_end(w: &mut Writer<'_>) -> usize {
        w.sweep_ages();
        let mut steps = 0;
        while !w.work.is_empty() {
            w.step();
            steps += 1;
            assert!(steps < 100, "retention ends");
        }
        steps
    }

    fn integrity_check(w: &Writer<'_>) {
        w.conn
            .execute(
                "INSERT INTO message_index (message_index) VALUES ('integrity-check')",
                [],
            )
            .unwrap();
    }

    #[test]
    fn deleted_messages_leave_every_term_list_of_the_index() {
        let progress = progress();
        deleted_messages_leave_every_term_list(writer(retention_for_deletions(), &progress));
    }

    #[test]
    fn deleted_messages_leave_every_term_list_of_the_index_on_its_own_thread() {
        let dir = tempfile::tempdir().unwrap();
        deleted_messages_leave_every_term_list(writer_on_disk(
            dir.path(),
            retention_for_deletions(),
        ));
    }

    /// A count limit for the room `big`, an age limit for the rest.
    fn retention_for_deletions() -> Retention {
        let mut retention = Retention {
            default: limit(None, Some(Duration::from_secs(3600))),
            ..Retention::default()
        };
        retention.rooms.insert("big".into(), limit(Some(50), None));
        retention
    }

    fn deleted_messages_leave_every_term_list(mut w: Writer<'_>) {
        let now = now_ms();
        let old = now - 2 * 3600 * 1000;
        // Room messages past the count limit, and old direct messages in
        // Chinese (bigrams) beside young ones.
        let mut batch: Vec<Op> = (1..=300)
            .map(|id| match id % 3 {
                0 => direct(id, if id <= 150 { old } else { now }, "学习网络编程 hello"),
                _ => message(id, now, "big"),
            })
            .collect();
        w.apply(&mut batch);
        settle(&mut w);
        // More room messages: a trim of indexed ones.
        let mut batch: Vec<Op> = (301..=330)
            .filter(|id| id % 3 != 0)
            .map(|id| message(id, now, "big"))
            .collect();
        w.apply(&mut batch);
        sweep_to_the_end(&mut w);
        finish_indexing(&mut w);
        let kept = stored(&w);
        let rooms: Vec<i64> = kept.iter().copied().filter(|id| id % 3 != 0).collect();
        let directs: Vec<i64> = kept.iter().copied().filter(|id| id % 3 == 0).collect();
        assert_eq!(rooms.len(), 50, "the count limit");
        assert_eq!(
            directs,
            (151..=300).filter(|id| id % 3 == 0).collect::<Vec<_>>()
        );
        // Whatever term a query looks up, it finds only what is stored.
        assert_eq!(found(&w, &index::quoted(&index::room_term("big"))), rooms);
        assert_eq!(found(&w, "\"message\""), rooms);
        assert_eq!(found(&w, &index::quoted(&index::user_term(2))), directs);
        assert_eq!(found(&w, &index::quoted(&index::nick_term("bob"))), directs);
        assert_eq!(found(&w, "\"网络\" AND \"编程\""), directs);
        assert_eq!(found(&w, "\"hel\"*"), directs, "the prefix index too");
        assert_eq!(indexed(&w), i64::try_from(kept.len()).unwrap());
        integrity_check(&w);
    }

    #[test]
    fn messages_deleted_before_they_were_indexed_are_never_indexed() {
        let retention = Retention {
            default: limit(None, Some(Duration::from_secs(3600))),
            ..Retention::default()
        };
        let progress = progress();
        let mut w = writer(retention, &progress);
        let now = now_ms();
        let old = now - 2 * 3600 * 1000;
        let mut batch: Vec<Op> = (1..=10).map(|id| message(id, old, "lobby")).collect();
        w.apply(&mut batch);
        w.index_inline();
        // Stored, not yet indexed, and already too old.
        let mut batch: Vec<Op> = (11..=20)
            .map(|id| message(id, old, "lobby"))
            .chain((21..=25).map(|id| message(id, now, "lobby")))
            .collect();
        w.apply(&mut batch);
        sweep_to_the_end(&mut w);
        w.index_inline();
        let kept: Vec<i64> = (21..=25).collect();
        assert_eq!(stored(&w), kept);
        assert_eq!(found(&w, &index::quoted(&index::room_term("lobby"))), kept);
        assert_eq!(found(&w, "\"message\""), kept);
        integrity_check(&w);
    }

    #[test]
    fn an_age_sweep_goes_oldest_first_in_steps_and_respects_room_limits() {
        let mut retention = Retention {
            default: limit(None, Some(Duration::from_secs(3600))),
            ..Retention::default()
        };
        retention.rooms.insert(
            "keep".into(),
            limit(None, Some(Duration::from_secs(10 * 86400))),
        );
        let progress = progress();
        let mut w = writer(retention, &progress);
        let now = now_ms();
        let old = now - 2 * 3600 * 1000;
        let mut batch: Vec<Op> = (1..=1200)
            .map(|id| message(id, old, if id % 2 == 0 { "keep" } else { "lobby" }))
            .chain((1201..=1210).map(|id| message(id, now, "lobby")))
            .collect();
        w.apply(&mut batch);
        w.index_inline();
        let steps = sweep_to_the_end(&mut w);
        w.index_inline();
        assert!(steps >= 3, "{steps} steps: small batches");
        assert_eq!(count(&w, "lobby"), 10, "only the young ones are left");
        assert_eq!(count(&w, "keep"), 600, "its own, longer limit applies");
        assert_eq!(indexed(&w), 610);
    }
}
