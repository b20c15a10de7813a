//! Several nodes, one chat: servers sharing rooms, nicknames and direct
//! messages through a real `redis-server` on loopback.

use std::collections::HashSet;
use std::time::Duration;

use chatroom_server::Config;
use chatroom_server::cluster::ClusterSettings;
use chatroom_testkit::{IrcRaw, Raw, RedisServer, TestServer, WAIT, last_param, test_config};
use serde_json::{Value, json};

use crate::accounts::{operator, operators_config};
use crate::metrics::{get, scrape};
use crate::support::{PASSWORD, register_account};

/// A node called `name` of the cluster meeting at `redis`.
async fn node(redis: &RedisServer, name: &str) -> TestServer {
    node_with(redis, name, test_config()).await
}

/// A node called `name` of the cluster meeting at `redis`, with `config`.
async fn node_with(redis: &RedisServer, name: &str, config: Config) -> TestServer {
    TestServer::start_with(Config {
        cluster: Some(ClusterSettings {
            lease: Duration::from_secs(2),
            ..ClusterSettings::new(&redis.url(), name)
        }),
        ..config
    })
    .await
}

/// Logs in as `nick` on `addr` and returns the first frame: a welcome or
/// an error.
async fn try_login(addr: std::net::SocketAddr, nick: &str) -> Value {
    let mut c = Raw::connect(addr).await;
    c.send_json(json!({"type": "login", "nickname": nick}))
        .await;
    c.recv().await
}

/// Waits until logging in as `nick` on `addr` is refused with `code`
/// (what another node did reaches this one through Redis).
async fn refused_as(addr: std::net::SocketAddr, nick: &str, code: &str) {
    tokio::time::timeout(WAIT, async {
        loop {
            let frame = try_login(addr, nick).await;
            if frame["code"] == code {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{nick} was never refused with {code}"));
}

/// Waits until `count` nodes listen to `room` (each reads where the room
/// is before it subscribes, so from then on every node gets every message).
async fn listening(redis: &RedisServer, room: &str, count: usize) {
    let channel = format!("chatroom:ch:room:{room}");
    let want = format!(":{count}\r\n");
    tokio::time::timeout(WAIT, async {
        loop {
            let reply = redis.command(&["PUBSUB", "NUMSUB", &channel]).await;
            if reply.ends_with(&want) {
                return;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} nodes never listened to {room}"));
}

/// Waits until nobody holds the nickname `nick` (folded) in Redis.
async fn freed(redis: &RedisServer, nick: &str) {
    let key = format!("chatroom:nick:{nick}");
    tokio::time::timeout(WAIT, async {
        while redis.command(&["EXISTS", &key]).await != ":0\r\n" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{nick} was never freed"));
}

/// The next presence notice of `event`.
async fn presence(c: &mut Raw, event: &str) -> Value {
    loop {
        let frame = c.recv_type("presence").await;
        if frame["event"] == event {
            return frame;
        }
    }
}

/// Joins `room`; returns the texts its replay showed.
async fn join_and_read(c: &mut Raw, room: &str) -> Vec<String> {
    let (_, replay) = c.join(room).await;
    replay
        .iter()
        .filter_map(|m| m["message"].as_str().map(str::to_owned))
        .collect()
}

/// Logs `nick` in on `addr`, joins `room` and says `count` messages there
/// (`<prefix> <n>`), each acknowledged.
async fn said_in(
    addr: std::net::SocketAddr,
    nick: &str,
    room: &str,
    prefix: &str,
    count: usize,
) -> Raw {
    let mut c = Raw::login(addr, nick).await;
    c.join(room).await;
    for n in 0..count {
        c.say_in(room, &format!("{prefix} {n}")).await;
    }
    c
}

/// The next `ack` or `error` frame.
async fn answer(c: &mut Raw) -> Value {
    loop {
        let frame = c.recv().await;
        if frame["type"] == "ack" || frame["type"] == "error" {
            return frame;
        }
    }
}

/// The next frame of `ty` carrying `text`.
async fn frame_with(c: &mut Raw, ty: &str, text: &str) -> Value {
    loop {
        let frame = c.recv_type(ty).await;
        if frame["message"] == text {
            return frame;
        }
    }
}

#[tokio::test]
async fn a_json_user_and_an_irc_user_on_two_nodes_chat_in_a_room_and_directly() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;
    let mut bob = IrcRaw::register(b.irc_addr, "bob", &[]).await;
    listening(&redis, "lobby", 2).await;

    ann.send_json(json!({"type": "broadcast", "message": "hello from a", "ref": 1}))
        .await;
    let ack = ann.recv_type("ack").await;
    assert!(ack["msg_id"].as_u64().unwrap() > 0, "{ack}");
    let m = bob.until("PRIVMSG").await;
    assert_eq!(m.params.first().map(String::as_str), Some("#lobby"));
    assert_eq!(last_param(&m), "hello from a");

    bob.send("PRIVMSG #lobby :hi from b").await;
    let frame = frame_with(&mut ann, "message", "hi from b").await;
    assert_eq!(frame["sender_nickname"], "bob", "{frame}");

    ann.send_json(json!({"type": "direct", "to": "bob", "message": "psst", "ref": 2}))
        .await;
    ann.recv_type("ack").await;
    let m = bob.until("PRIVMSG").await;
    assert_eq!((m.params[0].as_str(), last_param(&m)), ("bob", "psst"));
    bob.send("PRIVMSG ann :psst back").await;
    let frame = frame_with(&mut ann, "direct", "psst back").await;
    assert_eq!(frame["sender_nickname"], "bob", "{frame}");

    ann.send_json(json!({"type": "direct", "to": "nobody", "message": "hi", "ref": 3}))
        .await;
    let refused = answer(&mut ann).await;
    assert_eq!(refused["code"], "no_such_user", "{refused}");

    // Node b's history has what was said on a: every node archives it all.
    let mut cat = Raw::login(b.addr, "cat").await;
    tokio::time::timeout(WAIT, async {
        loop {
            cat.send_json(json!({"type": "history", "room": "lobby", "ref": "h"}))
                .await;
            let texts: Vec<Value> = cat
                .until_history_end()
                .await
                .iter()
                .map(|m| m["message"].clone())
                .collect();
            if texts.contains(&json!("hello from a")) && texts.contains(&json!("hi from b")) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("node b never archived what was said on a");

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn member_lists_and_presence_span_the_nodes() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;
    ann.join("den").await;
    listening(&redis, "den", 1).await;
    let mut bob = IrcRaw::register(b.irc_addr, "bob", &[]).await;
    bob.send("JOIN #den").await;
    // bob's node learned ann from Redis's member list.
    let names = bob.until("353").await;
    assert!(
        last_param(&names)
            .split(' ')
            .any(|n| n.trim_start_matches('@') == "ann"),
        "{names:?}"
    );
    // ann's node hears of bob's join through the room.
    let joined = loop {
        let joined = presence(&mut ann, "join").await;
        if joined["room"] == "den" {
            break joined;
        }
    };
    assert_eq!(joined["nickname"], "bob", "{joined}");
    ann.send_json(json!({"type": "who", "room": "den", "ref": "w"}))
        .await;
    let who = ann.recv_type("member_list").await;
    let nicks: Vec<&str> = who["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["nickname"].as_str())
        .collect();
    assert!(nicks.contains(&"bob") && nicks.contains(&"ann"), "{who}");

    // A topic set on a is b's topic too, and a rename on b is seen on a.
    ann.send_json(json!({"type": "topic", "room": "den", "topic": "across nodes", "ref": "t"}))
        .await;
    let m = bob.until("TOPIC").await;
    assert_eq!(last_param(&m), "across nodes");
    bob.send("TOPIC #den").await;
    assert_eq!(last_param(&bob.until("332").await), "across nodes");
    bob.send("NICK bobby").await;
    let renamed = presence(&mut ann, "nick").await;
    assert_eq!(renamed["nickname"], "bobby", "{renamed}");
    bob.send("QUIT :bye").await;
    let left = presence(&mut ann, "leave").await;
    assert_eq!(left["nickname"], "bobby", "{left}");

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn room_modes_and_ranks_span_the_nodes() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;
    ann.join("den").await;
    let mut bob = IrcRaw::register(b.irc_addr, "bob", &[]).await;
    bob.send("JOIN #den").await;
    // ann made the room on a: b knows she is its operator.
    let names = bob.until("353").await;
    assert!(
        last_param(&names).split(' ').any(|n| n == "@ann"),
        "{names:?}"
    );
    assert!(
        last_param(&names).split(' ').any(|n| n == "bob"),
        "{names:?}"
    );
    bob.send("MODE #den +m").await;
    bob.until("482").await;
    // a has heard bob join.
    while presence(&mut ann, "join").await["room"] != "den" {}

    // ann gives bob operator status across nodes: b lets him moderate.
    ann.send_json(
        json!({"type": "mode", "room": "den", "modes": "+o", "args": ["bob"], "ref": "m"}),
    )
    .await;
    let m = bob.until("MODE").await;
    assert_eq!(m.params[1..], ["+o", "bob"], "{m:?}");
    bob.send("MODE #den +m").await;
    let m = bob.until("MODE").await;
    assert_eq!(m.params[1], "+m", "{m:?}");
    // a takes the mode bob set on b.
    loop {
        let mode = presence(&mut ann, "mode").await;
        if mode["mode"]["modes"] == "+m" {
            break;
        }
    }
    ann.send_json(json!({"type": "mode", "room": "den", "ref": "q"}))
        .await;
    let modes = ann.recv_type("modes").await;
    assert!(modes["modes"].as_str().unwrap().contains('m'), "{modes}");

    // ann kicks bob, who is on the other node: he is out there too.
    ann.send_json(
        json!({"type": "kick", "room": "den", "nickname": "bob", "reason": "bye", "ref": "k"}),
    )
    .await;
    let kick = bob.until("KICK").await;
    assert_eq!(kick.params[..2], ["#den", "bob"], "{kick:?}");
    bob.send("PRIVMSG #den :still here?").await;
    bob.until("404").await;

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_nickname_is_held_on_one_node_at_a_time() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;

    let mut again = Raw::connect(b.addr).await;
    again
        .send_json(json!({"type": "login", "nickname": "ANN"}))
        .await;
    again.expect_error("nickname_taken").await;
    let mut irc = IrcRaw::connect(b.irc_addr).await;
    irc.send("NICK ann").await;
    irc.send("USER ann 0 * :Ann").await;
    irc.until("433").await;
    // Renaming into it is refused too, across nodes.
    let mut cat = Raw::login(b.addr, "cat").await;
    cat.send_json(json!({"type": "nick", "nickname": "ann", "ref": 1}))
        .await;
    let refused = cat.recv_type("error").await;
    assert_eq!(refused["code"], "nickname_taken", "{refused}");

    ann.send_json(json!({"type": "logout"})).await;
    ann.until_closed().await;
    freed(&redis, "ann").await;
    let ann = Raw::login(b.addr, "ann").await;
    assert!(ann.id > 0);

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn three_nodes_see_one_order() {
    let redis = RedisServer::start().await;
    let nodes = [
        node(&redis, "a").await,
        node(&redis, "b").await,
        node(&redis, "c").await,
    ];
    let mut users = Vec::new();
    for (i, server) in nodes.iter().enumerate() {
        let mut user = Raw::login(server.addr, &format!("u{i}")).await;
        user.join("order").await;
        users.push(user);
    }
    listening(&redis, "order", 3).await;
    const EACH: usize = 40;
    let mut senders = Vec::new();
    for (i, mut user) in users.into_iter().enumerate() {
        senders.push(tokio::spawn(async move {
            for n in 0..EACH {
                user.send_json(
                    json!({"type": "broadcast", "room": "order", "message": format!("{i}:{n}")}),
                )
                .await;
            }
            // Everyone else's messages, in the order this user got them.
            let mut ids = Vec::new();
            while ids.len() < 2 * EACH {
                let frame = user.recv_type("message").await;
                if frame["room"] == "order" {
                    ids.push(frame["msg_id"].as_u64().unwrap());
                }
            }
            ids
        }));
    }
    for sender in senders {
        let ids = sender.await.unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "out of order: {ids:?}");
    }
    for server in nodes {
        server.stop().await;
    }
}

#[tokio::test]
async fn a_redis_restart_loses_no_acknowledged_message_and_repeats_none() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;
    let mut bob = Raw::login(b.addr, "bob").await;
    listening(&redis, "lobby", 2).await;

    const SENT: usize = 60;
    let mut acked = HashSet::new();
    for n in 0..SENT {
        if n == SENT / 3 {
            redis.restart().await;
        }
        ann.send_json(json!({"type": "broadcast", "message": format!("m{n}"), "ref": n}))
            .await;
        // An ack, or an error saying nothing was sent (Redis away).
        let frame = answer(&mut ann).await;
        if frame["type"] == "ack" {
            acked.insert(format!("m{n}"));
        } else {
            assert_eq!(frame["code"], "internal_error", "{frame}");
        }
    }
    assert!(
        acked.len() >= SENT / 2,
        "too few acknowledged: {}",
        acked.len()
    );
    // A last one, acknowledged: once bob has it, he has everything before.
    let last = "after the restart";
    loop {
        ann.send_json(json!({"type": "broadcast", "message": last, "ref": "last"}))
            .await;
        if answer(&mut ann).await["type"] == "ack" {
            break;
        }
    }
    let mut got = Vec::new();
    loop {
        let frame = bob.recv_type("message").await;
        let text = frame["message"].as_str().unwrap().to_owned();
        if text == last {
            break;
        }
        got.push(text);
    }
    let unique: HashSet<_> = got.iter().cloned().collect();
    assert_eq!(unique.len(), got.len(), "delivered twice: {got:?}");
    let missing: Vec<_> = acked.difference(&unique).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn with_redis_away_senders_are_told_and_service_resumes_by_itself() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = Raw::login(a.addr, "ann").await;
    let mut bob = IrcRaw::register(b.irc_addr, "bob", &[]).await;
    listening(&redis, "lobby", 2).await;
    bob.send("PRIVMSG nobody :hello?").await;
    bob.until("401").await;

    let before = scrape(a.http_addr).await;
    assert_eq!(get(a.http_addr, "/readyz").await.status, 200);
    redis.stop().await;
    let unready = get(a.http_addr, "/readyz").await;
    assert_eq!(unready.status, 503, "{}", unready.body);
    ann.send_json(json!({"type": "broadcast", "message": "lost?", "ref": 1}))
        .await;
    let refused = answer(&mut ann).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("internal_error")),
        "{refused}"
    );
    bob.send("PRIVMSG #lobby :anyone?").await;
    let fail = bob.until("FAIL").await;
    assert_eq!(fail.params[1], "TEMPORARILY_UNAVAILABLE", "{fail:?}");
    // Everyone is still connected.
    ann.assert_quiet_and_alive().await;
    bob.send("PING :still").await;
    bob.until("PONG").await;

    redis.resume().await;
    let back = "back again";
    loop {
        ann.send_json(json!({"type": "broadcast", "message": back, "ref": 2}))
            .await;
        if answer(&mut ann).await["type"] == "ack" {
            break;
        }
    }
    loop {
        let m = bob.until("PRIVMSG").await;
        assert_ne!(last_param(&m), "lost?");
        if last_param(&m) == back {
            break;
        }
    }
    // Node a listens again: what is said on b reaches ann.
    bob.send("PRIVMSG #lobby :heard on a?").await;
    frame_with(&mut ann, "message", "heard on a?").await;
    assert_eq!(get(a.http_addr, "/readyz").await.status, 200);
    // What node a went through shows in its metrics.
    let after = scrape(a.http_addr).await;
    let grew = |series: &str| after.get(series) - before.get(series);
    assert!(grew("chatroom_redis_errors_total") >= 1.0);
    assert!(grew("chatroom_redis_reconnects_total") >= 1.0);
    assert!(grew("chatroom_cluster_published_total") >= 1.0);
    assert!(grew("chatroom_redis_round_trip_seconds_count") >= 2.0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn joining_on_another_node_replays_what_was_said_before_and_nothing_twice() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let mut ann = said_in(a.addr, "ann", "den", "before", 5).await;
    // Node b has never listened to the room: bob's join must still show
    // all five, at once.
    let mut bob = Raw::login(b.addr, "bob").await;
    assert_eq!(
        join_and_read(&mut bob, "den").await,
        ["before 0", "before 1", "before 2", "before 3", "before 4"]
    );
    ann.say_in("den", "after").await;
    let live = frame_with(&mut bob, "message", "after").await;
    assert!(live.get("history").is_none_or(|h| h == false), "{live}");
    bob.assert_quiet_and_alive().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn accounts_and_bans_are_the_same_on_every_node() {
    let redis = RedisServer::start().await;
    let a = node_with(&redis, "a", operators_config()).await;
    let b = node_with(&redis, "b", operators_config()).await;

    // Registered on a: on b the nickname needs its password, which works.
    register_account(a.addr, "carol").await;
    refused_as(b.addr, "carol", "account_required").await;
    let carol = Raw::login_with(
        b.addr,
        json!({"type": "login", "nickname": "carol", "password": PASSWORD}),
    )
    .await;
    assert_eq!(carol.welcome["nickname"], "carol");

    // Two nodes registering one nickname at once: one of them has it.
    let register = |addr| async move {
        let mut c = Raw::connect(addr).await;
        c.send_json(json!({"type": "register", "nickname": "dave", "password": PASSWORD}))
            .await;
        c.recv().await
    };
    let (on_a, on_b) = tokio::join!(register(a.addr), register(b.addr));
    let welcomed = [&on_a, &on_b]
        .iter()
        .filter(|frame| frame["type"] == "welcome")
        .count();
    assert_eq!(welcomed, 1, "{on_a} {on_b}");

    // A ban made on a holds on b, and lifting it too.
    let mut admin = operator(a.addr, "admin").await;
    admin
        .send_json(json!({"type": "ban", "nickname": "mallory", "reason": "spam", "ref": 1}))
        .await;
    admin.recv_type("done").await;
    refused_as(b.addr, "mallory", "banned").await;
    admin
        .send_json(json!({"type": "unban", "nickname": "mallory", "ref": 2}))
        .await;
    admin.recv_type("done").await;
    tokio::time::timeout(WAIT, async {
        while try_login(b.addr, "mallory").await["type"] != "welcome" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("mallory stayed banned on b");

    // A node that joins later takes the registry whole.
    drop(carol);
    let c = node_with(&redis, "c", operators_config()).await;
    refused_as(c.addr, "carol", "account_required").await;
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

#[tokio::test]
async fn a_redis_that_lost_its_data_hands_out_no_id_twice() {
    let redis = RedisServer::start().await;
    let a = node(&redis, "a").await;
    let mut ann = Raw::login(a.addr, "ann").await;
    let first = ann.say_in("lobby", "one").await;
    assert_eq!(redis.command(&["FLUSHALL"]).await, "+OK\r\n");
    let second = loop {
        ann.send_json(json!({"type": "broadcast", "message": "two", "ref": "2"}))
            .await;
        let frame = answer(&mut ann).await;
        if frame["type"] == "ack" {
            break frame["msg_id"].as_u64().unwrap();
        }
    };
    assert!(second > first, "{second} after {first}");
    a.stop().await;
}

#[tokio::test]
async fn a_node_started_afresh_copies_the_archive_into_its_history() {
    let redis = RedisServer::start().await;
    let (a, b) = (node(&redis, "a").await, node(&redis, "b").await);
    let _ann = said_in(a.addr, "ann", "den", "kept", 3).await;
    // b keeps history in memory: stopped and started again, it has none of
    // its own, and takes it all from the archive.
    b.stop().await;
    let b = node(&redis, "b").await;
    let mut bob = Raw::login(b.addr, "bob").await;
    assert_eq!(
        join_and_read(&mut bob, "den").await,
        ["kept 0", "kept 1", "kept 2"]
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn metrics_count_what_went_through_redis() {
    let redis = RedisServer::start().await;
    let a = node(&redis, "a").await;
    let mut ann = Raw::login(a.addr, "ann").await;
    // Acknowledged after everything queued before it (ann's join).
    ann.say_in("lobby", "first").await;
    let before = scrape(a.http_addr).await;
    for n in 0..3 {
        ann.say_in("lobby", &format!("counted {n}")).await;
    }
    let after = scrape(a.http_addr).await;
    let grew = |series: &str| after.get(series) - before.get(series);
    // Three messages, each one entry published; nothing else happened.
    assert_eq!(grew("chatroom_cluster_published_total"), 3.0);
    assert_eq!(grew("chatroom_messages_total{kind=\"room\"}"), 3.0);
    assert_eq!(grew("chatroom_redis_errors_total"), 0.0);
    assert_eq!(grew("chatroom_redis_reconnects_total"), 0.0);
    a.stop().await;
}

/// A node's chat goes to Redis, and its own store is fed by the archive
/// reader, so the store's backlog limit never refuses chat on a node: with
/// the store unable to commit (another process holds its write lock) and a
/// limit of one message, everything is still taken and acknowledged, and
/// stored once the store can commit again.
#[tokio::test]
async fn a_node_never_refuses_chat_for_its_own_store() {
    use crate::support::hold_the_store;

    const SENT: u64 = 50;
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let a = node_with(
        &redis,
        "a",
        Config {
            store: chatroom_server::store::Location::Dir(data.path().to_owned()),
            history_backlog: 1,
            ..test_config()
        },
    )
    .await;
    let mut ann = Raw::login(a.addr, "ann").await;
    ann.say_in("lobby", "before").await;
    let other = hold_the_store(data.path());
    for n in 0..SENT {
        ann.send_json(json!({"type": "broadcast", "message": format!("m{n}"), "ref": n}))
            .await;
        // One at a time: each is admitted after the ones before it reached
        // the archive reader, and so the store's queue.
        let frame = loop {
            let frame = ann.recv().await;
            if frame["type"] == "ack" || frame["type"] == "error" {
                break frame;
            }
        };
        assert_eq!(frame["type"], "ack", "{frame}");
        assert_eq!(frame["ref"], n);
    }
    other.execute_batch("ROLLBACK").unwrap();
    // The archive reader stores them as soon as it can: the history
    // fills up to every message, in order.
    let expected: Vec<Value> = std::iter::once(json!("before"))
        .chain((0..SENT).map(|n| json!(format!("m{n}"))))
        .collect();
    let mut bob = Raw::login(a.addr, "bob").await;
    let mut stored = Vec::new();
    tokio::time::timeout(WAIT, async {
        while stored != expected {
            tokio::time::sleep(Duration::from_millis(10)).await;
            bob.send_json(json!({"type": "history", "room": "lobby", "limit": 200, "ref": "h"}))
                .await;
            stored = bob
                .until_history_end()
                .await
                .iter()
                .map(|m| m["message"].clone())
                .collect();
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never stored: {stored:?}"));
    a.stop().await;
}
