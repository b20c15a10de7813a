//! Accounts and operators over real sockets, in both protocols: registering,
//! logging in with a password, registered-nickname protection,
//! `require_account`, password rules, persistence across a restart of the
//! server (same data directory), and what operators may do: kick, kill, ban
//! by nickname or address, unban, set any topic; and that nobody else may.

use std::net::{IpAddr, Ipv4Addr};

use chatroom_proto::irc::Message;
use chatroom_server::Config;
use chatroom_server::accounts::OperCredentials;
use chatroom_server::store::Location;
use chatroom_testkit::{IrcRaw, Raw, TestServer, commands, last_param, test_config};
use serde_json::{Value, json};

use crate::support::PASSWORD;

/// Where the operator connects from in the IP ban tests, so that banning
/// 127.0.0.1 does not disconnect the operator too.
const OPERATOR_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The hash of [`PASSWORD`], made once for every test's operators.
static OPER_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| chatroom_server::accounts::hash_password(PASSWORD).unwrap());

/// A server with the operators `admin` and `ircop`, both with [`PASSWORD`].
pub(crate) fn operators_config() -> Config {
    let oper = |name: &str| OperCredentials {
        name: name.to_owned(),
        hash: OPER_HASH.clone(),
    };
    Config {
        opers: vec![oper("admin"), oper("ircop")],
        ..test_config()
    }
}

/// Logs in as `nick` and becomes the operator of that name.
pub(crate) async fn operator(addr: std::net::SocketAddr, nick: &str) -> Raw {
    let mut c = Raw::login(addr, nick).await;
    become_operator(&mut c, nick).await;
    c
}

/// `oper` with [`PASSWORD`]; waits for the `done`.
async fn become_operator(c: &mut Raw, name: &str) {
    c.send_json(json!({"type": "oper", "name": name, "password": PASSWORD, "ref": "op"}))
        .await;
    assert_eq!(
        c.recv_type("done").await,
        json!({"type": "done", "request": "oper", "ref": "op"})
    );
}

/// Registers `nick` with [`PASSWORD`] before logging in (which logs in);
/// the `registered` reply has been read.
async fn register(addr: std::net::SocketAddr, nick: &str) -> Raw {
    let mut c = Raw::login_with(
        addr,
        json!({"type": "register", "nickname": nick, "password": PASSWORD, "ref": "reg"}),
    )
    .await;
    let registered = c.recv().await;
    assert_eq!(
        registered,
        json!({"type": "registered", "nickname": nick, "ref": "reg"})
    );
    c
}

/// A login request, with a password when given.
fn login(nick: &str, password: Option<&str>) -> Value {
    match password {
        Some(p) => json!({"type": "login", "nickname": nick, "password": p, "ref": "login"}),
        None => json!({"type": "login", "nickname": nick, "ref": "login"}),
    }
}

/// Sends a login on a fresh connection; returns the reply.
async fn try_login(addr: std::net::SocketAddr, nick: &str, password: Option<&str>) -> Value {
    let mut c = Raw::connect(addr).await;
    c.send_json(login(nick, password)).await;
    c.recv().await
}

/// Registers on IRC: `PASS` when given, `NICK`, `USER`; returns the client
/// and every line up to the end of the registration attempt (`001` or an
/// error), read through a PING.
async fn irc_connect(
    addr: std::net::SocketAddr,
    nick: &str,
    password: Option<&str>,
) -> (IrcRaw, Vec<Message>) {
    let mut c = IrcRaw::connect(addr).await;
    if let Some(p) = password {
        c.send(&format!("PASS :{p}")).await;
    }
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {nick} 0 * :{nick}")).await;
    let lines = c.sync().await;
    (c, lines)
}

#[tokio::test]
async fn json_register_before_and_after_login_then_log_in_with_the_password() {
    let server = TestServer::start().await;
    // Before login: registers and logs in at once.
    let alice = register(server.addr, "alice").await;
    // After login: registers the nickname in use.
    let mut bob = Raw::login(server.addr, "bob").await;
    bob.send_json(json!({"type": "register", "password": PASSWORD, "ref": 1}))
        .await;
    let registered = bob.recv_type("registered").await;
    assert_eq!(
        registered,
        json!({"type": "registered", "nickname": "bob", "ref": 1})
    );
    bob.send_json(json!({"type": "register", "password": PASSWORD, "ref": 2}))
        .await;
    let again = bob.expect_error("already_registered").await;
    assert_eq!(again["ref"], 2);
    for mut c in [alice, bob] {
        c.send_json(json!({"type": "logout"})).await;
        c.until_closed().await;
    }

    for nick in ["alice", "bob"] {
        let reply = try_login(server.addr, nick, Some(PASSWORD)).await;
        assert_eq!(reply["type"], "welcome", "{reply}");
        assert_eq!(reply["nickname"], nick);
    }
    server.stop().await;
}

#[tokio::test]
async fn irc_register_before_and_after_registration_then_log_in_with_pass() {
    let server = TestServer::start().await;
    // Before registration: REGISTER after NICK, then USER completes it.
    let mut carol = IrcRaw::connect(server.irc_addr).await;
    carol.send("NICK carol").await;
    carol.send(&format!("REGISTER * * :{PASSWORD}")).await;
    let success = carol.until("REGISTER").await;
    assert_eq!(
        success.params[..2],
        ["SUCCESS".to_owned(), "carol".to_owned()]
    );
    carol.send("USER carol 0 * :Carol").await;
    carol.until("001").await;

    // After registration.
    let mut dave = IrcRaw::register(server.irc_addr, "dave", &[]).await;
    dave.send(&format!("REGISTER * * :{PASSWORD}")).await;
    let success = dave.until("REGISTER").await;
    assert_eq!(
        success.params[..2],
        ["SUCCESS".to_owned(), "dave".to_owned()]
    );
    dave.send(&format!("REGISTER * * :{PASSWORD}")).await;
    let fail = dave.until("FAIL").await;
    assert_eq!(
        fail.params[..2],
        ["REGISTER".to_owned(), "ACCOUNT_EXISTS".to_owned()]
    );

    for mut c in [carol, dave] {
        c.send("QUIT").await;
        c.until_closed().await;
    }
    let (_carol, lines) = irc_connect(server.irc_addr, "carol", Some(PASSWORD)).await;
    assert!(commands(&lines).contains(&"001"), "{lines:?}");
    // An account is one for both protocols.
    let reply = try_login(server.addr, "dave", Some(PASSWORD)).await;
    assert_eq!(reply["type"], "welcome", "{reply}");
    server.stop().await;
}

/// A JSON login with a password for a nickname nobody registered is refused
/// (the user would believe the nickname protected); without the password it
/// works. IRC clients' `PASS` is ignored then, as IRC servers without a
/// server password do.
#[tokio::test]
async fn a_password_for_an_unregistered_nickname_is_refused_over_json() {
    let server = TestServer::start().await;
    let mut c = Raw::connect(server.addr).await;
    c.send_json(login("erin", Some(PASSWORD))).await;
    let e = c.expect_error("no_account").await;
    assert_eq!(e["ref"], "login");
    assert!(e["message"].as_str().unwrap().contains("no account"), "{e}");
    c.assert_quiet_and_alive().await;
    // An invalid or taken nickname is refused for that, password or not.
    c.send_json(login("bad nick", Some(PASSWORD))).await;
    c.expect_error("invalid_nickname").await;
    let _online = Raw::login(server.addr, "grace").await;
    c.send_json(login("grace", Some(PASSWORD))).await;
    c.expect_error("nickname_taken").await;
    c.send_json(login("erin", None)).await;
    assert_eq!(c.recv_type("welcome").await["nickname"], "erin");

    let (_irc, lines) = irc_connect(server.irc_addr, "frank", Some(PASSWORD)).await;
    assert!(commands(&lines).contains(&"001"), "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_in_both_protocols() {
    let server = TestServer::start().await;
    drop(register(server.addr, "alice").await);
    let mut c = Raw::connect(server.addr).await;
    // Until alice's connection is gone, the nickname may still be taken:
    // the password is checked first, so the answer is the same either way.
    c.send_json(login("alice", Some("not the password"))).await;
    let e = c.expect_error("wrong_password").await;
    assert_eq!(e["ref"], "login");
    // A refused login leaves the connection open for another try.
    c.assert_quiet_and_alive().await;

    let (_irc, lines) = irc_connect(server.irc_addr, "alice", Some("not the password")).await;
    assert!(!commands(&lines).contains(&"001"), "{lines:?}");
    let refused = lines.iter().find(|m| m.command == "464").unwrap();
    assert!(
        last_param(refused).contains("Password incorrect"),
        "{refused:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_registered_nickname_cannot_be_taken_without_its_password() {
    let server = TestServer::start().await;
    let mut alice = register(server.addr, "alice").await;
    alice.send_json(json!({"type": "logout"})).await;
    alice.until_closed().await;

    // Logging in as it, in any case.
    for nick in ["alice", "ALICE"] {
        let mut c = Raw::connect(server.addr).await;
        c.send_json(login(nick, None)).await;
        c.expect_error("account_required").await;
    }
    let (_irc, lines) = irc_connect(server.irc_addr, "Alice", None).await;
    assert!(!commands(&lines).contains(&"001"), "{lines:?}");
    assert!(commands(&lines).contains(&"464"), "{lines:?}");

    // Changing one's nickname to it.
    let mut mallory = Raw::login(server.addr, "mallory").await;
    mallory
        .send_json(json!({"type": "nick", "nickname": "alice", "ref": "n"}))
        .await;
    let e = mallory.expect_error("account_required").await;
    assert_eq!(e["ref"], "n");
    let mut irc = IrcRaw::register(server.irc_addr, "trudy", &[]).await;
    irc.send("NICK Alice").await;
    let lines = irc.sync().await;
    assert_eq!(commands(&lines), ["433"], "{lines:?}");

    // With the password, it is alice's.
    let mut alice = Raw::login_with(server.addr, login("alice", Some(PASSWORD))).await;
    alice.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn require_account_refuses_plain_logins() {
    let server = TestServer::start_with(Config {
        require_account: true,
        ..test_config()
    })
    .await;
    let mut c = Raw::connect(server.addr).await;
    c.send_json(login("plain", None)).await;
    let e = c.expect_error("account_required").await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("requires an account"),
        "{e}"
    );
    // With a password for a nickname nobody registered, too.
    c.send_json(login("plain", Some(PASSWORD))).await;
    c.expect_error("account_required").await;
    let (_irc, lines) = irc_connect(server.irc_addr, "plainirc", None).await;
    assert!(!commands(&lines).contains(&"001"), "{lines:?}");
    assert!(commands(&lines).contains(&"464"), "{lines:?}");
    let (_irc, lines) = irc_connect(server.irc_addr, "passirc", Some(PASSWORD)).await;
    assert!(!commands(&lines).contains(&"001"), "{lines:?}");
    assert!(commands(&lines).contains(&"464"), "{lines:?}");

    // Registering is the way in, in both protocols.
    let mut member = register(server.addr, "member").await;
    member.assert_quiet_and_alive().await;
    let mut irc = IrcRaw::connect(server.irc_addr).await;
    irc.send("NICK ircmember").await;
    irc.send(&format!("REGISTER * * :{PASSWORD}")).await;
    irc.send("USER ircmember 0 * :member").await;
    irc.until("001").await;

    // Once in, nobody walks around the rule by taking an unregistered name.
    member
        .send_json(json!({"type": "nick", "nickname": "freeloader", "ref": "n"}))
        .await;
    let e = member.recv_type("error").await;
    assert_eq!(
        (&e["code"], &e["ref"]),
        (&json!("account_required"), &json!("n"))
    );
    irc.send("NICK ircfreeloader").await;
    let refused = irc.until("433").await;
    assert!(last_param(&refused).contains("registered"), "{refused:?}");
    // Still themselves, in both protocols.
    member
        .send_json(json!({"type": "who", "room": "lobby"}))
        .await;
    let who = member.recv_type("member_list").await;
    let nicks: Vec<&str> = who["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["nickname"].as_str().unwrap())
        .collect();
    assert!(
        nicks.contains(&"member") && nicks.contains(&"ircmember"),
        "{nicks:?}"
    );
    assert!(!nicks.iter().any(|n| n.contains("freeloader")), "{nicks:?}");
    server.stop().await;
}

#[tokio::test]
async fn passwords_shorter_than_8_characters_are_refused() {
    let server = TestServer::start().await;
    // Characters, not bytes: seven Chinese characters are 21 bytes.
    for (nick, short) in [("shorty", "seven77"), ("hanzi", "密码密码密码密")] {
        let mut c = Raw::connect(server.addr).await;
        c.send_json(json!({"type": "register", "nickname": nick, "password": short, "ref": "r"}))
            .await;
        let e = c.expect_error("invalid_field").await;
        assert_eq!(e["ref"], "r");
        // Not registered, not logged in.
        c.send_json(login(nick, None)).await;
        assert_eq!(c.recv().await["type"], "welcome");
    }
    let mut long = Raw::connect(server.addr).await;
    long.send_json(json!({"type": "register", "nickname": "toolong", "password": "p".repeat(257)}))
        .await;
    long.expect_error("invalid_field").await;
    let mut ok = Raw::connect(server.addr).await;
    ok.send_json(json!({"type": "register", "nickname": "eight", "password": "密码密码密码密码"}))
        .await;
    assert_eq!(ok.recv().await["type"], "welcome");
    assert_eq!(ok.recv().await["type"], "registered");

    let mut irc = IrcRaw::register(server.irc_addr, "ircshort", &[]).await;
    irc.send("REGISTER * * :seven77").await;
    let fail = irc.until("FAIL").await;
    assert_eq!(
        fail.params[..2],
        ["REGISTER".to_owned(), "UNACCEPTABLE_PASSWORD".to_owned()]
    );
    server.stop().await;
}

/// A server keeping its data in `dir`.
async fn durable_server(dir: &std::path::Path) -> TestServer {
    TestServer::start_with(Config {
        store: Location::Dir(dir.to_owned()),
        ..operators_config()
    })
    .await
}

#[tokio::test]
async fn accounts_and_bans_survive_a_restart_and_so_does_an_unban() {
    let dir = tempfile::tempdir().unwrap();
    let server = durable_server(dir.path()).await;
    let mut admin = register(server.addr, "admin").await;
    become_operator(&mut admin, "admin").await;
    drop(register(server.addr, "alice").await);
    let mut irc = IrcRaw::register(server.irc_addr, "carol", &[]).await;
    irc.send(&format!("REGISTER * * :{PASSWORD}")).await;
    irc.until("REGISTER").await;
    for request in [
        json!({"type": "ban", "nickname": "mallory", "reason": "spam", "ref": 1}),
        json!({"type": "ban", "ip": "127.0.0.3", "reason": "spam", "ref": 2}),
    ] {
        admin.send_json(request).await;
        assert_eq!(admin.recv_type("done").await["request"], "ban");
    }
    server.stop().await;

    let server = durable_server(dir.path()).await;
    for nick in ["alice", "carol", "admin"] {
        assert_eq!(
            try_login(server.addr, nick, None).await["code"],
            "account_required",
            "{nick}"
        );
        assert_eq!(
            try_login(server.addr, nick, Some("not the password")).await["code"],
            "wrong_password",
            "{nick}"
        );
    }
    assert_eq!(
        try_login(server.addr, "alice", Some(PASSWORD)).await["type"],
        "welcome"
    );
    assert_eq!(
        try_login(server.addr, "mallory", None).await["code"],
        "banned"
    );
    let mut banned_address = Raw::connect_from(server.addr, "127.0.0.3".parse().unwrap()).await;
    assert_eq!(banned_address.recv().await["code"], "banned");
    // An operator again after the restart.
    let mut admin = Raw::login_with(server.addr, login("admin", Some(PASSWORD))).await;
    become_operator(&mut admin, "admin").await;
    for request in [
        json!({"type": "unban", "nickname": "mallory"}),
        json!({"type": "unban", "ip": "127.0.0.3"}),
    ] {
        admin.send_json(request).await;
        assert_eq!(admin.recv_type("done").await["request"], "unban");
    }
    server.stop().await;

    let server = durable_server(dir.path()).await;
    assert_eq!(
        try_login(server.addr, "mallory", None).await["type"],
        "welcome"
    );
    let mut c = Raw::connect_from(server.addr, "127.0.0.3".parse().unwrap()).await;
    c.send_json(login("from3", None)).await;
    assert_eq!(c.recv().await["type"], "welcome");
    server.stop().await;
}

/// Everyone in `room`: operators need not be.
async fn in_room(server: &TestServer, nick: &str, room: &str) -> Raw {
    let mut c = Raw::login(server.addr, nick).await;
    c.join(room).await;
    c
}

#[tokio::test]
async fn operators_kick_in_both_protocols_and_the_room_is_told() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    let mut alice = in_room(&server, "alice", "den").await;
    let mut bob = in_room(&server, "bob", "den").await;
    let mut carol = IrcRaw::register(server.irc_addr, "carol", &[]).await;
    carol.send("JOIN #den").await;
    carol.sync().await;
    alice.drain().await;
    bob.drain().await;

    admin
        .send_json(
            json!({"type": "kick", "room": "den", "nickname": "bob", "reason": "spam", "ref": "k"}),
        )
        .await;
    assert_eq!(
        admin.recv_type("done").await,
        json!({"type": "done", "request": "kick", "ref": "k"})
    );
    for c in [&mut alice, &mut bob] {
        let told = c.recv().await;
        assert_eq!(told["type"], "presence", "{told}");
        assert_eq!(told["event"], "leave");
        assert_eq!(told["room"], "den");
        assert_eq!(told["nickname"], "bob");
        assert!(told["reason"].as_str().unwrap().contains("spam"), "{told}");
    }
    let kick = carol.until("KICK").await;
    assert_eq!(kick.source.as_ref().unwrap().name, "admin");
    assert_eq!(kick.params, ["#den", "bob", "spam"]);
    // Bob is out of the room; the rest of his session goes on.
    bob.send_json(json!({"type": "broadcast", "room": "den", "message": "back?", "ref": 1}))
        .await;
    bob.expect_error("not_in_room").await;
    bob.assert_quiet_and_alive().await;

    // An operator on IRC, by OPER.
    let mut ircop = IrcRaw::connect(server.irc_addr).await;
    ircop.send("NICK ircop").await;
    ircop.send("USER ircop 0 * :op").await;
    ircop.until("001").await;
    ircop.send(&format!("OPER ircop :{PASSWORD}")).await;
    ircop.until("381").await;
    let umode = ircop.recv().await;
    assert_eq!(
        (umode.command.as_str(), umode.params.as_slice()),
        ("MODE", ["ircop", "+o"].map(String::from).as_slice()),
        "the user mode o is announced"
    );
    ircop.send("KICK #den carol :enough").await;
    let kick = carol.until("KICK").await;
    assert_eq!(kick.params, ["#den", "carol", "enough"]);
    // (Alice also sees ircop arrive in the lobby.)
    let told = loop {
        let f = alice.recv_type("presence").await;
        if f["event"] == "leave" {
            break f;
        }
    };
    assert_eq!(
        (told["room"].as_str(), told["nickname"].as_str()),
        (Some("den"), Some("carol"))
    );
    alice.send_json(json!({"type": "who", "room": "den"})).await;
    let who = alice.recv_type("member_list").await;
    assert_eq!(
        who["members"],
        json!([{"id": alice.id, "nickname": "alice", "operator": true}])
    );
    server.stop().await;
}

#[tokio::test]
async fn operators_kill_in_both_protocols() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    let mut victim = Raw::login(server.addr, "victim").await;
    let mut ircvictim = IrcRaw::register(server.irc_addr, "ircvictim", &[]).await;
    admin.drain().await;

    admin
        .send_json(json!({"type": "kill", "nickname": "victim", "reason": "bye", "ref": "x"}))
        .await;
    assert_eq!(
        admin.recv_type("done").await,
        json!({"type": "done", "request": "kill", "ref": "x"})
    );
    let frames = victim.until_closed().await;
    let bye = frames.last().unwrap();
    assert_eq!(bye["type"], "bye", "{frames:?}");
    assert!(
        bye["message"].as_str().unwrap().contains("operator"),
        "{bye}"
    );
    let told = admin.recv_type("presence").await;
    assert_eq!(told["nickname"], "victim");
    assert_eq!(told["reason"], "killed");

    let mut ircop = IrcRaw::connect(server.irc_addr).await;
    ircop.send("NICK ircop").await;
    ircop.send("USER ircop 0 * :op").await;
    ircop.until("001").await;
    ircop.send(&format!("OPER ircop :{PASSWORD}")).await;
    ircop.until("381").await;
    ircop.send("KILL ircvictim :enough").await;
    let lines = ircvictim.until_closed().await;
    let error = lines.last().unwrap();
    assert_eq!(error.command, "ERROR", "{lines:?}");
    assert!(
        last_param(error).contains("Killed by an operator"),
        "{error:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_banned_nickname_is_disconnected_and_cannot_come_back_until_unbanned() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    let mut bob = Raw::login(server.addr, "bob").await;
    admin.drain().await;

    admin
        .send_json(json!({"type": "ban", "nickname": "bob", "reason": "spam", "ref": "b"}))
        .await;
    assert_eq!(
        admin.recv_type("done").await,
        json!({"type": "done", "request": "ban", "ref": "b"})
    );
    let frames = bob.until_closed().await;
    assert_eq!(frames.last().unwrap()["code"], "banned", "{frames:?}");
    let told = admin.recv_type("presence").await;
    assert_eq!(
        (told["nickname"].as_str(), told["reason"].as_str()),
        (Some("bob"), Some("banned"))
    );

    // Not as bob, not as BOB, not by registering it, not by renaming to it.
    for nick in ["bob", "BOB"] {
        let reply = try_login(server.addr, nick, None).await;
        assert_eq!(reply["code"], "banned", "{reply}");
    }
    let mut c = Raw::connect(server.addr).await;
    c.send_json(json!({"type": "register", "nickname": "bob", "password": PASSWORD}))
        .await;
    c.expect_error("banned").await;
    let mut other = Raw::login(server.addr, "other").await;
    other
        .send_json(json!({"type": "nick", "nickname": "Bob"}))
        .await;
    other.expect_error("banned").await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircother", &[]).await;
    irc.send("NICK bob").await;
    assert_eq!(commands(&irc.sync().await), ["465"]);

    admin
        .send_json(json!({"type": "unban", "nickname": "bob", "ref": "u"}))
        .await;
    assert_eq!(
        admin.recv_type("done").await,
        json!({"type": "done", "request": "unban", "ref": "u"})
    );
    assert_eq!(try_login(server.addr, "bob", None).await["type"], "welcome");
    server.stop().await;
}

/// RFC 2812: 465 ERR_YOUREBANNEDCREEP answers a registration the server
/// denies, as a NICK change to a banned nickname already gets.
#[tokio::test]

async fn irc_registration_with_a_banned_nickname_gets_465() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    admin
        .send_json(json!({"type": "ban", "nickname": "bob", "reason": "spam"}))
        .await;
    admin.recv_type("done").await;
    let (_irc, lines) = irc_connect(server.irc_addr, "bob", None).await;
    assert!(!commands(&lines).contains(&"001"), "{lines:?}");
    assert!(commands(&lines).contains(&"465"), "{lines:?}");
    assert!(!commands(&lines).contains(&"464"), "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_banned_address_is_disconnected_and_refused_until_unbanned() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = Raw::connect_from(server.addr, OPERATOR_ADDRESS).await;
    admin.send_json(login("admin", None)).await;
    admin.recv_type("welcome").await;
    become_operator(&mut admin, "admin").await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut carol = IrcRaw::register(server.irc_addr, "carol", &[]).await;
    admin.drain().await;

    admin
        .send_json(json!({"type": "ban", "ip": "127.0.0.1", "reason": "botnet", "ref": "ip"}))
        .await;
    assert_eq!(
        admin.recv_type("done").await,
        json!({"type": "done", "request": "ban", "ref": "ip"})
    );
    let frames = alice.until_closed().await;
    assert_eq!(frames.last().unwrap()["code"], "banned", "{frames:?}");
    let lines = carol.until_closed().await;
    assert!(
        last_param(lines.last().unwrap()).contains("banned"),
        "{lines:?}"
    );

    // New connections from the address are turned away at the door.
    let mut refused = Raw::connect(server.addr).await;
    let frames = refused.until_closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "banned");
    assert!(
        frames[0]["message"].as_str().unwrap().contains("botnet"),
        "{frames:?}"
    );
    let mut refused = IrcRaw::connect(server.irc_addr).await;
    let lines = refused.until_closed().await;
    assert_eq!(commands(&lines), ["ERROR"]);
    assert!(last_param(&lines[0]).contains("banned"), "{lines:?}");
    // Other addresses are not.
    let seen = admin.drain().await;
    let reasons: Vec<(&str, &str)> = seen
        .iter()
        .map(|f| {
            (
                f["nickname"].as_str().unwrap(),
                f["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{seen:?}");
    assert!(reasons.contains(&("alice", "banned")), "{seen:?}");
    assert!(reasons.contains(&("carol", "banned")), "{seen:?}");
    let mut elsewhere = Raw::connect_from(server.addr, OPERATOR_ADDRESS).await;
    elsewhere.send_json(login("elsewhere", None)).await;
    assert_eq!(elsewhere.recv().await["type"], "welcome");

    admin
        .send_json(json!({"type": "unban", "ip": "127.0.0.1", "ref": "un"}))
        .await;
    assert_eq!(admin.recv_type("done").await["request"], "unban");
    let mut back = Raw::login(server.addr, "alice").await;
    back.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn non_operators_are_refused_in_both_protocols() {
    let server = TestServer::start_with(operators_config()).await;
    // Operator names are not nicknames: whoever takes one as a nickname, or
    // even registers it as an account, is no operator.
    let mut impostor = Raw::login(server.addr, "ircop").await;
    let mut registered = register(server.addr, "admin").await;
    let mut target = in_room(&server, "target", "den").await;
    for c in [&mut impostor, &mut registered] {
        c.drain().await;
        for (n, request) in [
            json!({"type": "kill", "nickname": "target"}),
            json!({"type": "ban", "nickname": "target"}),
            json!({"type": "ban", "ip": "127.0.0.9"}),
            json!({"type": "unban", "nickname": "target"}),
        ]
        .into_iter()
        .enumerate()
        {
            let mut request = request;
            request["ref"] = json!(n);
            c.send_json(request).await;
            let e = c.expect_error("not_operator").await;
            assert_eq!(e["ref"], n);
        }
        // Topics of rooms one is not in are for members (and operators).
        c.send_json(json!({"type": "topic", "room": "den", "topic": "mine now"}))
            .await;
        c.expect_error("not_in_room").await;
        // Kicking is for the room's operators, from inside it.
        c.send_json(json!({"type": "kick", "room": "den", "nickname": "target"}))
            .await;
        c.expect_error("not_in_room").await;
        c.join("den").await;
        c.drain().await;
        c.send_json(json!({"type": "kick", "room": "den", "nickname": "target"}))
            .await;
        c.expect_error("not_room_operator").await;
    }
    let mut irc = IrcRaw::register(server.irc_addr, "ircuser", &[]).await;
    irc.send("KILL target :no").await;
    irc.send("KICK #den target :no").await;
    irc.send("JOIN #den").await;
    irc.send("KICK #den target :no").await;
    let lines = irc.sync().await;
    let numerics: Vec<&str> = commands(&lines)
        .into_iter()
        .filter(|c| c.len() == 3 && !["332", "333", "353", "366"].contains(c))
        .collect();
    assert_eq!(numerics, ["481", "442", "482"], "{lines:?}");
    // Nobody was harmed.
    let seen = target.drain().await;
    assert!(
        seen.iter().all(|f| f["event"] == "join"),
        "the target saw only people arrive: {seen:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn operators_set_the_topic_of_a_room_they_are_not_in() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    let mut member = in_room(&server, "member", "den").await;
    member.drain().await;
    admin
        .send_json(json!({"type": "topic", "room": "den", "topic": "be nice", "ref": "t"}))
        .await;
    let topic = admin.recv_type("topic").await;
    assert_eq!(topic["topic"], "be nice");
    assert_eq!(topic["set_by"], "admin");
    assert_eq!(topic["ref"], "t");
    let told = member.recv().await;
    assert_eq!(told["event"], "topic", "{told}");
    assert_eq!(told["topic"], "be nice");
    assert_eq!(told["nickname"], "admin");
    server.stop().await;
}

/// WALLOPS: a server operator's message reaches the users with mode `w`
/// (and only them); others may not send one.
#[tokio::test]
async fn wallops_reach_users_with_mode_w() {
    let server = TestServer::start_with(operators_config()).await;
    let mut listener = IrcRaw::register(server.irc_addr, "listener", &[]).await;
    listener.send("MODE listener +w").await;
    listener.until("MODE").await;
    listener.send("MODE listener").await;
    assert_eq!(listener.until("221").await.params[1], "+w");
    let mut deaf = IrcRaw::register(server.irc_addr, "deaf", &[]).await;
    deaf.send("WALLOPS :not an operator").await;
    assert_eq!(commands(&deaf.sync().await), ["481"]);
    let mut ircop = IrcRaw::register(server.irc_addr, "ircop", &[]).await;
    ircop.send(&format!("OPER ircop :{PASSWORD}")).await;
    ircop.until("381").await;
    ircop.send("WALLOPS :maintenance at noon").await;
    let heard = listener.until("WALLOPS").await;
    assert_eq!(
        (
            heard.source.as_ref().unwrap().name.as_str(),
            heard.params.as_slice()
        ),
        ("ircop", ["maintenance at noon".to_owned()].as_slice())
    );
    let lines = deaf.sync().await;
    assert!(!commands(&lines).contains(&"WALLOPS"), "{lines:?}");
    server.stop().await;
}

/// Registering one's nickname after OPER keeps the operator status (the
/// account's identity used to replace it).
#[tokio::test]
async fn registering_after_oper_stays_an_operator() {
    let server = TestServer::start_with(operators_config()).await;
    let mut admin = operator(server.addr, "admin").await;
    admin
        .send_json(json!({"type": "register", "password": PASSWORD, "ref": "r"}))
        .await;
    admin.recv_type("registered").await;
    let _target = in_room(&server, "target", "den").await;
    admin
        .send_json(json!({"type": "kill", "nickname": "target", "ref": "k"}))
        .await;
    assert_eq!(admin.recv_type("done").await["request"], "kill");
    server.stop().await;
}

/// JSON refuses to register a nickname someone else is online with
/// (`nickname_taken`); IRC must too, or anyone can claim the nickname of a
/// user who is online without an account and lock them out of it.
#[tokio::test]

async fn nobody_registers_a_nickname_someone_else_is_online_with() {
    let server = TestServer::start().await;
    let mut alice = Raw::login(server.addr, "alice").await;
    let mut c = Raw::connect(server.addr).await;
    c.send_json(json!({"type": "register", "nickname": "alice", "password": PASSWORD}))
        .await;
    c.expect_error("nickname_taken").await;

    let mut thief = IrcRaw::connect(server.irc_addr).await;
    thief.send("NICK alice").await;
    thief.send(&format!("REGISTER * * :{PASSWORD}")).await;
    let lines = thief.sync().await;
    assert!(
        !lines.iter().any(|m| m.command == "REGISTER"),
        "registered alice's nickname from under her: {lines:?}"
    );
    alice.send_json(json!({"type": "logout"})).await;
    alice.until_closed().await;
    let reply = try_login(server.addr, "alice", None).await;
    assert_eq!(reply["type"], "welcome", "alice lost her nickname: {reply}");
    server.stop().await;
}

/// A nickname that breaks the nickname rules is `invalid_nickname`, as at
/// login, whether or not a password comes with it.
#[tokio::test]

async fn registering_an_invalid_nickname_is_invalid_nickname() {
    let server = TestServer::start().await;
    let mut c = Raw::connect(server.addr).await;
    c.send_json(json!({"type": "login", "nickname": "two words"}))
        .await;
    c.expect_error("invalid_nickname").await;
    c.send_json(json!({"type": "register", "nickname": "two words", "password": PASSWORD}))
        .await;
    c.expect_error("invalid_nickname").await;
    server.stop().await;
}

/// Password guessing, in both protocols: a connection is closed after its
/// third wrong password, and an address gets a few checks, then waits.
#[tokio::test]
async fn wrong_passwords_close_the_connection_and_slow_the_address() {
    let server = TestServer::start().await;
    register(server.addr, "guarded").await;

    // JSON: three wrong passwords on one connection, then it is closed.
    let from: std::net::IpAddr = "127.0.0.3".parse().unwrap();
    let mut c = Raw::connect_from(server.addr, from).await;
    for n in 0..3 {
        c.send_json(login("guarded", Some(&format!("guess number {n}"))))
            .await;
        let e = c.expect_error("wrong_password").await;
        assert_eq!(e["ref"], "login");
    }
    let last_words = c.until_closed().await;
    assert_eq!(last_words.len(), 1, "{last_words:?}");
    assert_eq!(last_words[0]["code"], "too_many_attempts", "{last_words:?}");

    // The address had five checks free; its sixth must wait, and says how
    // long. The right password is refused too until then: nobody learns
    // anything by guessing faster.
    let mut c = Raw::connect_from(server.addr, from).await;
    c.send_json(login("guarded", Some("guess number 3"))).await;
    c.expect_error("wrong_password").await;
    c.send_json(login("guarded", Some("guess number 4"))).await;
    c.expect_error("wrong_password").await;
    c.send_json(login("guarded", Some(PASSWORD))).await;
    let e = c.expect_error("too_many_attempts").await;
    assert!(
        e["message"].as_str().unwrap().contains("try again in"),
        "{e}"
    );
    // Another address is not held up by this one (the account has had
    // five checks, its owner still gets in from elsewhere).
    let mut owner = Raw::connect_from(server.addr, "127.0.0.4".parse().unwrap()).await;
    owner.send_json(login("guarded", Some(PASSWORD))).await;
    assert_eq!(owner.recv().await["type"], "welcome");

    // IRC: a wrong PASS three times (NICK again after each 464), then
    // ERROR and the end of the connection.
    register(server.addr, "ircguarded").await;
    let mut irc = IrcRaw::connect_from(server.irc_addr, "127.0.0.5".parse().unwrap()).await;
    irc.send("PASS :not the password").await;
    irc.send("USER ircguarded 0 * :x").await;
    for _ in 0..3 {
        irc.send("NICK ircguarded").await;
        irc.until("464").await;
    }
    let lines = irc.until_closed().await;
    let error = lines.iter().find(|m| m.command == "ERROR").unwrap();
    assert!(
        last_param(error).contains("Too many wrong passwords"),
        "{error:?}"
    );
    server.stop().await;
}

/// `OPER` with a wrong password or an unknown name is refused alike, in
/// both protocols, and gives no powers.
#[tokio::test]
async fn oper_needs_the_right_name_and_password() {
    let server = TestServer::start_with(operators_config()).await;
    let mut c = Raw::login(server.addr, "hopeful").await;
    for (name, password) in [("admin", "not the password"), ("nobody", PASSWORD)] {
        c.send_json(json!({"type": "oper", "name": name, "password": password, "ref": "o"}))
            .await;
        let e = c.expect_error("wrong_password").await;
        assert_eq!(e["ref"], "o");
    }
    c.send_json(json!({"type": "kill", "nickname": "hopeful"}))
        .await;
    c.expect_error("not_operator").await;
    let mut irc = IrcRaw::register(server.irc_addr, "irchopeful", &[]).await;
    irc.send("OPER admin :not the password").await;
    irc.until("464").await;
    irc.send("OPER ircop").await;
    irc.until("461").await;
    irc.send(&format!("OPER ircop :{PASSWORD}")).await;
    irc.until("381").await;
    server.stop().await;
}

/// Accounts can be deleted by their owner (with the password) and by
/// operators; the nickname is free afterwards.
#[tokio::test]
async fn accounts_are_deleted_by_their_owner_or_an_operator() {
    let server = TestServer::start_with(operators_config()).await;
    let mut owner = register(server.addr, "leaving").await;
    owner
        .send_json(json!({"type": "unregister", "password": "not the password", "ref": 1}))
        .await;
    assert_eq!(owner.expect_error("wrong_password").await["ref"], 1);
    owner
        .send_json(json!({"type": "unregister", "ref": 2}))
        .await;
    assert_eq!(owner.expect_error("missing_field").await["ref"], 2);
    owner
        .send_json(json!({"type": "unregister", "password": PASSWORD, "ref": 3}))
        .await;
    assert_eq!(
        owner.recv_type("done").await,
        json!({"type": "done", "request": "unregister", "ref": 3})
    );
    drop(owner);
    // No account any more: a password is now a mistake, none is needed.
    assert_eq!(
        try_login(server.addr, "leaving", Some(PASSWORD)).await["code"],
        "no_account"
    );

    let mut victim_of_nobody = register(server.addr, "kept").await;
    let mut someone = Raw::login(server.addr, "someone").await;
    someone
        .send_json(json!({"type": "unregister", "nickname": "kept", "ref": 4}))
        .await;
    assert_eq!(someone.expect_error("not_operator").await["ref"], 4);
    let mut admin = operator(server.addr, "admin").await;
    admin
        .send_json(json!({"type": "unregister", "nickname": "kept", "ref": 5}))
        .await;
    assert_eq!(admin.recv_type("done").await["request"], "unregister");
    admin
        .send_json(json!({"type": "unregister", "nickname": "kept", "ref": 6}))
        .await;
    assert_eq!(admin.recv_type("error").await["code"], "no_account");
    // Its owner, still online, is no longer logged into it: registering
    // the nickname again works.
    victim_of_nobody
        .send_json(json!({"type": "register", "password": PASSWORD, "ref": 7}))
        .await;
    assert_eq!(victim_of_nobody.recv_type("registered").await["ref"], 7);
    server.stop().await;
}

#[tokio::test]
async fn an_address_ban_reaches_the_client_behind_a_trusted_proxy() {
    let server = TestServer::start_with(Config {
        trusted_proxies: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        ..operators_config()
    })
    .await;
    let mut admin = operator(server.addr, "admin").await;
    let http = server.http_addr;
    let proxied = |client: &'static str| async move {
        chatroom_testkit::Ws::connect_with_headers(http, None, &[("x-forwarded-for", client)]).await
    };
    let mut mallory = proxied("203.0.113.66").await.unwrap();
    mallory
        .send_json(json!({"type": "login", "nickname": "mallory"}))
        .await;
    mallory.recv_type("welcome").await;
    let mut alice = proxied("198.51.100.1").await.unwrap();
    alice
        .send_json(json!({"type": "login", "nickname": "alice"}))
        .await;
    alice.recv_type("welcome").await;
    // The ban names the client's address, not the proxy's: mallory goes,
    // alice (same proxy, another address) stays.
    admin
        .send_json(json!({"type": "ban", "ip": "203.0.113.66", "reason": "spam", "ref": 1}))
        .await;
    assert_eq!(admin.recv_type("done").await["request"], "ban");
    assert!(mallory.closed().await.is_some(), "mallory is disconnected");
    alice.send_json(json!({"type": "ping", "ref": 2})).await;
    assert_eq!(alice.recv_type("pong").await["ref"], 2);
    // And cannot come back through the proxy.
    match proxied("203.0.113.66").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            let body = response.body().as_deref().unwrap_or_default();
            assert_eq!(body, b"your address is banned: spam");
        }
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("a banned address was let in"),
    }
    server.stop().await;
}

#[tokio::test]
async fn an_operator_changes_someones_host_and_chghost_clients_are_told() {
    let server = TestServer::start_with(operators_config()).await;
    let mut ircop = IrcRaw::register(server.irc_addr, "ircop", &[]).await;
    ircop.send(&format!("OPER ircop :{PASSWORD}")).await;
    ircop.until("381").await;
    let mut target = IrcRaw::register(server.irc_addr, "target", &["chghost"]).await;
    let mut watcher = IrcRaw::register(server.irc_addr, "watcher", &["chghost"]).await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    watcher.sync().await;
    plain.sync().await;

    // Not an operator, not a host, nobody there.
    plain.send("CHGHOST target staff.example").await;
    assert_eq!(plain.until("481").await.command, "481");
    ircop.send("CHGHOST target bad*host").await;
    let fail = ircop.until("FAIL").await;
    assert_eq!(fail.params[..2], ["CHGHOST", "INVALID_PARAMS"]);
    ircop.send("CHGHOST nobody staff.example").await;
    ircop.until("401").await;

    ircop.send("CHGHOST target staff.example").await;
    let seen = watcher.until("CHGHOST").await;
    let from = seen.source.as_ref().unwrap();
    assert_eq!(
        from.host.as_deref(),
        Some("user-2.chatroom"),
        "the old host"
    );
    assert_eq!(seen.params, ["target", "staff.example"]);
    let own = target.until("CHGHOST").await;
    assert_eq!(own.params, ["target", "staff.example"]);
    let visible = target.until("396").await;
    assert_eq!(visible.params[1], "staff.example");

    // The new host is the one everyone sees from now on.
    target.send("JOIN #after").await;
    let join = target.until("JOIN").await;
    assert_eq!(join.source.unwrap().host.as_deref(), Some("staff.example"));
    plain.send("WHOIS target").await;
    let whois = plain.until("311").await;
    assert_eq!(whois.params[3], "staff.example");
    let lines = plain.sync().await;
    assert!(
        !lines.iter().any(|m| m.command == "CHGHOST"),
        "only for those who asked: {lines:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_shortest_password_is_the_operators_choice() {
    let server = TestServer::start_with(Config {
        min_password_chars: 12,
        ..test_config()
    })
    .await;
    let mut c = IrcRaw::register(server.irc_addr, "careful", &[]).await;
    c.send("REGISTER * * :elevenchars").await;
    let fail = c.until("FAIL").await;
    assert_eq!(fail.params[..2], ["REGISTER", "UNACCEPTABLE_PASSWORD"]);
    assert!(last_param(&fail).contains("12 to 256"), "{fail:?}");
    c.send("REGISTER * * :twelve chars").await;
    let ok = c.until("REGISTER").await;
    assert_eq!(ok.params[0], "SUCCESS", "{ok:?}");
    server.stop().await;
}
