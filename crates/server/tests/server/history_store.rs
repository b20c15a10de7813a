//! The history store on disk with a generated history (small here; the
//! large runs are `chatroom bench history`): paging back while retention
//! deletes, search scoping, reads that see every message queued before
//! them, and a backup taken under write load.
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chatroom_server::store::{
    self, Location, Reader, Retention, RetentionPolicy, SearchQuery, Store, StoreThread,
    StoredKind, StoredMessage, Synchronous,
};

const HOUR: i64 = 3_600_000;

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

fn open(dir: &Path, retention: Retention) -> (Store, StoreThread, u64) {
    let (store, thread, loaded) = store::open(
        &Location::Dir(dir.to_owned()),
        retention,
        Synchronous::Normal,
        store::DEFAULT_CACHE_MIB,
    )
    .unwrap();
    (store, thread, loaded.ids.next_message)
}

async fn close(store: Store, thread: StoreThread) {
    store.flush().await.unwrap();
    drop(store);
    tokio::task::spawn_blocking(move || thread.finish())
        .await
        .unwrap();
}

fn room_message(id: u64, ts: i64, room: &str, sender: u64, text: String) -> StoredMessage {
    StoredMessage {
        id,
        ts,
        room: Some((room.into(), room.into())),
        sender_id: sender,
        sender_nick: format!("user{sender}"),
        recipient: None,
        text,
        action: false,
        kind: StoredKind::Message,
        tags: Vec::new(),
    }
}

fn direct_message(id: u64, ts: i64, from: u64, to: u64, text: String) -> StoredMessage {
    StoredMessage {
        id,
        ts,
        room: None,
        sender_id: from,
        sender_nick: format!("user{from}"),
        recipient: Some((to, format!("user{to}"))),
        text,
        action: false,
        kind: StoredKind::Message,
        tags: Vec::new(),
    }
}

/// Paging back through a room from its newest message to its oldest while
/// the age sweep deletes (in small steps) the older half and others write:
/// every page is in order, no message comes twice, none past its age, and
/// every message young enough comes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_back_across_retention_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let mut young = Vec::new();
    for i in 0..6_000u64 {
        // The older half 6 to 10 hours old, the younger half under 4.
        let ts = if i < 3_000 {
            now - 10 * HOUR + i64::try_from(i).unwrap() * 4_800
        } else {
            now - 4 * HOUR + i64::try_from(i - 3_000).unwrap() * 4_800
        };
        let room = ["alpha", "beta", "gamma"][(i % 3) as usize];
        let id = first + i;
        if room == "alpha" && i >= 3_000 {
            young.push(id);
        }
        store.message(room_message(id, ts, room, i % 7, format!("text {i}")), None);
    }
    close(store, thread).await;

    let retention = Retention {
        default: RetentionPolicy {
            max_messages: None,
            max_age: Some(Duration::from_secs(5 * 3600)),
        },
        ..Retention::default()
    };
    let (store, thread, next) = open(dir.path(), retention);
    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        // Others keep writing meanwhile.
        for i in 0..20 {
            store.message(
                room_message(next + pages * 20 + i, now, "beta", 1, "meanwhile".into()),
                None,
            );
        }
        let page = store.history("alpha".into(), before, 50).await.unwrap();
        pages += 1;
        let ids: Vec<u64> = page.messages.iter().map(|m| m.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
        if let (Some(last), Some(before)) = (ids.last(), before) {
            assert!(*last < before, "a page goes further back");
        }
        for m in &page.messages {
            assert!(m.ts >= now - 5 * HOUR, "message {} is past its age", m.id);
        }
        seen.splice(0..0, ids.iter().copied());
        before = ids.first().copied();
        if !page.has_more || before.is_none() {
            break;
        }
        assert!(pages < 1_000, "paging ends");
    }
    let unique: HashSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no message twice");
    assert_eq!(seen, young, "every young message of the room, once");
    close(store, thread).await;
    let stats = store::stats(dir.path()).unwrap();
    assert!(stats.messages < 6_000, "the sweep deleted: {stats:?}");
}

/// The reader: user 1, in rooms r0 and r1.
fn reader() -> Reader {
    Reader {
        user_id: 1,
        account: None,
        rooms: vec!["r0".into(), "r1".into()],
    }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        reader: reader(),
        text: text.into(),
        room: None,
        with: None,
        limit: 50,
        offset: 0,
    }
}

/// Search returns the messages of the rooms the reader is in and the
/// direct messages they sent or received, nothing else; `with` narrows to
/// the direct messages between the two of them.
#[tokio::test]
async fn search_is_scoped_on_a_generated_history() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    let mut expected = HashSet::new();
    let mut with_two = HashSet::new();
    for i in 0..4_000u64 {
        let id = first + i;
        let text = format!("needle 网络编程 {i}");
        let m = if i % 4 == 3 {
            // Direct messages between pairs of users 1..=6.
            let (from, to) = [(1, 2), (2, 1), (3, 4), (5, 1), (4, 6)][(i % 5) as usize];
            if from == 1 || to == 1 {
                expected.insert(id);
            }
            if (from, to) == (1, 2) || (from, to) == (2, 1) {
                with_two.insert(id);
            }
            direct_message(id, now, from, to, text)
        } else {
            let room = format!("r{}", i % 10);
            if room == "r0" || room == "r1" {
                expected.insert(id);
            }
            room_message(id, now, &room, 2 + i % 5, text)
        };
        store.message(m, None);
    }
    // Pages of 50 through every result.
    let mut found = HashSet::new();
    for text in ["NEEDLE", "网络编程", "编程 needle"] {
        found.clear();
        let mut q = query(text);
        loop {
            let page = store.search(q.clone()).await.unwrap();
            for m in &page.messages {
                assert!(found.insert(m.id), "{} twice", m.id);
            }
            if !page.has_more {
                break;
            }
            q.offset += q.limit;
        }
        assert!(found.is_subset(&expected), "{text}: out of scope");
        assert_eq!(
            found.len(),
            expected.len().min(store::SEARCH_WINDOW),
            "{text}: all in scope (up to the window)"
        );
    }
    let mut q = query("needle");
    q.with = Some("user2".into());
    q.limit = 50;
    let mut found = HashSet::new();
    loop {
        let page = store.search(q.clone()).await.unwrap();
        found.extend(page.messages.iter().map(|m| m.id));
        if !page.has_more {
            break;
        }
        q.offset += q.limit;
    }
    assert_eq!(found, with_two, "only between the two of them");
    let page = store
        .direct_history(reader(), "user2".into(), None, 500)
        .await
        .unwrap();
    let ids: HashSet<u64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, with_two);
    close(store, thread).await;
}

/// A reader in a quiet room finds every match there although the same
/// words fill thousands of newer messages in a room they are not in: the
/// search asks the index for the words alone first (checking the scope in
/// SQL) and gives that way up for one with the scope terms when too few of
/// its candidates are in scope.
#[tokio::test]
async fn a_quiet_room_is_searched_whole_beneath_a_busy_one() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    let quiet: HashSet<u64> = (first..first + 60).collect();
    for &id in &quiet {
        let text = format!("needle compiler go 网络编程 {id}");
        store.message(room_message(id, now, "r0", 2, text), None);
    }
    for i in 0..12_000 {
        let text = format!("needle compiler go 网络编程 busy {i}");
        store.message(room_message(first + 60 + i, now, "r5", 2, text), None);
    }
    for text in ["needle", "compil", "needle 编程", "go"] {
        let mut q = query(text);
        q.limit = 100;
        let page = store.search(q).await.unwrap();
        let found: HashSet<u64> = page.messages.iter().map(|m| m.id).collect();
        assert_eq!(found, quiet, "{text}");
    }
    close(store, thread).await;
}

/// A Chinese word is found by its rarer pairs of characters alone when one
/// of its pairs is in most messages (`你们` here): the search leaves that
/// pair out of its index query, and the check of each candidate's text
/// still finds exactly the messages with the whole word, in scope.
#[tokio::test]
async fn a_common_pair_left_out_changes_no_result() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    let mut expected = HashSet::new();
    for i in 0..6_000u64 {
        let id = first + i;
        let room = format!("r{}", i % 3);
        let text = match i % 40 {
            // The word, and its pairs `们测` and `测试` without it.
            0 => format!("你们测试一下 {i}"),
            1 => format!("我们测试 {i}"),
            2 => format!("你们 测试 {i}"),
            _ => format!("你们好 {i}"),
        };
        if i % 40 == 0 && room != "r2" {
            expected.insert(id);
        }
        store.message(room_message(id, now, &room, 2, text), None);
    }
    let mut q = query("你们测试");
    q.limit = 500;
    let page = store.search(q).await.unwrap();
    let found: HashSet<u64> = page.messages.iter().map(|m| m.id).collect();
    assert_eq!(found, expected);
    close(store, thread).await;
}

/// A read queued right after many messages sees all of them, although the
/// reader threads read on connections of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_sees_every_message_queued_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    for round in 0..5u64 {
        let base = first + round * 2_000;
        for i in 0..2_000 {
            let text = format!("round{round} message {i}");
            store.message(room_message(base + i, now, "lobby", 1, text), None);
        }
        let page = store.history("lobby".into(), None, 1).await.unwrap();
        assert_eq!(page.messages[0].id, base + 1_999, "round {round}");
        let found = store.search(query_in_lobby(&format!("round{round}"))).await;
        assert!(!found.unwrap().messages.is_empty(), "round {round}");
    }
    close(store, thread).await;
}

fn query_in_lobby(text: &str) -> SearchQuery {
    SearchQuery {
        reader: Reader {
            user_id: 9,
            account: None,
            rooms: vec!["lobby".into()],
        },
        text: text.into(),
        room: Some("lobby".into()),
        with: None,
        limit: 1,
        offset: 0,
    }
}

/// A backup taken while four senders write restores to a consistent
/// database: each sender's messages are there without a gap up to some
/// point (a snapshot), and the index agrees with the messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    // Something to copy before the load starts.
    for i in 0..2_000 {
        store.message(
            room_message(first + i, now, "lobby", 9, format!("before {i}")),
            None,
        );
    }
    store.flush().await.unwrap();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(first + 2_000));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..4u64 {
        let (store, next, stop) = (store.clone(), next.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && seq < 200_000 {
                // Ids are handed out in order, as the hub does.
                let id = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let text = format!("s{sender} {seq}");
                store.message(room_message(id, now, "lobby", sender, text), None);
                seq += 1;
                if seq.is_multiple_of(64) {
                    store.flush().await.unwrap();
                }
            }
            seq
        }));
    }
    let copy = dir.path().join("copy.db");
    let (from, to) = (dir.path().to_owned(), copy.clone());
    let copied = tokio::task::spawn_blocking(move || store::backup(&from, &to))
        .await
        .unwrap()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent = 0;
    for s in senders {
        sent += s.await.unwrap();
    }
    close(store, thread).await;
    assert!(copied >= 2_000, "{copied}");
    assert!(sent > 0);

    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join(store::DB_FILE)).unwrap();
    let (store, thread, _) = open(restored.path(), Retention::default());
    let mut texts = Vec::new();
    let mut before = None;
    loop {
        let page = store.history("lobby".into(), before, 500).await.unwrap();
        before = page.messages.first().map(|m| m.id);
        texts.extend(page.messages.into_iter().map(|m| m.text));
        if !page.has_more {
            break;
        }
    }
    assert_eq!(texts.len() as u64, copied, "the index finds every message");
    for sender in 0..4 {
        let mut seqs: Vec<u64> = texts
            .iter()
            .filter_map(|t| t.strip_prefix(&format!("s{sender} ")))
            .map(|n| n.parse().unwrap())
            .collect();
        seqs.sort_unstable();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "sender {sender}: a prefix, no gap");
    }
    close(store, thread).await;
}

/// Every id of the room `lobby`, by paging back through its history (the
/// message index finds a room's messages).
async fn lobby_ids(store: &Store) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let page = store.history("lobby".into(), before, 500).await.unwrap();
        before = page.messages.first().map(|m| m.id);
        ids.splice(0..0, page.messages.iter().map(|m| m.id));
        if !page.has_more || before.is_none() {
            return ids;
        }
    }
}

/// How many messages of `lobby` a search for `text` finds, page by page.
async fn lobby_hits(store: &Store, text: &str) -> usize {
    let mut q = query_in_lobby(text);
    q.limit = 50;
    let mut hits = 0;
    loop {
        let page = store.search(q.clone()).await.unwrap();
        hits += page.messages.len();
        if !page.has_more {
            return hits;
        }
        q.offset += q.limit;
    }
}

/// Writes `count` messages to `lobby` in a new store in `dir`, stops it,
/// and returns their ids.
async fn write_lobby(dir: &Path, count: u64) -> Vec<u64> {
    let (store, thread, first) = open(dir, Retention::default());
    let now = now_ms();
    for i in 0..count {
        let text = format!("needle {i}");
        store.message(room_message(first + i, now, "lobby", 1, text), None);
    }
    close(store, thread).await;
    (first..first + count).collect()
}

fn remove_index_files(dir: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("{}{suffix}", store::INDEX_FILE));
        if file.exists() {
            std::fs::remove_file(file).unwrap();
        }
    }
}

/// A database of schema version 9 (the message index inside
/// `chatroom.db`, its watermark in `meta`) is upgraded: the old index is
/// dropped, and the index is built again in `index.db` at the first start,
/// so that history and search find every message.
#[tokio::test]
async fn a_version_9_database_is_upgraded_and_its_messages_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let ids = write_lobby(dir.path(), 300).await;
    {
        // Back to what version 9 left.
        remove_index_files(dir.path());
        let db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
        db.execute_batch(
            "CREATE VIRTUAL TABLE message_index USING fts5(
                terms, content = '', detail = none, prefix = '3',
                tokenize = 'unicode61 remove_diacritics 0'
            );
            INSERT INTO message_index (rowid, terms) SELECT id, body FROM message_rows;
            INSERT OR REPLACE INTO meta (key, value)
                SELECT 'indexed_through', MAX(id) FROM message_rows;
            PRAGMA user_version = 9;",
        )
        .unwrap();
    }
    let (store, thread, _) = open(dir.path(), Retention::default());
    assert_eq!(lobby_ids(&store).await, ids);
    assert_eq!(lobby_hits(&store, "needle").await, ids.len());
    close(store, thread).await;
    let db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let left: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'message_index%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "no index left in chatroom.db");
    let version: i64 = db
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 11);
}

/// `index.db` deleted while the server is stopped is built again at the
/// next start.
#[tokio::test]
async fn a_deleted_index_is_built_again_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let ids = write_lobby(dir.path(), 300).await;
    remove_index_files(dir.path());
    let (store, thread, _) = open(dir.path(), Retention::default());
    assert_eq!(lobby_ids(&store).await, ids);
    assert_eq!(lobby_hits(&store, "needle").await, ids.len());
    close(store, thread).await;
    assert!(dir.path().join(store::INDEX_FILE).is_file());
}

/// A message is in the room's history and found by search as soon as it
/// is acknowledged, although another thread indexes it: reads wait until
/// it is indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_read_right_after_its_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    for i in 0..100 {
        let id = first + i;
        let (acked, ack) = tokio::sync::oneshot::channel();
        let receipt: store::Receipt = Box::new(move |outcome| {
            let _ = acked.send(outcome.error.is_none());
        });
        let text = format!("acked{i}");
        store.message(room_message(id, now, "lobby", 1, text), Some(receipt));
        assert!(ack.await.unwrap(), "stored");
        let page = store.history("lobby".into(), None, 1).await.unwrap();
        assert_eq!(page.messages[0].id, id);
        let found = store.search(query_in_lobby(&format!("acked{i}"))).await;
        assert_eq!(found.unwrap().messages[0].id, id);
    }
    close(store, thread).await;
}

/// A backup restored in place of `chatroom.db` with the `index.db` of a
/// later state left beside it gets an index of its own, built at start.
#[tokio::test]
async fn a_backup_restored_beside_a_later_index_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let ids = write_lobby(dir.path(), 300).await;
    let copy = dir.path().join("copy.db");
    store::backup(dir.path(), &copy).unwrap();
    // Later, the room keeps its newest 100 only, in the rows and the index.
    let mut retention = Retention::default();
    retention.default.max_messages = Some(100);
    let (store, thread, first) = open(dir.path(), retention);
    for i in 0..10 {
        let m = room_message(first + i, now_ms(), "lobby", 1, "later".into());
        store.message(m, None);
    }
    assert_eq!(lobby_ids(&store).await.len(), 100);
    close(store, thread).await;
    // Restored, the index left in place.
    std::fs::copy(&copy, dir.path().join(store::DB_FILE)).unwrap();
    for suffix in ["-wal", "-shm"] {
        let file = dir.path().join(format!("{}{suffix}", store::DB_FILE));
        if file.exists() {
            std::fs::remove_file(file).unwrap();
        }
    }
    let (store, thread, _) = open(dir.path(), Retention::default());
    assert_eq!(lobby_ids(&store).await, ids);
    assert_eq!(lobby_hits(&store, "needle").await, ids.len());
    close(store, thread).await;
}

/// The text of the `i`th message of [`texts_are_packed_and_read_back_after_a_restart`]:
/// chat-like, English and Chinese, each different.
fn chat_line(i: u64) -> String {
    const WORDS: [&str; 10] = [
        "release",
        "tonight",
        "我们",
        "昨天",
        "build",
        "知道",
        "ready",
        "服务器",
        "again",
        "maybe",
    ];
    let pick = |k: u64| WORDS[usize::try_from((i * 7 + k * 3 + i / 5) % 10).unwrap()];
    format!("{} {} {} {} line{i}", pick(0), pick(1), pick(2), pick(3))
}

/// Once enough texts are stored the store trains a dictionary and, when
/// idle, packs every text stored so far (`store::texts`): those from
/// before the dictionary and those a busy writer stored as they came.
/// Written, restarted, paged back and searched, every text reads back
/// exactly as written, and a backup holds them too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_are_packed_and_read_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (store, thread, first) = open(dir.path(), Retention::default());
    let now = now_ms();
    let mut written = 0u64;
    let mut write = |store: &Store, n: u64| {
        for _ in 0..n {
            let id = first + written;
            store.message(room_message(id, now, "lobby", 1, chat_line(written)), None);
            written += 1;
        }
    };
    write(&store, 51_000);
    store.flush().await.unwrap();
    let db = rusqlite::Connection::open(dir.path().join(store::DB_FILE)).unwrap();
    let stored = |db: &rusqlite::Connection, kind: &str| -> u64 {
        db.query_row(
            "SELECT COUNT(*) FROM message_rows WHERE typeof(body) = ?1",
            [kind],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| u64::try_from(n).unwrap())
        .unwrap()
    };
    store.settled().await.unwrap();
    // A line or two may not come out smaller; the first ones, stored
    // before there was a dictionary, are packed like the rest.
    let packed_count = stored(&db, "blob");
    assert!(packed_count + 50 >= 51_000, "{packed_count} of 51000");
    let first_body: String = db
        .query_row(
            "SELECT typeof(body) FROM message_rows ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(first_body, "blob");
    write(&store, 1_000);
    close(store, thread).await;

    let (store, thread, _) = open(dir.path(), Retention::default());
    let mut texts = Vec::new();
    let mut before = None;
    loop {
        let page = store.history("lobby".into(), before, 500).await.unwrap();
        before = page.messages.first().map(|m| m.id);
        texts.splice(0..0, page.messages.into_iter().map(|m| (m.id, m.text)));
        if !page.has_more {
            break;
        }
    }
    let expected: Vec<(u64, String)> = (0..written).map(|i| (first + i, chat_line(i))).collect();
    assert_eq!(texts, expected);
    let last = written - 1;
    let mut q = query_in_lobby(&format!("line{last}"));
    q.limit = 5;
    let found = store.search(q).await.unwrap();
    let found: Vec<&str> = found.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        found,
        [chat_line(last).as_str()],
        "search reads packed texts"
    );
    close(store, thread).await;

    let copy = dir.path().join("copy.db");
    assert_eq!(store::backup(dir.path(), &copy).unwrap(), written);
}
