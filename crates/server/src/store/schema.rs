//! The database layout and what the server reads from it at startup.

use rusqlite::Connection;

use super::{Loaded, Start, StoreError, StoredAccount, StoredBan, StoredRoom, Synchronous};

/// Bumped whenever the layout changes; a database from a newer version is
/// refused rather than misread. Version 2 added the full-text index.
const SCHEMA_VERSION: i64 = 3;

/// The full-text index of message bodies (version 2): an FTS5 table over
/// `messages.body` that stores no text of its own, kept in step by
/// triggers on every insert, delete (retention) and change. The `trigram`
/// tokenizer indexes every three characters, so any substring of three or
/// more characters is found, in any case and in any script (Chinese has no
/// spaces to split words at, which the default tokenizer relies on). Its
/// limit: shorter words cannot be looked up in it (see `search`).
const FULL_TEXT: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
";

const CREATE: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id             INTEGER PRIMARY KEY,   -- the msg_id clients see
    ts             INTEGER NOT NULL,      -- ms since the Unix epoch
    room_key       TEXT,                  -- folded room name; NULL for direct messages
    room_name      TEXT,
    sender_id      INTEGER NOT NULL,
    sender_nick    TEXT NOT NULL,
    recipient_id   INTEGER,               -- direct messages only
    recipient_nick TEXT,
    body           TEXT NOT NULL,
    action         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room_key, id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (ts);
CREATE TABLE IF NOT EXISTS rooms (
    key          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    topic        TEXT NOT NULL DEFAULT '',
    topic_set_by TEXT,
    topic_set_at INTEGER
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

/// Sets the connection up and creates the tables if needed. A database on
/// disk comes with how its commits are synced.
pub fn prepare(conn: &Connection, on_disk: Option<Synchronous>) -> Result<(), StoreError> {
    if let Some(synchronous) = on_disk {
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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterName(
            format!(
                "the database has schema version {version}, newer than this server's {SCHEMA_VERSION}"
            ),
        )));
    }
    // `INSERT OR REPLACE` deletes the row it replaces; only with recursive
    // triggers does that deletion reach the full-text index.
    conn.pragma_update(None, "recursive_triggers", true)?;
    super::search::register_functions(conn)?;
    let tx = conn.unchecked_transaction()?;
    tx.execute_batch(CREATE)?;
    tx.execute_batch(FULL_TEXT)?;
    if version < 2 {
        // Messages stored before the index existed are indexed now.
        tx.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');")?;
    }
    if (1..3).contains(&version) {
        refold_nicknames(&tx)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Reads what the hub needs to continue where the last run stopped; `ids`
/// says where the ids continue.
pub fn load(conn: &Connection, ids: Start) -> Result<Loaded, StoreError> {
    let mut stmt =
        conn.prepare("SELECT key, name, topic, topic_set_by, topic_set_at FROM rooms")?;
    let rooms = stmt
        .query_map([], |r| {
            Ok(StoredRoom {
                key: r.get(0)?,
                name: r.get(1)?,
                topic: r.get(2)?,
                set_by: r.get(3)?,
                set_at: r.get(4)?,
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
    Ok(Loaded {
        ids,
        rooms,
        accounts,
        bans,
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

    #[test]
    fn a_version_1_database_is_refolded() {
        let conn = Connection::open_in_memory().unwrap();
        prepare(&conn, None).unwrap();
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
        prepare(&conn, None).unwrap();
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
