//! Online backups of a data directory's database, and what it holds.
//!
//! A backup is SQLite's `VACUUM INTO` run on a connection of its own: one
//! read transaction, so the copy is the database as it was at one instant
//! (every message and the id ceilings agreeing), while the server goes on
//! writing (WAL lets a reader and the writer work at once). The copy is
//! compact and an ordinary database file: restoring is putting it in place
//! of `chatroom.db` while the server is stopped, and deleting `index.db`.
//!
//! The message index (`index.db`, see `indexer`) is not copied: it is
//! built again from the messages at the first start after a restore, so
//! the copy is smaller and needs no second file to agree with. The copy
//! forgets which index file was its own (`schema::DATABASE_ID`), so that an
//! `index.db` left in place at a restore is built again too. Nor is the
//! index attached here: nothing here reads it, and a read-only connection
//! could not attach an `index.db` that is missing.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{DB_FILE, INDEX_FILE, StoreError};

/// What a database holds, and what it takes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Stored messages.
    pub messages: u64,
    /// Bytes of their texts (UTF-8).
    pub text_bytes: u64,
    /// Bytes the same history takes as a plain-text log, one line per
    /// message: `YYYY-MM-DD HH:MM:SS #room <nick> text` (or `nick -> peer:`
    /// for a direct message).
    pub log_bytes: u64,
    /// Bytes of the database file and of the message index's file, with
    /// their write-ahead logs.
    pub file_bytes: u64,
}

/// Opens `dir`'s database read-only.
fn open_read_only(dir: &Path) -> Result<Connection, StoreError> {
    let path = dir.join(DB_FILE);
    if !path.is_file() {
        return Err(StoreError::DataDir {
            path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no database here"),
        });
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    readable(&conn)?;
    Ok(conn)
}

/// Registers what reading `messages` takes (see `texts`), with the
/// dictionaries of `conn`'s database.
fn readable(conn: &Connection) -> Result<(), StoreError> {
    super::texts::register(conn, super::texts::Dictionaries::load(conn)?)
}

/// Writes a consistent copy of `dir`'s database to `to` (which must not
/// exist yet), while a server may be using it, checks the copy, and
/// returns how many messages it holds.
pub fn backup(dir: &Path, to: &Path) -> Result<u64, StoreError> {
    if to.exists() {
        return Err(StoreError::DataDir {
            path: to.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already exists"),
        });
    }
    let conn = open_read_only(dir)?;
    let target = to.to_str().ok_or_else(|| StoreError::DataDir {
        path: to.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not UTF-8"),
    })?;
    conn.execute("VACUUM INTO ?1", [target])?;
    {
        // The copy is not the database `index.db` indexes: restored, it
        // gets an index of its own (see `schema::DATABASE_ID`).
        let copy = Connection::open(to)?;
        copy.execute(
            "DELETE FROM meta WHERE key = ?1",
            [super::schema::DATABASE_ID],
        )?;
    }
    let copy = Connection::open_with_flags(to, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    readable(&copy)?;
    let check: String = copy.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
    if check != "ok" {
        return Err(StoreError::Corrupt {
            path: to.to_owned(),
            problem: check,
        });
    }
    let messages: i64 = copy.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))?;
    Ok(u64::try_from(messages).unwrap_or(0))
}

/// Counts what `dir`'s database holds (one pass over the messages).
pub fn stats(dir: &Path) -> Result<Stats, StoreError> {
    let conn = open_read_only(dir)?;
    let (messages, text_bytes, log_bytes): (i64, i64, i64) = conn.query_row(
        "SELECT COUNT(*),
                COALESCE(SUM(length(CAST(body AS BLOB))), 0),
                COALESCE(SUM(20 + length(CAST(sender_nick AS BLOB)) + 3
                    + COALESCE(length(CAST(COALESCE(room_name, room_key) AS BLOB)) + 2,
                               length(CAST(recipient_nick AS BLOB)) + 5, 0)
                    + length(CAST(body AS BLOB)) + 1), 0)
         FROM messages",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let file_bytes = [DB_FILE, INDEX_FILE]
        .iter()
        .map(|file| size(dir.join(file)) + size(dir.join(format!("{file}-wal"))))
        .sum();
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(Stats {
        messages: count(messages),
        text_bytes: count(text_bytes),
        log_bytes: count(log_bytes),
        file_bytes,
    })
}
