//! Look-alike nicknames: invisible and filler characters are refused, the
//! same name in other forms (fullwidth, decomposed accents) is the same
//! name, and a name that merely looks like someone's (Cyrillic letters for
//! Latin ones) is taken, whether its owner is online or only registered.
//! Nickname bans hold against look-alikes too.

use chatroom_testkit::{IrcRaw, Raw, ServerProcess};
use serde_json::{Value, json};

use crate::support::BIN;

/// What a login with `nick` is answered.
async fn login(addr: std::net::SocketAddr, nick: &str) -> Value {
    let mut c = Raw::connect(addr).await;
    c.send_json(json!({"type": "login", "nickname": nick}))
        .await;
    c.recv().await
}

#[tokio::test]
async fn look_alike_nicknames_are_refused_in_both_protocols() {
    let server = ServerProcess::start(BIN, &["--in-memory", "--irc-listen", "127.0.0.1:0"]).await;
    let addr = server.addr();
    // Invisible, filler and reserved look-alikes: not nicknames at all.
    for nick in [
        "System\u{FE0F}",
        "System\u{E0020}",
        "S\u{443}stem",
        "bob\u{3164}",
        "\u{2800}",
        "\u{FFA0}",
    ] {
        let reply = login(addr, nick).await;
        assert_eq!(reply["code"], "invalid_nickname", "{nick:?}: {reply}");
    }
    // Other spellings of a name online are that name.
    let _bob = Raw::login(addr, "bob").await;
    let _jose = Raw::login(addr, "jos\u{E9}").await;
    for nick in [
        "\u{FF42}\u{FF4F}\u{FF42}",
        "BOB",
        "jose\u{301}",
        "b\u{43E}b",
        "\u{412}\u{41E}\u{412}",
    ] {
        let reply = login(addr, nick).await;
        assert_eq!(reply["code"], "nickname_taken", "{nick:?}: {reply}");
    }
    // Plain ASCII names are told apart as IRC always has: numbered ones
    // (as bots and load generators use) are not look-alikes.
    for nick in ["bot1", "botl", "botI", "b0b"] {
        let reply = login(addr, nick).await;
        assert_eq!(reply["type"], "welcome", "{nick:?}: {reply}");
    }
    // A fullwidth name is stored as the plain one.
    let carol = Raw::login(addr, "\u{FF43}\u{FF41}\u{FF52}\u{FF4F}\u{FF4C}").await;
    assert_eq!(carol.welcome["nickname"], "carol");

    // A registered name looks taken even while its owner is away.
    let mut alice = Raw::connect(addr).await;
    alice
        .send_json(
            json!({"type": "register", "nickname": "alice", "password": "correct horse battery"}),
        )
        .await;
    alice.recv_type("registered").await;
    drop(alice);
    let reply = login(addr, "\u{430}lice").await;
    assert_eq!(reply["code"], "nickname_taken", "{reply}");

    // Renaming to a look-alike is refused too; a case change of one's own
    // name is fine.
    let mut dave = Raw::login(addr, "dave").await;
    dave.send_json(json!({"type": "nick", "nickname": "b\u{43E}b", "ref": 1}))
        .await;
    assert_eq!(dave.recv_type("error").await["code"], "nickname_taken");
    dave.send_json(json!({"type": "nick", "nickname": "Dave", "ref": 2}))
        .await;
    assert_eq!(dave.recv_type("renamed").await["nickname"], "Dave");

    // IRC: 432 for the invisible ones, 433 for the look-alikes.
    let irc_addr = server.irc_addr();
    let mut irc = IrcRaw::register(irc_addr, "ircuser", &[]).await;
    irc.send("NICK b\u{43E}b").await;
    irc.until("433").await;
    irc.send("NICK bob\u{3164}").await;
    irc.until("432").await;
    assert_eq!(server.stop().await.code, Some(0));
}

#[tokio::test]
async fn a_nickname_ban_holds_against_look_alikes() {
    let server =
        ServerProcess::start(BIN, &["--in-memory", "--oper", "op:operator password"]).await;
    let mut op = Raw::login(server.addr(), "op").await;
    op.send_json(json!({"type": "oper", "name": "op", "password": "operator password"}))
        .await;
    op.recv_type("done").await;
    op.send_json(json!({"type": "ban", "nickname": "mallory"}))
        .await;
    op.recv_type("done").await;
    for nick in ["mallory", "MALLORY", "m\u{430}llory", "\u{FF4D}allory"] {
        let reply = login(server.addr(), nick).await;
        assert_eq!(reply["code"], "banned", "{nick:?}: {reply}");
    }
    assert_eq!(server.stop().await.code, Some(0));
}
