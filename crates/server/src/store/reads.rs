//! Reads of stored messages and who answers them: the reader threads of a
//! database on disk, each with a read-only connection of its own (WAL lets
//! them read while the writer commits), or the writer itself for a
//! database in memory.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::conversations::{self, ConversationQuery, Peer};
use super::markers::{self, StoredMarker};
use super::search::{self, Found, Reader, SearchQuery};
use super::texts::{self, Dictionaries};
use super::{Page, Retention, Span, StoreError};

/// A read and where its answer goes.
pub enum Read {
    /// A page of a room's history.
    History {
        room_key: String,
        span: Span,
        limit: u32,
        reply: oneshot::Sender<Result<Page, StoreError>>,
    },
    /// A full-text search.
    Search {
        query: SearchQuery,
        reply: oneshot::Sender<Result<Found, StoreError>>,
    },
    /// A page of direct messages between the reader and someone.
    DirectHistory {
        reader: Reader,
        with: String,
        span: Span,
        limit: u32,
        reply: oneshot::Sender<Result<Page, StoreError>>,
    },
    /// A reader's conversations and their latest messages.
    Conversations {
        query: ConversationQuery,
        reply: oneshot::Sender<Result<Vec<Peer>, StoreError>>,
    },
    /// One account's read marker for one conversation.
    Marker {
        account: String,
        key: String,
        reply: oneshot::Sender<Result<Option<i64>, StoreError>>,
    },
    /// Every read marker of one account.
    Markers {
        account: String,
        reply: oneshot::Sender<Result<Vec<StoredMarker>, StoreError>>,
    },
}

/// How much of each file a reader maps into memory (SQLite's `mmap_size`;
/// its build caps it at 2 GiB): pages the operating system holds are read
/// in place instead of copied by a system call each, which was a quarter of
/// the readers' time in searches at 10,000,000 messages
/// (`docs/benchmarks.md`, "Search: the words first"). Only reads map: the
/// writer keeps its own page cache.
const MMAP_BYTES: i64 = 1 << 31;

/// Opens a read-only connection to the database at `path`, with its
/// message index at `index` attached (see `schema::MESSAGE_INDEX`), a
/// page cache of `cache_kib` for each, and texts read with `dictionaries`
/// (the writer's, see `texts`).
pub fn connect(
    path: &Path,
    index: &Path,
    cache_kib: i64,
    dictionaries: Arc<Dictionaries>,
) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    super::schema::attach_index(&conn, Some(index))?;
    // A negative `cache_size` is in KiB.
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(Some("idx"), "cache_size", -cache_kib)?;
    for schema in ["main", "idx"] {
        conn.pragma_update(Some(schema), "mmap_size", MMAP_BYTES)?;
    }
    search::prepare_connection(&conn)?;
    texts::register(&conn, dictionaries)?;
    Ok(conn)
}

/// A reader thread: answers reads until every sender is gone.
pub fn run(conn: &Connection, reads: &Mutex<Receiver<Read>>, retention: &Retention) {
    loop {
        // Held only while waiting: the next read goes to whichever thread
        // is free.
        let read = reads.lock().recv();
        match read {
            Ok(read) => answer(conn, retention, read),
            Err(_) => return,
        }
    }
}

/// Answers one read from `conn`.
pub fn answer(conn: &Connection, retention: &Retention, read: Read) {
    match read {
        Read::History {
            room_key,
            span,
            limit,
            reply,
        } => {
            let _ = reply.send(search::room_page(conn, retention, &room_key, span, limit));
        }
        Read::Search { query, reply } => {
            let _ = reply.send(search::search(conn, retention, &query));
        }
        Read::DirectHistory {
            reader,
            with,
            span,
            limit,
            reply,
        } => {
            let _ = reply.send(search::direct_history(
                conn, retention, &reader, &with, span, limit,
            ));
        }
        Read::Conversations { query, reply } => {
            let _ = reply.send(conversations::conversations(conn, retention, &query));
        }
        Read::Marker {
            account,
            key,
            reply,
        } => {
            let _ = reply.send(markers::get(conn, &account, &key));
        }
        Read::Markers { account, reply } => {
            let _ = reply.send(markers::all(conn, &account));
        }
    }
}
