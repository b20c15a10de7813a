//! The store thread: batches writes into transactions, tells senders once
//! their messages are committed, keeps the id ceilings ahead, publishes how
//! far it has got (for the reader threads), answers reads itself for a
//! database in memory, and enforces retention in small batches between
//! the batches of writes.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::ids::Ceilings;
use super::index;
use super::reads;
use super::{
    Failure, Op, Outcome, Progress, Receipt, Retention, StoreError, StoredAccount, StoredMessage,
    StoredRoom,
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

/// Messages are added to the message index in their own transactions,
/// after the transaction that stores them (and the acknowledgements): FTS5
/// writes a new segment at every commit, at a cost that grows with the
/// distinct terms of the commit more than with its messages, so indexing in
/// larger batches costs far less per message. Under a steady stream of
/// writes the writer indexes what is waiting this often...
const INDEX_EVERY: Duration = Duration::from_millis(50);

/// ... and when nothing has come for this long (or a read waits).
const INDEX_WHEN_IDLE: Duration = Duration::from_millis(2);

/// ... or once this many messages wait to be indexed.
const INDEX_MOST: usize = 16_384;

/// The `meta` key of the highest message id in the message index: on
/// startup the messages after it (stored, acknowledged, not yet indexed
/// when the process stopped) are indexed first.
pub const INDEXED_THROUGH: &str = "indexed_through";

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
    /// Stored messages not yet in the message index: id and terms.
    unindexed: Vec<(i64, String)>,
    /// When the oldest of them was stored.
    unindexed_since: Option<Instant>,
    /// The highest message id of every batch so far.
    seen_through: u64,
}

/// Runs until every [`super::Store`] handle is dropped and the queue is empty.
pub fn run(
    conn: Connection,
    ops: Receiver<Op>,
    retention: Retention,
    ceilings: Ceilings,
    progress: &Progress,
    metrics: StoreMetrics,
) {
    let mut writer = Writer::new(conn, retention, ceilings, progress, metrics);
    writer.sweep_ages();
    let mut last_sweep = Instant::now();
    let mut last_step = Instant::now();
    let mut batch = Vec::new();
    loop {
        // With deletions to make, take what has queued without waiting and
        // make one step of them after it; otherwise wait for work.
        if writer.work.is_empty() {
            let wait = if writer.unindexed.is_empty() {
                AGE_SWEEP_EVERY
            } else {
                INDEX_WHEN_IDLE
            };
            match ops.recv_timeout(wait) {
                Ok(op) => batch.push(op),
                Err(RecvTimeoutError::Timeout) => writer.index_waiting(),
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
        let due = writer.unindexed.len() >= INDEX_MOST
            || writer
                .unindexed_since
                .is_some_and(|since| since.elapsed() >= INDEX_EVERY);
        // A read waits for the index: index now rather than later.
        let read_waits = writer.progress.done.receiver_count() > 0;
        if due || drained && read_waits && !writer.unindexed.is_empty() {
            writer.index_waiting();
        }
        if !writer.work.is_empty() && (!busy || last_step.elapsed() >= STEP_UNDER_LOAD) {
            writer.step();
            last_step = Instant::now();
        }
        if last_sweep.elapsed() >= AGE_SWEEP_EVERY {
            writer.sweep_ages();
            last_sweep = Instant::now();
        }
    }
    writer.index_waiting();
    progress.done.send_replace(u64::MAX);
    tracing::debug!("history store closed");
}

impl<'p> Writer<'p> {
    /// A writer that has done nothing yet.
    fn new(
        conn: Connection,
        retention: Retention,
        ceilings: Ceilings,
        progress: &'p Progress,
        metrics: StoreMetrics,
    ) -> Self {
        Writer {
            conn,
            retention,
            ceilings,
            progress,
            metrics,
            since_trim: HashMap::new(),
            work: VecDeque::new(),
            unindexed: Vec::new(),
            unindexed_since: None,
            seen_through: 0,
        }
    }

    /// Writes every record of the batch in one transaction, tells the
    /// senders waiting for their messages, then answers the reads and
    /// flushes (which thereby see all of it).
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
            (Err(e), _) => tracing::error!(error = %e, "could not store a batch of history"),
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
        self.seen_through = self.seen_through.max(last_id);
        for (room, inserted) in touched {
            self.trim_count(room, inserted);
        }
        if answers.iter().any(|op| matches!(op, Op::Read(_))) {
            // Reads here (a store in memory) see every message before them.
            self.index_waiting();
        }
        for op in answers {
            match op {
                Op::Read(read) => reads::answer(&self.conn, &self.retention, read),
                Op::Flush(done) => {
                    let _ = done.send(());
                }
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
        if self.unindexed.is_empty() {
            self.publish();
        }
    }

    /// Lets reads waiting for the messages so far go: they are committed
    /// (or failed and were reported), indexed and trimmed.
    fn publish(&self) {
        let through = self.seen_through;
        self.progress.done.send_if_modified(|done| {
            let moved = through > *done;
            *done = (*done).max(through);
            moved
        });
    }

    /// Adds the stored messages waiting for it to the message index, in one
    /// transaction with the index's watermark, then lets reads go.
    fn index_waiting(&mut self) {
        if self.unindexed.is_empty() {
            self.publish();
            return;
        }
        let waiting = std::mem::take(&mut self.unindexed);
        self.unindexed_since = None;
        let indexed = (|| -> Result<(), StoreError> {
            let tx = self.conn.transaction()?;
            {
                let mut insert =
                    tx.prepare_cached("INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)")?;
                for (id, terms) in &waiting {
                    insert.execute(params![id, terms])?;
                }
            }
            let through = waiting.iter().map(|(id, _)| *id).max().unwrap_or(0);
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                params![INDEXED_THROUGH, through],
            )?;
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = indexed {
            // The messages are stored; they wait for the next try (or the
            // next start), ahead of the ones stored since, so that the
            // index's watermark never passes a message it does not hold.
            tracing::error!(error = %e, messages = waiting.len(), "could not index stored messages");
            let since = std::mem::replace(&mut self.unindexed, waiting);
            self.unindexed.extend(since);
            self.unindexed_since.get_or_insert_with(Instant::now);
        }
        self.publish();
    }

    fn write(
        &mut self,
        batch: &mut Vec<Op>,
        touched: &mut HashMap<String, u64>,
        answers: &mut Vec<Op>,
        receipts: &mut Vec<(u64, i64, Receipt)>,
    ) -> Result<(), StoreError> {
        // Taken out first, so that every waiting sender hears back even
        // when the transaction fails half way.
        for op in batch.iter_mut() {
            if let Op::Message(m, _, receipt) = op
                && let Some(receipt) = receipt.take()
            {
                receipts.push((m.id, m.ts, receipt));
            }
        }
        let tx = self.conn.transaction()?;
        let mut stored = Vec::new();
        let (mut max_message, mut max_user) = (0, 0);
        let mut release = None;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO messages
                 (id, ts, room_key, room_name, sender_id, sender_nick, recipient_id, recipient_nick, body, action, kind, tags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            for op in batch.drain(..) {
                match op {
                    Op::Message(m, _, _) => {
                        max_message = max_message.max(m.id);
                        insert_message(&mut insert, &m)?;
                        stored.push((to_sql_int(m.id), terms_of(&m)));
                        if let Some((key, _)) = m.room {
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
        if !stored.is_empty() {
            self.unindexed_since.get_or_insert_with(Instant::now);
            self.unindexed.extend(stored);
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
        // The index finds the room's messages: it must hold them all.
        self.index_waiting();
        // The newest message beyond the limit.
        let through = self.conn.query_row(
            "SELECT rowid FROM message_index WHERE message_index MATCH ?1
             ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
            params![
                index::quoted(&index::room_term(&room_key)),
                to_sql_int(keep)
            ],
            |r| r.get::<_, i64>(0),
        );
        match through {
            Ok(through) => {
                self.work.push_front(Work::Trim { room_key, through });
                self.step();
            }
            Err(rusqlite::Error::QueryReturnedNoRows) => {}
            Err(e) => tracing::error!(room = room_key, error = %e, "could not trim history"),
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
                let ids: Vec<i64> = self
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
                let finished = ids.len() < RETENTION_BATCH;
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
            // Those still waiting to be indexed are not in the index: they
            // leave the queue instead, once the deletion is committed.
            // (`ids` is in ascending order: every step reads by id.)
            let mut waiting: Vec<i64> = self
                .unindexed
                .iter()
                .map(|(id, _)| *id)
                .filter(|id| ids.binary_search(id).is_ok())
                .collect();
            waiting.sort_unstable();
            let tx = self.conn.transaction()?;
            {
                let mut message = tx.prepare_cached(&format!(
                    "DELETE FROM messages WHERE id = ?1 RETURNING {}",
                    index::TERM_COLUMNS
                ))?;
                // The terms it was indexed with (see `schema::MESSAGE_INDEX`).
                let mut index = tx.prepare_cached(
                    "INSERT INTO message_index (message_index, rowid, terms) VALUES ('delete', ?1, ?2)",
                )?;
                for id in &ids {
                    let terms = message.query_row([id], index::stored_terms).optional()?;
                    if let Some(terms) = terms
                        && waiting.binary_search(id).is_err()
                    {
                        index.execute(params![id, terms])?;
                    }
                }
            }
            tx.commit()?;
            if !waiting.is_empty() {
                self.unindexed
                    .retain(|(id, _)| waiting.binary_search(id).is_err());
            }
        }
        Ok((ids.len(), finished))
    }
}

fn insert_message(
    stmt: &mut rusqlite::CachedStatement<'_>,
    m: &StoredMessage,
) -> rusqlite::Result<usize> {
    let (room_key, room_name) = match &m.room {
        Some((key, name)) => (Some(key.as_str()), Some(name.as_str())),
        None => (None, None),
    };
    let (recipient_id, recipient_nick) = match &m.recipient {
        Some((id, nick)) => (Some(to_sql_int(*id)), Some(nick.as_str())),
        None => (None, None),
    };
    stmt.execute(params![
        to_sql_int(m.id),
        m.ts,
        room_key,
        room_name,
        to_sql_int(m.sender_id),
        m.sender_nick,
        recipient_id,
        recipient_nick,
        m.text,
        m.action,
        m.kind.code(),
        super::tags_to_column(&m.tags),
    ])
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

/// SQLite integers are signed; ids never come near `i64::MAX`.
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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

    fn writer(retention: Retention, progress: &Progress) -> Writer<'_> {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let (_, ceilings) = ids::start(&conn, false).unwrap();
        Writer::new(conn, retention, ceilings, progress, StoreMetrics::new())
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

    fn indexed(w: &Writer<'_>) -> i64 {
        w.conn
            .query_row("SELECT COUNT(*) FROM message_index", [], |r| r.get(0))
            .unwrap()
    }

    fn limit(count: Option<u64>, age: Option<Duration>) -> RetentionPolicy {
        RetentionPolicy {
            max_messages: count,
            max_age: age,
        }
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
        w.index_waiting();
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
        w.index_waiting();
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
        assert_eq!(*progress.done.borrow(), 1000, "reads may see the batch");
        // The first step at once, the rest later.
        assert_eq!(count(&w, "big"), 1000 - RETENTION_BATCH as i64);
        assert_eq!(w.work.len(), 1);
        w.step();
        assert_eq!(count(&w, "big"), 100);
        assert!(w.work.is_empty());
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
        let mut retention = Retention {
            default: limit(None, Some(Duration::from_secs(3600))),
            ..Retention::default()
        };
        retention.rooms.insert("big".into(), limit(Some(50), None));
        let progress = progress();
        let mut w = writer(retention, &progress);
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
        w.index_waiting();
        sweep_to_the_end(&mut w);
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
        w.index_waiting();
        // Stored, not yet indexed, and already too old.
        let mut batch: Vec<Op> = (11..=20)
            .map(|id| message(id, old, "lobby"))
            .chain((21..=25).map(|id| message(id, now, "lobby")))
            .collect();
        w.apply(&mut batch);
        sweep_to_the_end(&mut w);
        w.index_waiting();
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
        w.index_waiting();
        let steps = sweep_to_the_end(&mut w);
        assert!(steps >= 3, "{steps} steps: small batches");
        assert_eq!(count(&w, "lobby"), 10, "only the young ones are left");
        assert_eq!(count(&w, "keep"), 600, "its own, longer limit applies");
        assert_eq!(indexed(&w), 610);
    }
}
