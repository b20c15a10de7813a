//! Rooms, direct messages, presence and history over real sockets: one test
//! per request and event, plus isolation and paging.

use chatroom_server::Config;
use chatroom_server::store::{Location, Retention, RetentionPolicy};
use chatroom_testkit::{Raw, TestServer};
use serde_json::{Value, json};

use crate::support::user;

#[tokio::test]
async fn join_replies_with_room_topic_and_members_and_tells_the_room() {
    let server = TestServer::start().await;
    let mut a = user(&server, "alice").await;
    let mut b = user(&server, "bob").await;
    a.drain().await;
    let (joined, replay) = a.join("Rust").await;
    assert_eq!(joined["room"], "Rust");
    assert_eq!(joined["topic"], "");
    assert_eq!(joined["ref"], "join");
    assert_eq!(
        joined["members"],
        json!([{"id": a.id, "nickname": "alice", "operator": true}]),
        "its creator is its operator"
    );
    assert!(replay.is_empty());

    let (joined, _) = b.join("rust").await;
    assert_eq!(
        joined["room"], "Rust",
        "the room keeps its creator's spelling"
    );
    assert_eq!(joined["members"].as_array().unwrap().len(), 2);
    let seen = a.drain().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["type"], "presence");
    assert_eq!(seen[0]["event"], "join");
    assert_eq!(seen[0]["room"], "Rust");
    assert_eq!(seen[0]["user_id"], b.id);

    b.send_json(json!({"type": "join", "room": "RUST"})).await;
    b.expect_error("already_in_room").await;
    b.send_json(json!({"type": "join", "room": "#bad"})).await;
    b.expect_error("invalid_room_name").await;
    server.stop().await;
}

#[tokio::test]
async fn part_replies_tells_the_room_and_stops_delivery() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    let mut b = user(&server, "b").await;
    a.join("ops").await;
    b.join("ops").await;
    a.drain().await;
    b.send_json(json!({"type": "part", "room": "ops", "ref": 1}))
        .await;
    let parted = b.recv_type("parted").await;
    assert_eq!(parted, json!({"type": "parted", "room": "ops", "ref": 1}));
    let seen = a.drain().await;
    assert_eq!(seen[0]["event"], "leave");
    assert_eq!(seen[0]["room"], "ops");
    assert_eq!(seen[0]["reason"], "part");
    a.say_in("ops", "after part").await;
    assert!(b.drain().await.is_empty());
    b.send_json(json!({"type": "part", "room": "ops"})).await;
    b.expect_error("not_in_room").await;
    b.send_json(json!({"type": "broadcast", "room": "ops", "message": "x"}))
        .await;
    b.expect_error("not_in_room").await;
    server.stop().await;
}

#[tokio::test]
async fn rooms_lists_member_counts_and_topics() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    let mut b = user(&server, "b").await;
    a.join("beta").await;
    a.join("alpha").await;
    b.join("alpha").await;
    a.send_json(json!({"type": "topic", "room": "alpha", "topic": "first letter"}))
        .await;
    a.recv_type("topic").await;
    a.send_json(json!({"type": "rooms", "ref": "r"})).await;
    let list = a.recv_type("room_list").await;
    assert_eq!(list["ref"], "r");
    assert_eq!(
        list["rooms"],
        json!([
            {"name": "alpha", "members": 2, "topic": "first letter"},
            {"name": "beta", "members": 1, "topic": ""},
            {"name": "lobby", "members": 2, "topic": ""},
        ])
    );
    server.stop().await;
}

#[tokio::test]
async fn who_lists_members_and_unknown_rooms_are_errors() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    let mut b = user(&server, "b").await;
    b.join("den").await;
    a.send_json(json!({"type": "who", "room": "den", "ref": 2}))
        .await;
    let list = a.recv_type("member_list").await;
    assert_eq!(list["room"], "den");
    assert_eq!(
        list["members"],
        json!([{"id": b.id, "nickname": "b", "operator": true}])
    );
    a.send_json(json!({"type": "who", "room": "nowhere"})).await;
    a.expect_error("no_such_room").await;
    server.stop().await;
}

#[tokio::test]
async fn two_rooms_never_leak_into_each_other() {
    let server = TestServer::start().await;
    let mut one = user(&server, "one").await;
    let mut two = user(&server, "two").await;
    let mut both = user(&server, "both").await;
    one.join("r1").await;
    two.join("r2").await;
    both.join("r1").await;
    both.join("r2").await;
    for c in [&mut one, &mut two, &mut both] {
        c.drain().await;
    }
    // Each sender's pong proves its message was fanned out; everything a
    // client receives on the way is kept.
    let mut clients = [one, two, both];
    let mut got: [Vec<Value>; 3] = Default::default();
    let plan = [
        (2, "r1", "both in r1"),
        (2, "r2", "both in r2"),
        (0, "r1", "for r1"),
        (1, "r2", "for r2"),
    ];
    for (who, room, text) in plan {
        let c = &mut clients[who];
        c.send_json(json!({"type": "broadcast", "room": room, "message": text}))
            .await;
        got[who].extend(c.drain().await);
    }
    for (who, c) in clients.iter_mut().enumerate() {
        got[who].extend(c.drain().await);
    }
    let texts = |frames: &[Value]| -> Vec<(String, String)> {
        frames
            .iter()
            .filter(|f| f["type"] == "message")
            .map(|f| {
                (
                    f["room"].as_str().unwrap().to_owned(),
                    f["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(texts(&got[0]), vec![("r1".into(), "both in r1".into())]);
    assert_eq!(texts(&got[1]), vec![("r2".into(), "both in r2".into())]);
    assert_eq!(
        texts(&got[2]),
        vec![
            ("r1".into(), "for r1".into()),
            ("r2".into(), "for r2".into())
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn broadcast_defaults_to_the_lobby_and_actions_are_marked() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    let mut b = user(&server, "b").await;
    a.drain().await;
    a.send_json(json!({"type": "broadcast", "message": "waves", "action": true}))
        .await;
    let m = b.recv_type("message").await;
    assert_eq!(m["room"], "lobby");
    assert_eq!(m["action"], true);
    assert_eq!(m["message"], "waves");
    server.stop().await;
}

#[tokio::test]
async fn direct_messages_reach_only_their_recipient() {
    let server = TestServer::start().await;
    let mut a = user(&server, "alice").await;
    let mut b = user(&server, "bob").await;
    let mut c = user(&server, "carol").await;
    a.drain().await;
    b.drain().await;
    a.send_json(json!({"type": "direct", "to": "BOB", "message": "psst", "ref": 9}))
        .await;
    let ack = a.recv_type("ack").await;
    assert_eq!(ack["ref"], 9);
    let d = b.recv().await;
    assert_eq!(d["type"], "direct");
    assert_eq!(d["sender_id"], a.id);
    assert_eq!(d["sender_nickname"], "alice");
    assert_eq!(d["to_id"], b.id);
    assert_eq!(d["to_nickname"], "bob");
    assert_eq!(d["message"], "psst");
    assert_eq!(d["msg_id"], ack["msg_id"]);
    assert!(
        c.drain().await.is_empty(),
        "a third user never sees a direct message"
    );
    a.send_json(json!({"type": "direct", "to": "nobody", "message": "hello?"}))
        .await;
    a.expect_error("no_such_user").await;
    // Direct messages never show up in room history.
    let (_, replay) = c.join("lobby2").await;
    assert!(replay.is_empty());
    c.send_json(json!({"type": "history", "room": "lobby"}))
        .await;
    let history = c.until_history_end().await;
    assert!(history.iter().all(|m| m["message"] != "psst"));
    server.stop().await;
}

#[tokio::test]
async fn nick_change_is_told_once_to_everyone_sharing_a_room() {
    let server = TestServer::start().await;
    let mut a = user(&server, "alice").await;
    let mut b = user(&server, "bob").await;
    a.join("x").await;
    b.join("x").await;
    b.drain().await;
    a.send_json(json!({"type": "nick", "nickname": "Alicia", "ref": "n"}))
        .await;
    let renamed = a.recv_type("renamed").await;
    assert_eq!(
        renamed,
        json!({"type": "renamed", "old_nickname": "alice", "nickname": "Alicia", "ref": "n"})
    );
    let seen = b.drain().await;
    assert_eq!(
        seen.len(),
        1,
        "one notice although they share two rooms: {seen:?}"
    );
    assert_eq!(seen[0]["event"], "nick");
    assert_eq!(seen[0]["old_nickname"], "alice");
    assert_eq!(seen[0]["nickname"], "Alicia");
    assert!(seen[0].get("room").is_none());
    a.say_in("x", "new name").await;
    assert_eq!(b.recv_type("message").await["sender_nickname"], "Alicia");
    // The old name is free, the new one taken.
    let _new_alice = Raw::login(server.addr, "alice").await;
    b.drain().await;
    b.send_json(json!({"type": "nick", "nickname": "ALICIA"}))
        .await;
    b.expect_error("nickname_taken").await;
    b.send_json(json!({"type": "nick", "nickname": "has space"}))
        .await;
    b.expect_error("invalid_nickname").await;
    // Changing only the case of one's own name is allowed.
    a.send_json(json!({"type": "nick", "nickname": "ALICIA"}))
        .await;
    a.recv_type("renamed").await;
    server.stop().await;
}

#[tokio::test]
async fn topic_query_set_and_presence() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    let mut b = user(&server, "b").await;
    let mut outsider = user(&server, "outsider").await;
    a.join("t").await;
    b.join("t").await;
    a.drain().await;
    a.send_json(json!({"type": "topic", "room": "t"})).await;
    let t = a.recv_type("topic").await;
    assert_eq!(t["topic"], "");
    assert!(t.get("set_by").is_none());
    // A new room's topic is its operators' (`+t`) until they lift the lock.
    b.send_json(json!({"type": "topic", "room": "t", "topic": "Rust 2024"}))
        .await;
    b.expect_error("not_room_operator").await;
    a.send_json(json!({"type": "mode", "room": "t", "modes": "-t"}))
        .await;
    a.recv_type("done").await;
    b.send_json(json!({"type": "topic", "room": "t", "topic": "Rust 2024", "ref": 3}))
        .await;
    let t = b.recv_type("topic").await;
    assert_eq!(t["topic"], "Rust 2024");
    assert_eq!(t["set_by"], "b");
    assert_eq!(t["ref"], 3);
    let seen = a.drain().await;
    assert_eq!(seen[0]["event"], "topic");
    assert_eq!(seen[0]["room"], "t");
    assert_eq!(seen[0]["topic"], "Rust 2024");
    outsider
        .send_json(json!({"type": "topic", "room": "t", "topic": "hijack"}))
        .await;
    outsider.expect_error("not_in_room").await;
    outsider
        .send_json(json!({"type": "topic", "room": "t"}))
        .await;
    assert_eq!(outsider.recv_type("topic").await["topic"], "Rust 2024");
    let (joined, _) = outsider.join("t").await;
    assert_eq!(joined["topic"], "Rust 2024");
    outsider
        .send_json(json!({"type": "topic", "room": "t", "topic": "x".repeat(301)}))
        .await;
    outsider.expect_error("invalid_field").await;
    server.stop().await;
}

#[tokio::test]
async fn joining_replays_the_last_n_messages_marked_as_history() {
    let config = Config {
        history_replay: 5,
        ..chatroom_testkit::test_config()
    };
    let server = TestServer::start_with(config).await;
    let mut a = user(&server, "a").await;
    a.join("h").await;
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(a.say_in("h", &format!("m{i}")).await);
    }
    let mut b = user(&server, "b").await;
    let (_, replay) = b.join("h").await;
    let texts: Vec<&str> = replay
        .iter()
        .map(|m| m["message"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m3", "m4", "m5", "m6", "m7"]);
    let got: Vec<u64> = replay
        .iter()
        .map(|m| m["msg_id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, ids[3..]);
    assert!(
        replay
            .iter()
            .all(|m| m["history"] == true && m["room"] == "h" && m["sender_nickname"] == "a")
    );
    server.stop().await;
}

#[tokio::test]
async fn history_pages_backwards_with_exact_boundaries() {
    let server = TestServer::start().await;
    let mut a = user(&server, "a").await;
    a.join("p").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(a.say_in("p", &format!("m{i}")).await);
    }
    let page = |before: Option<u64>, limit: u32| {
        let mut request = json!({"type": "history", "room": "p", "limit": limit, "ref": "h"});
        if let Some(before) = before {
            request["before"] = json!(before);
        }
        request
    };
    let ids_of = |frames: &[Value]| -> Vec<u64> {
        frames
            .iter()
            .map(|m| m["msg_id"].as_u64().unwrap())
            .collect()
    };

    a.send_json(page(None, 4)).await;
    let newest = a.until_history_end_frame().await;
    assert_eq!(ids_of(&newest.0), ids[6..]);
    assert_eq!(newest.1["has_more"], true);
    assert_eq!(newest.1["ref"], "h");

    a.send_json(page(Some(ids[6]), 6)).await;
    let rest = a.until_history_end_frame().await;
    assert_eq!(ids_of(&rest.0), ids[..6], "exactly the six older ones");
    assert_eq!(
        rest.1["has_more"], false,
        "nothing older than the first message"
    );

    a.send_json(page(Some(ids[0]), 50)).await;
    let none = a.until_history_end_frame().await;
    assert!(none.0.is_empty());
    assert_eq!(none.1["count"], 0);
    assert_eq!(none.1["has_more"], false);

    a.send_json(page(Some(ids[9] + 1000), 10)).await;
    assert_eq!(ids_of(&a.until_history_end_frame().await.0), ids);

    let mut outsider = user(&server, "outsider").await;
    outsider.send_json(page(None, 10)).await;
    outsider.expect_error("not_in_room").await;
    outsider
        .send_json(json!({"type": "history", "room": "p", "limit": 501}))
        .await;
    outsider.expect_error("invalid_field").await;
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_messages_read_back_through_pages() {
    let server = TestServer::start().await;
    let mut a = user(&server, "writer").await;
    a.join("big").await;
    let mut sent = Vec::new();
    for i in 0..1000 {
        let text = format!("message {i} 消息");
        a.send_json(json!({"type": "broadcast", "room": "big", "message": text, "ref": i}))
            .await;
        sent.push(text);
    }
    let mut ids = Vec::new();
    for _ in 0..1000 {
        ids.push(a.recv_type("ack").await["msg_id"].as_u64().unwrap());
    }
    let mut reader = user(&server, "reader").await;
    reader.join("big").await;
    let mut got: Vec<Value> = Vec::new();
    let mut before: Option<u64> = None;
    let mut pages = 0;
    loop {
        let mut request = json!({"type": "history", "room": "big", "limit": 300});
        if let Some(before) = before {
            request["before"] = json!(before);
        }
        reader.send_json(request).await;
        let (page, end) = reader.until_history_end_frame().await;
        pages += 1;
        before = page.first().map(|m| m["msg_id"].as_u64().unwrap());
        got.splice(0..0, page);
        if end["has_more"] == false {
            break;
        }
    }
    assert_eq!(pages, 4);
    let got_ids: Vec<u64> = got.iter().map(|m| m["msg_id"].as_u64().unwrap()).collect();
    assert_eq!(got_ids, ids);
    let got_texts: Vec<&str> = got.iter().map(|m| m["message"].as_str().unwrap()).collect();
    assert_eq!(got_texts, sent);
    server.stop().await;
}

#[tokio::test]
async fn count_retention_keeps_only_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let mut retention = Retention::default();
    retention.rooms.insert(
        "small".into(),
        RetentionPolicy {
            max_messages: Some(10),
            max_age: None,
        },
    );
    let config = Config {
        store: Location::Dir(dir.path().to_owned()),
        retention,
        ..chatroom_testkit::test_config()
    };
    let server = TestServer::start_with(config).await;
    let mut a = user(&server, "a").await;
    a.join("small").await;
    a.join("large").await;
    let mut small = Vec::new();
    for i in 0..30 {
        small.push(a.say_in("small", &format!("s{i}")).await);
        a.say_in("large", &format!("l{i}")).await;
    }
    a.send_json(json!({"type": "history", "room": "small", "limit": 500}))
        .await;
    let (kept, end) = a.until_history_end_frame().await;
    let kept: Vec<u64> = kept.iter().map(|m| m["msg_id"].as_u64().unwrap()).collect();
    assert_eq!(kept, small[20..]);
    assert_eq!(end["has_more"], false);
    a.send_json(json!({"type": "history", "room": "large", "limit": 500}))
        .await;
    assert_eq!(
        a.until_history_end_frame().await.0.len(),
        30,
        "other rooms keep everything"
    );
    server.stop().await;
}
