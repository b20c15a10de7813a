//! The `meta` table: numbers the store keeps about itself by name (id
//! ceilings, the index's watermark, how far texts are packed), read and
//! written the same way by whichever part owns a key.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The number kept under `key`, if any.
pub fn get(conn: &Connection, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Keeps `value` under `key`, replacing what was there.
pub fn set(conn: &Connection, key: &str, value: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )?;
    Ok(())
}
