//! Presence in large rooms over real sockets: once a room has
//! `presence_threshold` members, joins and leaves reach JSON and IRC clients
//! as one summary a second instead of a notice per person.

use chatroom_server::Config;
use chatroom_testkit::{IrcRaw, TestServer, test_config};
use serde_json::{Value, json};

use crate::support::user;

fn nicknames(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nickname"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn small_rooms_announce_each_join_and_large_rooms_summarise() {
    let server = TestServer::start_with(Config {
        presence_threshold: 3,
        ..test_config()
    })
    .await;
    let mut alice = user(&server, "alice").await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircer", &[]).await;
    irc.sync().await;
    let _bob = user(&server, "bob").await;

    // Below the threshold: one notice per join, as always.
    let frames = alice.drain().await;
    let joins: Vec<&str> = frames
        .iter()
        .filter(|f| f["type"] == "presence" && f["event"] == "join")
        .map(|f| f["nickname"].as_str().unwrap())
        .collect();
    assert_eq!(joins, ["ircer", "bob"]);
    let bob_join = irc.until("JOIN").await;
    assert_eq!(bob_join.source.unwrap().name, "bob");

    // The lobby now has three: carol and dave join, dave leaves, all counted.
    let _carol = user(&server, "carol").await;
    let dave = user(&server, "dave").await;
    drop(dave);

    let (mut joined, mut left) = (Vec::new(), Vec::new());
    let mut last_count = 0;
    while joined.len() < 2 || left.is_empty() {
        let f = alice.recv().await;
        assert_ne!(f["event"], "join", "individual join in a large room: {f}");
        assert_ne!(f["event"], "leave", "individual leave in a large room: {f}");
        if f["type"] != "presence" {
            continue;
        }
        assert_eq!(f["event"], "summary");
        assert_eq!(f["room"], "lobby");
        assert_eq!(
            (&f["sender_id"], &f["sender_nickname"]),
            (&json!(0), &json!("System"))
        );
        let s = &f["summary"];
        assert_eq!(s["joined"], s["joined_users"].as_array().unwrap().len());
        assert_eq!(s["left"], s["left_users"].as_array().unwrap().len());
        assert!(f["message"].as_str().unwrap().ends_with(" here"), "{f}");
        joined.extend(nicknames(&s["joined_users"]));
        left.extend(nicknames(&s["left_users"]));
        last_count = s["members"].as_u64().unwrap();
    }
    assert_eq!(joined, ["carol", "dave"]);
    assert_eq!(left, ["dave"]);
    assert_eq!(last_count, 4, "alice, ircer, bob and carol remain");

    // IRC members see the same summaries as server notices in the channel.
    let mut notices = String::new();
    while !notices.contains("left (dave)") {
        let m = irc.recv().await;
        assert!(
            !matches!(m.command.as_str(), "JOIN" | "PART" | "QUIT"),
            "individual presence in a large room: {m:?}"
        );
        if m.command == "NOTICE" && m.params.first().map(String::as_str) == Some("#lobby") {
            notices.push_str(m.params.last().unwrap());
            notices.push('\n');
        }
    }
    assert!(notices.starts_with("*** "), "{notices}");
    for name in ["carol", "dave"] {
        assert!(notices.contains(name), "{notices}");
    }
    assert!(notices.trim_end().ends_with("; 4 here"), "{notices}");
    server.stop().await;
}

#[tokio::test]
async fn a_zero_threshold_announces_every_join_however_large_the_room() {
    let server = TestServer::start_with(Config {
        presence_threshold: 0,
        ..test_config()
    })
    .await;
    let mut first = user(&server, "first").await;
    let mut others = Vec::new();
    for i in 0..5 {
        others.push(user(&server, &format!("user{i}")).await);
    }
    let joins = first
        .drain()
        .await
        .into_iter()
        .filter(|f| f["type"] == "presence" && f["event"] == "join")
        .count();
    assert_eq!(joins, 5);
    server.stop().await;
}
