//! Read markers (IRCv3 `draft/read-marker`, the JSON `mark_read`): set,
//! asked for, only moving forward, shared by every session of an account
//! across both protocols, told after a join, and kept across a restart.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chatroom_proto::irc::Message;
use chatroom_server::Config;
use chatroom_server::store::Location;
use chatroom_testkit::{IrcRaw, Raw, TestServer, commands, test_config};
use serde_json::{Value, json};

use crate::support::PASSWORD;

const CAP: &str = "draft/read-marker";

/// Registers the account `nick` over JSON; the session stays logged in.
async fn account(server: &TestServer, nick: &str) -> Raw {
    let mut c = Raw::login_with(
        server.addr,
        json!({"type": "register", "nickname": nick, "password": PASSWORD}),
    )
    .await;
    c.recv_type("registered").await;
    c
}

/// Logs into `account` over JSON with its password.
async fn json_session(server: &TestServer, account: &str) -> Raw {
    Raw::login_with(
        server.addr,
        json!({"type": "login", "nickname": account, "password": PASSWORD}),
    )
    .await
}

/// An IRC session as `nick`, logged into `account` by SASL, with the
/// read-marker capability; read through its welcome and `#lobby`.
async fn irc_session(server: &TestServer, nick: &str, account: &str) -> IrcRaw {
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send(&format!("CAP REQ :sasl {CAP}")).await;
    c.until("CAP").await;
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {nick} 0 * :{nick}")).await;
    c.send("AUTHENTICATE PLAIN").await;
    c.until("AUTHENTICATE").await;
    let payload = STANDARD.encode(format!("\0{account}\0{PASSWORD}"));
    c.send(&format!("AUTHENTICATE {payload}")).await;
    c.until("903").await;
    c.send("CAP END").await;
    c.until("001").await;
    c.until("366").await;
    c.sync().await;
    c
}

/// The one MARKREAD among `lines`.
fn markread(lines: &[Message]) -> Vec<String> {
    let found: Vec<&Message> = lines.iter().filter(|m| m.command == "MARKREAD").collect();
    assert_eq!(found.len(), 1, "{lines:?}");
    found[0].params.clone()
}

/// Sends `line` and returns the MARKREAD that answers it.
async fn ask(c: &mut IrcRaw, line: &str) -> Vec<String> {
    c.send(line).await;
    markread(&c.sync().await)
}

#[tokio::test]
async fn markread_sets_asks_and_only_moves_forward_without_an_account() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "ann", &[CAP]).await;
    assert_eq!(ask(&mut c, "MARKREAD #rust").await, ["#rust", "*"]);
    let newer = "timestamp=2019-06-01T12:00:00.000Z";
    let older = "timestamp=2019-01-01T00:00:00.000Z";
    assert_eq!(
        ask(&mut c, &format!("MARKREAD #rust {newer}")).await,
        ["#rust", newer]
    );
    assert_eq!(
        ask(&mut c, &format!("MARKREAD #Rust {older}")).await,
        ["#Rust", newer],
        "an older time is answered with the stored one"
    );
    assert_eq!(ask(&mut c, "MARKREAD #RUST").await, ["#RUST", newer]);
    // A nickname: a conversation, whether or not they are online.
    assert_eq!(
        ask(&mut c, &format!("MARKREAD bob {older}")).await,
        ["bob", older]
    );
    assert_eq!(ask(&mut c, "MARKREAD BOB").await, ["BOB", older]);
    // A time in the future counts as now.
    let future = ask(&mut c, "MARKREAD #later timestamp=2999-01-01T00:00:00.000Z").await;
    assert!(future[1].starts_with("timestamp=20"), "{future:?}");
    assert!(future[1].as_str() < "timestamp=2999", "{future:?}");
    // Another connection without an account has markers of its own.
    let mut other = IrcRaw::register(server.irc_addr, "bea", &[CAP]).await;
    assert_eq!(ask(&mut other, "MARKREAD #rust").await, ["#rust", "*"]);
    server.stop().await;
}

#[tokio::test]
async fn joining_tells_the_marker_before_the_end_of_names() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "ann", &[CAP]).await;
    c.send("JOIN #rust").await;
    let lines = c.sync().await;
    let order = commands(&lines);
    let at = |command: &str| order.iter().position(|c| *c == command).unwrap();
    assert!(
        at("JOIN") < at("MARKREAD") && at("MARKREAD") < at("366"),
        "{order:?}"
    );
    assert_eq!(markread(&lines), ["#rust", "*"]);
    let ts = "timestamp=2020-03-15T10:00:00.000Z";
    ask(&mut c, &format!("MARKREAD #rust {ts}")).await;
    c.send("PART #rust").await;
    c.sync().await;
    c.send("JOIN #rust").await;
    assert_eq!(markread(&c.sync().await), ["#rust", ts]);
    // Without the capability: no MARKREAD after a join.
    let mut plain = IrcRaw::register(server.irc_addr, "bea", &[]).await;
    plain.send("JOIN #rust").await;
    assert!(!commands(&plain.sync().await).contains(&"MARKREAD"));
    server.stop().await;
}

#[tokio::test]
async fn an_accounts_sessions_share_markers_across_protocols() {
    let server = TestServer::start().await;
    let mut json = account(&server, "alys").await;
    let mut irc = irc_session(&server, "alys_irc", "alys").await;
    let mut irc2 = irc_session(&server, "alys_too", "alys").await;
    // Someone else's session hears nothing.
    let mut stranger = IrcRaw::register(server.irc_addr, "zed", &[CAP]).await;

    // IRC moves it: the other IRC session and the JSON one are told.
    let ts = "timestamp=2022-11-11T11:11:11.111Z";
    assert_eq!(
        ask(&mut irc, &format!("MARKREAD #test {ts}")).await,
        ["#test", ts]
    );
    assert_eq!(markread(&irc2.sync().await), ["#test", ts]);
    let pushed = json.recv_type("read_marker").await;
    assert_eq!(
        pushed,
        json!({"type": "read_marker", "room": "test", "ts": 1_668_165_071_111_i64})
    );

    // JSON moves it: both IRC sessions are told; JSON gets the answer.
    json.send_json(
        json!({"type": "mark_read", "room": "test", "ts": 1_668_165_072_000_i64, "ref": 1}),
    )
    .await;
    assert_eq!(
        json.recv_type("read_marker").await,
        json!({"type": "read_marker", "room": "test", "ts": 1_668_165_072_000_i64, "ref": 1})
    );
    let moved = "timestamp=2022-11-11T11:11:12.000Z";
    let pushed = irc.sync().await;
    assert_eq!(markread(&pushed), ["#test", moved]);
    let source = pushed
        .iter()
        .find(|m| m.command == "MARKREAD")
        .and_then(|m| m.source.clone());
    assert_eq!(
        source.map(|s| s.name),
        Some("chatroom".to_owned()),
        "from the server, by its name"
    );
    assert_eq!(markread(&irc2.sync().await), ["#test", moved]);
    // An older time moves nothing and tells nobody.
    json.send_json(json!({"type": "mark_read", "room": "test", "ts": 5, "ref": 2}))
        .await;
    assert_eq!(
        json.recv_type("read_marker").await["ts"],
        1_668_165_072_000_i64
    );
    assert!(irc.sync().await.is_empty());

    // A conversation's marker, from JSON, asked for over IRC.
    json.send_json(json!({"type": "mark_read", "with": "Bob", "ts": 1000, "ref": 3}))
        .await;
    assert_eq!(
        json.recv_type("read_marker").await,
        json!({"type": "read_marker", "with": "Bob", "ts": 1000, "ref": 3})
    );
    let bob = ["Bob", "timestamp=1970-01-01T00:00:01.000Z"];
    assert_eq!(markread(&irc.sync().await), bob);
    assert_eq!(markread(&irc2.sync().await), bob);
    assert_eq!(
        ask(&mut irc, "MARKREAD bob").await,
        ["bob", "timestamp=1970-01-01T00:00:01.000Z"]
    );
    assert!(stranger.sync().await.is_empty());
    assert_eq!(ask(&mut stranger, "MARKREAD #test").await, ["#test", "*"]);

    // Every marker at once.
    json.send_json(json!({"type": "read_markers", "ref": 4}))
        .await;
    assert_eq!(
        json.recv_type("read_markers").await,
        json!({"type": "read_markers", "markers": [
            {"room": "test", "ts": 1_668_165_072_000_i64},
            {"with": "Bob", "ts": 1000},
        ], "ref": 4})
    );
    server.stop().await;
}

#[tokio::test]
async fn json_without_an_account_keeps_markers_for_the_session() {
    let server = TestServer::start().await;
    let mut c = Raw::login(server.addr, "guest").await;
    c.send_json(json!({"type": "read_markers", "ref": 1})).await;
    assert_eq!(
        c.recv_type("read_markers").await,
        json!({"type": "read_markers", "markers": [], "ref": 1})
    );
    c.send_json(json!({"type": "mark_read", "room": "lobby", "ts": 2000}))
        .await;
    assert_eq!(
        c.recv_type("read_marker").await,
        json!({"type": "read_marker", "room": "lobby", "ts": 2000})
    );
    // Joining a room with a marker: the marker follows `joined`.
    c.send_json(json!({"type": "part", "room": "lobby"})).await;
    c.recv_type("parted").await;
    c.send_json(json!({"type": "join", "room": "lobby", "ref": "j"}))
        .await;
    let joined = c.recv().await;
    assert_eq!(joined["type"], "joined", "{joined}");
    let after: Value = c.recv().await;
    assert_eq!(
        after,
        json!({"type": "read_marker", "room": "lobby", "ts": 2000, "ref": "j"})
    );
    c.until_history_end().await;
    c.send_json(json!({"type": "mark_read", "room": "#bad", "ts": 1, "ref": 2}))
        .await;
    c.expect_error("invalid_field").await;
    server.stop().await;
}

/// A server keeping its data in `dir`.
async fn durable_server(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(Config {
        store: Location::Dir(dir.to_owned()),
        ..test_config()
    })
    .await
}

#[tokio::test]
async fn markers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = durable_server(dir.path()).await;
    let mut json = account(&server, "alys").await;
    json.send_json(
        json!({"type": "mark_read", "room": "Rust", "ts": 1_600_000_000_000_i64, "ref": 1}),
    )
    .await;
    json.recv_type("read_marker").await;
    server.stop().await;

    let server = durable_server(dir.path()).await;
    let mut json = json_session(&server, "alys").await;
    json.send_json(json!({"type": "read_markers", "ref": 1}))
        .await;
    assert_eq!(
        json.recv_type("read_markers").await["markers"],
        json!([{"room": "Rust", "ts": 1_600_000_000_000_i64}])
    );
    let mut irc = irc_session(&server, "alys_irc", "alys").await;
    irc.send("JOIN #rust").await;
    assert_eq!(
        markread(&irc.sync().await),
        ["#rust", "timestamp=2020-09-13T12:26:40.000Z"]
    );
    server.stop().await;
}
