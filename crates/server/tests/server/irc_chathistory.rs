//! IRCv3 `CHATHISTORY` over the history store: a channel's and a
//! conversation's messages around a point, by id or time, in a batch.

use chatroom_proto::irc::Message;
use chatroom_testkit::{IrcRaw, TestServer, commands, last_param};

/// Sends `line` and reads the batch it answers: the texts of its
/// PRIVMSGs, in order, and their msgids.
async fn history(c: &mut IrcRaw, line: &str) -> Vec<(String, String)> {
    c.send(line).await;
    let lines = c.sync().await;
    assert_eq!(
        lines.first().map(|m| m.command.as_str()),
        Some("BATCH"),
        "{lines:?}"
    );
    assert_eq!(lines.last().map(|m| m.command.as_str()), Some("BATCH"));
    lines
        .iter()
        .filter(|m| m.command == "PRIVMSG")
        .map(|m: &Message| {
            let id = m.tag("msgid").flatten().unwrap_or_default().to_owned();
            (last_param(m).to_owned(), id)
        })
        .collect()
}

fn texts(page: &[(String, String)]) -> Vec<&str> {
    page.iter().map(|(t, _)| t.as_str()).collect()
}

#[tokio::test]
async fn chathistory_reads_around_a_point_by_id_or_time() {
    let server = TestServer::start().await;
    let caps = ["batch", "server-time", "message-tags", "draft/chathistory"];
    let mut ann = IrcRaw::register(server.irc_addr, "ann", &caps).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &caps).await;
    ann.send("JOIN #h").await;
    ann.until("366").await;
    for i in 0..10 {
        ann.send(&format!("PRIVMSG #h :m{i}")).await;
    }
    ann.send("PRIVMSG bob :private 1").await;
    bob.send("PRIVMSG ann :private 2").await;
    bob.sync().await;
    ann.sync().await;

    let latest = history(&mut ann, "CHATHISTORY LATEST #h * 3").await;
    assert_eq!(texts(&latest), ["m7", "m8", "m9"]);
    let m7 = latest[0].1.clone();
    let before = history(&mut ann, &format!("CHATHISTORY BEFORE #h msgid={m7} 2")).await;
    assert_eq!(texts(&before), ["m5", "m6"]);
    let after = history(
        &mut ann,
        &format!("CHATHISTORY AFTER #h msgid={} 3", before[0].1),
    )
    .await;
    assert_eq!(texts(&after), ["m6", "m7", "m8"]);
    let around = history(&mut ann, &format!("CHATHISTORY AROUND #h msgid={m7} 4")).await;
    assert_eq!(texts(&around), ["m5", "m6", "m7", "m8"]);
    let between = history(
        &mut ann,
        &format!("CHATHISTORY BETWEEN #h msgid={} msgid={m7} 10", before[0].1),
    )
    .await;
    assert_eq!(texts(&between), ["m6"]);
    let newer_first = history(
        &mut ann,
        &format!("CHATHISTORY BETWEEN #h msgid={m7} msgid={} 10", before[0].1),
    )
    .await;
    assert_eq!(texts(&newer_first), ["m6"]);
    // By time: everything is after the epoch, nothing before it.
    let since = history(
        &mut ann,
        "CHATHISTORY AFTER #h timestamp=1970-01-01T00:00:00.000Z 2",
    )
    .await;
    assert_eq!(texts(&since), ["m0", "m1"]);
    let none = history(
        &mut ann,
        "CHATHISTORY BEFORE #h timestamp=1970-01-01T00:00:00.000Z 5",
    )
    .await;
    assert!(none.is_empty());

    // A conversation, from either side, only its two people's.
    let dm = history(&mut bob, "CHATHISTORY LATEST ann * 10").await;
    assert_eq!(texts(&dm), ["private 1", "private 2"]);
    let mut eve = IrcRaw::register(server.irc_addr, "eve", &caps).await;
    ann.sync().await;
    assert!(
        history(&mut eve, "CHATHISTORY LATEST ann * 10")
            .await
            .is_empty()
    );

    // Refusals.
    eve.send("CHATHISTORY LATEST #h * 10").await;
    let fail = eve.sync().await;
    assert_eq!(commands(&fail), ["FAIL"]);
    assert_eq!(fail[0].params[..2], ["CHATHISTORY", "INVALID_TARGET"]);
    for bad in [
        "CHATHISTORY SIDEWAYS #h * 10",
        "CHATHISTORY BEFORE #h msgid=x 10",
        "CHATHISTORY LATEST #h * 0",
        "CHATHISTORY BETWEEN #h * 10",
    ] {
        ann.send(bad).await;
        let fail = ann.sync().await;
        assert_eq!(
            fail[0].params[..2],
            ["CHATHISTORY", "INVALID_PARAMS"],
            "{bad}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn event_playback_shows_topics_and_reactions_only_to_those_who_asked() {
    let server = TestServer::start().await;
    let caps = [
        "batch",
        "server-time",
        "message-tags",
        "echo-message",
        "draft/chathistory",
    ];
    let mut with_events = caps.to_vec();
    with_events.push("draft/event-playback");
    let mut ann = IrcRaw::register(server.irc_addr, "ann", &with_events).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &caps).await;
    ann.send("JOIN #ev").await;
    ann.until("366").await;
    bob.send("JOIN #ev").await;
    bob.until("366").await;

    ann.send("TOPIC #ev :first topic").await;
    let topic_echo = ann.until("TOPIC").await;
    let topic_id = topic_echo.tag("msgid").flatten().unwrap().to_owned();
    ann.send("@+draft/reply=1 PRIVMSG #ev :hello").await;
    ann.until("PRIVMSG").await;
    ann.send("NOTICE #ev :a notice").await;
    ann.until("NOTICE").await;
    ann.send("@+draft/react=👍;+draft/reply=1 TAGMSG #ev").await;
    let reaction = ann.until("TAGMSG").await;
    let reaction_id = reaction.tag("msgid").flatten().unwrap().to_owned();
    ann.send("@+typing=active TAGMSG #ev").await;
    ann.until("TAGMSG").await;

    // With event-playback: the topic change (with the id its echo had)
    // and the reaction, not the typing notification.
    ann.send("CHATHISTORY LATEST #ev * 10").await;
    let lines = ann.sync().await;
    let seen: Vec<&str> = lines
        .iter()
        .filter(|m| m.command != "BATCH")
        .map(|m| m.command.as_str())
        .collect();
    assert_eq!(seen, ["TOPIC", "PRIVMSG", "NOTICE", "TAGMSG"], "{lines:?}");
    let topic = lines.iter().find(|m| m.command == "TOPIC").unwrap();
    assert_eq!(topic.tag("msgid"), Some(Some(topic_id.as_str())));
    assert_eq!(topic.params, ["#ev", "first topic"]);
    let tagmsg = lines.iter().find(|m| m.command == "TAGMSG").unwrap();
    assert_eq!(tagmsg.tag("msgid"), Some(Some(reaction_id.as_str())));
    assert_eq!(tagmsg.tag("+draft/react"), Some(Some("👍")));
    let hello = lines.iter().find(|m| m.command == "PRIVMSG").unwrap();
    assert_eq!(
        hello.tag("+draft/reply"),
        Some(Some("1")),
        "client tags kept"
    );

    // Without it: messages and notices only, and the limit counts them.
    bob.sync().await;
    bob.send("CHATHISTORY LATEST #ev * 2").await;
    let lines = bob.sync().await;
    let seen: Vec<&str> = lines
        .iter()
        .filter(|m| m.command != "BATCH")
        .map(|m| m.command.as_str())
        .collect();
    assert_eq!(seen, ["PRIVMSG", "NOTICE"], "{lines:?}");

    // Joining replays with the same rule.
    let mut late = IrcRaw::register(server.irc_addr, "late", &with_events).await;
    late.send("JOIN #ev").await;
    late.until("366").await;
    let replay = late.sync().await;
    assert!(commands(&replay).contains(&"TOPIC"), "{replay:?}");

    // JSON history shows messages only.
    let mut jay = chatroom_testkit::Raw::login(server.addr, "jay").await;
    let (_, replayed) = jay.join("ev").await;
    let said: Vec<&str> = replayed
        .iter()
        .filter_map(|m| m["message"].as_str())
        .collect();
    assert_eq!(said, ["hello", "a notice"], "{replayed:?}");
    server.stop().await;
}
