//! IRCv3 client-only tags: relayed with PRIVMSG and NOTICE, and alone with
//! TAGMSG, to clients that take tags; never to others.

use chatroom_testkit::{IrcRaw, TestServer, commands};

#[tokio::test]
async fn client_only_tags_reach_clients_that_take_tags() {
    let server = TestServer::start().await;
    let mut sender =
        IrcRaw::register(server.irc_addr, "sender", &["message-tags", "echo-message"]).await;
    let mut tagged = IrcRaw::register(server.irc_addr, "tagged", &["message-tags"]).await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    let mut timed = IrcRaw::register(server.irc_addr, "timed", &["server-time"]).await;
    for c in [&mut sender, &mut tagged, &mut plain, &mut timed] {
        c.send("JOIN #t").await;
        c.until("366").await;
    }
    tagged.sync().await;
    plain.sync().await;
    timed.sync().await;
    sender
        .send("@+draft/reply=123;+example.com/x=a\\sb;time=forged PRIVMSG #t :hi")
        .await;
    let got = tagged.until("PRIVMSG").await;
    assert_eq!(got.tag("+draft/reply"), Some(Some("123")));
    assert_eq!(got.tag("+example.com/x"), Some(Some("a b")));
    assert_ne!(
        got.tag("time"),
        Some(Some("forged")),
        "server tags are the server's"
    );
    let echoed = sender.until("PRIVMSG").await;
    assert_eq!(echoed.tag("msgid"), got.tag("msgid"));
    assert_eq!(echoed.tag("+draft/reply"), Some(Some("123")));
    let untagged = plain.until("PRIVMSG").await;
    assert!(untagged.tags.is_empty(), "{untagged:?}");
    let timed_only = timed.until("PRIVMSG").await;
    assert!(timed_only.tag("time").is_some());
    assert_eq!(
        timed_only.tag("+draft/reply"),
        None,
        "client tags are for message-tags"
    );

    // TAGMSG to a channel and to a nickname: only tag-takers see it.
    sender.send("@+typing=active TAGMSG #t").await;
    let typing = tagged.until("TAGMSG").await;
    assert_eq!(typing.params, ["#t"]);
    assert_eq!(typing.tag("+typing"), Some(Some("active")));
    let echo = sender.until("TAGMSG").await;
    assert_eq!(
        echo.tag("msgid"),
        typing.tag("msgid"),
        "one id for echo and relay"
    );
    sender.send("@+typing=paused TAGMSG tagged").await;
    let direct = tagged.until("TAGMSG").await;
    assert_eq!(direct.params, ["tagged"]);
    assert_eq!(sender.until("TAGMSG").await.params, ["tagged"], "echoed");
    for c in [&mut plain, &mut timed] {
        let lines = c.sync().await;
        assert!(!commands(&lines).contains(&"TAGMSG"), "{lines:?}");
    }

    // A TAGMSG without client tags relays nothing; to nobody, 401.
    sender.send("TAGMSG #t").await;
    sender.send("@+typing=done TAGMSG nobody").await;
    let lines = sender.sync().await;
    assert_eq!(commands(&lines), ["401"]);
    let lines = tagged.sync().await;
    assert!(!commands(&lines).contains(&"TAGMSG"), "{lines:?}");
    server.stop().await;
}
