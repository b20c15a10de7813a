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

/// The `away` and `back` notices of a user, as another JSON client gets
/// them: user id, nickname, the message (`away` only), and no room.
fn away_notice(frame: &Value) -> (Value, Value, Value, Value, Value) {
    assert_eq!(frame["type"], "presence", "{frame}");
    assert!(frame.get("room").is_none(), "{frame}");
    (
        frame["event"].clone(),
        frame["user_id"].clone(),
        frame["nickname"].clone(),
        frame["away"].clone(),
        frame["sender_nickname"].clone(),
    )
}

/// JSON clients learn who is away as IRC's away-notify clients do: those
/// who share a room with them get an `away` notice (and `back` after),
/// member lists carry the away message, and someone who joins a room away
/// is announced away to its members.
#[tokio::test]
async fn json_clients_see_who_is_away_in_their_rooms() {
    let server = TestServer::start().await;
    let mut alice = user(&server, "alice").await;
    let mut bob = user(&server, "bob").await;
    // Carol shares no room with bob once she has left the lobby.
    let mut carol = user(&server, "carol").await;
    carol
        .send_json(json!({"type": "part", "room": "lobby"}))
        .await;
    carol.recv_type("parted").await;
    alice.drain().await;
    bob.drain().await;

    bob.send_json(json!({"type": "away", "message": "at lunch"}))
        .await;
    bob.recv_type("done").await;
    let bob_id = json!(bob.id);
    assert_eq!(
        away_notice(&alice.recv().await),
        (
            json!("away"),
            bob_id.clone(),
            json!("bob"),
            json!("at lunch"),
            json!("System")
        )
    );
    carol.assert_quiet_and_alive().await;
    bob.assert_quiet_and_alive().await;

    // The lobby's member list shows it; a room bob joins away tells its
    // members and its joiners.
    alice
        .send_json(json!({"type": "who", "room": "lobby"}))
        .await;
    let list = alice.recv_type("member_list").await;
    let away_of = |members: &Value, nick: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["nickname"] == nick)
            .unwrap_or_else(|| panic!("{nick} not in {members}"))
            .get("away")
            .cloned()
    };
    assert_eq!(away_of(&list["members"], "bob"), Some(json!("at lunch")));
    assert_eq!(away_of(&list["members"], "alice"), None);
    carol
        .send_json(json!({"type": "join", "room": "tea"}))
        .await;
    carol.recv_type("joined").await;
    carol.until_history_end().await;
    bob.send_json(json!({"type": "join", "room": "tea"})).await;
    let joined = bob.recv_type("joined").await;
    assert_eq!(away_of(&joined["members"], "bob"), Some(json!("at lunch")));
    assert_eq!(carol.recv_type("presence").await["event"], "join");
    assert_eq!(
        away_notice(&carol.recv().await).3,
        json!("at lunch"),
        "the newcomer is away"
    );
    let mut dave = user(&server, "dave").await;
    dave.send_json(json!({"type": "join", "room": "tea"})).await;
    let joined = dave.recv_type("joined").await;
    assert_eq!(away_of(&joined["members"], "bob"), Some(json!("at lunch")));
    assert_eq!(away_of(&joined["members"], "carol"), None);

    // Back: everyone sharing a room hears it once, and the lists agree.
    alice.drain().await;
    carol.drain().await;
    bob.send_json(json!({"type": "away"})).await;
    bob.recv_type("done").await;
    for c in [&mut alice, &mut carol] {
        assert_eq!(
            away_notice(&c.recv().await),
            (
                json!("back"),
                bob_id.clone(),
                json!("bob"),
                Value::Null,
                json!("System")
            )
        );
        c.assert_quiet_and_alive().await;
    }
    dave.send_json(json!({"type": "who", "room": "tea"})).await;
    let list = dave.recv_type("member_list").await;
    assert_eq!(away_of(&list["members"], "bob"), None);
    server.stop().await;
}
