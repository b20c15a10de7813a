//! Stored message texts, packed (layout version 11): chat lines are short,
//! too short for a compressor alone, so the store trains a zstd dictionary
//! on its own history once it holds enough of it and packs each new text
//! with it. Measured on the bench's English and Chinese chat: 47.7 bytes
//! of text became 29.9, for 0.3 µs a read and, on the writer thread,
//! 1.4 µs a message on one 2-core machine and 6 on a slower one, where
//! zstd's set-up of each frame was half the writer's time
//! (`docs/benchmarks.md`, "Names by number and packed texts"). So a busy
//! writer stores texts as they came and packs them when it is idle
//! ([`Packer::when_idle`]), as it does the texts stored before there was a
//! dictionary.
//!
//! A packed text is a BLOB in `message_rows.body`: one byte naming its
//! dictionary (a row of [`TABLE`]), then a zstd frame without magic
//! number, checksum, dictionary id or size, which SQLite's own page checks
//! make redundant. Anything else stays TEXT, as it came. The `messages`
//! view reads every text through [`FUNCTION`], so reads never see the
//! difference; every connection that reads the view registers it
//! ([`register`]), and `sqlite3` alone reads `message_rows`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};
use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::{CParameter, DParameter, FrameFormat};

use super::{StoreError, meta};

/// The dictionaries texts are packed with, by the byte that names them.
pub const TABLE: &str = "
CREATE TABLE IF NOT EXISTS dictionaries (
    id      INTEGER PRIMARY KEY,          -- the first byte of a packed text
    created INTEGER NOT NULL,             -- ms since the Unix epoch
    bytes   BLOB NOT NULL                 -- a zstd dictionary
);
";

/// The SQL function that reads a stored text, packed or not.
pub const FUNCTION: &str = "message_text";

/// A dictionary is trained once this many texts are stored unpacked (a
/// few megabytes): enough days of a new server's chat that the first
/// hour's tests and greetings are not all it learns from...
const TRAIN_AFTER: usize = 50_000;

/// ... on the newest of them, up to this many bytes: training takes about
/// ten times its samples in memory for a moment (12 MiB measured for 1 MiB
/// of chat lines), and a quarter of a second.
const SAMPLE_BYTES: usize = 1024 * 1024;

/// The dictionary's size: zstd's advice is samples of ten to a hundred
/// times it, which [`SAMPLE_BYTES`] is. 16 and 64 KiB packed the bench's
/// texts no better (within 1 byte a message).
const DICTIONARY_BYTES: usize = 32 * 1024;

/// Texts longer than this stay as they are: it bounds what unpacking one
/// can need (a chat line is far shorter; a pasted page gains little).
const PACK_MAX: usize = 16 * 1024;

/// zstd's level: 3 packed best on chat lines with a dictionary (1 and 6
/// both gave about 3 bytes a message more) and is its default.
const LEVEL: i32 = 3;

/// A batch of more messages than this is stored unpacked: the queue has
/// backed up, and packing would take half the writer's time (measured)
/// when it is scarcest. They are packed once the writer is idle ([`Packer::when_idle`]).
pub const PACK_INLINE_MAX: usize = 64;

/// Most rows one step of catching up looks at: one short transaction
/// (a few milliseconds), after which any writes that came meanwhile go
/// first, as retention's steps.
const CATCH_UP_ROWS: usize = 500;

/// Where catching up has got to, in the `meta` table: every text with an
/// id up to it is packed or stays as it is for good.
const PACKED_THROUGH: &str = "packed_through";

/// The columns of a row of `message_rows`, as a step of catching up copies
/// them.
const ROW_COLUMNS: &str = "id, ts, place, speaker, body, flags, tags";

/// Where a step of catching up keeps its rows while it writes them again:
/// a table of the writer's connection alone, empty between steps.
const REPACKING: &str = "
CREATE TEMP TABLE IF NOT EXISTS repacking (
    id INTEGER PRIMARY KEY, ts, place, speaker, body, flags, tags
);
DELETE FROM temp.repacking;
";

/// Gives back to the file system up to this many free pages (4 KiB each)
/// after a step of catching up: more than the step frees (500 rows
/// written again take about 8 pages and free about 3), so the file shrinks
/// as texts are packed, a little at a time.
const GIVE_BACK: &str = "PRAGMA main.incremental_vacuum(64)";

/// While a dictionary is being trained, how soon an idle writer looks
/// whether it is ready.
const TRAINING_POLL: Duration = Duration::from_millis(20);

/// The dictionaries of one database, shared by its connections: the
/// writer adds one before any text packed with it is committed, so a
/// reader that meets a packed text always finds its dictionary.
#[derive(Default)]
pub struct Dictionaries {
    by_id: RwLock<HashMap<u8, Arc<[u8]>>>,
}

impl Dictionaries {
    /// The dictionaries stored in `conn`'s database (none before version 11).
    pub fn load(conn: &Connection) -> Result<Arc<Self>, StoreError> {
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM main.sqlite_master WHERE name = 'dictionaries')",
            [],
            |r| r.get(0),
        )?;
        let loaded = Self::default();
        if exists {
            let mut stmt = conn.prepare("SELECT id, bytes FROM dictionaries")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            let mut by_id = loaded.by_id.write();
            for row in rows {
                let (id, bytes) = row?;
                if let Ok(id) = u8::try_from(id) {
                    by_id.insert(id, bytes.into());
                }
            }
        }
        Ok(Arc::new(loaded))
    }

    fn get(&self, id: u8) -> Option<Arc<[u8]>> {
        self.by_id.read().get(&id).cloned()
    }

    /// The newest dictionary: what the writer packs with after a restart.
    fn newest(&self) -> Option<(u8, Arc<[u8]>)> {
        let by_id = self.by_id.read();
        by_id
            .iter()
            .max_by_key(|(id, _)| **id)
            .map(|(id, bytes)| (*id, bytes.clone()))
    }
}

/// Registers [`FUNCTION`] on `conn`, unpacking with `dictionaries`.
pub fn register(conn: &Connection, dictionaries: Arc<Dictionaries>) -> Result<(), StoreError> {
    let unpackers: Mutex<Unpackers> = Mutex::default();
    conn.create_scalar_function(
        FUNCTION,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| match ctx.get_raw(0) {
            ValueRef::Text(text) => Ok(String::from_utf8_lossy(text).into_owned()),
            ValueRef::Blob(packed) => unpack(&dictionaries, &mut unpackers.lock(), packed)
                .map_err(|e| rusqlite::Error::UserFunctionError(e.into())),
            _ => Err(rusqlite::Error::UserFunctionError(
                "a stored text that is neither text nor packed".into(),
            )),
        },
    )?;
    Ok(())
}

/// What went wrong reading a packed text: only a damaged database gets here.
#[derive(Debug, thiserror::Error)]
enum UnpackError {
    #[error("a packed text names dictionary {0}, which the database lacks")]
    NoDictionary(u8),
    #[error("a packed text does not unpack: {0}")]
    Zstd(#[from] std::io::Error),
    #[error("a packed text is not UTF-8")]
    NotUtf8(#[from] std::str::Utf8Error),
}

/// A connection's decompressors, by dictionary, and the one buffer they
/// unpack into: [`PACK_MAX`] bytes, taken once rather than for every text
/// read (a search reads thousands).
#[derive(Default)]
struct Unpackers {
    by_dictionary: HashMap<u8, Decompressor<'static>>,
    scratch: Vec<u8>,
}

fn unpack(
    dictionaries: &Dictionaries,
    unpackers: &mut Unpackers,
    packed: &[u8],
) -> Result<String, UnpackError> {
    let Some((&id, frame)) = packed.split_first() else {
        return Ok(String::new());
    };
    let Unpackers {
        by_dictionary,
        scratch,
    } = unpackers;
    let unpacker = match by_dictionary.entry(id) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let bytes = dictionaries.get(id).ok_or(UnpackError::NoDictionary(id))?;
            let mut unpacker = Decompressor::with_dictionary(&bytes)?;
            unpacker.set_parameter(DParameter::Format(FrameFormat::Magicless))?;
            e.insert(unpacker)
        }
    };
    scratch.clear();
    scratch.reserve(PACK_MAX);
    unpacker.decompress_to_buffer(frame, scratch)?;
    Ok(std::str::from_utf8(scratch)?.to_owned())
}

/// How the writer stores a text.
pub enum Stored<'a> {
    /// As it came.
    Plain(&'a str),
    /// Packed: the dictionary's byte, then the frame.
    Packed(Vec<u8>),
}

/// A dictionary trained on another thread, or why not.
type Trained = Result<Vec<u8>, String>;

/// The writer's side: packs texts with the newest dictionary, and trains
/// the first once enough texts are stored unpacked (on a thread of its
/// own, so that ingest never waits for it; about a quarter of a second).
/// What a busy writer stores unpacked, and what was stored before there
/// was a dictionary (or before layout 11), it packs when idle, a step at a
/// time, from where it got to (persisted in `meta`).
pub struct Packer {
    dictionaries: Arc<Dictionaries>,
    packing: Option<(u8, Compressor<'static>)>,
    training: Option<Receiver<Trained>>,
    /// Texts stored unpacked since the last training began.
    unpacked: usize,
    /// Every text with an id up to this is packed or stays as it is.
    packed_through: i64,
    /// The highest id of a text stored unpacked that could be packed.
    plain_through: i64,
}

impl Packer {
    /// Packs with the newest of `dictionaries`, or trains one when
    /// `conn`'s database holds enough texts without; catches up from where
    /// it got to before.
    pub fn new(conn: &Connection, dictionaries: Arc<Dictionaries>) -> Result<Self, StoreError> {
        let packed_through = meta::get(conn, PACKED_THROUGH)?;
        let plain_through: Option<i64> =
            conn.query_row("SELECT MAX(id) FROM message_rows", [], |r| r.get(0))?;
        let mut packer = Self {
            dictionaries,
            packing: None,
            training: None,
            unpacked: 0,
            packed_through: packed_through.unwrap_or(0),
            plain_through: plain_through.unwrap_or(0),
        };
        match packer.dictionaries.newest() {
            Some((id, bytes)) => packer.packing = Some((id, compressor(&bytes)?)),
            None => {
                let stored: i64 = conn.query_row(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM message_rows LIMIT ?1)",
                    [sql_count(TRAIN_AFTER)],
                    |r| r.get(0),
                )?;
                packer.unpacked = usize::try_from(stored).unwrap_or(0);
            }
        }
        Ok(packer)
    }

    /// How the text of message `id` is stored: packed if that is smaller,
    /// unless the writer is `busy` (a batch of more than
    /// [`PACK_INLINE_MAX`] messages), when it is packed later.
    pub fn pack<'a>(&mut self, id: i64, text: &'a str, busy: bool) -> Stored<'a> {
        let Some((dictionary, compressor)) = &mut self.packing else {
            self.unpacked += 1;
            self.plain_through = self.plain_through.max(id);
            return Stored::Plain(text);
        };
        if text.len() > PACK_MAX || text.is_empty() {
            return Stored::Plain(text);
        }
        if busy {
            self.plain_through = self.plain_through.max(id);
            return Stored::Plain(text);
        }
        packed(*dictionary, compressor, text).map_or(Stored::Plain(text), Stored::Packed)
    }

    /// Whether the writer has packing to do when idle, and how soon to
    /// look again: at once while a dictionary is due to be trained or
    /// texts wait to be packed, in a moment while one is being trained.
    pub fn idle_work(&self) -> Option<Duration> {
        if self.training.is_some() {
            Some(TRAINING_POLL)
        } else if self.packing.is_none() {
            (self.unpacked >= TRAIN_AFTER).then_some(Duration::ZERO)
        } else {
            self.behind().then_some(Duration::ZERO)
        }
    }

    /// Whether texts stored unpacked wait for a dictionary to pack them.
    fn behind(&self) -> bool {
        self.packing.is_some() && self.packed_through < self.plain_through
    }

    /// Whether every text stored so far is packed, or stays as it is for
    /// good (too long, not smaller packed, or too little history yet to
    /// train a dictionary on).
    pub fn settled(&self) -> bool {
        self.idle_work().is_none()
    }

    /// What the writer does when idle: trains or adopts a dictionary when
    /// it is time, then packs one step of the texts stored unpacked, in id
    /// order from where the last step ended (at most [`CATCH_UP_ROWS`]
    /// rows, in one transaction that also records how far it got). A
    /// failure to pack gives up until the next start (logged) rather than
    /// trying again at once.
    pub fn when_idle(&mut self, conn: &mut Connection) {
        if let Err(e) = self.between_batches(conn) {
            tracing::error!(error = %e, "could not train or store a text dictionary");
        }
        if self.behind()
            && let Err(e) = self.catch_up_step(conn)
        {
            tracing::error!(error = %e, "could not pack stored texts; trying again at the next start");
            self.plain_through = self.packed_through;
        }
    }

    fn catch_up_step(&mut self, conn: &mut Connection) -> Result<(), StoreError> {
        let Some((dictionary, compressor)) = &mut self.packing else {
            return Ok(());
        };
        let mut through = self.packed_through;
        let mut repacked = Vec::new();
        let mut scanned = 0;
        {
            // Only texts are read out: a packed row costs no copy.
            let mut stmt = conn.prepare_cached(
                "SELECT id, CASE typeof(body) WHEN 'text' THEN body END FROM message_rows
                 WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![
                self.packed_through,
                self.plain_through,
                sql_count(CATCH_UP_ROWS)
            ])?;
            while let Some(row) = rows.next()? {
                scanned += 1;
                through = row.get(0)?;
                // A text that is not UTF-8 (a damaged database) stays.
                if let ValueRef::Text(bytes) = row.get_ref(1)?
                    && let Ok(text) = std::str::from_utf8(bytes)
                    && text.len() <= PACK_MAX
                    && let Some(packed) = packed(*dictionary, compressor, text)
                {
                    repacked.push((through, packed));
                }
            }
        }
        if scanned < CATCH_UP_ROWS {
            through = self.plain_through;
        }
        let from = self.packed_through;
        if repacked.is_empty() && through < self.plain_through {
            // Nothing here to pack (texts packed as they came): on to the
            // next rows without a commit; a restart looks at these again.
            self.packed_through = through;
            return Ok(());
        }
        if !repacked.is_empty() {
            // The rows of the step are copied aside with their packed texts
            // (outside the transaction: only this thread writes them) ...
            conn.execute_batch(REPACKING)?;
            conn.prepare_cached(&format!(
                "INSERT INTO temp.repacking ({ROW_COLUMNS}) SELECT {ROW_COLUMNS} FROM message_rows
                 WHERE id > ?1 AND id <= ?2"
            ))?
            .execute([from, through])?;
            let mut update =
                conn.prepare_cached("UPDATE temp.repacking SET body = ?2 WHERE id = ?1")?;
            for (id, packed) in &repacked {
                update.execute(params![id, packed])?;
            }
        }
        // ... then deleted and written again, in id order, so that they fill
        // whole pages: a text packed where it is would leave its page's
        // space unused for good (new rows go at the end), and the file no
        // smaller (measured: 101 bytes a message against 84 packed at
        // once). The first statement is a write (see `writer::write`).
        let tx = conn.transaction()?;
        if !repacked.is_empty() {
            tx.prepare_cached("DELETE FROM message_rows WHERE id > ?1 AND id <= ?2")?
                .execute([from, through])?;
            tx.prepare_cached(&format!(
                "INSERT INTO message_rows ({ROW_COLUMNS}) SELECT {ROW_COLUMNS}
                 FROM temp.repacking ORDER BY id"
            ))?
            .execute([])?;
            tx.execute("DELETE FROM temp.repacking", [])?;
        }
        meta::set(&tx, PACKED_THROUGH, through)?;
        tx.commit()?;
        if !repacked.is_empty() {
            // What the rows no longer fill goes back to the file system
            // (a database made before auto_vacuum reuses it instead).
            // Each step of the statement gives back one page.
            let mut give_back = conn.prepare_cached(GIVE_BACK)?;
            let mut pages = give_back.query([])?;
            while pages.next()?.is_some() {}
        }
        tracing::debug!(through, packed = repacked.len(), "stored texts packed");
        self.packed_through = through;
        Ok(())
    }

    /// Between batches: starts training when it is time, and once a
    /// dictionary is trained, stores it (committed before any text packed
    /// with it) and packs with it from then on.
    pub fn between_batches(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.packing.is_some() {
            return Ok(());
        }
        if let Some(training) = &self.training {
            match training.try_recv() {
                Ok(Ok(bytes)) => {
                    self.training = None;
                    self.adopt(conn, bytes)?;
                }
                Ok(Err(e)) => {
                    self.training = None;
                    tracing::info!(error = %e, "no text dictionary yet; trying again later");
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.training = None,
            }
            return Ok(());
        }
        if self.unpacked >= TRAIN_AFTER {
            self.unpacked = 0;
            let (mut samples, mut sizes) = (Vec::new(), Vec::new());
            let mut stmt = conn.prepare_cached(
                "SELECT CAST(body AS BLOB) FROM message_rows WHERE typeof(body) = 'text' \
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let mut rows = stmt.query([sql_count(TRAIN_AFTER)])?;
            while let Some(row) = rows.next()?
                && samples.len() < SAMPLE_BYTES
            {
                let text = row.get_ref(0)?.as_bytes().unwrap_or_default();
                samples.extend_from_slice(text);
                sizes.push(text.len());
            }
            let (tx, rx) = mpsc::channel();
            // Not joined: it ends when trained, and a stopping store does
            // not wait for it.
            super::spawn("history-dictionary", move || {
                let trained = zstd::dict::from_continuous(&samples, &sizes, DICTIONARY_BYTES)
                    .map_err(|e| e.to_string());
                let _ = tx.send(trained);
            })?;
            self.training = Some(rx);
        }
        Ok(())
    }

    /// Stores a trained dictionary and packs with it.
    fn adopt(&mut self, conn: &Connection, bytes: Vec<u8>) -> Result<(), StoreError> {
        let compressor = compressor(&bytes)?;
        let id: i64 = conn.query_row(
            "INSERT INTO dictionaries (created, bytes) VALUES (?1, ?2) RETURNING id",
            rusqlite::params![crate::clock::now_ms(), bytes],
            |r| r.get(0),
        )?;
        let Ok(id) = u8::try_from(id) else {
            tracing::warn!(
                id,
                "no byte left to name a text dictionary; texts stay unpacked"
            );
            return Ok(());
        };
        tracing::info!(
            id,
            bytes = bytes.len(),
            "texts are packed with a dictionary from now on"
        );
        self.dictionaries.by_id.write().insert(id, bytes.into());
        self.packing = Some((id, compressor));
        Ok(())
    }
}

/// `text` packed with `dictionary`, if that is smaller.
fn packed(dictionary: u8, compressor: &mut Compressor<'static>, text: &str) -> Option<Vec<u8>> {
    match compressor.compress(text.as_bytes()) {
        Ok(frame) if frame.len() + 1 < text.len() => {
            let mut packed = Vec::with_capacity(frame.len() + 1);
            packed.push(dictionary);
            packed.extend_from_slice(&frame);
            Some(packed)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "could not pack a text; stored as it came");
            None
        }
    }
}

/// A count as SQLite takes it.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A compressor for frames without magic number, checksum, dictionary id
/// or size (see the module's comment).
fn compressor(dictionary: &[u8]) -> std::io::Result<Compressor<'static>> {
    let mut compressor = Compressor::with_dictionary(LEVEL, dictionary)?;
    for parameter in [
        CParameter::Format(FrameFormat::Magicless),
        CParameter::ChecksumFlag(false),
        CParameter::DictIdFlag(false),
        CParameter::ContentSizeFlag(false),
    ] {
        compressor.set_parameter(parameter)?;
    }
    Ok(compressor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chat-like lines, English and Chinese, each different.
    fn line(n: usize) -> String {
        const WORDS: [&str; 12] = [
            "hello",
            "release",
            "tonight",
            "我们",
            "昨天",
            "the",
            "build",
            "知道",
            "is",
            "ready",
            "服务器",
            "again",
        ];
        (0..8)
            .map(|i| WORDS[(n * 7 + i * 5 + n / 3) % WORDS.len()])
            .collect::<Vec<_>>()
            .join(" ")
            + &format!(" {n}")
    }

    fn database() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .unwrap();
        conn.execute_batch(super::super::rows::TABLES).unwrap();
        conn.execute_batch(TABLE).unwrap();
        conn.execute_batch("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            .unwrap();
        conn
    }

    /// Stores `n` texts as the writer would, from id `from`, in a quiet
    /// spell.
    fn store(conn: &Connection, packer: &mut Packer, from: usize, n: usize) {
        store_as(conn, packer, from, n, false);
    }

    /// Stores `n` texts as the writer would, from id `from`, `busy` or not.
    fn store_as(conn: &Connection, packer: &mut Packer, from: usize, n: usize, busy: bool) {
        for id in from..from + n {
            let text = line(id);
            let body = match packer.pack(sql_count(id), &text, busy) {
                Stored::Plain(t) => rusqlite::types::Value::Text(t.to_owned()),
                Stored::Packed(b) => rusqlite::types::Value::Blob(b),
            };
            let n = sql_count(id);
            let tags = (id % 4 == 0).then(|| format!(r#"{{"+x":"{id}"}}"#));
            conn.execute(
                "INSERT INTO message_rows (id, ts, place, speaker, body, flags, tags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![n, n * 10, n % 7 + 1, n % 5 + 1, body, n % 3, tags],
            )
            .unwrap();
        }
    }

    /// Every column of every row but the text, in id order.
    fn rows_but_text(conn: &Connection) -> Vec<(i64, i64, i64, i64, i64, Option<String>)> {
        conn.prepare("SELECT id, ts, place, speaker, flags, tags FROM message_rows ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                <(i64, i64, i64, i64, i64, Option<String>)>::try_from(r)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Pages of the database, used or free: its file's size.
    fn pages(conn: &Connection) -> i64 {
        conn.query_row("SELECT page_count FROM pragma_page_count", [], |r| r.get(0))
            .unwrap()
    }

    fn trained(conn: &Connection, packer: &mut Packer) {
        packer.between_batches(conn).unwrap();
        let Some(training) = packer.training.take() else {
            panic!("training did not start");
        };
        let bytes = training.recv().unwrap().unwrap();
        packer.adopt(conn, bytes).unwrap();
    }

    #[test]
    fn texts_are_packed_once_a_dictionary_is_trained_and_read_back_as_they_were() {
        let conn = database();
        let dictionaries = Dictionaries::load(&conn).unwrap();
        register(&conn, dictionaries.clone()).unwrap();
        let mut packer = Packer::new(&conn, dictionaries).unwrap();
        store(&conn, &mut packer, 1, TRAIN_AFTER - 1);
        packer.between_batches(&conn).unwrap();
        assert!(packer.training.is_none(), "not enough texts yet");
        store(&conn, &mut packer, TRAIN_AFTER, 1);
        trained(&conn, &mut packer);
        store(&conn, &mut packer, TRAIN_AFTER + 1, 1000);
        let (plain, packed, packed_bytes): (i64, i64, i64) = conn
            .query_row(
                "SELECT SUM(typeof(body) = 'text'), SUM(typeof(body) = 'blob'),
                        SUM(CASE typeof(body) WHEN 'blob' THEN length(body) END)
                 FROM message_rows",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(plain, i64::try_from(TRAIN_AFTER).unwrap());
        assert_eq!(packed, 1000, "every text after the training");
        let raw: usize = (TRAIN_AFTER + 1..TRAIN_AFTER + 1001)
            .map(|n| line(n).len())
            .sum();
        assert!(
            usize::try_from(packed_bytes).unwrap() < raw / 2,
            "{packed_bytes} packed bytes for {raw}"
        );
        // Read back through the function, by this connection and by one
        // that loads the dictionaries from the database (a restart).
        let read = |conn: &Connection| -> Vec<String> {
            conn.prepare(&format!(
                "SELECT {FUNCTION}(body) FROM message_rows ORDER BY id"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let expected: Vec<String> = (1..TRAIN_AFTER + 1001).map(line).collect();
        assert_eq!(read(&conn), expected);
        let fresh = Dictionaries::load(&conn).unwrap();
        let again = Packer::new(&conn, fresh.clone()).unwrap();
        assert!(
            again.packing.is_some(),
            "a restart packs with the stored dictionary"
        );
        register(&conn, fresh).unwrap();
        assert_eq!(read(&conn), expected);
    }

    /// Counts of the texts stored as they came and of those packed.
    fn kinds(conn: &Connection) -> (i64, i64) {
        conn.query_row(
            "SELECT SUM(typeof(body) = 'text'), SUM(typeof(body) = 'blob') FROM message_rows",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    /// Runs the idle writer's packing until it has nothing left; how many
    /// steps that took.
    fn idle_until_settled(conn: &mut Connection, packer: &mut Packer) -> usize {
        let mut steps = 0;
        while packer.idle_work().is_some() {
            packer.when_idle(conn);
            steps += 1;
            assert!(steps < 10_000, "packing never settles");
        }
        steps
    }

    /// A database that holds [`TRAIN_AFTER`] texts, read through
    /// [`FUNCTION`], and a packer with the dictionary trained on them.
    fn with_a_dictionary() -> (Connection, Packer) {
        let conn = database();
        let dictionaries = Dictionaries::load(&conn).unwrap();
        register(&conn, dictionaries.clone()).unwrap();
        let mut packer = Packer::new(&conn, dictionaries).unwrap();
        store(&conn, &mut packer, 1, TRAIN_AFTER);
        trained(&conn, &mut packer);
        (conn, packer)
    }

    #[test]
    fn a_busy_writer_stores_texts_as_they_came_and_packs_them_when_idle_after_a_restart_too() {
        let (mut conn, mut packer) = with_a_dictionary();
        let busy = 3 * CATCH_UP_ROWS + 7;
        store_as(&conn, &mut packer, TRAIN_AFTER + 1, busy, true);
        store(&conn, &mut packer, TRAIN_AFTER + busy + 1, 10);
        assert_eq!(kinds(&conn).1, 10, "only the quiet ones packed at once");
        let before = rows_but_text(&conn);
        // One step, then a restart: the next start goes on from there.
        assert_eq!(packer.idle_work(), Some(Duration::ZERO));
        packer.when_idle(&mut conn);
        let first_step = kinds(&conn).1;
        assert!(first_step > 10, "{first_step}");
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let mut packer = Packer::new(&conn, dictionaries).unwrap();
        assert_eq!(packer.packed_through, sql_count(CATCH_UP_ROWS));
        let steps = idle_until_settled(&mut conn, &mut packer);
        let total = TRAIN_AFTER + busy + 10;
        assert_eq!(steps, total.div_ceil(CATCH_UP_ROWS) - 1);
        assert!(packer.settled());
        let (plain, packed) = kinds(&conn);
        assert_eq!(plain + packed, sql_count(total));
        assert!(plain < 10, "{plain} texts left unpacked");
        let read: Vec<String> = conn
            .prepare(&format!(
                "SELECT {FUNCTION}(body) FROM message_rows ORDER BY id"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(read, (1..=total).map(line).collect::<Vec<_>>());
        assert_eq!(
            rows_but_text(&conn),
            before,
            "the rest of each row as it was"
        );
        // The file as small as with the same texts packed at once, give or
        // take the pages written again: packed where they were, they would
        // leave their pages as many as before, and the pages they free
        // would stay in the file.
        let at_once = database();
        let bytes: Vec<u8> = conn
            .query_row("SELECT bytes FROM dictionaries", [], |r| r.get(0))
            .unwrap();
        let mut packer = Packer::new(&at_once, Dictionaries::load(&at_once).unwrap()).unwrap();
        packer.adopt(&at_once, bytes).unwrap();
        store(&at_once, &mut packer, 1, total);
        let (caught_up, packed_at_once) = (pages(&conn), pages(&at_once));
        assert!(
            caught_up * 100 <= packed_at_once * 115,
            "{caught_up} pages against {packed_at_once}"
        );
        // Nothing left: a restart has nothing to do.
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let packer = Packer::new(&conn, dictionaries).unwrap();
        assert_eq!(packer.idle_work(), None);
    }

    #[test]
    fn texts_packed_as_they_came_are_looked_over_without_writing_until_the_last_step() {
        let (mut conn, mut packer) = with_a_dictionary();
        idle_until_settled(&mut conn, &mut packer);
        let quiet = 4 * CATCH_UP_ROWS;
        store(&conn, &mut packer, TRAIN_AFTER + 1, quiet);
        // After a restart, everything past the last record is looked over.
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let mut packer = Packer::new(&conn, dictionaries).unwrap();
        assert_eq!(packer.idle_work(), Some(Duration::ZERO));
        let changes = conn.total_changes();
        let steps = idle_until_settled(&mut conn, &mut packer);
        assert_eq!(steps, quiet / CATCH_UP_ROWS);
        assert_eq!(conn.total_changes() - changes, 1, "only where it got to");
        let through = meta::get(&conn, PACKED_THROUGH).unwrap();
        assert_eq!(through, Some(sql_count(TRAIN_AFTER + quiet)));
    }

    #[test]
    fn an_idle_writer_trains_a_dictionary_when_due_and_settles_without_one_when_not() {
        let mut conn = database();
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let mut packer = Packer::new(&conn, dictionaries.clone()).unwrap();
        store(&conn, &mut packer, 1, TRAIN_AFTER - 1);
        assert!(packer.settled(), "too few texts to train on: nothing to do");
        store(&conn, &mut packer, TRAIN_AFTER, 1);
        assert_eq!(packer.idle_work(), Some(Duration::ZERO), "training is due");
        packer.when_idle(&mut conn);
        assert_eq!(packer.idle_work(), Some(TRAINING_POLL), "being trained");
        let bytes = packer
            .training
            .take()
            .map(|training| training.recv().unwrap().unwrap())
            .unwrap();
        packer.adopt(&conn, bytes).unwrap();
        idle_until_settled(&mut conn, &mut packer);
        let (plain, packed) = kinds(&conn);
        assert!(plain < 10 && packed > 0, "{plain} plain, {packed} packed");
    }

    #[test]
    fn a_damaged_text_is_left_as_it_is_and_packing_goes_on() {
        let (mut conn, mut packer) = with_a_dictionary();
        let damaged = sql_count(TRAIN_AFTER + 1);
        conn.execute(
            "INSERT INTO message_rows (id, ts, place, speaker, body)
             VALUES (?1, 0, 1, 1, CAST(x'ff6865ff6c6c6f20776f726c64' AS TEXT))",
            [damaged],
        )
        .unwrap();
        packer.plain_through = damaged;
        store_as(&conn, &mut packer, TRAIN_AFTER + 2, 20, true);
        idle_until_settled(&mut conn, &mut packer);
        let kind: String = conn
            .query_row(
                "SELECT typeof(body) FROM message_rows WHERE id = ?1",
                [damaged],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kind, "text");
        let bytes: Vec<u8> = conn
            .query_row(
                "SELECT CAST(body AS BLOB) FROM message_rows WHERE id = ?1",
                [damaged],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bytes, b"\xffhe\xffllo world", "kept byte for byte");
        let after: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM message_rows WHERE id > ?1 AND typeof(body) = 'blob'",
                [damaged],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(after, 20);
    }

    #[test]
    fn a_packed_text_without_its_dictionary_is_an_error_not_a_panic() {
        let conn = database();
        register(&conn, Arc::default()).unwrap();
        for body in [vec![7u8, 1, 2, 3], vec![]] {
            conn.execute(
                "INSERT INTO message_rows (ts, place, speaker, body) VALUES (0, 1, 1, ?1)",
                [body],
            )
            .unwrap();
        }
        let read: Result<Vec<String>, _> = conn
            .prepare(&format!(
                "SELECT {FUNCTION}(body) FROM message_rows ORDER BY id"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect();
        let error = read.unwrap_err().to_string();
        assert!(error.contains("dictionary 7"), "{error}");
    }

    #[test]
    fn damaged_frames_are_errors() {
        let conn = database();
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let mut packer = Packer::new(&conn, dictionaries.clone()).unwrap();
        store(&conn, &mut packer, 1, TRAIN_AFTER);
        trained(&conn, &mut packer);
        let Stored::Packed(mut packed) = packer.pack(1, &line(1), false) else {
            panic!("not packed");
        };
        let mut unpackers = Unpackers::default();
        assert_eq!(
            unpack(&dictionaries, &mut unpackers, &packed).unwrap(),
            line(1)
        );
        packed.truncate(packed.len() / 2);
        assert!(unpack(&dictionaries, &mut unpackers, &packed).is_err());
        let garbage = [packed[0], 0xff, 0xfe, 0xfd, 0xfc, 0xfb];
        assert!(unpack(&dictionaries, &mut unpackers, &garbage).is_err());
    }

    #[test]
    fn the_longest_packed_text_unpacks_into_the_one_buffer() {
        let conn = database();
        let dictionaries = Dictionaries::load(&conn).unwrap();
        let mut packer = Packer::new(&conn, dictionaries.clone()).unwrap();
        store(&conn, &mut packer, 1, TRAIN_AFTER);
        trained(&conn, &mut packer);
        let mut unpackers = Unpackers::default();
        for text in [
            "短".repeat(PACK_MAX / 3) + "x",
            "y".repeat(PACK_MAX),
            line(2),
        ] {
            assert!(text.len() <= PACK_MAX);
            let Stored::Packed(packed) = packer.pack(1, &text, false) else {
                panic!("not packed");
            };
            assert_eq!(
                unpack(&dictionaries, &mut unpackers, &packed).unwrap(),
                text
            );
        }
    }
}
