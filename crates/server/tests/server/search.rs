//! Reading stored messages over real sockets: `search` (scoped to the
//! rooms the user is in and their own direct messages, ranked, paged,
//! Chinese included), direct-message `history` and `conversations` (with
//! rooms and a time window), `away`, `whois` and `whowas`; and the
//! full-text index built for a database from before it existed.

use chatroom_server::Config;
use chatroom_server::store::Location;
use chatroom_testkit::{Raw, TestServer, test_config};
use serde_json::{Value, json};

use crate::support::PASSWORD;

/// Sends a search and collects its page: the hits' texts and the end frame.
async fn search(c: &mut Raw, request: Value) -> (Vec<String>, Value) {
    let mut request = request;
    request["type"] = json!("search");
    request["ref"] = json!("s");
    c.send_json(request).await;
    let mut hits = Vec::new();
    loop {
        let v = c.recv().await;
        match v["type"].as_str() {
            Some("search_hit") => {
                assert_eq!(v["ref"], "s", "{v}");
                hits.push(v["message"].as_str().unwrap().to_owned());
            }
            Some("search_end") => return (hits, v),
            Some("error") => panic!("search refused: {v}"),
            _ => {}
        }
    }
}

/// Sends a direct message and waits for its ack.
async fn direct(c: &mut Raw, to: &str, text: &str) {
    c.send_json(json!({"type": "direct", "to": to, "message": text, "ref": "dm"}))
        .await;
    c.recv_type("ack").await;
}

/// Results come only from the rooms the user is in now and from their own
/// direct messages; a room or a peer narrows them.
#[tokio::test]
async fn search_is_scoped_to_what_the_user_may_read() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut carol = Raw::login(server.addr, "carol").await;
    alice.join("rust").await;
    bob.join("secret").await;
    alice.say_in("rust", "the rust compiler is great").await;
    bob.say_in("secret", "the rust secret plan").await;
    alice.say_in("lobby", "rust in the lobby").await;
    direct(&mut bob, "carol", "a rust tip for carol").await;
    direct(&mut alice, "bob", "a rust question for bob").await;
    direct(&mut carol, "alice", "a rust answer for alice").await;

    let (mut hits, end) = search(&mut alice, json!({"text": "RUST"})).await;
    hits.sort();
    assert_eq!(
        hits,
        [
            "a rust answer for alice",
            "a rust question for bob",
            "rust in the lobby",
            "the rust compiler is great",
        ]
    );
    assert_eq!(end["count"], 4);
    assert!(end.get("next").is_none());

    let (hits, _) = search(&mut alice, json!({"text": "rust", "room": "RUST"})).await;
    assert_eq!(hits, ["the rust compiler is great"]);
    let (hits, _) = search(&mut alice, json!({"text": "rust", "with": "Carol"})).await;
    assert_eq!(hits, ["a rust answer for alice"]);
    // A room the user is not in is refused, not searched.
    alice
        .send_json(json!({"type": "search", "text": "rust", "room": "secret", "ref": 1}))
        .await;
    alice.expect_error("not_in_room").await;

    // Rooms the user is in *now*: after leaving, no more.
    alice
        .send_json(json!({"type": "part", "room": "rust", "ref": "p"}))
        .await;
    alice.recv_type("parted").await;
    let (hits, _) = search(&mut alice, json!({"text": "compiler"})).await;
    assert!(hits.is_empty(), "{hits:?}");
    server.stop().await;
}

/// Chinese has no spaces between words: any three characters or more are
/// found by the index, and shorter words by scanning.
#[tokio::test]
async fn chinese_text_is_searchable() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    alice.say_in("lobby", "我们在学习网络编程，很有意思").await;
    alice.say_in("lobby", "今天天气很好").await;
    alice.say_in("lobby", "编程的乐趣 and 100% fun_stuff").await;
    for (text, expected) in [
        ("网络编程", vec!["我们在学习网络编程，很有意思"]),
        ("天气", vec!["今天天气很好"]),
        ("编程 乐趣", vec!["编程的乐趣 and 100% fun_stuff"]),
        ("100%", vec!["编程的乐趣 and 100% fun_stuff"]),
        ("1_", vec![]),
        ("%", vec!["编程的乐趣 and 100% fun_stuff"]),
        ("\"OR", vec![]),
    ] {
        let (hits, _) = search(&mut alice, json!({"text": text})).await;
        assert_eq!(hits, expected, "{text}");
    }
    // Two-character words alone rank by recency.
    let (hits, _) = search(&mut alice, json!({"text": "编程"})).await;
    assert_eq!(
        hits,
        [
            "编程的乐趣 and 100% fun_stuff",
            "我们在学习网络编程，很有意思"
        ]
    );
    server.stop().await;
}

/// Results are ranked (bm25: the message most about the words first) and
/// come in pages whose cursors continue where the last page ended.
#[tokio::test]
async fn results_are_ranked_and_paged() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    alice
        .say_in(
            "lobby",
            "a long message that happens to mention tokio just once among a great many other words",
        )
        .await;
    alice.say_in("lobby", "tokio tokio tokio").await;
    let (hits, _) = search(&mut alice, json!({"text": "tokio"})).await;
    assert_eq!(hits[0], "tokio tokio tokio");

    for i in 0..7 {
        alice.say_in("lobby", &format!("paged result {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut request = json!({"text": "paged result", "limit": 3});
        if let Some(cursor) = &cursor {
            request["cursor"] = json!(cursor);
        }
        let (hits, end) = search(&mut alice, request).await;
        pages += 1;
        assert_eq!(end["count"], hits.len());
        seen.extend(hits);
        match end.get("next") {
            Some(next) => cursor = Some(next.as_str().unwrap().to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    seen.sort();
    let expected: Vec<String> = (0..7).map(|i| format!("paged result {i}")).collect();
    assert_eq!(seen, expected, "every result once");

    for bad in ["x", "-1", "99999999"] {
        alice
            .send_json(json!({"type": "search", "text": "a", "cursor": bad, "ref": 2}))
            .await;
        alice.expect_error("invalid_field").await;
    }
    alice
        .send_json(json!({"type": "search", "text": "a", "limit": 51, "ref": 3}))
        .await;
    alice.expect_error("invalid_field").await;
    server.stop().await;
}

/// Logs in to an account (registering it first when `register`).
async fn account(addr: std::net::SocketAddr, nick: &str, register: bool) -> Raw {
    let kind = if register { "register" } else { "login" };
    Raw::login_with(
        addr,
        json!({"type": kind, "nickname": nick, "password": PASSWORD, "ref": "in"}),
    )
    .await
}

/// Direct messages come back to an account holder after they log in again
/// (`conversations`, then `history` with `with`), never to whoever takes an
/// unregistered nickname next.
#[tokio::test]
async fn direct_messages_are_read_back_by_their_account_only() {
    let server = TestServer::start().await;
    let mut alice = account(server.addr, "alice", true).await;
    alice.recv_type("registered").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut dave = Raw::login(server.addr, "dave").await;
    direct(&mut alice, "bob", "hello bob").await;
    direct(&mut bob, "alice", "hi alice").await;
    direct(&mut dave, "alice", "dave here").await;
    direct(&mut alice, "dave", "hi dave").await;
    direct(&mut dave, "bob", "psst bob, from dave").await;
    alice.send_json(json!({"type": "logout"})).await;
    alice.until_closed().await;
    dave.send_json(json!({"type": "logout"})).await;
    dave.until_closed().await;

    let mut alice = account(server.addr, "alice", false).await;
    alice
        .send_json(json!({"type": "conversations", "ref": "c"}))
        .await;
    let list = alice.recv_type("conversations").await;
    assert_eq!(list["ref"], "c");
    let peers: Vec<&str> = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["nickname"].as_str().unwrap())
        .collect();
    assert_eq!(peers, ["dave", "bob"], "most recent first");

    alice
        .send_json(json!({"type": "history", "with": "BOB", "ref": "h"}))
        .await;
    let mut texts = Vec::new();
    let end = loop {
        let v = alice.recv().await;
        match v["type"].as_str() {
            Some("direct") => {
                assert_eq!(v["history"], true);
                texts.push(v["message"].as_str().unwrap().to_owned());
            }
            Some("history_end") => break v,
            _ => {}
        }
    };
    assert_eq!(texts, ["hello bob", "hi alice"]);
    assert_eq!(
        (end["with"].clone(), end["has_more"].clone()),
        (json!("BOB"), json!(false))
    );
    assert!(end.get("room").is_none());

    // A new "dave" (no account) sees nothing of the old one's messages.
    let mut new_dave = Raw::login(server.addr, "dave").await;
    new_dave
        .send_json(json!({"type": "conversations", "ref": "c"}))
        .await;
    let list = new_dave.recv_type("conversations").await;
    assert_eq!(list["conversations"], json!([]));
    let (hits, _) = search(&mut new_dave, json!({"text": "dave"})).await;
    assert!(hits.is_empty(), "{hits:?}");
    // In their session, a user reads their own direct messages.
    let (hits, _) = search(&mut bob, json!({"text": "dave"})).await;
    assert_eq!(hits, ["psst bob, from dave"]);
    server.stop().await;
}

/// `away` is shown to others: in `whois`, and to whoever sends a direct
/// message (an `away` frame with the message's `ref`, before its ack).
#[tokio::test]
async fn away_is_shown_in_whois_and_to_senders() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    bob.send_json(json!({"type": "away", "message": "at lunch", "ref": "a"}))
        .await;
    let done = bob.recv_type("done").await;
    assert_eq!(
        (done["request"].clone(), done["ref"].clone()),
        (json!("away"), json!("a"))
    );

    alice
        .send_json(json!({"type": "whois", "nickname": "BOB", "ref": "w"}))
        .await;
    let whois = alice.recv_type("whois").await;
    assert_eq!(whois["nickname"], "bob");
    assert_eq!(whois["id"], bob.id);
    assert_eq!(whois["away"], "at lunch");
    assert_eq!(whois["rooms"], json!(["lobby"]));
    assert_eq!(whois["ref"], "w");

    alice
        .send_json(json!({"type": "direct", "to": "bob", "message": "there?", "ref": 9}))
        .await;
    let away = alice.recv_type("away").await;
    assert_eq!(
        (
            away["nickname"].clone(),
            away["message"].clone(),
            away["ref"].clone()
        ),
        (json!("bob"), json!("at lunch"), json!(9))
    );
    alice.recv_type("ack").await;

    // Back: no more away notices, and whois shows none. (Alice, in the
    // lobby with bob, hears that he is back: see `presence`.)
    bob.send_json(json!({"type": "away"})).await;
    bob.recv_type("done").await;
    assert_eq!(alice.recv_type("presence").await["event"], "back");
    alice
        .send_json(json!({"type": "direct", "to": "bob", "message": "now?", "ref": 10}))
        .await;
    let next = alice.recv().await;
    assert_eq!(next["type"], "ack", "{next}");
    alice
        .send_json(json!({"type": "whois", "nickname": "bob"}))
        .await;
    assert!(alice.recv_type("whois").await.get("away").is_none());
    alice
        .send_json(json!({"type": "whois", "nickname": "nobody", "ref": 1}))
        .await;
    alice.expect_error("no_such_user").await;
    server.stop().await;
}

/// What `conversations` lists, as a name (`#room` or a nickname) and a
/// time each.
async fn conversations(c: &mut Raw, request: Value) -> Vec<(String, i64)> {
    let mut request = request;
    request["type"] = json!("conversations");
    request["ref"] = json!("c");
    c.send_json(request).await;
    let list = c.recv_type("conversations").await;
    assert_eq!(list["ref"], "c");
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let name = match (c["room"].as_str(), c["nickname"].as_str()) {
                (Some(room), None) => format!("#{room}"),
                (None, Some(nick)) => nick.to_owned(),
                _ => panic!("a room or a nickname: {c}"),
            };
            assert!(c["msg_id"].as_u64().is_some(), "{c}");
            (name, c["ts"].as_i64().unwrap())
        })
        .collect()
}

/// With `rooms`, `conversations` lists the rooms one is in beside the
/// people, each by its latest message (as IRC's `CHATHISTORY TARGETS`);
/// `after` and `before` keep those whose latest message is between them.
#[tokio::test]
async fn conversations_list_rooms_too_and_take_a_time_window() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut carol = Raw::login(server.addr, "carol").await;
    alice.join("rust").await;
    carol.join("secret").await;
    alice.say_in("rust", "first").await;
    direct(&mut bob, "alice", "hi alice").await;
    carol.say_in("secret", "not for alice").await;
    direct(&mut carol, "bob", "not for alice either").await;
    let dm_ts = alice.recv_type("direct").await["ts"].as_i64().unwrap();

    // By default the people only, as before.
    assert_eq!(
        conversations(&mut alice, json!({})).await,
        [("bob".into(), dm_ts)]
    );
    let all = conversations(&mut alice, json!({"rooms": true})).await;
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["bob", "#rust"], "most recent first; no empty lobby");
    assert!(all[0].1 >= all[1].1);
    // Both bounds exclusive, on the latest message.
    let rust_ts = all[1].1;
    let expected: Vec<_> = all.iter().filter(|(_, ts)| *ts < dm_ts).cloned().collect();
    assert_eq!(
        conversations(&mut alice, json!({"rooms": true, "before": dm_ts})).await,
        expected
    );
    let expected: Vec<_> = all
        .iter()
        .filter(|(_, ts)| *ts > rust_ts)
        .cloned()
        .collect();
    assert_eq!(
        conversations(&mut alice, json!({"rooms": true, "after": rust_ts})).await,
        expected
    );
    assert_eq!(
        conversations(&mut alice, json!({"rooms": true, "limit": 1})).await,
        all[..1]
    );
    // Once rust has a newer message, a window ending there leaves it out.
    alice.say_in("rust", "again").await;
    let now = conversations(&mut alice, json!({"rooms": true})).await;
    assert_eq!(now[0].0, "#rust");
    let window = conversations(&mut alice, json!({"rooms": true, "before": now[0].1})).await;
    assert!(window.iter().all(|(n, _)| n != "#rust"), "{window:?}");

    alice
        .send_json(json!({"type": "conversations", "after": -1, "ref": 1}))
        .await;
    alice.expect_error("invalid_field").await;
    alice
        .send_json(json!({"type": "conversations", "rooms": "yes", "ref": 2}))
        .await;
    alice.expect_error("invalid_field").await;
    server.stop().await;
}

/// `whowas` tells who gave up a nickname (leaving or renaming), most recent
/// first, with the host everyone saw; `no_such_user` when nobody did.
#[tokio::test]
async fn whowas_lists_who_gave_up_a_nickname() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut carol = Raw::login(server.addr, "carol").await;
    let carol_id = carol.id;
    carol
        .send_json(json!({"type": "nick", "nickname": "carla"}))
        .await;
    carol.recv_type("renamed").await;
    carol.send_json(json!({"type": "logout"})).await;
    carol.until_closed().await;
    let mut again = Raw::login(server.addr, "carol").await;
    again.send_json(json!({"type": "logout"})).await;
    again.until_closed().await;

    alice
        .send_json(json!({"type": "whowas", "nickname": "CAROL", "ref": "w"}))
        .await;
    let was = alice.recv_type("whowas").await;
    assert_eq!(was["ref"], "w");
    assert_eq!(was["nickname"], "CAROL");
    let entries = was["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{was}");
    assert_eq!(
        entries[1]["host"],
        format!("user-{carol_id}.chatroom"),
        "the first carol, the older entry"
    );
    for entry in entries {
        assert_eq!(entry["nickname"], "carol");
        assert_eq!(entry["user"], "carol");
        assert_eq!(entry["realname"], "carol");
        assert!(entry["ts"].as_i64().unwrap() > 0);
    }
    assert!(entries[0]["ts"].as_i64() >= entries[1]["ts"].as_i64());
    alice
        .send_json(json!({"type": "whowas", "nickname": "carol", "limit": 1}))
        .await;
    let one = alice.recv_type("whowas").await;
    assert_eq!(one["entries"].as_array().unwrap().len(), 1);
    assert_eq!(one["entries"][0], entries[0]);
    alice
        .send_json(json!({"type": "whowas", "nickname": "carla"}))
        .await;
    assert_eq!(
        alice.recv_type("whowas").await["entries"][0]["nickname"],
        "carla"
    );

    alice
        .send_json(json!({"type": "whowas", "nickname": "nobody", "ref": 3}))
        .await;
    let e = alice.expect_error("no_such_user").await;
    assert_eq!(e["ref"], 3);
    server.stop().await;
}

/// A database written before the full-text index existed (schema version
/// 1) gets the index, filled from the messages already stored; retention's
/// deletions leave the index too.
#[tokio::test]
async fn the_index_is_built_for_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = rusqlite_v1(dir.path());
        for (id, body) in [(1, "old message about sqlite"), (2, "旧的消息：数据库")] {
            db.execute(
                "INSERT INTO messages (id, ts, room_key, room_name, sender_id, sender_nick, body)
                 VALUES (?1, 1700000000000, 'lobby', 'lobby', 1, 'ann', ?2)",
                (id, body),
            )
            .unwrap();
        }
    }
    let config = Config {
        store: Location::Dir(dir.path().to_owned()),
        ..test_config()
    };
    let server = TestServer::start_with(config).await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let (hits, _) = search(&mut alice, json!({"text": "sqlite"})).await;
    assert_eq!(hits, ["old message about sqlite"]);
    let (hits, _) = search(&mut alice, json!({"text": "数据库"})).await;
    assert_eq!(hits, ["旧的消息：数据库"]);
    alice.say_in("lobby", "new message about sqlite").await;
    let (hits, _) = search(&mut alice, json!({"text": "sqlite"})).await;
    assert_eq!(hits.len(), 2);
    server.stop().await;
}

/// Writes the version 1 layout (before the full-text index) into `dir`.
fn rusqlite_v1(dir: &std::path::Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(dir.join(chatroom_server::store::DB_FILE)).unwrap();
    db.execute_batch(
        "CREATE TABLE messages (
            id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, room_key TEXT, room_name TEXT,
            sender_id INTEGER NOT NULL, sender_nick TEXT NOT NULL, recipient_id INTEGER,
            recipient_nick TEXT, body TEXT NOT NULL, action INTEGER NOT NULL DEFAULT 0);
         CREATE INDEX messages_by_room ON messages (room_key, id);
         CREATE INDEX messages_by_time ON messages (ts);
         CREATE TABLE rooms (key TEXT PRIMARY KEY, name TEXT NOT NULL,
            topic TEXT NOT NULL DEFAULT '', topic_set_by TEXT, topic_set_at INTEGER);
         CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
         CREATE TABLE accounts (key TEXT PRIMARY KEY, nick TEXT NOT NULL, hash TEXT NOT NULL,
            created INTEGER NOT NULL);
         CREATE TABLE bans (kind TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL,
            by TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (kind, value));
         PRAGMA user_version = 1;",
    )
    .unwrap();
    db
}

/// Messages retention deletes are gone from the index: a search never
/// returns a message history no longer has.
#[tokio::test]
async fn retention_deletes_from_the_index_too() {
    let mut config = test_config();
    config.retention.default.max_messages = Some(2);
    let server = TestServer::start_with(config).await;
    let mut alice = Raw::login(server.addr, "alice").await;
    for i in 0..5 {
        alice.say_in("lobby", &format!("retained {i}")).await;
    }
    // A history read comes after the trims of the batches before it.
    alice
        .send_json(json!({"type": "history", "room": "lobby", "ref": "h"}))
        .await;
    alice.until_history_end().await;
    let (mut hits, _) = search(&mut alice, json!({"text": "retained"})).await;
    hits.sort();
    assert_eq!(hits, ["retained 3", "retained 4"]);
    server.stop().await;
}

/// A long word is looked up by its first three letters first and checked
/// against the text: found where a word begins with it, not inside one;
/// and when those three letters are common and the word rare, the search
/// still finds it (by the word's whole prefix).
#[tokio::test]
async fn long_words_are_found_at_word_starts_whether_their_first_letters_are_rare_or_common() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    alice.join("words").await;
    for text in [
        "the compiler works",
        "compile it",
        "decompiler inside",
        "people are here",
        "peony expeople",
    ] {
        alice.say_in("words", text).await;
    }
    // Newer than all of them: thousands of messages whose words begin
    // with `com` but not `compil`.
    for chunk in 0..9 {
        for i in 0..500 {
            alice
                .send_json(json!({
                    "type": "broadcast",
                    "room": "words",
                    "message": format!("common company {chunk} {i}"),
                    "ref": "flood",
                }))
                .await;
        }
        for _ in 0..500 {
            alice.recv_type("ack").await;
        }
    }
    let (mut hits, _) = search(&mut alice, json!({"text": "compil"})).await;
    hits.sort();
    assert_eq!(hits, ["compile it", "the compiler works"]);
    let (hits, _) = search(&mut alice, json!({"text": "peopl"})).await;
    assert_eq!(hits, ["people are here"], "not inside a word");
    let (hits, end) = search(&mut alice, json!({"text": "company", "limit": 5})).await;
    assert_eq!(hits.len(), 5);
    assert!(end.get("next").is_some(), "more pages: {end}");
    server.stop().await;
}
