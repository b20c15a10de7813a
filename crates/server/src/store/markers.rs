//! Read markers (IRCv3 `draft/read-marker`, the JSON `mark_read`): for each
//! account and conversation, the time of the last message the user has
//! read. One row per (account, target); a marker only moves forward.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The most markers one account keeps: past it, markers for new targets
/// are refused (a client naming random targets cannot grow the table
/// without bound).
pub const MAX_MARKERS_PER_ACCOUNT: i64 = 1000;

/// One account's read position in one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMarker {
    /// The account (folded nickname).
    pub account: String,
    /// The conversation, folded: `#` and a room key, or a folded nickname
    /// (nicknames never start with `#`).
    pub key: String,
    /// The conversation as the user last named it (`#Rust`, `Bob`).
    pub target: String,
    /// The time of the last message read (ms since the epoch).
    pub ts: i64,
}

/// Moves a marker forward to `marker.ts` (an older time leaves it where it
/// is) and returns where it now stands; `None` if it is a new marker and
/// the account already has [`MAX_MARKERS_PER_ACCOUNT`].
pub fn set(conn: &Connection, marker: &StoredMarker) -> Result<Option<i64>, StoreError> {
    let known = get(conn, &marker.account, &marker.key)?;
    if known.is_none() {
        let count: i64 = conn.query_row(
            "SELECT COUNT(*) FROM read_markers WHERE account = ?1",
            [&marker.account],
            |r| r.get(0),
        )?;
        if count >= MAX_MARKERS_PER_ACCOUNT {
            return Ok(None);
        }
    }
    conn.prepare_cached(
        "INSERT INTO read_markers (account, key, target, ts) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account, key) DO UPDATE SET ts = excluded.ts, target = excluded.target
         WHERE excluded.ts > read_markers.ts",
    )?
    .execute(params![
        marker.account,
        marker.key,
        marker.target,
        marker.ts
    ])?;
    get(conn, &marker.account, &marker.key)
}

/// Where `account`'s marker for `key` stands, if it has one.
pub fn get(conn: &Connection, account: &str, key: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT ts FROM read_markers WHERE account = ?1 AND key = ?2")?
        .query_row([account, key], |r| r.get(0))
        .optional()?)
}

/// Every marker of `account`, by target key.
pub fn all(conn: &Connection, account: &str) -> Result<Vec<StoredMarker>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, target, ts FROM read_markers WHERE account = ?1 ORDER BY key",
    )?;
    let rows = stmt.query_map([account], |r| {
        Ok(StoredMarker {
            account: account.to_owned(),
            key: r.get(0)?,
            target: r.get(1)?,
            ts: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(key: &str, ts: i64) -> StoredMarker {
        StoredMarker {
            account: "ann".into(),
            key: key.into(),
            target: key.into(),
            ts,
        }
    }

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        conn
    }

    #[test]
    fn a_marker_only_moves_forward() {
        let conn = db();
        assert_eq!(get(&conn, "ann", "#rust").unwrap(), None);
        assert_eq!(set(&conn, &marker("#rust", 20)).unwrap(), Some(20));
        assert_eq!(set(&conn, &marker("#rust", 10)).unwrap(), Some(20));
        assert_eq!(set(&conn, &marker("#rust", 30)).unwrap(), Some(30));
        assert_eq!(get(&conn, "bob", "#rust").unwrap(), None, "per account");
        assert_eq!(all(&conn, "ann").unwrap(), [marker("#rust", 30)]);
    }

    #[test]
    fn an_account_keeps_a_bounded_number_of_markers() {
        let conn = db();
        for n in 0..MAX_MARKERS_PER_ACCOUNT {
            assert!(set(&conn, &marker(&format!("n{n}"), 1)).unwrap().is_some());
        }
        assert_eq!(set(&conn, &marker("one-more", 1)).unwrap(), None);
        assert_eq!(
            set(&conn, &marker("n0", 5)).unwrap(),
            Some(5),
            "known ones still move"
        );
    }
}
