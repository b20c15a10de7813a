//! IRCv3 `CHATHISTORY` over the history store: a channel's and a
//! conversation's messages around a point, by id or time, in a batch; and
//! `TARGETS`, the channels and conversations with their latest message.

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
    bob.until("PRIVMSG").await;
    bob.send("PRIVMSG ann :private 2").await;
    ann.until("PRIVMSG").await;

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
    // AROUND: the point's message and those after it get the larger half.
    let around = history(&mut ann, &format!("CHATHISTORY AROUND #h msgid={m7} 4")).await;
    assert_eq!(texts(&around), ["m6", "m7", "m8", "m9"]);
    let around = history(&mut ann, &format!("CHATHISTORY AROUND #h msgid={m7} 3")).await;
    assert_eq!(texts(&around), ["m6", "m7", "m8"]);
    let around = history(&mut ann, &format!("CHATHISTORY AROUND #h msgid={m7} 1")).await;
    assert_eq!(texts(&around), ["m7"]);
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
    assert_eq!(
        fail[0].params[..4],
        ["CHATHISTORY", "INVALID_TARGET", "LATEST", "#h"],
        "the target is named"
    );
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

/// The epoch and a time far ahead, as `CHATHISTORY` points.
const EPOCH: &str = "timestamp=1970-01-01T00:00:00.000Z";
const FAR: &str = "timestamp=2999-01-01T00:00:00.000Z";

/// Sends a `CHATHISTORY TARGETS` line and reads its answer: the targets
/// and times listed, in order, checking the `draft/chathistory-targets`
/// batch around them (when the client takes batches).
async fn targets(c: &mut IrcRaw, line: &str, batched: bool) -> Vec<(String, String)> {
    c.send(line).await;
    let mut lines = c.sync().await;
    if batched {
        let start = lines.remove(0);
        assert_eq!(start.command, "BATCH", "{start:?}");
        assert_eq!(start.params[1], "draft/chathistory-targets");
        let id = start.params[0].trim_start_matches('+').to_owned();
        let end = lines.pop().unwrap();
        assert_eq!(end.params, [format!("-{id}")]);
        for m in &lines {
            assert_eq!(m.tag("batch"), Some(Some(id.as_str())), "{m:?}");
        }
    }
    lines
        .iter()
        .map(|m| {
            assert_eq!(m.command, "CHATHISTORY", "{m:?}");
            assert_eq!(m.params.len(), 3, "{m:?}");
            assert_eq!(m.params[0], "TARGETS");
            (m.params[1].clone(), m.params[2].clone())
        })
        .collect()
}

/// The `time` tag of the next line with this command.
async fn time_of(c: &mut IrcRaw, command: &str) -> String {
    let m = c.until(command).await;
    m.tag("time").flatten().unwrap().to_owned()
}

#[tokio::test]
async fn chathistory_targets_lists_channels_and_conversations_by_their_latest_message() {
    let server = TestServer::start().await;
    let caps = [
        "batch",
        "server-time",
        "message-tags",
        "echo-message",
        "labeled-response",
        "draft/chathistory",
    ];
    let mut ann = IrcRaw::register(server.irc_addr, "ann", &caps).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &caps).await;
    let mut eve = IrcRaw::register(server.irc_addr, "eve", &caps).await;
    for channel in ["#a", "#b"] {
        ann.send(&format!("JOIN {channel}")).await;
        ann.until("366").await;
    }
    bob.send("JOIN #secret").await;
    bob.until("366").await;
    ann.send("PRIVMSG #a :first").await;
    let a_first = time_of(&mut ann, "PRIVMSG").await;
    ann.send("PRIVMSG bob :hello").await;
    let dm = time_of(&mut ann, "PRIVMSG").await;
    ann.send("PRIVMSG #b :second").await;
    let b = time_of(&mut ann, "PRIVMSG").await;
    bob.send("PRIVMSG #secret :not for ann").await;
    // His own echo, not ann's direct message before it: eve speaks after.
    while bob.until("PRIVMSG").await.params[0] != "#secret" {}
    eve.send("PRIVMSG bob :between eve and bob").await;
    eve.until("PRIVMSG").await;
    bob.sync().await;

    // Every channel ann is in that has history (not #lobby, which has
    // none), and her conversation with bob; never bob's channel nor his
    // conversation with eve. Oldest first, with the latest message's time.
    let all = targets(
        &mut ann,
        &format!("CHATHISTORY TARGETS {EPOCH} {FAR} 100"),
        true,
    )
    .await;
    assert_eq!(
        all,
        [
            ("#a".to_owned(), a_first.clone()),
            ("bob".to_owned(), dm.clone()),
            ("#b".to_owned(), b.clone())
        ]
    );
    // The limit counts from the first point: the oldest two, or (points
    // the other way round) the newest two, still oldest first.
    let oldest = targets(
        &mut ann,
        &format!("CHATHISTORY TARGETS {EPOCH} {FAR} 2"),
        true,
    )
    .await;
    assert_eq!(oldest, all[..2]);
    let newest = targets(
        &mut ann,
        &format!("CHATHISTORY TARGETS {FAR} {EPOCH} 2"),
        true,
    )
    .await;
    assert_eq!(newest, all[1..]);
    // Both points are excluded: up to #b's time leaves #b out (and
    // anything said in the same millisecond).
    let before_b = targets(
        &mut ann,
        &format!("CHATHISTORY TARGETS {EPOCH} timestamp={b} 100"),
        true,
    )
    .await;
    let expected: Vec<_> = all.iter().filter(|(_, t)| *t < b).cloned().collect();
    assert_eq!(before_b, expected);
    assert!(
        targets(
            &mut ann,
            &format!("CHATHISTORY TARGETS timestamp={b} {FAR} 100"),
            true
        )
        .await
        .is_empty()
    );
    // A target counts by its latest message only: once #a has a newer
    // one, a window ending there no longer lists #a.
    ann.send("PRIVMSG #a :again").await;
    let a_again = time_of(&mut ann, "PRIVMSG").await;
    let window = targets(
        &mut ann,
        &format!("CHATHISTORY TARGETS {EPOCH} timestamp={a_again} 100"),
        true,
    )
    .await;
    assert!(window.iter().all(|(name, _)| name != "#a"), "{window:?}");
    assert!(window.contains(&("bob".to_owned(), dm.clone())));

    // Bob sees his channel and both his conversations.
    let bobs = targets(
        &mut bob,
        &format!("CHATHISTORY TARGETS {EPOCH} {FAR} 100"),
        true,
    )
    .await;
    let names: Vec<&str> = bobs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ann", "#secret", "eve"]);

    // Labeled: the batch itself carries the label.
    ann.send(&format!("@label=t1 CHATHISTORY TARGETS {EPOCH} {FAR} 1"))
        .await;
    let lines = ann.sync().await;
    assert_eq!(
        commands(&lines),
        ["BATCH", "CHATHISTORY", "BATCH"],
        "{lines:?}"
    );
    assert_eq!(lines[0].tag("label"), Some(Some("t1")));
    assert_eq!(lines[0].params[1], "draft/chathistory-targets");

    // Without the batch capability: the same lines, no batch.
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &["draft/chathistory"]).await;
    plain.send("PRIVMSG ann :hi from plain").await;
    plain.sync().await;
    let listed = targets(
        &mut plain,
        &format!("CHATHISTORY TARGETS {EPOCH} {FAR} 10"),
        false,
    )
    .await;
    assert_eq!(
        listed.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["ann"]
    );

    // Whoever takes eve's nickname next (no account) lists none of hers.
    eve.send("QUIT").await;
    eve.until_closed().await;
    let mut new_eve = IrcRaw::register(server.irc_addr, "eve", &caps).await;
    assert!(
        targets(
            &mut new_eve,
            &format!("CHATHISTORY TARGETS {EPOCH} {FAR} 10"),
            true
        )
        .await
        .is_empty()
    );

    // Refusals, as for the other subcommands.
    ann.sync().await;
    for bad in [
        format!("CHATHISTORY TARGETS {EPOCH} 10"),
        format!("CHATHISTORY TARGETS {EPOCH} {FAR} 10 extra"),
        format!("CHATHISTORY TARGETS {EPOCH} {FAR} 0"),
        format!("CHATHISTORY TARGETS {EPOCH} {FAR} many"),
        format!("CHATHISTORY TARGETS msgid=1 {FAR} 10"),
        format!("CHATHISTORY TARGETS {EPOCH} * 10"),
        "CHATHISTORY TARGETS timestamp=yesterday timestamp=today 10".to_owned(),
    ] {
        ann.send(&bad).await;
        let fail = ann.sync().await;
        assert_eq!(commands(&fail), ["FAIL"], "{bad}");
        assert_eq!(
            fail[0].params[..3],
            ["CHATHISTORY", "INVALID_PARAMS", "TARGETS"],
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
