//! Durable history: every room message and direct message, and room topics and settings,
//! in SQLite.
//!
//! One thread owns the database. The hub hands it records through a channel
//! (never waiting); the thread writes whatever has queued up in one
//! transaction, so under load many messages share one commit, and only then
//! tells each sender that waits for it (a [`Receipt`]): an acknowledgement
//! means the message is durable. On disk the database is in WAL mode under
//! the data directory, `chatroom.db`, beside the message index in a file of
//! its own, `index.db`, which a second thread writes (`indexer`): the
//! writer hands it each batch once committed, so that no commit, and no
//! acknowledgement, waits for the index. Reads (history, search) are
//! answered by reader threads with connections of their own, which WAL
//! lets read while the two threads write: a read first waits until every
//! message queued before it is committed and indexed (the indexer publishes
//! how far it has got), so a reader always sees every message relayed
//! before its request, and a slow search never holds up a commit. The
//! in-memory mode keeps the database in the writer's memory for throwaway
//! servers, and the writer indexes and answers reads itself, after the
//! writes queued before them.

mod backlog;
mod backup;
mod certs;
mod conversations;
mod ids;
mod index;
mod indexer;
mod markers;
mod meta;
mod reads;
mod retention;
mod rows;
mod schema;
mod search;
mod span;
mod texts;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use rusqlite::Connection;
use thiserror::Error;
use tokio::sync::oneshot;

use crate::metrics::StoreMetrics;

pub use backlog::{Backlog, DEFAULT_BACKLOG};
pub use backup::{Stats, backup, stats};
pub use certs::{CertAdded, MAX_CERTS_PER_ACCOUNT, StoredCert};
pub use conversations::{ConversationQuery, Counterpart, Peer};
pub use ids::Start;
pub use markers::{MAX_MARKERS_PER_ACCOUNT, StoredMarker};
pub use retention::{Retention, RetentionPolicy, RoomRetention};
pub use search::{Found, Reader, SEARCH_WINDOW, SearchQuery};
pub use span::Span;

/// The file name of the database inside the data directory.
pub const DB_FILE: &str = "chatroom.db";

/// The file name of the message index inside the data directory (see
/// `indexer`): built again from [`DB_FILE`] if it is missing.
pub const INDEX_FILE: &str = "index.db";

/// Where history lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `DIR/chatroom.db` and its index `DIR/index.db`, created if needed.
    Dir(PathBuf),
    /// In memory, gone when the server stops.
    Memory,
}

/// How hard a commit works to be durable (SQLite's `synchronous` setting,
/// for a database on disk).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Every commit is synced to the disk before it is acknowledged: a
    /// message acknowledged survives a crash of the process, of the
    /// operating system and a power cut.
    #[default]
    Full,
    /// Commits are written to the operating system but synced only at
    /// checkpoints: a message acknowledged survives a crash of the process
    /// (`kill -9`), but a power cut may lose the last commits (the database
    /// stays consistent). Faster on slow disks.
    Normal,
}

/// Told once a message is durable, or that it could not be stored. Runs on
/// the store thread: it must be quick and must not wait.
pub type Receipt = Box<dyn FnOnce(Outcome<'_>) + Send>;

/// What became of a message a [`Receipt`] waited for.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// The message's id.
    pub msg_id: u64,
    /// Its timestamp.
    pub ts: i64,
    /// Why it was not sent or not stored, if it was not.
    pub error: Option<Failure<'a>>,
}

/// Why a message a [`Receipt`] waited for did not make it.
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    /// It was delivered but the database could not store it.
    NotStored(&'a StoreError),
    /// The cluster's broker (Redis) did not take it: nobody got it.
    NotSent(&'a str),
    /// Nobody anywhere in the cluster has the nickname it was sent to.
    NoSuchUser(&'a str),
}

/// A problem with the database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A database file failed its check.
    #[error("{path} is damaged: {problem}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite's check reported.
        problem: String,
    },
    /// The store thread is gone (the server is stopping).
    #[error("the history store has stopped")]
    Stopped,
    /// zstd refused a dictionary texts are packed with (see `texts`).
    #[error("cannot use the text dictionary: {0}")]
    Dictionary(#[from] std::io::Error),
}

/// One stored message (room or direct).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredMessage {
    /// The message id.
    pub id: u64,
    /// When, in milliseconds since the Unix epoch.
    pub ts: i64,
    /// For room messages: the folded room key and the room's display name.
    pub room: Option<(String, String)>,
    /// The sender's user id.
    pub sender_id: u64,
    /// The sender's nickname at the time.
    pub sender_nick: String,
    /// For direct messages: the recipient's id and nickname.
    pub recipient: Option<(u64, String)>,
    /// The text (a topic's text for a topic change; empty for tags alone).
    pub text: String,
    /// A `/me` action.
    pub action: bool,
    /// What it is: a message, or an event kept beside them.
    pub kind: StoredKind,
    /// The sender's IRCv3 client-only tags (`+draft/reply=...`).
    pub tags: Vec<(String, Option<String>)>,
}

/// What a stored row of history is. Messages are what every history
/// shows; the rest are events shown only to IRC clients that ask for them
/// (IRCv3 `draft/event-playback`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StoredKind {
    /// A message (IRC PRIVMSG).
    #[default]
    Message,
    /// A notice (IRC NOTICE): a message never to be answered automatically.
    Notice,
    /// A topic change; the text is the new topic.
    Topic,
    /// Tags without text (an IRC TAGMSG kept for its tags, e.g. a
    /// reaction).
    TagMsg,
}

impl StoredKind {
    /// Its number in the `kind` column.
    pub fn code(self) -> i64 {
        match self {
            StoredKind::Message => 0,
            StoredKind::Notice => 1,
            StoredKind::Topic => 2,
            StoredKind::TagMsg => 3,
        }
    }

    /// The kind numbered `code` (an unknown number reads as a message).
    pub fn from_code(code: i64) -> StoredKind {
        match code {
            1 => StoredKind::Notice,
            2 => StoredKind::Topic,
            3 => StoredKind::TagMsg,
            _ => StoredKind::Message,
        }
    }

    /// Whether every history shows it, not only event playback.
    pub fn is_message(self) -> bool {
        matches!(self, StoredKind::Message | StoredKind::Notice)
    }
}

/// SQLite integers are signed; ids never come near `i64::MAX`.
fn to_sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Client-only tags as the `tags` column holds them: a JSON list of
/// `[key, value]` pairs, `NULL` for none.
pub fn tags_to_column(tags: &[(String, Option<String>)]) -> Option<String> {
    if tags.is_empty() {
        return None;
    }
    serde_json::to_string(tags).ok()
}

/// The tags of a `tags` column (none if it is empty or unreadable).
pub fn tags_from_column(column: Option<&str>) -> Vec<(String, Option<String>)> {
    column
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// A room's stored topic and settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    /// The folded key.
    pub key: String,
    /// The display name.
    pub name: String,
    /// The topic ("" when none).
    pub topic: String,
    /// Who set it.
    pub set_by: Option<String>,
    /// When, in milliseconds since the Unix epoch.
    pub set_at: Option<i64>,
    /// Its modes, operators and bans, as the hub writes them (JSON); none
    /// for a room stored before it had any.
    pub settings: Option<String>,
}

/// A registered nickname.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredAccount {
    /// The folded nickname.
    pub key: String,
    /// The nickname as registered.
    pub nick: String,
    /// The argon2id hash (PHC string) of the password.
    pub hash: String,
    /// When it was registered (ms since the epoch).
    pub created: i64,
}

impl std::fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredAccount")
            .field("nick", &self.nick)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// A ban on a nickname or an address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredBan {
    /// `nick` (value: a folded nickname) or `ip` (value: an address).
    pub kind: String,
    /// What is banned.
    pub value: String,
    /// Why.
    pub reason: String,
    /// The operator who banned it.
    pub by: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// One page of a room's history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The messages.
    pub messages: Vec<StoredMessage>,
    /// Whether older messages exist.
    pub has_more: bool,
}

/// What the database held at startup.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where message and user ids continue, and the server's epoch.
    pub ids: Start,
    /// The highest message id stored (0: none): where a cluster node's
    /// archive continues.
    pub last_message: u64,
    /// Every room with a stored topic or settings.
    pub rooms: Vec<StoredRoom>,
    /// Every registered nickname.
    pub accounts: Vec<StoredAccount>,
    /// Every ban.
    pub bans: Vec<StoredBan>,
    /// Every client certificate fingerprint accounts list.
    pub certs: Vec<StoredCert>,
}

/// A request to the store thread.
enum Op {
    /// A message to store, when it was queued, and who waits for it.
    Message(StoredMessage, std::time::Instant, Option<Receipt>),
    /// A user id was handed out (its ceiling must stay ahead).
    UserId(u64),
    /// The server is stopping: the next ids to hand out had it not.
    ReleaseIds {
        next_message: u64,
        next_user: u64,
    },
    Room(StoredRoom),
    /// A read, for a store without reader threads (in memory).
    Read(reads::Read),
    Flush(oneshot::Sender<()>),
    /// Answered once every text stored before it is packed, or stays as
    /// it is for good (`texts`), and then the index is merged
    /// (`indexer`).
    Settled(oneshot::Sender<()>),
    /// A readiness probe: the writer answers after a trivial query.
    Ping(oneshot::Sender<Result<(), StoreError>>),
    /// A new account; the reply comes once it is committed.
    Account(StoredAccount, oneshot::Sender<Result<(), StoreError>>),
    /// An account to delete (by folded nickname), with its certificate
    /// fingerprints; the reply comes once the deletion is committed.
    DeleteAccount(String, oneshot::Sender<Result<(), StoreError>>),
    /// A certificate fingerprint for an account; the reply (whether the
    /// rules allowed it) comes once it is committed.
    AddCert(StoredCert, oneshot::Sender<Result<CertAdded, StoreError>>),
    /// A certificate fingerprint to take off an account (account,
    /// fingerprint); the reply (whether it listed it) comes once committed.
    RemoveCert(String, String, oneshot::Sender<Result<bool, StoreError>>),
    Ban(StoredBan),
    Unban {
        kind: String,
        value: String,
    },
    /// A read marker to move forward; the reply (where it stands, `None`
    /// past the account's limit) comes once it is committed.
    MarkRead(
        StoredMarker,
        oneshot::Sender<Result<Option<i64>, StoreError>>,
    ),
}

/// How far the writer and the indexer have got, for reads to wait on.
struct Progress {
    /// The highest message id queued so far.
    queued: AtomicU64,
    /// The highest message id through which every message is committed
    /// and indexed (or its batch failed and was reported), published by the
    /// indexer; `u64::MAX` once the store has stopped.
    done: tokio::sync::watch::Sender<u64>,
}

impl Progress {
    /// Messages queued and not yet through `done`.
    fn waiting(&self, done: u64) -> u64 {
        self.queued.load(Ordering::Acquire).saturating_sub(done)
    }
}

/// The handle the hub and sessions use; cheap to clone.
#[derive(Clone)]
pub struct Store {
    ops: mpsc::Sender<Op>,
    /// The reader threads' queue (a database on disk).
    reads: Option<mpsc::Sender<reads::Read>>,
    progress: Arc<Progress>,
    /// The writer's commit latency.
    metrics: StoreMetrics,
}

/// The store's threads; [`StoreThread::finish`] flushes and waits for them
/// (the writer waits for the indexer's thread).
pub struct StoreThread {
    handle: JoinHandle<()>,
    readers: Vec<JoinHandle<()>>,
}

impl StoreThread {
    /// Waits until everything queued before the last [`Store`] handle was
    /// dropped has been written, and the reads have been answered.
    pub fn finish(self) {
        if self.handle.join().is_err() {
            tracing::error!("the history store thread panicked");
        }
        for reader in self.readers {
            if reader.join().is_err() {
                tracing::error!("a history reader thread panicked");
            }
        }
    }
}

/// How many reader threads a database on disk gets.
const READERS: usize = 2;

/// The page cache of the writer by default, in MiB (each reader thread
/// gets half as much).
pub const DEFAULT_CACHE_MIB: u32 = 32;

/// Opens (creating if needed) the database and starts its threads. The
/// writer's page cache is `cache_mib`, each reader's half of it.
pub fn open(
    location: &Location,
    retention: Retention,
    synchronous: Synchronous,
    cache_mib: u32,
) -> Result<(Store, StoreThread, Loaded), StoreError> {
    let (conn, index_file) = match location {
        Location::Dir(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.clone(),
                source,
            })?;
            (
                Connection::open(dir.join(DB_FILE))?,
                Some(dir.join(INDEX_FILE)),
            )
        }
        Location::Memory => (Connection::open_in_memory()?, None),
    };
    let on_disk = index_file.is_some();
    let disk = index_file.as_deref().map(|file| (file, synchronous));
    let dictionaries = schema::prepare(&conn, disk, cache_mib)?;
    schema::catch_up(&conn)?;
    let (start, ceilings) = ids::start(&conn, !on_disk)?;
    let loaded = schema::load(&conn, start)?;
    // Everything before the first id to hand out is done.
    let before = start.next_message.saturating_sub(1);
    let progress = Arc::new(Progress {
        queued: AtomicU64::new(before),
        done: tokio::sync::watch::Sender::new(before),
    });
    let (mut reads, mut readers) = (None, Vec::new());
    if let Location::Dir(dir) = location {
        let (tx, rx) = mpsc::channel();
        let rx = Arc::new(parking_lot::Mutex::new(rx));
        for n in 0..READERS {
            let conn = reads::connect(
                &dir.join(DB_FILE),
                &dir.join(INDEX_FILE),
                i64::from(cache_mib) * 512,
                dictionaries.clone(),
            )?;
            let (rx, retention) = (rx.clone(), retention.clone());
            readers.push(spawn(&format!("history-read-{n}"), move || {
                reads::run(&conn, &rx, &retention);
            })?);
        }
        reads = Some(tx);
    }
    let index = match &index_file {
        Some(file) => {
            let index_conn = indexer::connect(file, cache_mib)?;
            let (ops, rx) = mpsc::channel();
            let shared = progress.clone();
            let thread = spawn("history-index", move || {
                indexer::run(&index_conn, &rx, &shared);
            })?;
            indexer::Indexing::Thread { ops, thread }
        }
        None => indexer::Indexing::Inline(indexer::Indexer::new()),
    };
    let (ops, rx) = mpsc::channel();
    let shared = progress.clone();
    let metrics = StoreMetrics::new();
    let measured = metrics.clone();
    let packer = texts::Packer::new(&conn, dictionaries)?;
    let opened = writer::Opened {
        conn,
        ceilings,
        packer,
    };
    let handle = spawn("history-store", move || {
        writer::run(opened, rx, retention, index, &shared, measured);
    })?;
    let store = Store {
        ops,
        reads,
        progress,
        metrics,
    };
    Ok((store, StoreThread { handle, readers }, loaded))
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| StoreError::DataDir {
            path: PathBuf::from(format!("<{name} thread>")),
            source: e,
        })
}

impl Store {
    /// Queues a message to be stored; never blocks. `receipt`, if any, is
    /// told once the message is durable (or could not be stored).
    pub fn message(&self, message: StoredMessage, receipt: Option<Receipt>) {
        let id = message.id;
        self.send(Op::Message(message, std::time::Instant::now(), receipt));
        // After the send: whoever sees this id queued finds the message in
        // the channel ahead of anything it sends itself.
        self.progress.queued.fetch_max(id, Ordering::AcqRel);
    }

    /// Waits until every message up to `id` is committed and indexed (or
    /// its batch failed; in a cluster: the archive has it), or `within`
    /// passed.
    pub async fn done_through(&self, id: u64, within: std::time::Duration) {
        let mut done = self.progress.done.subscribe();
        let _ = tokio::time::timeout(within, done.wait_for(|&done| done >= id)).await;
    }

    /// Records that a user id was handed out, so that no later run hands it
    /// out again; never blocks.
    pub fn user_id(&self, id: u64) {
        self.send(Op::UserId(id));
    }

    /// At a clean shutdown, once no more ids will be handed out: the next
    /// run continues from these, without a gap.
    pub fn release_ids(&self, next_message: u64, next_user: u64) {
        self.send(Op::ReleaseIds {
            next_message,
            next_user,
        });
    }

    /// Queues a room's new topic or settings to be stored; never blocks.
    pub fn room(&self, room: StoredRoom) {
        self.send(Op::Room(room));
    }

    /// Up to `limit` messages of a room with ids below `before`, oldest
    /// first. Sees every message queued before the call.
    pub async fn history(
        &self,
        room_key: String,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.history_in(room_key, Span::before(before), limit).await
    }

    /// Up to `limit` messages of a room in `span`, oldest first (IRC's
    /// `CHATHISTORY`). Sees every message queued before the call.
    pub async fn history_in(
        &self,
        room_key: String,
        span: Span,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.read(|reply| reads::Read::History {
            room_key,
            span,
            limit,
            reply,
        })
        .await
    }

    /// Searches the messages `query.reader` may read (see [`SearchQuery`]);
    /// sees every message queued before the call.
    pub async fn search(&self, query: SearchQuery) -> Result<Found, StoreError> {
        self.read(|reply| reads::Read::Search { query, reply })
            .await
    }

    /// Up to `limit` direct messages between `reader` and `with` (a folded
    /// nickname) with ids below `before`, oldest first.
    pub async fn direct_history(
        &self,
        reader: Reader,
        with: String,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.direct_history_in(reader, with, Span::before(before), limit)
            .await
    }

    /// Up to `limit` direct messages between `reader` and `with` (a folded
    /// nickname) in `span`, oldest first.
    pub async fn direct_history_in(
        &self,
        reader: Reader,
        with: String,
        span: Span,
        limit: u32,
    ) -> Result<Page, StoreError> {
        self.read(|reply| reads::Read::DirectHistory {
            reader,
            with,
            span,
            limit,
            reply,
        })
        .await
    }

    /// The conversations of `query.reader` (the people they exchanged
    /// direct messages with, and their rooms if asked) whose latest message
    /// falls in the query's window, most recent first (see
    /// [`ConversationQuery`]).
    pub async fn conversations(&self, query: ConversationQuery) -> Result<Vec<Peer>, StoreError> {
        self.read(|reply| reads::Read::Conversations { query, reply })
            .await
    }

    /// Sends a read to whoever answers reads: the reader threads once every
    /// message queued before it is committed and indexed, or the writer
    /// after them.
    async fn read<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> reads::Read,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let read = make(reply);
        match &self.reads {
            Some(reads) => {
                let horizon = self.progress.queued.load(Ordering::Acquire);
                let mut done = self.progress.done.subscribe();
                done.wait_for(|&done| done >= horizon)
                    .await
                    .map_err(|_| StoreError::Stopped)?;
                reads.send(read).map_err(|_| StoreError::Stopped)?;
            }
            None => self
                .ops
                .send(Op::Read(read))
                .map_err(|_| StoreError::Stopped)?,
        }
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Stores a new account and waits until it is committed.
    pub async fn account(&self, account: StoredAccount) -> Result<(), StoreError> {
        self.request(|reply| Op::Account(account, reply)).await?
    }

    /// Deletes an account (by folded nickname), with its certificate
    /// fingerprints, and waits until that is committed.
    pub async fn delete_account(&self, key: String) -> Result<(), StoreError> {
        self.request(|reply| Op::DeleteAccount(key, reply)).await?
    }

    /// Adds a client certificate fingerprint to an account (at most
    /// [`MAX_CERTS_PER_ACCOUNT`], each fingerprint to one account) and
    /// waits until that is committed.
    pub async fn add_cert(&self, cert: StoredCert) -> Result<CertAdded, StoreError> {
        self.request(|reply| Op::AddCert(cert, reply)).await?
    }

    /// Takes a client certificate fingerprint off `account` and waits until
    /// that is committed; false if the account did not list it.
    pub async fn remove_cert(
        &self,
        account: String,
        fingerprint: String,
    ) -> Result<bool, StoreError> {
        self.request(|reply| Op::RemoveCert(account, fingerprint, reply))
            .await?
    }

    /// Moves `marker.account`'s read marker for `marker.key` forward to
    /// `marker.ts` (never back) and waits until that is committed; answers
    /// where the marker stands, or `None` when it is a new one and the
    /// account has [`MAX_MARKERS_PER_ACCOUNT`] already.
    pub async fn mark_read(&self, marker: StoredMarker) -> Result<Option<i64>, StoreError> {
        self.request(|reply| Op::MarkRead(marker, reply)).await?
    }

    /// Where `account`'s read marker for `key` stands, if it has one.
    pub async fn read_marker(
        &self,
        account: String,
        key: String,
    ) -> Result<Option<i64>, StoreError> {
        self.read(|reply| reads::Read::Marker {
            account,
            key,
            reply,
        })
        .await
    }

    /// Every read marker of `account`.
    pub async fn read_markers(&self, account: String) -> Result<Vec<StoredMarker>, StoreError> {
        self.read(|reply| reads::Read::Markers { account, reply })
            .await
    }

    /// Queues a ban to be stored; never blocks.
    pub fn ban(&self, ban: StoredBan) {
        self.send(Op::Ban(ban));
    }

    /// Queues the removal of a ban; never blocks.
    pub fn unban(&self, kind: &str, value: &str) {
        self.send(Op::Unban {
            kind: kind.to_owned(),
            value: value.to_owned(),
        });
    }

    /// Sends the writer the request `op` makes around a reply channel, and
    /// waits for the reply.
    async fn request<T>(&self, op: impl FnOnce(oneshot::Sender<T>) -> Op) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.ops.send(op(reply)).map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.request(Op::Flush).await
    }

    /// Waits until the store has done what it does when idle after a busy
    /// spell: every text stored before the call packed, or left as it is
    /// for good (`texts`), then the message index's segments merged
    /// (`indexer`). For measuring history as a quiet server keeps it.
    pub async fn settled(&self) -> Result<(), StoreError> {
        self.request(Op::Settled).await
    }

    /// Waits for the writer thread to run a trivial query after everything
    /// queued before it: whether the store is there and keeping up (a
    /// readiness probe bounds the wait).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.request(Op::Ping).await?
    }

    /// The store's instruments, for the server's metrics.
    pub(crate) fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }

    /// What tells connections to refuse chat messages while more than
    /// `limit` messages wait to be stored; `None` for a `limit` of 0
    /// (never).
    pub fn backlog(&self, limit: u64) -> Option<Backlog> {
        (limit > 0).then(|| {
            Backlog::new(
                self.progress.clone(),
                limit,
                self.metrics.backlog_refused.clone(),
            )
        })
    }

    fn send(&self, op: Op) {
        if self.ops.send(op).is_err() {
            tracing::error!("the history store has stopped; a record was not stored");
        }
    }
}
