//! The JSON protocol over real sockets: login, relay, presence, bad input.

use chatroom_testkit::{Raw, TestServer};
use serde_json::json;

#[tokio::test]
async fn two_clients_chat() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    assert!(alice.id > 0 && bob.id > 0 && alice.id != bob.id);
    let joined = alice.recv_type("presence").await;
    assert_eq!(joined["event"], "join");
    assert_eq!(joined["nickname"], "bob");

    alice.say("hi bob").await;
    let m = bob.recv().await;
    assert_eq!(m["type"], "message");
    assert_eq!(m["sender_id"], alice.id);
    assert_eq!(m["sender_nickname"], "alice");
    assert_eq!(m["message"], "hi bob");
    assert_eq!(m["room"], "lobby");
    assert!(m["msg_id"].as_u64().unwrap() > 0);
    assert!(m["ts"].as_i64().unwrap() > 1_600_000_000_000);
    // The sender does not get its own message back.
    alice.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn welcome_has_status_id_and_protocol_version() {
    let server = TestServer::start().await;
    let mut c = Raw::connect(server.addr).await;
    c.send_json(json!({"type": "login", "nickname": "zhangsan", "ref": 1}))
        .await;
    let w = c.recv().await;
    assert_eq!(w["type"], "welcome");
    assert_eq!(w["status"], "ok");
    assert_eq!(w["nickname"], "zhangsan");
    assert_eq!(w["protocol"], chatroom_proto::PROTOCOL_VERSION);
    assert_eq!(w["ref"], 1);
    assert!(w["id"].as_u64().unwrap() > 0);
    server.stop().await;
}

#[tokio::test]
async fn fifty_five_clients_each_see_every_sender_in_order() {
    const CLIENTS: usize = 55;
    const SENDERS: usize = 5;
    const EACH: usize = 20;
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(Raw::login(server.addr, &format!("user{i}")).await);
    }
    // Everyone has now heard every later join; a ping answered means all
    // those notices have been read.
    for c in &mut clients {
        c.send_json(json!({"type": "ping", "ref": "sync"})).await;
        c.recv_type("pong").await;
    }
    let ids: Vec<u64> = clients.iter().map(|c| c.id).collect();
    let mut senders: Vec<Raw> = clients.drain(..SENDERS).collect();
    let send_all = async {
        for n in 0..EACH {
            for (s, c) in senders.iter_mut().enumerate() {
                c.say(&format!("{s}:{n}")).await;
            }
        }
        senders
    };
    let receive_all = async {
        let mut tasks = Vec::new();
        for mut c in clients {
            tasks.push(tokio::spawn(async move {
                let mut next = [0usize; SENDERS];
                for _ in 0..SENDERS * EACH {
                    let m = c.recv_type("message").await;
                    let text = m["message"].as_str().unwrap();
                    let (s, n) = text.split_once(':').unwrap();
                    let (s, n): (usize, usize) = (s.parse().unwrap(), n.parse().unwrap());
                    assert_eq!(n, next[s], "sender {s} out of order at client {}", c.id);
                    next[s] += 1;
                }
                assert!(next.iter().all(|&n| n == EACH));
                c
            }));
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        done
    };
    let (mut senders, receivers) = tokio::join!(send_all, receive_all);
    assert_eq!(receivers.len(), CLIENTS - SENDERS);
    // Senders hear each other too, in order.
    for (me, c) in senders.iter_mut().enumerate() {
        let mut next = [0usize; SENDERS];
        for _ in 0..(SENDERS - 1) * EACH {
            let m = c.recv_type("message").await;
            let (s, n) = m["message"].as_str().unwrap().split_once(':').unwrap();
            let (s, n): (usize, usize) = (s.parse().unwrap(), n.parse().unwrap());
            assert_ne!(s, me);
            assert_eq!(m["sender_id"], ids[s]);
            assert_eq!(n, next[s]);
            next[s] += 1;
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn join_and_leave_notices_for_logout_eof_and_reset() {
    let server = TestServer::start().await;
    let mut watcher = Raw::login(server.addr, "watcher").await;
    for (nick, how) in [
        ("logsout", "logout"),
        ("closes", "closed"),
        ("resets", "reset"),
    ] {
        let mut c = Raw::login(server.addr, nick).await;
        let joined = watcher.recv().await;
        assert_eq!(joined["type"], "presence");
        assert_eq!(joined["event"], "join");
        assert_eq!(joined["user_id"], c.id);
        assert_eq!(joined["sender_id"], 0);
        assert_eq!(joined["sender_nickname"], "System");
        assert!(joined["message"].as_str().unwrap().contains(nick));
        match how {
            "logout" => {
                c.send_json(json!({"type": "logout"})).await;
                let frames = c.until_closed().await;
                assert_eq!(frames.last().unwrap()["type"], "bye");
            }
            "closed" => drop(c),
            _ => c.reset(),
        }
        let left = watcher.recv().await;
        assert_eq!(left["type"], "presence", "{left}");
        assert_eq!(left["event"], "leave");
        assert_eq!(left["nickname"], nick);
        assert_eq!(left["reason"], how);
        assert_eq!(left["sender_id"], 0);
    }
    server.stop().await;
}

#[tokio::test]
async fn duplicate_nickname_is_refused_case_insensitively() {
    let server = TestServer::start().await;
    let _bob = Raw::login(server.addr, "Bob").await;
    let mut other = Raw::connect(server.addr).await;
    other
        .send_json(json!({"type": "login", "nickname": "bOB", "ref": "x"}))
        .await;
    let e = other.expect_error("nickname_taken").await;
    assert_eq!(e["ref"], "x");
    // The connection is still usable: another name works.
    other
        .send_json(json!({"type": "login", "nickname": "robert"}))
        .await;
    assert_eq!(other.recv().await["type"], "welcome");
    server.stop().await;
}

#[tokio::test]
async fn invalid_nicknames_are_refused() {
    let server = TestServer::start().await;
    let mut c = Raw::connect(server.addr).await;
    for bad in [
        "",
        "has space",
        "tab\there",
        &"x".repeat(33),
        "System",
        "a\u{7}",
    ] {
        c.send_json(json!({"type": "login", "nickname": bad})).await;
        c.expect_error("invalid_nickname").await;
    }
    c.send_json(json!({"type": "login", "nickname": "张".repeat(32)}))
        .await;
    assert_eq!(c.recv().await["type"], "welcome");
    server.stop().await;
}

#[tokio::test]
async fn second_login_on_one_connection_is_refused() {
    let server = TestServer::start().await;
    let mut c = Raw::login(server.addr, "once").await;
    c.send_json(json!({"type": "login", "nickname": "twice"}))
        .await;
    c.expect_error("already_logged_in").await;
    server.stop().await;
}

/// Every kind of bad input gets its own error code, the offender's
/// connection stays usable, and a bystander notices nothing.
#[tokio::test]
async fn bad_input_gets_its_own_error_code_and_harms_no_one() {
    let server = TestServer::start().await;
    let mut bystander = Raw::login(server.addr, "bystander").await;
    let mut c = Raw::connect(server.addr).await;

    c.send(br#"{"type":"broadcast","message":"before login"}"#)
        .await;
    c.expect_error("not_logged_in").await;

    c.send(b"this is not json\n").await;
    c.expect_error("malformed_json").await;
    c.send(br#"{"type":"ping",}"#).await;
    c.expect_error("malformed_json").await;
    c.send(b"{\"type\":\"broadcast\",\"message\":\"\xff\xfe\"}")
        .await;
    c.expect_error("invalid_utf8").await;
    c.send(br#"{"type":"teleport"}"#).await;
    c.expect_error("unknown_type").await;
    c.send(br#"{"type":"login"}"#).await;
    c.expect_error("missing_field").await;
    c.send(br#"{"nickname":"no type"}"#).await;
    c.expect_error("missing_field").await;
    c.send(br#"{"type":"login","nickname":42}"#).await;
    c.expect_error("invalid_field").await;
    c.send(br#"[1,2,3]"#).await;
    c.expect_error("malformed_json").await;
    // A truncated object followed by a good one: the decoder resynchronises.
    c.send(br#"{"type":"broadcast","message":"cut"{"type":"ping","ref":"r"}"#)
        .await;
    c.expect_error("malformed_json").await;
    assert_eq!(c.recv().await, json!({"type": "pong", "ref": "r"}));

    c.send(br#"{"type":"login","nickname":"recovered"}"#).await;
    assert_eq!(c.recv().await["type"], "welcome");
    c.send(br#"{"type":"broadcast","message":""}"#).await;
    c.expect_error("empty_message").await;
    c.assert_quiet_and_alive().await;

    // The bystander saw only the join of "recovered", nothing else.
    let joined = bystander.recv().await;
    assert_eq!(joined["event"], "join");
    bystander.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn oversized_frame_gets_an_error_then_the_connection_closes() {
    let server = TestServer::start().await;
    let mut bystander = Raw::login(server.addr, "bystander").await;
    let mut c = Raw::login(server.addr, "big").await;
    bystander.recv_type("presence").await;
    let huge = format!(
        r#"{{"type":"broadcast","message":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    c.send(huge.as_bytes()).await;
    let frames = c.until_closed().await;
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "frame_too_large");
    let left = bystander.recv().await;
    assert_eq!(left["event"], "leave");
    assert_eq!(left["reason"], "frame_too_large");
    bystander.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn login_split_across_three_writes() {
    let server = TestServer::start().await;
    let mut c = Raw::connect(server.addr).await;
    c.send(br#"{"type": "lo"#).await;
    tokio::task::yield_now().await;
    c.send(br#"gin", "nickn"#).await;
    tokio::task::yield_now().await;
    c.send(br#"ame": "split"}"#).await;
    let w = c.recv().await;
    assert_eq!(w["type"], "welcome");
    assert_eq!(w["nickname"], "split");
    server.stop().await;
}

#[tokio::test]
async fn two_objects_in_one_write_and_undelimited_like_the_tutorial() {
    let server = TestServer::start().await;
    let mut listener = Raw::login(server.addr, "listener").await;
    let mut c = Raw::connect(server.addr).await;
    // Exactly what the tutorial client sends: json.dumps(...) back to back,
    // with a client-side sender_id the server must ignore.
    c.send(
        br#"{"type": "login", "nickname": "zhangsan"}{"type": "broadcast", "sender_id": 999, "message": "first"}"#,
    )
    .await;
    let w = c.recv().await;
    assert_eq!(w["type"], "welcome");
    let id = w["id"].as_u64().unwrap();
    c.send(br#"{"type": "broadcast", "sender_id": 999, "message": "second"}{"type": "broadcast", "sender_id": 1, "message": "third"}"#)
        .await;
    assert_eq!(listener.recv().await["event"], "join");
    for text in ["first", "second", "third"] {
        let m = listener.recv().await;
        assert_eq!(m["message"], text);
        assert_eq!(m["sender_id"], id, "the server must not trust sender_id");
        assert_eq!(m["sender_nickname"], "zhangsan");
    }
    server.stop().await;
}

#[tokio::test]
async fn chinese_message_round_trip() {
    let server = TestServer::start().await;
    let mut a = Raw::login(server.addr, "张三").await;
    let mut b = Raw::login(server.addr, "李四").await;
    a.recv_type("presence").await;
    let text = "你好,世界!聊天室 🎉 — ünïcode";
    a.say(text).await;
    let m = b.recv().await;
    assert_eq!(m["message"], text);
    assert_eq!(m["sender_nickname"], "张三");
    b.say("收到").await;
    assert_eq!(a.recv().await["message"], "收到");
    server.stop().await;
}

#[tokio::test]
async fn ref_gets_an_ack_and_no_ref_gets_silence() {
    let server = TestServer::start().await;
    let mut a = Raw::login(server.addr, "a").await;
    let mut b = Raw::login(server.addr, "b").await;
    a.recv_type("presence").await;
    a.send_json(json!({"type": "broadcast", "message": "tracked", "ref": 42}))
        .await;
    let ack = a.recv().await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["ref"], 42);
    let m = b.recv().await;
    assert_eq!(m["msg_id"], ack["msg_id"]);
    assert_eq!(m["ts"], ack["ts"]);
    a.say("untracked").await;
    assert_eq!(b.recv().await["message"], "untracked");
    a.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_says_goodbye_to_everyone_and_returns() {
    let server = TestServer::start().await;
    let mut a = Raw::login(server.addr, "a").await;
    let mut b = Raw::login(server.addr, "b").await;
    let mut idle = Raw::connect(server.addr).await;
    // Make sure the server has accepted it: a connection still in the
    // kernel's accept queue at shutdown is reset, as with any server.
    idle.assert_quiet_and_alive().await;
    a.recv_type("presence").await;
    let addr = server.addr;
    server.stop().await;
    for c in [&mut a, &mut b, &mut idle] {
        let frames = c.until_closed().await;
        let last = frames.last().unwrap();
        assert_eq!(last["type"], "bye", "{frames:?}");
        assert_eq!(last["sender_id"], 0);
        // No leave storm at shutdown.
        assert!(frames.iter().all(|f| f["type"] != "presence"), "{frames:?}");
    }
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
