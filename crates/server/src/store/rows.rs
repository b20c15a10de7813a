//! How a stored message is laid out on disk (layout version 11): a row of
//! `message_rows` names its room or direct-message recipient and its
//! sender by numbers into two small tables, `places` and `speakers`,
//! instead of repeating their names in every row, and keeps `/me` and the
//! kind in one integer. The view `messages` joins them back into the
//! columns every read names, so reads are written as if the names were in
//! the row. Measured at 1,000,000 messages: 72.8 bytes a row against 88.7
//! (`docs/benchmarks.md`, "Names by number and packed texts").

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::texts::Stored;
use super::{StoreError, StoredMessage};

/// The tables of the layout. A place is a room (its folded key, and its
/// display name where that differs) or the recipient of direct messages
/// (id and nickname at the time); a speaker is a sender's id and nickname
/// at the time. Both are found by their names when the writer meets one it
/// has not cached (see [`Rows`]), hence their indexes.
pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS speakers (
    id          INTEGER PRIMARY KEY,
    sender_id   INTEGER NOT NULL,
    sender_nick TEXT NOT NULL,
    UNIQUE (sender_id, sender_nick)
);
CREATE TABLE IF NOT EXISTS places (
    id             INTEGER PRIMARY KEY,
    room_key       TEXT,                  -- folded room name; NULL for direct messages
    room_name      TEXT,                  -- NULL where it is room_key
    recipient_id   INTEGER,               -- direct messages only
    recipient_nick TEXT
);
CREATE INDEX IF NOT EXISTS places_by_room ON places (room_key, room_name)
    WHERE room_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS places_by_recipient ON places (recipient_id, recipient_nick)
    WHERE room_key IS NULL;
CREATE TABLE IF NOT EXISTS message_rows (
    id      INTEGER PRIMARY KEY,          -- the msg_id clients see
    ts      INTEGER NOT NULL,             -- ms since the Unix epoch
    place   INTEGER NOT NULL,             -- places.id
    speaker INTEGER NOT NULL,             -- speakers.id
    body    TEXT NOT NULL,
    flags   INTEGER NOT NULL DEFAULT 0,   -- 1 for /me, plus twice the StoredKind
    tags    TEXT                          -- client-only tags, JSON
);
";

/// The columns of version 10's `messages` table, as every read names them,
/// with the text unpacked (`texts::FUNCTION`). `CROSS JOIN` keeps
/// `message_rows` the outer loop, so that a condition on a name
/// (`room_key = ?`) is checked row by row instead of leading the planner to
/// scan `places` first. Made again at every start (a view holds no data),
/// so that a change to it needs no new layout version.
pub const VIEW: &str = "
DROP VIEW IF EXISTS messages;
CREATE VIEW messages AS
SELECT r.id AS id, r.ts AS ts, p.room_key AS room_key, p.room_name AS room_name,
       s.sender_id AS sender_id, s.sender_nick AS sender_nick,
       p.recipient_id AS recipient_id, p.recipient_nick AS recipient_nick,
       message_text(r.body) AS body, r.flags & 1 AS action, r.flags >> 1 AS kind,
       r.tags AS tags
FROM message_rows r
CROSS JOIN places p ON p.id = r.place
CROSS JOIN speakers s ON s.id = r.speaker;
";

/// Version 10's `messages` table (version 8's columns): what the tests of
/// the upgrade start from.
#[cfg(test)]
pub(super) const MESSAGES_BEFORE_11: &str = "
CREATE TABLE messages (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
    room_key TEXT, room_name TEXT, sender_id INTEGER NOT NULL,
    sender_nick TEXT NOT NULL, recipient_id INTEGER, recipient_nick TEXT,
    body TEXT NOT NULL, action INTEGER NOT NULL DEFAULT 0,
    kind INTEGER NOT NULL DEFAULT 0, tags TEXT);";

/// Whether `messages` is still a table (a database before version 11).
pub fn has_old_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = 'messages')",
        [],
        |r| r.get(0),
    )
}

/// Version 10's rows as `message_rows` takes them. A row's place is
/// looked up through the index for its kind of place (a room, or the
/// recipient of a direct message): one `JOIN` on all four names left the
/// choice to the planner, which indexed two of them and read every room
/// for each message, hours at ten million.
const MOVED_ROWS: &str = "
SELECT m.id, m.ts,
       CASE WHEN m.room_key IS NOT NULL THEN
           (SELECT p.id FROM places p
            WHERE p.room_key = m.room_key AND p.room_key IS NOT NULL
              AND p.room_name IS NULLIF(m.room_name, m.room_key)
              AND p.recipient_id IS m.recipient_id AND p.recipient_nick IS m.recipient_nick)
       ELSE
           (SELECT p.id FROM places p
            WHERE p.room_key IS NULL
              AND p.recipient_id IS m.recipient_id AND p.recipient_nick IS m.recipient_nick
              AND p.room_name IS m.room_name)
       END,
       s.id, m.body, (m.action != 0) + 2 * m.kind, m.tags
FROM messages m
JOIN speakers s ON s.sender_id = m.sender_id AND s.sender_nick = m.sender_nick
ORDER BY m.id";

/// Moves the rows of version 10's `messages` table into the layout and
/// drops it; the message ids stay, so the message index stays valid.
/// Returns how many rows moved. Every row moves or none does: the counts
/// are compared before the old table goes (and a row whose place were not
/// found would fail `place`'s `NOT NULL`).
pub fn upgrade(tx: &rusqlite::Transaction<'_>) -> Result<u64, StoreError> {
    tx.execute_batch(&format!(
        "INSERT INTO speakers (sender_id, sender_nick)
             SELECT DISTINCT sender_id, sender_nick FROM messages;
         INSERT INTO places (room_key, room_name, recipient_id, recipient_nick)
             SELECT DISTINCT room_key, NULLIF(room_name, room_key), recipient_id, recipient_nick
             FROM messages;
         INSERT INTO message_rows (id, ts, place, speaker, body, flags, tags) {MOVED_ROWS};"
    ))?;
    let count = |table: &str| -> rusqlite::Result<i64> {
        tx.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
    };
    let (old, new) = (count("messages")?, count("message_rows")?);
    if old != new {
        return Err(StoreError::Sqlite(rusqlite::Error::InvalidParameterName(
            format!("moving the history to layout 11 kept {new} of {old} rows; nothing changed"),
        )));
    }
    tx.execute_batch("DROP TABLE messages;")?;
    Ok(u64::try_from(new).unwrap_or(0))
}

/// Most speakers [`Rows`] remembers before it starts again (each is a
/// login's id and nickname): its memory stays bounded on a server that
/// runs for years.
const REMEMBERED: usize = 100_000;

/// The writer's numbers for the places and speakers it has written or
/// found, so that a message of a known room and sender is one insert.
/// Keyed so that a lookup borrows the message's names.
#[derive(Default)]
pub struct Rows {
    /// Rooms by folded key, then display name (`None` where it is the key).
    rooms: HashMap<String, Vec<(Option<String>, i64)>>,
    /// Recipients of direct messages by id, then nickname.
    recipients: HashMap<u64, Vec<(String, i64)>>,
    /// Senders by id, then nickname.
    speakers: HashMap<u64, Vec<(String, i64)>>,
    /// How many entries the three hold.
    remembered: usize,
}

impl Rows {
    /// Inserts (or replaces) `m`'s row with its text stored as `body`
    /// (see `texts`), adding its place and speaker if they are new.
    pub fn insert(
        &mut self,
        conn: &Connection,
        m: &StoredMessage,
        body: Stored<'_>,
    ) -> rusqlite::Result<()> {
        if self.remembered > REMEMBERED {
            self.forget();
        }
        let place = match &m.room {
            Some((key, name)) => self.room(conn, key, (name != key).then_some(name.as_str()))?,
            None => match &m.recipient {
                Some((id, nick)) => self.recipient(conn, *id, nick)?,
                // Not made by the hub: a message is in a room or to someone.
                None => self.room_less(conn)?,
            },
        };
        let speaker = self.speaker(conn, m.sender_id, &m.sender_nick)?;
        let body = match body {
            Stored::Plain(text) => rusqlite::types::ToSqlOutput::from(text),
            Stored::Packed(packed) => rusqlite::types::ToSqlOutput::from(packed),
        };
        conn.prepare_cached(
            "INSERT OR REPLACE INTO message_rows (id, ts, place, speaker, body, flags, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            super::to_sql_int(m.id),
            m.ts,
            place,
            speaker,
            body,
            i64::from(m.action) + 2 * m.kind.code(),
            super::tags_to_column(&m.tags),
        ])?;
        Ok(())
    }

    /// Forgets every number: after a transaction that may have added some
    /// was rolled back, and when too many are remembered.
    pub fn forget(&mut self) {
        *self = Self::default();
    }

    fn room(&mut self, conn: &Connection, key: &str, name: Option<&str>) -> rusqlite::Result<i64> {
        if let Some(id) = self.rooms.get(key).and_then(|names| {
            names
                .iter()
                .find(|(n, _)| n.as_deref() == name)
                .map(|(_, id)| *id)
        }) {
            return Ok(id);
        }
        // Inserted unless present, then read: the writer's transaction
        // begins with a write (see `writer::Writer::write`).
        conn.prepare_cached(
            "INSERT INTO places (room_key, room_name) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM places WHERE room_key = ?1 AND room_name IS ?2)",
        )?
        .execute(params![key, name])?;
        let id = conn
            .prepare_cached(
                "SELECT id FROM places WHERE room_key = ?1 AND room_name IS ?2 ORDER BY id LIMIT 1",
            )?
            .query_row(params![key, name], |r| r.get(0))?;
        self.rooms
            .entry(key.to_owned())
            .or_default()
            .push((name.map(str::to_owned), id));
        self.remembered += 1;
        Ok(id)
    }

    fn recipient(&mut self, conn: &Connection, rid: u64, nick: &str) -> rusqlite::Result<i64> {
        if let Some(id) = find(&self.recipients, rid, nick) {
            return Ok(id);
        }
        let sql_rid = super::to_sql_int(rid);
        conn.prepare_cached(
            "INSERT INTO places (recipient_id, recipient_nick) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM places \
                 WHERE room_key IS NULL AND recipient_id = ?1 AND recipient_nick = ?2)",
        )?
        .execute(params![sql_rid, nick])?;
        let id = conn
            .prepare_cached(
                "SELECT id FROM places WHERE room_key IS NULL AND recipient_id = ?1 \
                 AND recipient_nick = ?2 ORDER BY id LIMIT 1",
            )?
            .query_row(params![sql_rid, nick], |r| r.get(0))?;
        self.recipients
            .entry(rid)
            .or_default()
            .push((nick.to_owned(), id));
        self.remembered += 1;
        Ok(id)
    }

    /// The place of a message with neither room nor recipient, which the
    /// hub never stores; kept as such rather than refused, as version 10
    /// kept it.
    fn room_less(&mut self, conn: &Connection) -> rusqlite::Result<i64> {
        const NONE: &str = "room_key IS NULL AND recipient_id IS NULL";
        conn.execute(
            &format!(
                "INSERT INTO places (room_key) SELECT NULL \
                 WHERE NOT EXISTS (SELECT 1 FROM places WHERE {NONE})"
            ),
            [],
        )?;
        conn.query_row(
            &format!("SELECT id FROM places WHERE {NONE} ORDER BY id LIMIT 1"),
            [],
            |r| r.get(0),
        )
    }

    fn speaker(&mut self, conn: &Connection, sid: u64, nick: &str) -> rusqlite::Result<i64> {
        if let Some(id) = find(&self.speakers, sid, nick) {
            return Ok(id);
        }
        let id = conn
            .prepare_cached(
                "INSERT INTO speakers (sender_id, sender_nick) VALUES (?1, ?2)
                 ON CONFLICT DO UPDATE SET sender_nick = excluded.sender_nick RETURNING id",
            )?
            .query_row(params![super::to_sql_int(sid), nick], |r| r.get(0))?;
        self.speakers
            .entry(sid)
            .or_default()
            .push((nick.to_owned(), id));
        self.remembered += 1;
        Ok(id)
    }
}

/// The number remembered for `id` and `nick`.
fn find(map: &HashMap<u64, Vec<(String, i64)>>, id: u64, nick: &str) -> Option<i64> {
    map.get(&id)?
        .iter()
        .find(|(n, _)| n == nick)
        .map(|(_, number)| *number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoredKind, schema};

    fn message(id: u64, room: Option<(&str, &str)>, sender: (u64, &str)) -> StoredMessage {
        StoredMessage {
            id,
            ts: 1_000 + i64::try_from(id).unwrap(),
            room: room.map(|(k, n)| (k.to_owned(), n.to_owned())),
            sender_id: sender.0,
            sender_nick: sender.1.to_owned(),
            recipient: None,
            text: format!("text {id}"),
            action: id.is_multiple_of(2),
            kind: StoredKind::Message,
            tags: Vec::new(),
        }
    }

    fn count(conn: &Connection, table: &str) -> i64 {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn names_are_stored_once_and_read_back_through_the_view() {
        let conn = Connection::open_in_memory().unwrap();
        schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        let mut rows = Rows::default();
        let mut dm = message(4, None, (1, "ann"));
        dm.recipient = Some((2, "Bob".into()));
        dm.kind = StoredKind::Notice;
        for m in [
            message(1, Some(("rust", "rust")), (1, "ann")),
            message(2, Some(("rust", "Rust")), (1, "ann")),
            message(3, Some(("rust", "rust")), (2, "Bob")),
            dm,
        ] {
            rows.insert(&conn, &m, Stored::Plain(&m.text)).unwrap();
        }
        assert_eq!(count(&conn, "speakers"), 2);
        assert_eq!(
            count(&conn, "places"),
            3,
            "two names of one room, one recipient"
        );
        // A writer that remembers nothing (a restart) finds them again.
        let mut again = Rows::default();
        let m5 = message(5, Some(("rust", "Rust")), (2, "Bob"));
        again.insert(&conn, &m5, Stored::Plain(&m5.text)).unwrap();
        assert_eq!((count(&conn, "speakers"), count(&conn, "places")), (2, 3));
        type Read = (
            i64,
            Option<String>,
            Option<String>,
            String,
            Option<i64>,
            bool,
            i64,
        );
        let read: Vec<Read> = conn
            .prepare(
                "SELECT id, room_key, room_name, sender_nick, recipient_id, action, kind
                 FROM messages ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Read::try_from(r))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let rust = Some("rust".to_owned());
        assert_eq!(
            read,
            [
                (1, rust.clone(), None, "ann".into(), None, false, 0),
                (
                    2,
                    rust.clone(),
                    Some("Rust".into()),
                    "ann".into(),
                    None,
                    true,
                    0
                ),
                (3, rust.clone(), None, "Bob".into(), None, false, 0),
                (
                    4,
                    None,
                    None,
                    "ann".into(),
                    Some(2),
                    true,
                    StoredKind::Notice.code()
                ),
                (5, rust, Some("Rust".into()), "Bob".into(), None, false, 0),
            ]
        );
    }

    #[test]
    fn a_version_10_table_moves_whole_and_keeps_its_ids() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MESSAGES_BEFORE_11).unwrap();
        conn.execute_batch(
            "INSERT INTO messages (id, ts, room_key, room_name, sender_id, sender_nick, body, action)
                 VALUES (7, 1, 'rust', 'rust', 1, 'ann', 'old row, name repeated', 1),
                        (9, 2, 'rust', NULL, 1, 'ann', 'newer row', 0);
             INSERT INTO messages (id, ts, sender_id, sender_nick, recipient_id, recipient_nick,
                                   body, kind, tags)
                 VALUES (12, 3, 2, 'bob', 1, 'ann', 'a direct message', 1, '[]');",
        )
        .unwrap();
        assert!(has_old_table(&conn).unwrap());
        schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        assert!(!has_old_table(&conn).unwrap());
        assert_eq!(
            count(&conn, "places"),
            2,
            "a room's two spellings of one name are one"
        );
        type Read = (
            i64,
            Option<String>,
            Option<String>,
            String,
            bool,
            i64,
            Option<String>,
        );
        let read: Vec<Read> =
            conn.prepare(
                "SELECT id, room_key, recipient_nick, body, action, kind, tags FROM messages ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| Read::try_from(r))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            read,
            [
                (
                    7,
                    Some("rust".into()),
                    None,
                    "old row, name repeated".into(),
                    true,
                    0,
                    None
                ),
                (
                    9,
                    Some("rust".into()),
                    None,
                    "newer row".into(),
                    false,
                    0,
                    None
                ),
                (
                    12,
                    None,
                    Some("ann".into()),
                    "a direct message".into(),
                    false,
                    1,
                    Some("[]".into())
                ),
            ]
        );
    }

    #[test]
    fn the_upgrade_finds_every_place_and_speaker_by_an_index() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MESSAGES_BEFORE_11).unwrap();
        conn.execute_batch(TABLES).unwrap();
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {MOVED_ROWS}"))
            .unwrap()
            .query_map([], |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // One pass over the old table; every other step a search by index.
        let scans: Vec<&String> = plan.iter().filter(|l| l.starts_with("SCAN")).collect();
        assert_eq!(scans, ["SCAN m"], "{plan:#?}");
        for table in ["s", "p"] {
            assert!(
                plan.iter()
                    .all(|l| !l.starts_with(&format!("SEARCH {table} "))
                        || l.contains(" USING ") && !l.contains("AUTOMATIC")),
                "{plan:#?}"
            );
            assert!(
                plan.iter()
                    .any(|l| l.starts_with(&format!("SEARCH {table} "))),
                "{plan:#?}"
            );
        }
        let by_index = |name: &str| plan.iter().any(|l| l.contains(&format!("INDEX {name} ")));
        assert!(
            by_index("places_by_room") && by_index("places_by_recipient"),
            "{plan:#?}"
        );
    }
}
