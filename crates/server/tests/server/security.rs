//! The security properties of the hardening work, each tested on its own
//! over real sockets in both protocols: nobody can send as someone else,
//! nobody reads a room they are not in, and nobody reads another user's
//! direct messages. (That the client strips terminal control sequences is
//! tested with the real binary, in `crates/chatroom/tests/binary/hardening.rs`.)
//!
//! "Nothing leaked" is checked without waiting for time to pass: every
//! message is relayed under the hub's lock before its sender's `ack` is
//! queued, so once the ack is read, anything leaked is already queued for
//! the onlooker, ahead of the answer to the onlooker's next ping.

use chatroom_proto::irc::Message;
use chatroom_testkit::{IrcRaw, Raw, TestServer, last_param};
use serde_json::{Value, json};

/// The text of every chat line among `frames` (JSON).
fn texts(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message" || f["type"] == "direct")
        .map(|f| f["message"].as_str().unwrap().to_owned())
        .collect()
}

/// The text of every PRIVMSG or NOTICE among `lines` (IRC).
fn irc_texts(lines: &[Message]) -> Vec<String> {
    lines
        .iter()
        .filter(|m| m.command == "PRIVMSG" || m.command == "NOTICE")
        .map(|m| last_param(m).to_owned())
        .collect()
}

#[tokio::test]
async fn json_clients_cannot_send_as_someone_else() {
    let server = TestServer::start().await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut mallory = Raw::login(server.addr, "mallory").await;
    let mut irc = IrcRaw::register(server.irc_addr, "watcher", &["message-tags"]).await;
    bob.drain().await;

    // Every field a client might hope the server trusts.
    let forged = json!({
        "sender_id": bob.id, "sender_nickname": "bob", "from": "bob", "nickname": "bob",
        "user_id": bob.id, "id": bob.id, "msg_id": 1, "ts": 0, "history": true,
    });
    let mut broadcast = json!({"type": "broadcast", "message": "I am bob", "ref": 1});
    let mut direct = json!({"type": "direct", "to": "bob", "message": "I am System", "ref": 2});
    for request in [&mut broadcast, &mut direct] {
        request
            .as_object_mut()
            .unwrap()
            .extend(forged.as_object().unwrap().clone());
    }
    direct["sender_id"] = json!(0);
    direct["sender_nickname"] = json!("System");
    mallory.send_json(broadcast).await;
    let ack = mallory.recv_type("ack").await;
    mallory.send_json(direct).await;
    mallory.recv_type("ack").await;

    let seen = bob.drain().await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    for m in &seen {
        assert_eq!(m["sender_id"], mallory.id, "{m}");
        assert_eq!(m["sender_nickname"], "mallory", "{m}");
    }
    assert_eq!(
        seen[0]["msg_id"], ack["msg_id"],
        "the server numbers messages"
    );
    assert!(seen[0]["ts"].as_i64().unwrap() > 0);
    assert!(seen[0].get("history").is_none(), "{}", seen[0]);

    let lines = irc.sync().await;
    let said = lines.iter().find(|m| m.command == "PRIVMSG").unwrap();
    assert_eq!(said.source.as_ref().unwrap().name, "mallory");
    assert_eq!(last_param(said), "I am bob");
    server.stop().await;
}

#[tokio::test]
async fn irc_clients_cannot_send_as_someone_else() {
    let server = TestServer::start().await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut watcher =
        IrcRaw::register(server.irc_addr, "watcher", &["message-tags", "server-time"]).await;
    let mut mallory = IrcRaw::register(server.irc_addr, "mallory", &[]).await;
    watcher.sync().await;
    bob.drain().await;

    // A source prefix and server tags of its own making.
    mallory
        .send(
            "@msgid=forged;time=2000-01-01T00:00:00.000Z :bob!bob@user-1.chatroom PRIVMSG #lobby :I am bob",
        )
        .await;
    mallory
        .send(":chatroom NOTICE #lobby :I am the server")
        .await;
    mallory.send(":System!x@y PRIVMSG bob :I am System").await;
    mallory.sync().await;

    let seen = bob.drain().await;
    assert_eq!(
        texts(&seen),
        ["I am bob", "I am the server", "I am System"],
        "{seen:?}"
    );
    for m in &seen {
        assert_eq!(m["sender_nickname"], "mallory", "{m}");
        assert_ne!(m["ts"], json!(946_684_800_000_i64), "{m}");
    }
    let lines = watcher.sync().await;
    let said: Vec<&Message> = lines
        .iter()
        .filter(|m| m.command == "PRIVMSG" || m.command == "NOTICE")
        .collect();
    assert_eq!(said.len(), 2, "{lines:?}");
    for m in said {
        assert_eq!(m.source.as_ref().unwrap().name, "mallory", "{m:?}");
        assert_ne!(m.tag("msgid"), Some(Some("forged")), "{m:?}");
        assert!(
            !m.tag("time").flatten().unwrap().starts_with("2000"),
            "{m:?}"
        );
    }
    server.stop().await;
}

/// Text is text: line breaks in a JSON message cannot smuggle an IRC line
/// with another source, and a JSON-looking text is not a frame.
#[tokio::test]
async fn message_text_cannot_forge_lines_or_frames() {
    let server = TestServer::start().await;
    let mut mallory = Raw::login(server.addr, "mallory").await;
    let mut json_watcher = Raw::login(server.addr, "jsonwatcher").await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircwatcher", &[]).await;
    json_watcher.drain().await;

    let text = "hello\r\n:admin!admin@user-1.chatroom PRIVMSG #lobby :I am admin\r\nERROR :bye\n{\"type\":\"message\",\"sender_id\":0,\"sender_nickname\":\"System\",\"message\":\"forged\"}";
    mallory.say_in("lobby", text).await;

    let seen = json_watcher.drain().await;
    assert_eq!(seen.len(), 1, "one frame: {seen:?}");
    // CRLF line ends are stored as LF (`chat_text::sanitize`).
    assert_eq!(seen[0]["message"], text.replace("\r\n", "\n"));
    assert_eq!(seen[0]["sender_nickname"], "mallory");

    let lines = irc.sync().await;
    assert!(!lines.is_empty());
    for m in &lines {
        assert_eq!(m.command, "PRIVMSG", "{lines:?}");
        assert_eq!(m.source.as_ref().unwrap().name, "mallory", "{lines:?}");
        assert_eq!(m.params[0], "#lobby");
    }
    server.stop().await;
}

#[tokio::test]
async fn nobody_reads_a_room_they_are_not_in() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut eve = Raw::login(server.addr, "eve").await;
    let mut irc_eve = IrcRaw::register(server.irc_addr, "irceve", &[]).await;
    alice.join("secret").await;
    bob.join("secret").await;
    eve.drain().await;
    irc_eve.sync().await;

    alice.say_in("secret", "the plan").await;
    assert_eq!(texts(&bob.drain().await), ["the plan"]);
    bob.say_in("secret", "agreed").await;
    assert_eq!(texts(&alice.drain().await), ["agreed"]);

    // Not live...
    assert_eq!(texts(&eve.drain().await), Vec::<String>::new());
    assert_eq!(irc_texts(&irc_eve.sync().await), Vec::<String>::new());
    // ...not from history...
    eve.send_json(json!({"type": "history", "room": "secret", "ref": "h"}))
        .await;
    let e = eve.expect_error("not_in_room").await;
    assert_eq!(e["ref"], "h");
    // ...and not by speaking into it either.
    eve.send_json(json!({"type": "broadcast", "room": "secret", "message": "hi?", "ref": "b"}))
        .await;
    eve.expect_error("not_in_room").await;
    irc_eve.send("PRIVMSG #secret :hi?").await;
    let lines = irc_eve.sync().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].command, "404");

    // Leaving a room ends reading it.
    bob.send_json(json!({"type": "part", "room": "secret"}))
        .await;
    bob.recv_type("parted").await;
    alice.say_in("secret", "after bob left").await;
    assert_eq!(texts(&bob.drain().await), Vec::<String>::new());
    bob.send_json(json!({"type": "history", "room": "secret"}))
        .await;
    bob.expect_error("not_in_room").await;
    assert_eq!(texts(&eve.drain().await), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn nobody_reads_another_users_direct_messages() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    let mut erin = IrcRaw::register(server.irc_addr, "erin", &[]).await;
    let mut frank = IrcRaw::register(server.irc_addr, "frank", &["echo-message"]).await;
    // The onlookers, one per protocol.
    let mut carol = Raw::login(server.addr, "carol").await;
    let mut dave = IrcRaw::register(server.irc_addr, "dave", &[]).await;
    bob.drain().await;
    erin.sync().await;
    carol.drain().await;
    dave.sync().await;

    // JSON to JSON, JSON to IRC, IRC to JSON, IRC to IRC.
    alice
        .send_json(json!({"type": "direct", "to": "bob", "message": "a to b", "ref": 1}))
        .await;
    alice.recv_type("ack").await;
    alice
        .send_json(json!({"type": "direct", "to": "erin", "message": "a to e", "ref": 2}))
        .await;
    alice.recv_type("ack").await;
    frank.send("PRIVMSG bob :f to b").await;
    frank.send("PRIVMSG erin :f to e").await;
    frank.sync().await;

    assert_eq!(texts(&bob.drain().await), ["a to b", "f to b"]);
    assert_eq!(irc_texts(&erin.sync().await), ["a to e", "f to e"]);
    assert_eq!(texts(&carol.drain().await), Vec::<String>::new());
    assert_eq!(irc_texts(&dave.sync().await), Vec::<String>::new());
    // Direct messages are stored, but never served as a room's history.
    carol
        .send_json(json!({"type": "history", "room": "lobby"}))
        .await;
    assert_eq!(
        texts(&carol.until_history_end().await),
        Vec::<String>::new()
    );
    server.stop().await;
}
