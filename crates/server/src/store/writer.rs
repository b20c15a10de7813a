//! The store thread: batches writes into transactions, tells senders once
//! their messages are committed, answers reads, keeps the id ceilings ahead,
//! and enforces retention.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

use super::ids::Ceilings;
use super::search;
use super::{
    Op, Outcome, Page, Receipt, Retention, StoreError, StoredAccount, StoredMessage, StoredRoom,
};

use crate::clock::now_ms;

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

struct Writer {
    conn: Connection,
    retention: Retention,
    ceilings: Ceilings,
    /// Messages inserted per room (folded key) since its last count trim.
    since_trim: HashMap<String, u64>,
}

/// Runs until every [`super::Store`] handle is dropped and the queue is empty.
pub fn run(conn: Connection, ops: Receiver<Op>, retention: Retention, ceilings: Ceilings) {
    let mut writer = Writer {
        conn,
        retention,
        ceilings,
        since_trim: HashMap::new(),
    };
    writer.sweep_ages();
    let mut last_sweep = Instant::now();
    let mut batch = Vec::new();
    loop {
        match ops.recv_timeout(AGE_SWEEP_EVERY) {
            Ok(op) => batch.push(op),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            writer.apply(&mut batch);
        }
        if last_sweep.elapsed() >= AGE_SWEEP_EVERY {
            writer.sweep_ages();
            last_sweep = Instant::now();
        }
    }
    tracing::debug!("history store closed");
}

impl Writer {
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
        let written = self.write(batch, &mut touched, &mut answers, &mut receipts);
        let error = written.as_ref().err();
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
        for (room, inserted) in touched {
            self.trim_count(room, inserted);
        }
        for op in answers {
            match op {
                Op::History {
                    room_key,
                    before,
                    limit,
                    reply,
                } => {
                    let _ = reply.send(self.page(&room_key, before, limit));
                }
                Op::Search { query, reply } => {
                    let _ = reply.send(search::search(&self.conn, &query));
                }
                Op::DirectHistory {
                    reader,
                    with,
                    before,
                    limit,
                    reply,
                } => {
                    let page = search::direct_history(&self.conn, &reader, &with, before, limit)
                        .map(|(messages, has_more)| Page { messages, has_more });
                    let _ = reply.send(page);
                }
                Op::Conversations {
                    reader,
                    limit,
                    reply,
                } => {
                    let _ = reply.send(search::conversations(&self.conn, &reader, limit));
                }
                Op::Flush(done) => {
                    let _ = done.send(());
                }
                Op::Account(account, reply) => {
                    let _ = reply.send(self.insert_account(&account));
                }
                Op::DeleteAccount(key, reply) => {
                    let deleted = self
                        .conn
                        .execute("DELETE FROM accounts WHERE key = ?1", params![key])
                        .map(drop)
                        .map_err(StoreError::from);
                    let _ = reply.send(deleted);
                }
                Op::Message(..)
                | Op::UserId(_)
                | Op::ReleaseIds { .. }
                | Op::Topic(_)
                | Op::Ban(_)
                | Op::Unban { .. } => {}
            }
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
        // when the transaction fails half way.
        for op in batch.iter_mut() {
            if let Op::Message(m, _, receipt) = op
                && let Some(receipt) = receipt.take()
            {
                receipts.push((m.id, m.ts, receipt));
            }
        }
        let tx = self.conn.transaction()?;
        let (mut max_message, mut max_user) = (0, 0);
        let mut release = None;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR REPLACE INTO messages
                 (id, ts, room_key, room_name, sender_id, sender_nick, recipient_id, recipient_nick, body, action)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for op in batch.drain(..) {
                match op {
                    Op::Message(m, _, _) => {
                        max_message = max_message.max(m.id);
                        insert_message(&mut insert, &m)?;
                        if let Some((key, _)) = m.room {
                            *touched.entry(key).or_insert(0) += 1;
                        }
                    }
                    Op::UserId(id) => max_user = max_user.max(id),
                    Op::ReleaseIds {
                        next_message,
                        next_user,
                    } => release = Some((next_message, next_user)),
                    Op::Topic(room) => {
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

    fn page(&self, room_key: &str, before: Option<u64>, limit: u32) -> Result<Page, StoreError> {
        let before = before.map_or(i64::MAX, to_sql_int);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, ts, room_key, room_name, sender_id, sender_nick, body, action
             FROM messages WHERE room_key = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let mut messages = stmt
            .query_map(params![room_key, before, i64::from(limit) + 1], |r| {
                Ok(StoredMessage {
                    id: from_sql_int(r.get(0)?),
                    ts: r.get(1)?,
                    room: Some((r.get(2)?, r.get(3)?)),
                    sender_id: from_sql_int(r.get(4)?),
                    sender_nick: r.get(5)?,
                    recipient: None,
                    text: r.get(6)?,
                    action: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = messages.len() > limit as usize;
        messages.truncate(limit as usize);
        messages.reverse();
        Ok(Page { messages, has_more })
    }

    /// Deletes a room's messages beyond its count limit, once enough have
    /// been inserted since the last trim (see [`TRIM_FRACTION`]).
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
        let room_key = room_key.as_str();
        let result = self.conn.execute(
            "DELETE FROM messages WHERE room_key = ?1 AND id <=
               (SELECT id FROM messages WHERE room_key = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            params![room_key, to_sql_int(keep)],
        );
        match result {
            Ok(0) => {}
            Ok(n) => tracing::debug!(room = room_key, deleted = n, "history trimmed by count"),
            Err(e) => tracing::error!(room = room_key, error = %e, "could not trim history"),
        }
    }

    /// Deletes messages past their room's (or the default) age limit.
    fn sweep_ages(&mut self) {
        let now = now_ms();
        let cutoff =
            |age: Duration| now.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let mut statements: Vec<(String, Vec<rusqlite::types::Value>)> = Vec::new();
        for (key, policy) in &self.retention.rooms {
            if let Some(age) = policy.max_age {
                statements.push((
                    "DELETE FROM messages WHERE room_key = ?1 AND ts < ?2".into(),
                    vec![key.clone().into(), cutoff(age).into()],
                ));
            }
        }
        if let Some(age) = self.retention.default.max_age {
            let overridden: Vec<String> = self.retention.rooms.keys().cloned().collect();
            let placeholders = vec!["?"; overridden.len()].join(",");
            let mut values: Vec<rusqlite::types::Value> = vec![cutoff(age).into()];
            values.extend(overridden.into_iter().map(Into::into));
            statements.push((
                format!(
                    "DELETE FROM messages WHERE ts < ?1 AND (room_key IS NULL OR room_key NOT IN ({placeholders}))"
                ),
                values,
            ));
        }
        for (sql, values) in statements {
            match self.conn.execute(&sql, rusqlite::params_from_iter(values)) {
                Ok(0) => {}
                Ok(n) => tracing::debug!(deleted = n, "history trimmed by age"),
                Err(e) => tracing::error!(error = %e, "could not trim history by age"),
            }
        }
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
    ])
}

fn upsert_room(tx: &rusqlite::Transaction<'_>, room: &StoredRoom) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO rooms (key, name, topic, topic_set_by, topic_set_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(key) DO UPDATE SET name = excluded.name, topic = excluded.topic,
           topic_set_by = excluded.topic_set_by, topic_set_at = excluded.topic_set_at",
        params![room.key, room.name, room.topic, room.set_by, room.set_at],
    )
}

/// SQLite integers are signed; ids never come near `i64::MAX`.
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
