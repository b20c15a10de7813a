//! Stored message texts, packed (layout version 11): chat lines are short,
//! too short for a compressor alone, so the store trains a zstd dictionary
//! on its own history once it holds enough of it and packs each new text
//! with it. Measured on the bench's English and Chinese chat: 47.7 bytes
//! of text became 29.9, for 0.3 µs a read and, on the writer thread,
//! 1.4 µs a message on one 2-core machine and 6 on a slower one, where
//! zstd's set-up of each frame was half the writer's time
//! (`docs/benchmarks.md`, "Names by number and packed texts").
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

use parking_lot::{Mutex, RwLock};
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use zstd::bulk::{Compressor, Decompressor};
use zstd::zstd_safe::{CParameter, DParameter, FrameFormat};

use super::StoreError;

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
    let unpackers: Mutex<HashMap<u8, Decompressor<'static>>> = Mutex::default();
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
    NotUtf8(#[from] std::string::FromUtf8Error),
}

fn unpack(
    dictionaries: &Dictionaries,
    unpackers: &mut HashMap<u8, Decompressor<'static>>,
    packed: &[u8],
) -> Result<String, UnpackError> {
    let Some((&id, frame)) = packed.split_first() else {
        return Ok(String::new());
    };
    let unpacker = match unpackers.entry(id) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            let bytes = dictionaries.get(id).ok_or(UnpackError::NoDictionary(id))?;
            let mut unpacker = Decompressor::with_dictionary(&bytes)?;
            unpacker.set_parameter(DParameter::Format(FrameFormat::Magicless))?;
            e.insert(unpacker)
        }
    };
    Ok(String::from_utf8(unpacker.decompress(frame, PACK_MAX)?)?)
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
pub struct Packer {
    dictionaries: Arc<Dictionaries>,
    packing: Option<(u8, Compressor<'static>)>,
    training: Option<Receiver<Trained>>,
    /// Texts stored unpacked since the last training began.
    unpacked: usize,
}

impl Packer {
    /// Packs with the newest of `dictionaries`, or trains one when
    /// `conn`'s database holds enough texts without.
    pub fn new(conn: &Connection, dictionaries: Arc<Dictionaries>) -> Result<Self, StoreError> {
        let mut packer = Self {
            dictionaries,
            packing: None,
            training: None,
            unpacked: 0,
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

    /// How `text` is stored: packed if that is smaller.
    pub fn pack<'a>(&mut self, text: &'a str) -> Stored<'a> {
        let Some((id, compressor)) = &mut self.packing else {
            self.unpacked += 1;
            return Stored::Plain(text);
        };
        if text.len() > PACK_MAX || text.is_empty() {
            return Stored::Plain(text);
        }
        match compressor.compress(text.as_bytes()) {
            Ok(frame) if frame.len() + 1 < text.len() => {
                let mut packed = Vec::with_capacity(frame.len() + 1);
                packed.push(*id);
                packed.extend_from_slice(&frame);
                Stored::Packed(packed)
            }
            Ok(_) => Stored::Plain(text),
            Err(e) => {
                tracing::warn!(error = %e, "could not pack a text; stored as it came");
                Stored::Plain(text)
            }
        }
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
        conn.execute_batch(super::super::rows::TABLES).unwrap();
        conn.execute_batch(TABLE).unwrap();
        conn
    }

    /// Stores `n` texts as the writer would, from id `from`.
    fn store(conn: &Connection, packer: &mut Packer, from: usize, n: usize) {
        for id in from..from + n {
            let text = line(id);
            let body = match packer.pack(&text) {
                Stored::Plain(t) => rusqlite::types::Value::Text(t.to_owned()),
                Stored::Packed(b) => rusqlite::types::Value::Blob(b),
            };
            conn.execute(
                "INSERT INTO message_rows (id, ts, place, speaker, body) VALUES (?1, 0, 1, 1, ?2)",
                rusqlite::params![sql_count(id), body],
            )
            .unwrap();
        }
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
        let Stored::Packed(mut packed) = packer.pack(&line(1)) else {
            panic!("not packed");
        };
        let mut unpackers = HashMap::new();
        assert_eq!(
            unpack(&dictionaries, &mut unpackers, &packed).unwrap(),
            line(1)
        );
        packed.truncate(packed.len() / 2);
        assert!(unpack(&dictionaries, &mut unpackers, &packed).is_err());
        let garbage = [packed[0], 0xff, 0xfe, 0xfd, 0xfc, 0xfb];
        assert!(unpack(&dictionaries, &mut unpackers, &garbage).is_err());
    }
}
