//! Every limit of the hardening work crossed over real sockets, in both
//! protocols where it applies: connections in all and per address, the
//! login timeout, keepalive pings, the frame size, the message length, rooms
//! per user and the message rate. Then two attacks the limits exist for: a
//! flooder among people chatting, and hundreds of sockets trickling bytes
//! while new users keep arriving.
//!
//! Timeouts in these configurations are short so the tests are quick, but
//! only ever as deadlines for the server: the tests wait for events (a frame,
//! the end of a stream), never for time to pass.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use chatroom_server::Config;
use chatroom_testkit::{IrcRaw, Raw, TestServer, WAIT, last_param, test_config};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Another loopback address: the per-address limit must not count it with
/// 127.0.0.1.
const OTHER_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Connects to a full server until a slot is free (a leaving client's slot
/// frees only once its connection task has finished closing); returns the
/// logged-in client. Every refusal on the way must be the documented one.
async fn login_when_admitted(addr: SocketAddr, source: IpAddr, nick: &str) -> Raw {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut c = Raw::connect_from(addr, source).await;
        c.send_json(json!({"type": "login", "nickname": nick}))
            .await;
        let first = c.recv().await;
        if first["type"] == "welcome" {
            c.id = first["id"].as_u64().unwrap();
            return c;
        }
        assert_eq!(first["code"], "too_many_connections", "{first}");
        assert!(
            Instant::now() < deadline,
            "the slot of a client that left never freed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A JSON connection refused at the door gets one error frame and is closed.
async fn assert_refused_json(c: &mut Raw, text: &str) {
    let frames = c.until_closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "too_many_connections");
    let message = frames[0]["message"].as_str().unwrap();
    assert!(message.contains(text), "{message}");
}

/// An IRC connection refused at the door gets one ERROR line and is closed.
async fn assert_refused_irc(c: &mut IrcRaw, text: &str) {
    let lines = c.until_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "ERROR");
    assert!(last_param(&lines[0]).contains(text), "{:?}", lines[0]);
}

#[tokio::test]
async fn max_connections_refuses_on_every_listener_and_frees_a_slot_when_one_leaves() {
    let server = TestServer::start_with(Config {
        max_connections: 3,
        ..test_config()
    })
    .await;
    let mut a = Raw::login(server.addr, "a").await;
    let mut b = Raw::login(server.addr, "b").await;
    let mut c = IrcRaw::register(server.irc_addr, "c", &[]).await;

    let mut refused = Raw::connect(server.addr).await;
    assert_refused_json(&mut refused, "full").await;
    let mut refused = IrcRaw::connect(server.irc_addr).await;
    assert_refused_irc(&mut refused, "full").await;

    // Those inside are unharmed, and refusals took no slot.
    a.drain().await;
    a.say_in("lobby", "still here").await;
    c.until("PRIVMSG").await;

    b.send_json(json!({"type": "logout"})).await;
    b.until_closed().await;
    drop(b);
    let mut d = login_when_admitted(server.addr, IpAddr::V4(Ipv4Addr::LOCALHOST), "d").await;
    d.assert_quiet_and_alive().await;
    // Full again.
    let mut refused = Raw::connect(server.addr).await;
    assert_refused_json(&mut refused, "full").await;
    server.stop().await;
}

#[tokio::test]
async fn max_connections_per_ip_counts_each_address_on_its_own() {
    let server = TestServer::start_with(Config {
        max_connections_per_ip: 2,
        ..test_config()
    })
    .await;
    let mut a = Raw::login(server.addr, "a").await;
    let _b = IrcRaw::register(server.irc_addr, "b", &[]).await;

    let mut refused = Raw::connect(server.addr).await;
    assert_refused_json(&mut refused, "too many connections from your address").await;
    let mut refused = IrcRaw::connect(server.irc_addr).await;
    assert_refused_irc(&mut refused, "too many connections from your address").await;

    // Another address has slots of its own.
    let mut elsewhere = Raw::connect_from(server.addr, OTHER_ADDRESS).await;
    elsewhere
        .send_json(json!({"type": "login", "nickname": "elsewhere"}))
        .await;
    assert_eq!(elsewhere.recv().await["type"], "welcome");

    a.send_json(json!({"type": "logout"})).await;
    a.until_closed().await;
    drop(a);
    let mut c = login_when_admitted(server.addr, IpAddr::V4(Ipv4Addr::LOCALHOST), "c").await;
    c.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn a_connection_that_does_not_log_in_in_time_is_closed() {
    let server = TestServer::start_with(Config {
        login_timeout: Duration::from_secs(1),
        ..test_config()
    })
    .await;
    // Logged in at once: the login timeout no longer applies to it.
    let mut early = Raw::login(server.addr, "early").await;
    let mut silent = Raw::connect(server.addr).await;
    let mut partial = Raw::connect(server.addr).await;
    partial.send(b"{\"type\":\"login\",\"nick").await;
    let mut irc_silent = IrcRaw::connect(server.irc_addr).await;
    let mut irc_partial = IrcRaw::connect(server.irc_addr).await;
    // NICK without USER never completes registration.
    irc_partial.send("NICK halfway").await;

    for c in [&mut silent, &mut partial] {
        let frames = c.until_closed().await;
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert_eq!(frames[0]["type"], "error");
        assert_eq!(frames[0]["code"], "login_timeout");
    }
    for c in [&mut irc_silent, &mut irc_partial] {
        let lines = c.until_closed().await;
        let error = lines.last().unwrap();
        assert_eq!(error.command, "ERROR", "{lines:?}");
        assert!(
            last_param(error).contains("Registration timed out"),
            "{error:?}"
        );
    }
    // Connected before any of them, and still here.
    early.assert_quiet_and_alive().await;
    server.stop().await;
}

fn keepalive_config() -> Config {
    Config {
        ping_interval: Duration::from_millis(300),
        // Generous, so that a busy machine answers in time when it should.
        ping_timeout: Duration::from_secs(2),
        ..test_config()
    }
}

#[tokio::test]
async fn protocol_2_clients_are_pinged_and_closed_when_they_stop_answering() {
    let server = TestServer::start_with(keepalive_config()).await;
    // The tutorial's client declares no protocol and cannot answer pings.
    let mut tutorial = Raw::login(server.addr, "tutorial").await;
    let mut modern = Raw::login_with(
        server.addr,
        json!({"type": "login", "nickname": "modern", "protocol": 2}),
    )
    .await;

    let ping = modern.recv().await;
    assert_eq!(ping["type"], "ping", "{ping}");
    let first = ping["ref"].as_u64().unwrap();
    modern
        .send_json(json!({"type": "pong", "ref": first}))
        .await;
    // Answered: it stays, and is pinged again after the next quiet spell.
    let ping = modern.recv().await;
    assert_eq!(ping["type"], "ping", "{ping}");
    assert!(ping["ref"].as_u64().unwrap() > first, "{ping}");

    // Not answered: closed.
    let frames = modern.until_closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "ping_timeout");

    // Silent longer than the interval and the timeout together, never
    // pinged, still connected; it saw the other leave for not answering.
    let seen = tutorial.drain().await;
    assert!(seen.iter().all(|f| f["type"] == "presence"), "{seen:?}");
    let leave = seen.iter().find(|f| f["event"] == "leave").unwrap();
    assert_eq!(leave["nickname"], "modern");
    assert_eq!(leave["reason"], "ping_timeout");
    tutorial.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn irc_clients_are_pinged_and_closed_when_silent() {
    let server = TestServer::start_with(keepalive_config()).await;
    let mut irc = IrcRaw::register(server.irc_addr, "quiet", &[]).await;
    let ping = irc.until("PING").await;
    irc.send(&format!("PONG :{}", last_param(&ping))).await;
    let again = irc.until("PING").await;
    assert_ne!(
        last_param(&again),
        last_param(&ping),
        "each ping has its own token"
    );

    let lines = irc.until_closed().await;
    let error = lines.last().unwrap();
    assert_eq!(error.command, "ERROR", "{lines:?}");
    assert!(last_param(error).contains("Ping timeout"), "{error:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_only_its_connection() {
    const MAX: usize = 1024;
    let server = TestServer::start_with(Config {
        max_frame_bytes: MAX,
        ..test_config()
    })
    .await;
    let mut watcher = Raw::login(server.addr, "watcher").await;
    let mut big = Raw::login(server.addr, "big").await;
    watcher.drain().await;

    let frame = |len: usize| {
        let (head, tail) = ("{\"type\":\"broadcast\",\"message\":\"", "\"}");
        let text = "x".repeat(len - head.len() - tail.len());
        format!("{head}{text}{tail}")
    };
    // Exactly at the limit: relayed.
    big.send(frame(MAX).as_bytes()).await;
    let relayed = watcher.recv().await;
    assert_eq!(relayed["type"], "message", "{relayed}");
    assert_eq!(relayed["sender_nickname"], "big");
    // One byte over: refused and closed.
    big.send(frame(MAX + 1).as_bytes()).await;
    let frames = big.until_closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "frame_too_large");

    let seen = watcher.drain().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["event"], "leave");
    assert_eq!(seen[0]["reason"], "frame_too_large");
    server.stop().await;
}

#[tokio::test]
async fn an_irc_line_over_512_bytes_is_refused_and_the_connection_stays() {
    let server = TestServer::start().await;
    let mut irc = IrcRaw::register(server.irc_addr, "longwinded", &[]).await;
    let mut watcher = Raw::login(server.addr, "watcher").await;
    irc.sync().await;
    irc.send(&format!("PRIVMSG #lobby :{}", "y".repeat(600)))
        .await;
    let lines = irc.sync().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "417");
    irc.send("PRIVMSG #lobby :short enough").await;
    let m = watcher.recv_type("message").await;
    assert_eq!(m["message"], "short enough");
    server.stop().await;
}

#[tokio::test]
async fn a_message_over_the_length_limit_is_refused_in_both_protocols() {
    const MAX: usize = 64;
    let server = TestServer::start_with(Config {
        max_message_bytes: MAX,
        ..test_config()
    })
    .await;
    let mut json_user = Raw::login(server.addr, "json").await;
    let mut irc_user = IrcRaw::register(server.irc_addr, "irc", &[]).await;
    json_user.drain().await;

    // The limit is in bytes: 33 two-byte characters are too many.
    for (text, reference) in [("é".repeat(MAX / 2 + 1), 1), ("z".repeat(MAX + 1), 2)] {
        json_user
            .send_json(json!({"type": "broadcast", "message": text, "ref": reference}))
            .await;
        let e = json_user.expect_error("message_too_long").await;
        assert_eq!(e["ref"], reference);
    }
    json_user
        .send_json(json!({"type": "direct", "to": "irc", "message": "d".repeat(MAX + 1), "ref": 3}))
        .await;
    json_user.expect_error("message_too_long").await;
    // At the limit: relayed.
    json_user.say_in("lobby", &"a".repeat(MAX)).await;

    irc_user
        .send(&format!("PRIVMSG #lobby :{}", "i".repeat(MAX + 1)))
        .await;
    irc_user
        .send(&format!("PRIVMSG #lobby :{}", "j".repeat(MAX)))
        .await;
    let lines = irc_user.sync().await;
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|m| (m.command.as_str(), last_param(m)))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], ("PRIVMSG", "a".repeat(MAX).as_str()));
    assert_eq!(got[1].0, "417", "{got:?}");

    // Only the messages at the limit reached anyone.
    let seen = json_user.drain().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["message"], "j".repeat(MAX));
    server.stop().await;
}

#[tokio::test]
async fn rooms_per_user_is_enforced_in_both_protocols() {
    let server = TestServer::start_with(Config {
        max_rooms_per_user: 3,
        ..test_config()
    })
    .await;
    let mut c = Raw::login(server.addr, "joiner").await;
    // The lobby counts: two more rooms reach the limit.
    c.join("one").await;
    c.join("two").await;
    c.send_json(json!({"type": "join", "room": "three", "ref": "j3"}))
        .await;
    let e = c.expect_error("too_many_rooms").await;
    assert_eq!(e["ref"], "j3");
    // Leaving one makes room for another.
    c.send_json(json!({"type": "part", "room": "one"})).await;
    c.recv_type("parted").await;
    c.join("three").await;

    let mut irc = IrcRaw::register(server.irc_addr, "ircjoiner", &[]).await;
    irc.send("JOIN #one,#two,#three").await;
    let lines = irc.sync().await;
    let joins: Vec<&str> = lines
        .iter()
        .filter(|m| m.command == "JOIN")
        .map(|m| m.params[0].as_str())
        .collect();
    assert_eq!(joins, ["#one", "#two"]);
    let refused = lines.iter().find(|m| m.command == "405").unwrap();
    assert_eq!(refused.params[1], "#three");
    server.stop().await;
}

fn rate_config() -> Config {
    // One message a second: the test's bursts take microseconds, so no
    // token comes back while they are handled.
    Config {
        messages_per_second: 1.0,
        message_burst: 5,
        ..test_config()
    }
}

/// `count` broadcasts with refs 0.. in one write.
fn broadcasts(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|n| {
            json!({"type": "broadcast", "message": format!("m{n}"), "ref": n})
                .to_string()
                .into_bytes()
        })
        .collect()
}

#[tokio::test]
async fn json_messages_over_the_rate_are_refused_and_a_sustained_flood_disconnects() {
    let server = TestServer::start_with(rate_config()).await;
    let mut listener = Raw::login(server.addr, "listener").await;
    let mut eager = Raw::login(server.addr, "eager").await;
    listener.drain().await;

    // The burst passes, the excess is refused, the connection stays. The
    // refusals come at once, the acknowledgements once the messages are
    // stored: in either order.
    eager.send(&broadcasts(8)).await;
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for _ in 0..8 {
        let f = eager.recv().await;
        match f["type"].as_str() {
            Some("ack") => acked.push(f["ref"].as_u64().unwrap()),
            Some("error") if f["code"] == "rate_limited" => {
                refused.push(f["ref"].as_u64().unwrap());
            }
            _ => panic!("unexpected {f}"),
        }
    }
    assert_eq!(acked, [0, 1, 2, 3, 4]);
    assert_eq!(refused, [5, 6, 7]);
    // Not chat: never rate limited.
    eager.assert_quiet_and_alive().await;
    let seen: Vec<Value> = listener.drain().await;
    let texts: Vec<&str> = seen.iter().filter_map(|m| m["message"].as_str()).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);

    // Twice the burst's worth of refusals, and then some: disconnected.
    let mut flooder = Raw::login(server.addr, "flooder").await;
    flooder.send(&broadcasts(40)).await;
    let frames = flooder.until_closed().await;
    let acks = frames.iter().filter(|f| f["type"] == "ack").count();
    let refused = frames
        .iter()
        .filter(|f| f["code"] == "rate_limited")
        .count();
    // Acknowledgements wait for the store: the flooder may be gone first.
    assert!(acks <= 5, "{frames:?}");
    assert_eq!(refused, 10, "{frames:?}");
    let final_frame = frames.last().unwrap();
    assert_eq!(final_frame["code"], "flood", "{frames:?}");
    let seen = listener.drain().await;
    let relayed = seen
        .iter()
        .filter(|f| f["type"] == "message" && f["sender_nickname"] == "flooder")
        .count();
    assert_eq!(relayed, 5, "the burst passes: {seen:?}");
    let leave = seen
        .iter()
        .find(|f| f["event"] == "leave" && f["nickname"] == "flooder")
        .unwrap();
    assert_eq!(leave["reason"], "flood");
    server.stop().await;
}

#[tokio::test]
async fn irc_messages_over_the_rate_get_a_notice_and_a_flood_is_excess_flood() {
    let server = TestServer::start_with(rate_config()).await;
    let mut listener = IrcRaw::register(server.irc_addr, "listener", &[]).await;
    let mut eager = IrcRaw::register(server.irc_addr, "eager", &[]).await;
    listener.sync().await;

    let lines: String = (0..8)
        .map(|n| format!("PRIVMSG #lobby :m{n}\r\n"))
        .collect();
    eager.send_raw(lines.as_bytes()).await;
    let replies = eager.sync().await;
    assert_eq!(replies.len(), 3, "{replies:?}");
    for notice in &replies {
        assert_eq!(notice.command, "NOTICE");
        assert!(last_param(notice).contains("too fast"), "{notice:?}");
    }
    let seen = listener.sync().await;
    let texts: Vec<&str> = seen
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(last_param)
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"]);

    let mut flooder = IrcRaw::register(server.irc_addr, "flooder", &[]).await;
    let lines: String = (0..40)
        .map(|n| format!("PRIVMSG #lobby :f{n}\r\n"))
        .collect();
    flooder.send_raw(lines.as_bytes()).await;
    let got = flooder.until_closed().await;
    assert!(
        got.iter().any(|m| m.command == "NOTICE"),
        "refusals come before the disconnection: {got:?}"
    );
    let error = got.last().unwrap();
    assert_eq!(error.command, "ERROR");
    assert!(last_param(error).contains("Excess Flood"), "{error:?}");
    let quit = listener.until("QUIT").await;
    assert_eq!(quit.source.as_ref().unwrap().name, "flooder");
    server.stop().await;
}

/// Sends broadcasts as fast as the socket takes them until the server cuts
/// the connection; returns every frame the server sent.
async fn flood(addr: SocketAddr) -> Vec<Value> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer
        .write_all(b"{\"type\":\"login\",\"nickname\":\"flooder\"}")
        .await
        .unwrap();
    let welcome: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(welcome["type"], "welcome");
    let batch: Vec<u8> = (0..100)
        .flat_map(|n| {
            json!({"type": "broadcast", "message": format!("flood {n} {}", "x".repeat(64)), "ref": n})
                .to_string()
                .into_bytes()
        })
        .collect();
    // Writes until the server cuts the connection (a write fails) or the
    // reader has seen the end of it.
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let sending = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                written = writer.write_all(&batch) => if written.is_err() {
                    return;
                },
            }
        }
    });
    let mut frames = Vec::new();
    loop {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the flooder was not disconnected in time");
        match line {
            Ok(Some(line)) => frames.push(serde_json::from_str(&line).unwrap()),
            // The end of the stream, or a reset after the server's last words
            // (the flooder's unread input makes the server's kernel reset).
            Ok(None) | Err(_) => break,
        }
    }
    let _ = stop.send(());
    tokio::time::timeout(WAIT, sending).await.unwrap().unwrap();
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_is_cut_off_while_the_others_chat_undisturbed() {
    const CHATTERS: usize = 5;
    const EACH: usize = 20;
    let server = TestServer::start_with(Config {
        messages_per_second: 20.0,
        message_burst: 10,
        ..test_config()
    })
    .await;
    let mut chatters = Vec::new();
    for i in 0..CHATTERS {
        chatters.push(Raw::login(server.addr, &format!("chatter{i}")).await);
    }
    for c in &mut chatters {
        c.drain().await;
    }

    // Everyone chats at ten messages a second, half the limit.
    let (flood_now, flood_start) = tokio::sync::oneshot::channel();
    let mut flood_now = Some(flood_now);
    let mut talking = Vec::new();
    for (i, mut c) in chatters.into_iter().enumerate() {
        let mut signal = if i == 0 { flood_now.take() } else { None };
        talking.push(tokio::spawn(async move {
            let mut pace = tokio::time::interval(Duration::from_millis(100));
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for n in 0..EACH {
                pace.tick().await;
                c.say(&format!("chatter{i} {n}")).await;
                if n == 4
                    && let Some(signal) = signal.take()
                {
                    signal.send(()).unwrap();
                }
            }
            c
        }));
    }
    flood_start.await.unwrap();
    let flooded = flood(server.addr).await;

    assert!(
        flooded.iter().any(|f| f["code"] == "rate_limited"),
        "the excess is refused first: {flooded:?}"
    );
    assert_eq!(
        flooded.last().unwrap()["code"],
        "flood",
        "and then the flooder is disconnected"
    );

    let mut chatters = Vec::new();
    for task in talking {
        chatters.push(task.await.unwrap());
    }
    for (i, c) in chatters.iter_mut().enumerate() {
        // Every other chatter's messages, all of them, each sender's in order.
        let mut next: HashMap<String, usize> = HashMap::new();
        let mut last_id = 0;
        let mut frames = Vec::new();
        let mut received = 0;
        while received < (CHATTERS - 1) * EACH {
            let f = c.recv().await;
            assert_ne!(f["type"], "error", "chatter{i} was refused: {f}");
            if f["type"] == "message" {
                let id = f["msg_id"].as_u64().unwrap();
                assert!(id > last_id, "message ids go up: {f}");
                last_id = id;
                let sender = f["sender_nickname"].as_str().unwrap().to_owned();
                if sender != "flooder" {
                    let (who, n) = f["message"].as_str().unwrap().split_once(' ').unwrap();
                    assert_eq!(who, sender, "{f}");
                    let expected = next.entry(sender.clone()).or_insert(0);
                    assert_eq!(
                        n.parse::<usize>().unwrap(),
                        *expected,
                        "{sender}'s messages in order"
                    );
                    *expected += 1;
                    received += 1;
                }
            }
            frames.push(f);
        }
        frames.extend(c.drain().await);
        assert!(
            frames.iter().all(|f| f["type"] != "error"),
            "chatter{i} was refused something: {frames:?}"
        );
        // The flooder's burst passed (its acknowledgements may not have:
        // they wait for the store, and the flooder is gone by then).
        let from_flooder = frames
            .iter()
            .filter(|f| f["type"] == "message" && f["sender_nickname"] == "flooder")
            .count();
        assert!(from_flooder >= 10, "the burst passes: {from_flooder}");
        assert_eq!(next.len(), CHATTERS - 1, "{next:?}");
        assert!(next.values().all(|&n| n == EACH), "{next:?}");
        let leave = frames
            .iter()
            .find(|f| f["event"] == "leave" && f["nickname"] == "flooder")
            .unwrap();
        assert_eq!(leave["reason"], "flood");
    }
    server.stop().await;
}

/// What one trickling socket sends, a byte a second: the start of a JSON
/// login, the start of an IRC registration, or nothing at all.
fn trickle(i: usize) -> (&'static [u8], bool) {
    match i % 3 {
        0 => (b"{\"type\":\"login\",\"nickname\":\"slow", false),
        1 => (b"NICK slowpoke", true),
        _ => (b"", false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_sockets_do_not_keep_new_users_out() {
    const SLOW: usize = 300;
    const SECONDS: usize = 5;
    let server = TestServer::start_with(Config {
        max_connections: 1_000,
        max_connections_per_ip: 0,
        ..test_config()
    })
    .await;
    let mut slow = Vec::new();
    for i in 0..SLOW {
        let (bytes, irc) = trickle(i);
        let addr = if irc { server.irc_addr } else { server.addr };
        slow.push((TcpStream::connect(addr).await.unwrap(), bytes));
    }
    let trickling = tokio::spawn(async move {
        let mut second = tokio::time::interval(Duration::from_secs(1));
        for s in 0..SECONDS {
            second.tick().await;
            for (stream, bytes) in &mut slow {
                if let Some(b) = bytes.get(s) {
                    stream.write_all(&[*b]).await.unwrap();
                }
            }
        }
        slow
    });

    let mut observer = Raw::login(server.addr, "observer").await;
    observer.drain().await;
    let mut arrivals = 0;
    let mut slowest = Duration::ZERO;
    // A new user every 50 ms, for as long as the trickle lasts.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    while !trickling.is_finished() {
        pace.tick().await;
        let nick = format!("new{arrivals}");
        let started = Instant::now();
        let text = format!("hello from {nick}");
        if arrivals % 2 == 0 {
            let mut c = tokio::time::timeout(WAIT, Raw::login(server.addr, &nick))
                .await
                .expect("a new user could not log in");
            slowest = slowest.max(started.elapsed());
            c.say_in("lobby", &text).await;
        } else {
            let mut c = tokio::time::timeout(WAIT, IrcRaw::register(server.irc_addr, &nick, &[]))
                .await
                .expect("a new IRC user could not register");
            slowest = slowest.max(started.elapsed());
            c.send(&format!("PRIVMSG #lobby :{text}")).await;
            c.sync().await;
        }
        let m = observer.recv_type("message").await;
        assert_eq!(m["message"], text);
        arrivals += 1;
    }
    let slow = trickling.await.unwrap();
    assert_eq!(slow.len(), SLOW);
    assert!(
        arrivals >= 5,
        "only {arrivals} users arrived in {SECONDS} s"
    );
    eprintln!(
        "{arrivals} users logged in past {SLOW} trickling sockets; the slowest took {slowest:?}"
    );
    let rest = observer.drain().await;
    assert!(rest.iter().all(|f| f["type"] == "presence"), "{rest:?}");
    server.stop().await;
}

/// What one address may create an hour: rooms (joining existing ones is
/// not creating) and accounts, in both protocols.
#[tokio::test]
async fn an_address_creates_a_few_rooms_and_accounts_an_hour() {
    let server = TestServer::start_with(Config {
        rooms_per_hour: 2,
        registrations_per_hour: 1,
        ..test_config()
    })
    .await;
    let mut maker = Raw::login(server.addr, "maker").await;
    maker.join("first").await;
    maker.join("second").await;
    maker
        .send_json(json!({"type": "join", "room": "third", "ref": "j"}))
        .await;
    let e = maker.expect_error("quota_exceeded").await;
    assert_eq!(e["ref"], "j");
    // Existing rooms are open to the same address (the lobby, another's).
    let mut elsewhere = Raw::connect_from(server.addr, OTHER_ADDRESS).await;
    elsewhere
        .send_json(json!({"type": "login", "nickname": "elsewhere"}))
        .await;
    elsewhere.recv_type("welcome").await;
    elsewhere.join("made-elsewhere").await;
    maker.join("made-elsewhere").await;
    // IRC from the same address: 437 for a new channel.
    let mut irc = IrcRaw::register(server.irc_addr, "ircmaker", &[]).await;
    irc.send("JOIN #fourth").await;
    let refused = irc.until("437").await;
    assert_eq!(refused.params[1], "#fourth", "{refused:?}");

    // One account an hour from this address.
    let password = "correct horse battery";
    maker
        .send_json(json!({"type": "register", "password": password}))
        .await;
    maker.recv_type("registered").await;
    let mut second = Raw::connect(server.addr).await;
    second
        .send_json(
            json!({"type": "register", "nickname": "second", "password": password, "ref": "r"}),
        )
        .await;
    let e = second.expect_error("quota_exceeded").await;
    assert_eq!(e["ref"], "r");
    irc.send(&format!("REGISTER * * :{password}")).await;
    let fail = irc.until("FAIL").await;
    assert_eq!(fail.params[1], "TEMPORARILY_UNAVAILABLE", "{fail:?}");
    server.stop().await;
}

/// The default request limit (test servers run without it).
fn request_config() -> Config {
    let defaults = Config::default();
    Config {
        requests_per_second: defaults.requests_per_second,
        request_burst: defaults.request_burst,
        ..test_config()
    }
}

/// Requests other than chat are limited too, weighted by what they cost:
/// a flood of nickname changes, joins and parts, or history reads reaches
/// bystanders (or the store) a few times, then disconnects the flooder.
#[tokio::test]
async fn every_kind_of_request_flood_is_cut_short() {
    let server = TestServer::start_with(request_config()).await;
    let mut bystander = Raw::login(server.addr, "bystander").await;
    bystander.join("den").await;
    let mut talker = Raw::login(server.addr, "talker").await;
    talker.join("den").await;
    for n in 0..600 {
        talker.say_in("den", &format!("old {n}")).await;
    }
    bystander.drain().await;

    type Flood = (&'static str, Box<dyn Fn(usize) -> Value>);
    let floods: [Flood; 3] = [
        (
            "nick",
            Box::new(|n| json!({"type": "nick", "nickname": format!("flood{n}")})),
        ),
        (
            "join/part",
            Box::new(|n| {
                if n % 2 == 0 {
                    json!({"type": "join", "room": "den"})
                } else {
                    json!({"type": "part", "room": "den"})
                }
            }),
        ),
        (
            "history",
            Box::new(|_| json!({"type": "history", "room": "den", "limit": 500})),
        ),
    ];
    for (i, (kind, request)) in floods.iter().enumerate() {
        let mut flooder = Raw::login(server.addr, &format!("flooder{i}")).await;
        flooder.join("den").await;
        bystander.drain().await;
        let burst: Vec<u8> = (0..2000)
            .flat_map(|n| request(n).to_string().into_bytes())
            .collect();
        flooder.send(&burst).await;
        let frames = flooder.until_closed().await;
        assert_eq!(
            frames.last().unwrap()["code"],
            "flood",
            "{kind}: {:?}",
            frames.last()
        );
        let refused = frames
            .iter()
            .filter(|f| f["code"] == "rate_limited")
            .count();
        assert!(refused > 0, "{kind}: nothing was refused");
        let replayed = frames
            .iter()
            .filter(|f| f["type"] == "message" && f["history"] == true)
            .count();
        assert!(
            replayed <= 2000,
            "{kind}: {replayed} messages of history replayed"
        );
        // What the bystander saw of it: a few notices, then the departure.
        let seen = bystander.drain().await;
        let notices = seen
            .iter()
            .filter(|f| f["type"] == "presence" && f["event"] != "leave")
            .count();
        assert!(
            notices <= 12,
            "{kind}: the bystander got {notices} notices: {seen:?}"
        );
    }

    // IRC: 263 for a dropped command, then the connection is closed.
    let mut irc = IrcRaw::register(server.irc_addr, "ircflooder", &[]).await;
    let lines: String = (0..2000).map(|n| format!("NICK ircflood{n}\r\n")).collect();
    irc.send_raw(lines.as_bytes()).await;
    let lines = irc.until_closed().await;
    assert!(lines.iter().any(|m| m.command == "263"), "no 263");
    let error = lines.iter().find(|m| m.command == "ERROR").unwrap();
    assert!(last_param(error).contains("Excess Flood"), "{error:?}");
    let seen = bystander.drain().await;
    let renames = seen.iter().filter(|f| f["event"] == "nick").count();
    assert!(
        renames <= 12,
        "the bystander saw {renames} renames: {seen:?}"
    );
    bystander.assert_quiet_and_alive().await;
    server.stop().await;
}

/// A server on a data directory (with `config`'s other settings), and ann
/// and bob logged in to it with nothing pending.
async fn on_disk_with_ann_and_bob(config: Config) -> (tempfile::TempDir, TestServer, Raw, Raw) {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(Config {
        store: chatroom_server::store::Location::Dir(data.path().to_owned()),
        ..config
    })
    .await;
    let mut ann = crate::support::user(&server, "ann").await;
    let bob = crate::support::user(&server, "bob").await;
    ann.recv_type("presence").await;
    (data, server, ann, bob)
}

/// The history store's backlog: while more messages wait to be stored than
/// `history_backlog` (here the store cannot commit: another process holds
/// the database's write lock, which the writer waits for), chat messages
/// are refused as the server being busy and never relayed; everything
/// taken is stored and acknowledged once the store catches up, and then
/// messages are taken again.
#[tokio::test]
async fn chat_is_refused_while_the_store_is_behind_and_nothing_taken_is_lost() {
    use crate::metrics::scrape;
    use crate::support::hold_the_store;

    const SENT: u64 = 100;
    let (data, server, mut ann, mut bob) = on_disk_with_ann_and_bob(Config {
        history_backlog: 20,
        ..test_config()
    })
    .await;
    let other = hold_the_store(data.path());
    for n in 0..SENT {
        ann.send_json(json!({"type": "broadcast", "message": format!("m{n}"), "ref": n}))
            .await;
    }
    // Every refusal comes at once (the store cannot catch up meanwhile).
    let mut refused = HashSet::new();
    while refused.len() < 60 {
        let error = ann.recv_type("error").await;
        assert_eq!(error["code"], "server_busy", "{error}");
        assert!(refused.insert(error["ref"].as_u64().unwrap()), "{error}");
    }
    other.execute_batch("ROLLBACK").unwrap();

    // Each message is either refused or taken and acknowledged, never both.
    let mut acked = HashSet::new();
    while (acked.len() + refused.len()) < usize::try_from(SENT).unwrap() {
        let frame = ann.recv().await;
        let n = frame["ref"].as_u64().unwrap();
        match frame["type"].as_str() {
            Some("ack") => assert!(acked.insert(n), "{frame}"),
            Some("error") => {
                assert_eq!(frame["code"], "server_busy", "{frame}");
                assert!(refused.insert(n), "{frame}");
            }
            _ => panic!("unexpected {frame}"),
        }
    }
    assert!(acked.is_disjoint(&refused));
    assert!(acked.len() >= 20, "the backlog takes its limit: {acked:?}");
    let taken: Vec<Value> = (0..SENT)
        .filter(|n| acked.contains(n))
        .map(|n| json!(format!("m{n}")))
        .collect();
    // bob heard exactly what was taken, in order, and the store holds it.
    for text in &taken {
        let heard = bob.recv_type("message").await;
        assert_eq!(&heard["message"], text, "{heard}");
    }
    bob.send_json(json!({"type": "history", "room": "lobby", "limit": 200, "ref": "h"}))
        .await;
    let stored: Vec<Value> = bob
        .until_history_end()
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert_eq!(stored, taken);
    assert_eq!(
        scrape(server.http_addr)
            .await
            .get("chatroom_store_busy_total"),
        refused.len() as f64
    );

    // Caught up, messages are taken again.
    ann.send_json(json!({"type": "broadcast", "message": "after", "ref": "after"}))
        .await;
    assert_eq!(ann.recv_type("ack").await["ref"], "after");
    assert_eq!(bob.recv_type("message").await["message"], "after");
    server.stop().await;
}

/// A request that waits (here a history read, behind a commit another
/// process's lock holds back) does not stop the client's deliveries: what
/// others say meanwhile reaches it before the read's answer, instead of
/// piling up unwritten toward the slow-consumer budget.
#[tokio::test]
async fn deliveries_go_on_while_a_request_waits() {
    use crate::support::hold_the_store;

    let (data, server, mut ann, mut bob) = on_disk_with_ann_and_bob(test_config()).await;
    let other = hold_the_store(data.path());
    // A read sees every message queued before it: ann's waits for her own,
    // whose commit the lock holds back.
    ann.send_json(json!({"type": "broadcast", "message": "stuck", "ref": "s"}))
        .await;
    ann.send_json(json!({"type": "history", "room": "lobby", "ref": "h"}))
        .await;
    bob.recv_type("message").await;
    bob.send_json(json!({"type": "broadcast", "message": "live"}))
        .await;
    let heard = ann.recv_type("message").await;
    assert_eq!(heard["message"], "live", "{heard}");
    assert!(heard.get("history").is_none_or(|h| h == false), "{heard}");
    other.execute_batch("ROLLBACK").unwrap();

    assert_eq!(ann.recv_type("ack").await["ref"], "s");
    let texts: Vec<Value> = ann
        .until_history_end()
        .await
        .iter()
        .map(|m| m["message"].clone())
        .collect();
    assert!(
        texts.contains(&json!("stuck")),
        "the read sees what was queued before it: {texts:?}"
    );
    server.stop().await;
}

/// An acknowledgement comes once its message is durable, after its request
/// was handled; it never waits for the room traffic a busy connection
/// gathers into one write (the linger window), however long that window.
#[tokio::test]
async fn an_ack_does_not_wait_out_the_linger_window() {
    let (_data, server, mut ann, _bob) = on_disk_with_ann_and_bob(Config {
        // Far longer than the test waits: an ack that waited it out would
        // never arrive in time.
        write_linger: Duration::from_secs(600),
        ..test_config()
    })
    .await;
    // Three answers written together make ann's traffic dense, so that
    // what comes unasked within the window waits for it.
    ann.send(br#"{"type":"ping","ref":1}{"type":"ping","ref":2}{"type":"ping","ref":3}"#)
        .await;
    for reference in 1..=3 {
        assert_eq!(ann.recv_type("pong").await["ref"], reference);
    }
    for reference in 10..13 {
        ann.send_json(json!({"type": "broadcast", "message": "tracked", "ref": reference}))
            .await;
        let ack = ann.recv_type("ack").await;
        assert_eq!(ack["ref"], reference);
    }
    server.stop().await;
}
