//! The database layout and what the server reads from it at startup.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::{
    Loaded, Start, StoreError, StoredAccount, StoredBan, StoredRoom, Synchronous, rows, texts,
};

/// Bumped whenever the layout changes; a database from a newer version is
/// refused rather than misread. Version 2 added a full-text index (FTS5,
/// `trigram`, kept by triggers), version 3 refolded nicknames, version 4
/// replaced the full-text index and the B-tree indexes on `messages` with
/// one FTS5 message index written by the store itself (see `index`),
/// version 5 rebuilt that index so that a deletion names the terms it
/// removes instead of leaving a tombstone (see [`MESSAGE_INDEX`]),
/// version 6 stored rooms' settings, version 7 added read markers
/// ([`READ_MARKERS`]), version 8 kept events beside messages and
/// client-only tags ([`KINDS_AND_TAGS`]), version 9 accounts' client
/// certificate fingerprints ([`ACCOUNT_CERTS`]), version 10 moved the
/// message index into a file of its own, `index.db`, attached as `idx`
/// ([`MESSAGE_INDEX`]; `main.message_index` is dropped, and the index is built
/// again there at the first start), version 11 stored rooms and senders by
/// number (`rows`: `messages` became a view of `message_rows`).
const SCHEMA_VERSION: i64 = 11;

/// Version 8: what a row is (`StoredKind`: message, notice, topic change,
/// kept TAGMSG) and its client-only tags. Adding columns with constant
/// defaults rewrites no row; a message row pays two bytes of header.
const KINDS_AND_TAGS: &str = "
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN tags TEXT;
";

/// Version 9: the client certificates (SHA-256 fingerprints) that log into
/// an account (see `certs`): one account per fingerprint, found by
/// fingerprint at login and listed by account.
const ACCOUNT_CERTS: &str = "
CREATE TABLE IF NOT EXISTS account_certs (
    fingerprint TEXT PRIMARY KEY,         -- SHA-256 of the certificate, lower-case hex
    account     TEXT NOT NULL,            -- folded nickname of the account
    added       INTEGER NOT NULL          -- ms since the Unix epoch
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_certs_by_account ON account_certs (account);
";

/// Version 7: each account's read position per conversation (see
/// `markers`), read by one account at a time, hence the primary key.
const READ_MARKERS: &str = "
CREATE TABLE IF NOT EXISTS read_markers (
    account TEXT NOT NULL,                -- folded nickname of the account
    key     TEXT NOT NULL,                -- '#' and a room key, or a folded nickname
    target  TEXT NOT NULL,                -- as the user last named it
    ts      INTEGER NOT NULL,             -- ms since the Unix epoch
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
";

/// The message index (see `index` for what it holds and why): contentless
/// (the text lives in `messages`), no positions, and an index of
/// three-character prefixes, so that a search for a common short word
/// (`the` finds `the`, `then`, `there`...) reads one list, newest first, as
/// far as it needs, instead of merging the whole lists of every word it
/// begins (about 5 % more space and a fifth more indexing time, measured).
///
/// A message leaves the index by FTS5's `'delete'` command with the terms
/// it was indexed with (recomputed from its row, [`super::index::stored_terms`]),
/// not by `contentless_delete = 1` (version 4): that option deletes by rowid
/// and keeps the deleted rowids in per-segment hash tables with linear
/// probing, which retention, deleting runs of consecutive ids, fills with
/// long clusters that every later query and merge probes. Measured on 4
/// million messages with the oldest 500,000 deleted: deletions 75,000/s
/// against 150,000/s, and a one-word search 58 ms against 12 ms after
/// (`docs/benchmarks.md`, "History at scale").
///
/// Since version 10 it is in `index.db`, attached to every connection as
/// the schema `idx`, with its watermark (`indexer::INDEXED_THROUGH`) in
/// `idx.index_meta`, so that it is written by a thread and a connection of
/// its own (see `indexer`). Queries name it without the schema:
/// `message_index` is found in `idx`, `main` having none. It is built
/// without FTS5's table of each document's size in tokens
/// (`columnsize = 0`), which only FTS5's own ranking reads (search ranks
/// by the texts it reads anyway): 11 bytes a message, an eighth of the
/// history's size on disk.
const MESSAGE_INDEX: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS idx.message_index USING fts5(
    terms, content = '', detail = none, prefix = '3', columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS idx.index_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Segments of one level that FTS5 merges into one of the next.
const AUTOMERGE: i64 = 8;

/// Segments of one level that the indexer's merges when idle merge into
/// one of the next (`indexer`): FTS5's least.
const USERMERGE: i64 = 2;

/// What versions before 4 had and version 4 does not.
const BEFORE_4: &str = "
DROP TRIGGER IF EXISTS messages_fts_insert;
DROP TRIGGER IF EXISTS messages_fts_delete;
DROP TRIGGER IF EXISTS messages_fts_update;
DROP TABLE IF EXISTS messages_fts;
DROP INDEX IF EXISTS messages_by_room;
DROP INDEX IF EXISTS messages_by_time;
";

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS rooms (
    key          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    topic        TEXT NOT NULL DEFAULT '',
    topic_set_by TEXT,
    topic_set_at INTEGER,
    settings     TEXT                     -- modes, operators, bans (JSON; version 6)
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    key     TEXT PRIMARY KEY,             -- folded nickname
    nick    TEXT NOT NULL,
    hash    TEXT NOT NULL,                -- argon2id PHC string
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS bans (
    kind   TEXT NOT NULL,                 -- 'nick' (folded) or 'ip'
    value  TEXT NOT NULL,
    reason TEXT NOT NULL,
    by     TEXT NOT NULL,
    at     INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
);
";

/// Attaches the message index's file as the schema `idx` (see [`MESSAGE_INDEX`]),
/// unless it is attached already; `None` attaches one in memory.
pub fn attach_index(conn: &Connection, file: Option<&Path>) -> Result<(), StoreError> {
    let attached: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_database_list WHERE name = 'idx')",
        [],
        |r| r.get(0),
    )?;
    if attached {
        return Ok(());
    }
    let name = match file {
        Some(path) => path.to_str().ok_or_else(|| StoreError::DataDir {
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not UTF-8"),
        })?,
        None => ":memory:",
    };
    conn.execute("ATTACH DATABASE ?1 AS idx", [name])?;
    Ok(())
}

/// Sets the connection up, attaches the message index (see [`MESSAGE_INDEX`]),
/// creates the tables if needed, and registers the function that reads
/// stored texts (see `texts`), returning the dictionaries it reads with. A database on disk comes with its index's
/// file and how its commits are synced. `cache_mib` is the writer's page
/// cache: the pages a batch touches stay in memory between commits instead
/// of being read back from the operating system's cache.
pub fn prepare(
    conn: &Connection,
    on_disk: Option<(&Path, Synchronous)>,
    cache_mib: u32,
) -> Result<std::sync::Arc<texts::Dictionaries>, StoreError> {
    attach_index(conn, on_disk.map(|(index, _)| index))?;
    // Pages freed inside the file can be given back to the file system a
    // few at a time (`PRAGMA incremental_vacuum`), as packing texts stored
    // unpacked does (`texts`). It takes effect on a new database, or at the
    // `VACUUM` of an upgrade below; elsewhere freed pages are reused.
    conn.pragma_update(Some("main"), "auto_vacuum", "INCREMENTAL")?;
    if let Some((_, synchronous)) = on_disk {
        // WAL: readers (backups, `sqlite3`) never block the writer, and a
        // commit survives the process being killed. FULL syncs the WAL at
        // every commit (one fsync per batch of messages); NORMAL only at
        // checkpoints (see `Synchronous`).
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let mode = match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", mode)?;
        // The index: WAL too, so that its thread writes while the others
        // read; synced at checkpoints only, since it can always be built
        // again from `messages` past its watermark (see `indexer`).
        conn.pragma_update(Some("idx"), "journal_mode", "WAL")?;
        conn.pragma_update(Some("idx"), "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
    }
    // A negative `cache_size` is in KiB.
    conn.pragma_update(None, "cache_size", -i64::from(cache_mib) * 1024)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterName(
            format!(
                "the database has schema version {version}, newer than this server's {SCHEMA_VERSION}"
            ),
        )));
    }
    super::search::prepare_connection(conn)?;
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(CREATE)?;
    tx.execute_batch(rows::TABLES)?;
    tx.execute_batch(texts::TABLE)?;
    if version < 4 {
        tx.execute_batch(BEFORE_4)?;
    }
    if (1..10).contains(&version) {
        // The index moves to `index.db` (version 10; version 4's also
        // deleted by rowid, a table option that cannot be changed): built
        // again there by `catch_up`, its watermark starting at 0.
        tracing::info!(
            from = version,
            to = SCHEMA_VERSION,
            "upgrading the database: building the message index again in index.db (about a minute per ten million messages)"
        );
        tx.execute_batch(
            "DROP TABLE IF EXISTS main.message_index;
             DELETE FROM main.meta WHERE key = 'indexed_through';",
        )?;
    }
    tx.execute_batch(MESSAGE_INDEX)?;
    if !index_belongs(&tx)? {
        tracing::warn!(
            "index.db belongs to another copy of the database (a backup restored?): building the message index again (about a minute per ten million messages)"
        );
        tx.execute_batch(
            "DROP TABLE IF EXISTS idx.message_index;
             DELETE FROM idx.index_meta;",
        )?;
        tx.execute_batch(MESSAGE_INDEX)?;
        // Empty now: this pairs it with the database.
        index_belongs(&tx)?;
    }
    // FTS5 merges its segments as it writes: by default four of a level
    // into one of the next. Eight at a time halves the merging (a quarter
    // of the indexer's time at 100,000 messages a second) for a few more
    // segments per read. Kept in the table's own configuration.
    tx.execute(
        "INSERT INTO idx.message_index (message_index, rank) VALUES ('automerge', ?1)",
        [AUTOMERGE],
    )?;
    // What the indexer merges when idle: any two segments of one level.
    tx.execute(
        "INSERT INTO idx.message_index (message_index, rank) VALUES ('usermerge', ?1)",
        [USERMERGE],
    )?;
    if (1..3).contains(&version) {
        refold_nicknames(&tx)?;
    }
    if (1..6).contains(&version) && !has_column(&tx, "rooms", "settings")? {
        tx.execute_batch("ALTER TABLE rooms ADD COLUMN settings TEXT;")?;
    }
    if version < 7 {
        tx.execute_batch(READ_MARKERS)?;
    }
    if (1..8).contains(&version) && !has_column(&tx, "messages", "kind")? {
        tx.execute_batch(KINDS_AND_TAGS)?;
    }
    if version < 9 {
        tx.execute_batch(ACCOUNT_CERTS)?;
    }
    let upgraded = if rows::has_old_table(&tx)? {
        tracing::info!(
            from = version,
            to = SCHEMA_VERSION,
            "upgrading the database: storing names by number (about a minute per ten million messages)"
        );
        Some(rows::upgrade(&tx)?)
    } else {
        None
    };
    tx.execute_batch(rows::VIEW)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    if let Some(moved) = upgraded {
        // The old table's pages are free now; giving them back to the
        // file system is what the new layout is for.
        if on_disk.is_some() {
            // VACUUM writes the compacted copy back through the WAL, which
            // then holds all of it: checkpointed and truncated at once.
            conn.execute_batch("VACUUM main; PRAGMA main.wal_checkpoint(TRUNCATE);")?;
        }
        tracing::info!(messages = moved, "database upgraded");
    }
    let dictionaries = texts::Dictionaries::load(conn)?;
    texts::register(conn, dictionaries.clone())?;
    Ok(dictionaries)
}

/// The `meta` key (in `main`, and in `idx.index_meta`) of a number drawn
/// for the database when it first has an index file, which the index file
/// keeps too: an `index.db` beside a `chatroom.db` that is not the one it
/// indexes (a backup restored in its place, whose copy the backup left
/// without it) is built again instead of misleading every read.
pub const DATABASE_ID: &str = "database_id";

/// Whether the attached index was built for this database (see
/// [`DATABASE_ID`]); a new index, or a database without one yet, is paired
/// with it here.
fn index_belongs(tx: &rusqlite::Transaction<'_>) -> Result<bool, StoreError> {
    let get = |table: &str| -> rusqlite::Result<Option<i64>> {
        tx.query_row(
            &format!("SELECT value FROM {table} WHERE key = ?1"),
            [DATABASE_ID],
            |r| r.get(0),
        )
        .optional()
    };
    let (ours, its) = (get("main.meta")?, get("idx.index_meta")?);
    let ours = match ours {
        Some(id) => id,
        None => {
            let id = draw();
            tx.execute(
                "INSERT INTO main.meta (key, value) VALUES (?1, ?2)",
                rusqlite::params![DATABASE_ID, id],
            )?;
            id
        }
    };
    if its == Some(ours) {
        return Ok(true);
    }
    let empty = its.is_none() && super::indexer::watermark(tx)? == 0;
    if empty {
        tx.execute(
            "INSERT INTO idx.index_meta (key, value) VALUES (?1, ?2)",
            rusqlite::params![DATABASE_ID, ours],
        )?;
    }
    Ok(empty)
}

/// A number unlikely to be drawn twice: the process's random hash keys and
/// the time.
fn draw() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |t| t.as_nanos()),
    );
    hasher.finish().cast_signed()
}

/// Whether `table` has a column called `column` (an older database may
/// lack one a later version added).
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    for name in names {
        if name? == column {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Indexes the stored messages the message index lacks: those after its
/// watermark (stored and acknowledged, but the process stopped before they
/// were indexed), or every message when `index.db` is new (an upgrade from
/// before version 10, a deleted index, a restored backup). Returns how
/// many.
pub fn catch_up(conn: &Connection) -> Result<u64, StoreError> {
    let through = super::indexer::watermark(conn)?;
    let tx = conn.unchecked_transaction()?;
    let count = index_after(&tx, through)?;
    tx.commit()?;
    Ok(count)
}

/// Indexes the messages with ids above `after` and moves the index's
/// watermark to the last of them.
fn index_after(tx: &rusqlite::Transaction<'_>, after: i64) -> Result<u64, StoreError> {
    let mut read = tx.prepare(&format!(
        "SELECT {}, id FROM messages WHERE id > ?1 ORDER BY id",
        super::index::TERM_COLUMNS
    ))?;
    let mut write = tx.prepare("INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)")?;
    let mut rows = read.query([after])?;
    let mut count = 0u64;
    let mut last = None;
    while let Some(r) = rows.next()? {
        let terms = super::index::stored_terms(r)?;
        let id: i64 = r.get(6)?;
        write.execute(rusqlite::params![id, terms])?;
        count += 1;
        last = Some(id);
    }
    if let Some(last) = last {
        super::indexer::raise_watermark(tx, last)?;
        tracing::info!(
            messages = count,
            "stored messages added to the message index"
        );
    }
    Ok(count)
}

/// Reads what the hub needs to continue where the last run stopped; `ids`
/// says where the ids continue.
pub fn load(conn: &Connection, ids: Start) -> Result<Loaded, StoreError> {
    let mut stmt =
        conn.prepare("SELECT key, name, topic, topic_set_by, topic_set_at, settings FROM rooms")?;
    let rooms = stmt
        .query_map([], |r| {
            Ok(StoredRoom {
                key: r.get(0)?,
                name: r.get(1)?,
                topic: r.get(2)?,
                set_by: r.get(3)?,
                set_at: r.get(4)?,
                settings: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare("SELECT key, nick, hash, created FROM accounts")?;
    let accounts = stmt
        .query_map([], |r| {
            Ok(StoredAccount {
                key: r.get(0)?,
                nick: r.get(1)?,
                hash: r.get(2)?,
                created: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare("SELECT kind, value, reason, by, at FROM bans")?;
    let bans = stmt
        .query_map([], |r| {
            Ok(StoredBan {
                kind: r.get(0)?,
                value: r.get(1)?,
                reason: r.get(2)?,
                by: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let last_message = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(Loaded {
        ids,
        last_message: u64::try_from(last_message).unwrap_or(0),
        rooms,
        accounts,
        bans,
        certs: super::certs::all(conn)?,
    })
}

/// Version 3 compares nicknames after Unicode normalization (NFKC) as well
/// as case (`nick::fold`), where earlier versions lowercased only: account
/// keys and nickname bans are folded again. An account whose new key is
/// another's (`ｂｏｂ` beside `bob`) keeps its old one and is logged, for an
/// operator to resolve; two bans that become one are one.
fn refold_nicknames(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    let accounts: Vec<(String, String)> = tx
        .prepare("SELECT key, nick FROM accounts")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (key, nick) in accounts {
        let folded = chatroom_proto::nick::fold(&nick);
        if folded == key {
            continue;
        }
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM accounts WHERE key = ?1)",
            [&folded],
            |r| r.get(0),
        )?;
        if taken {
            tracing::warn!(
                nick,
                "two accounts now name the same person; this one cannot log in until one is deleted"
            );
        } else {
            tx.execute(
                "UPDATE accounts SET key = ?1 WHERE key = ?2",
                [&folded, &key],
            )?;
        }
    }
    let bans: Vec<String> = tx
        .prepare("SELECT value FROM bans WHERE kind = 'nick'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for value in bans {
        let folded = chatroom_proto::nick::fold(&value);
        if folded != value {
            tx.execute(
                "UPDATE OR REPLACE bans SET value = ?1 WHERE kind = 'nick' AND value = ?2",
                [&folded, &value],
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores message `id`, `common`, in `rust` from `ann`, as the writer does.
    fn store_common(conn: &Connection, id: u64) {
        let message = crate::store::StoredMessage {
            id,
            ts: 0,
            room: Some(("rust".into(), "rust".into())),
            sender_id: 1,
            sender_nick: "ann".into(),
            recipient: None,
            text: "common".into(),
            action: false,
            kind: crate::store::StoredKind::Message,
            tags: Vec::new(),
        };
        rows::Rows::default()
            .insert(conn, &message, texts::Stored::Plain(&message.text))
            .unwrap();
    }

    /// A database of an older layout: three messages (`word1 common`...)
    /// and, in `main`, a message index with `options` holding the first
    /// `indexed` of them.
    fn old_database(options: &str, indexed: i64) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(CREATE).unwrap();
        conn.execute_batch(rows::MESSAGES_BEFORE_11).unwrap();
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE message_index USING fts5(
                terms, content = '', {options} detail = none, prefix = '3',
                tokenize = 'unicode61 remove_diacritics 0'
            );"
        ))
        .unwrap();
        for id in 1..=3 {
            let body = format!("word{id} common");
            conn.execute(
                "INSERT INTO messages (id, ts, room_key, room_name, sender_id, sender_nick, body)
                 VALUES (?1, 0, 'rust', 'rust', 1, 'ann', ?2)",
                rusqlite::params![id, body],
            )
            .unwrap();
            if id <= indexed {
                conn.execute(
                    "INSERT INTO message_index (rowid, terms) VALUES (?1, ?2)",
                    rusqlite::params![id, body],
                )
                .unwrap();
            }
        }
        conn
    }

    #[test]
    fn a_version_4_index_is_built_again_and_deletes_by_terms() {
        // Version 4's index deleted by rowid; only the first message had
        // been indexed when it stopped.
        let conn = old_database("contentless_delete = 1,", 1);
        conn.pragma_update(None, "user_version", 4).unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(catch_up(&conn).unwrap(), 3);
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let sql: String = conn
            .query_row(
                "SELECT sql FROM idx.sqlite_master WHERE name = 'message_index'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.contains("contentless_delete"), "{sql}");
        let found = |query: &str| -> Vec<i64> {
            conn.prepare(
                "SELECT rowid FROM message_index WHERE message_index MATCH ?1 ORDER BY rowid",
            )
            .unwrap()
            .query_map([query], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        assert_eq!(found("common"), [1, 2, 3], "every message, indexed once");
        assert_eq!(
            found(&crate::store::index::quoted(
                &crate::store::index::room_term("rust")
            )),
            [1, 2, 3]
        );
        // A deletion names the terms, recomputed from the stored row.
        let terms = conn
            .query_row(
                &format!(
                    "SELECT {} FROM messages WHERE id = 2",
                    crate::store::index::TERM_COLUMNS
                ),
                [],
                crate::store::index::stored_terms,
            )
            .unwrap();
        conn.execute(
            "INSERT INTO message_index (message_index, rowid, terms) VALUES ('delete', 2, ?1)",
            [terms],
        )
        .unwrap();
        assert_eq!(found("common"), [1, 3]);
        assert_eq!(found("word2"), Vec::<i64>::new());
    }

    /// The ids of the messages holding `word`, by the index.
    fn found(conn: &Connection, word: &str) -> Vec<i64> {
        conn.prepare("SELECT rowid FROM message_index WHERE message_index MATCH ?1 ORDER BY rowid")
            .unwrap()
            .query_map([word], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_version_9_index_moves_to_its_own_file_and_is_built_again_there() {
        // Version 9: the index in `main`, its watermark in `meta`.
        let conn = old_database("", 3);
        conn.execute_batch(
            "INSERT INTO meta (key, value) VALUES ('indexed_through', 3);
             PRAGMA user_version = 9;",
        )
        .unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let in_main: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE name LIKE 'message_index%')
                     OR EXISTS (SELECT 1 FROM main.meta WHERE key = 'indexed_through')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!in_main, "nothing of the index is left in main");
        assert_eq!(found(&conn, "common"), Vec::<i64>::new(), "empty until...");
        assert_eq!(catch_up(&conn).unwrap(), 3, "...the catch-up at start");
        assert_eq!(found(&conn, "common"), [1, 2, 3]);
        assert_eq!(found(&conn, "word2"), [2]);
        assert_eq!(super::super::indexer::watermark(&conn).unwrap(), 3);
        // Preparing again (every start) keeps the index.
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(catch_up(&conn).unwrap(), 0);
        assert_eq!(found(&conn, "common"), [1, 2, 3]);
    }

    #[test]
    fn an_index_of_another_copy_of_the_database_is_built_again() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        for id in 1..=3 {
            store_common(&conn, id);
        }
        assert_eq!(catch_up(&conn).unwrap(), 3);
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(found(&conn, "common"), [1, 2, 3], "its own index is kept");
        // A backup restored beside the index: the copy forgot its index
        // file, and lacks a message the index holds.
        conn.execute_batch(
            "DELETE FROM main.meta WHERE key = 'database_id';
             DELETE FROM message_rows WHERE id = 2;",
        )
        .unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(found(&conn, "common"), Vec::<i64>::new(), "dropped");
        assert_eq!(catch_up(&conn).unwrap(), 2, "and built again");
        assert_eq!(found(&conn, "common"), [1, 3]);
    }

    #[test]
    fn a_version_5_database_gains_room_settings_and_keeps_its_rooms() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        // Version 5's rooms table had no settings column.
        conn.execute_batch(
            "DROP TABLE rooms;
             CREATE TABLE rooms (key TEXT PRIMARY KEY, name TEXT NOT NULL,
                 topic TEXT NOT NULL DEFAULT '', topic_set_by TEXT, topic_set_at INTEGER);
             INSERT INTO rooms (key, name, topic) VALUES ('rust', 'Rust', 'all things Rust');",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 5).unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert!(has_column(&conn, "rooms", "settings").unwrap());
        let start = crate::store::Start {
            next_message: 1,
            next_user: 1,
            epoch: 0,
        };
        let loaded = load(&conn, start).unwrap();
        assert_eq!(loaded.rooms.len(), 1);
        assert_eq!(loaded.rooms[0].topic, "all things Rust");
        assert_eq!(loaded.rooms[0].settings, None, "an open room, as before");
        // Preparing again (every start) changes nothing.
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(load(&conn, start).unwrap().rooms, loaded.rooms);
    }

    #[test]
    fn a_version_7_database_gains_kinds_and_tags_and_its_messages_stay_messages() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        // Version 7's messages had neither column.
        conn.execute_batch(
            "DROP VIEW messages;
             CREATE TABLE messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                 room_key TEXT, room_name TEXT, sender_id INTEGER NOT NULL,
                 sender_nick TEXT NOT NULL, recipient_id INTEGER, recipient_nick TEXT,
                 body TEXT NOT NULL, action INTEGER NOT NULL DEFAULT 0);
             INSERT INTO messages (id, ts, room_key, room_name, sender_id, sender_nick, body)
                 VALUES (1, 0, 'rust', 'Rust', 1, 'ann', 'hello');",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let (kind, tags): (i64, Option<String>) = conn
            .query_row("SELECT kind, tags FROM messages WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(
            (crate::store::StoredKind::from_code(kind), tags),
            (crate::store::StoredKind::Message, None)
        );
        // Preparing again (every start) changes nothing.
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
    }

    #[test]
    fn a_version_6_database_gains_read_markers_and_keeps_its_rooms() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        // Version 6 had no read markers.
        conn.execute_batch(
            "DROP TABLE read_markers;
             INSERT INTO rooms (key, name, topic) VALUES ('rust', 'Rust', 'all things Rust');",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 6).unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let marker = crate::store::StoredMarker {
            account: "ann".into(),
            key: "#rust".into(),
            target: "#Rust".into(),
            ts: 42,
        };
        assert_eq!(
            super::super::markers::set(&conn, &marker).unwrap(),
            Some(42)
        );
        let start = crate::store::Start {
            next_message: 1,
            next_user: 1,
            epoch: 0,
        };
        assert_eq!(
            load(&conn, start).unwrap().rooms[0].topic,
            "all things Rust"
        );
        // Preparing again (every start) keeps the markers.
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(super::super::markers::all(&conn, "ann").unwrap(), [marker]);
    }

    #[test]
    fn a_version_7_database_gains_account_certificates_and_keeps_its_accounts() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        // Version 7 had no certificate fingerprints.
        conn.execute_batch(
            "DROP TABLE account_certs;
             INSERT INTO accounts (key, nick, hash, created) VALUES ('ann', 'Ann', 'h', 0);",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let cert = crate::store::StoredCert {
            fingerprint: "ab".repeat(32),
            account: "ann".into(),
            added: 42,
        };
        assert_eq!(
            super::super::certs::add(&conn, &cert).unwrap(),
            crate::store::CertAdded::Added
        );
        let start = crate::store::Start {
            next_message: 1,
            next_user: 1,
            epoch: 0,
        };
        let loaded = load(&conn, start).unwrap();
        assert_eq!(loaded.accounts.len(), 1);
        assert_eq!(loaded.accounts[0].nick, "Ann");
        assert_eq!(loaded.certs, std::slice::from_ref(&cert));
        // Preparing again (every start) keeps the fingerprints.
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert_eq!(load(&conn, start).unwrap().certs, [cert]);
    }

    #[test]
    fn a_version_1_database_is_refolded() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        // Keys as version 1 made them: lowercase only.
        for (key, nick) in [
            ("ｂｏｂ", "ｂｏｂ"),
            ("ａｌｉｃｅ", "ａｌｉｃｅ"),
            ("alice", "alice"),
        ] {
            conn.execute(
                "INSERT INTO accounts (key, nick, hash, created) VALUES (?1, ?2, 'h', 0)",
                [key, nick],
            )
            .unwrap();
        }
        for value in ["ｍａｌｌｏｒｙ", "mallory"] {
            conn.execute(
                "INSERT INTO bans (kind, value, reason, by, at) VALUES ('nick', ?1, 'r', 'op', 0)",
                [value],
            )
            .unwrap();
        }
        prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let keys: Vec<String> = conn
            .prepare("SELECT key FROM accounts ORDER BY key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // `ｂｏｂ` is now `bob`; the fullwidth `ａｌｉｃｅ` would collide with
        // the real `alice`, so it keeps its old key.
        assert_eq!(keys, ["alice", "bob", "ａｌｉｃｅ"]);
        let bans: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM bans WHERE value = 'mallory'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bans, 1, "two bans on one person are one");
    }
}
