//! IRCv3 `draft/multiline`: a message sent in several lines as one batch,
//! received as a batch by clients that took the capability, line by line
//! by the others, as one text by JSON clients; and every way a batch can
//! be refused.

use chatroom_proto::irc::Message;
use chatroom_testkit::{IrcRaw, Raw, TestServer, last_param};

const BASE: [&str; 5] = [
    "message-tags",
    "batch",
    "echo-message",
    "server-time",
    "labeled-response",
];

fn with_multiline() -> Vec<&'static str> {
    let mut caps = BASE.to_vec();
    caps.push("draft/multiline");
    caps
}

/// Reads lines up to and including the one closing the batch `first` opens.
async fn rest_of_batch(c: &mut IrcRaw, first: Message) -> Vec<Message> {
    assert_eq!(first.command, "BATCH", "{first:?}");
    let reference = first.params[0].trim_start_matches('+').to_owned();
    let mut lines = vec![first];
    loop {
        let m = c.recv().await;
        let done = m.command == "BATCH" && m.params[0] == format!("-{reference}");
        lines.push(m);
        if done {
            return lines;
        }
    }
}

#[tokio::test]
async fn a_batch_is_one_message_for_everyone() {
    let server = TestServer::start().await;
    let mut alice = IrcRaw::register(server.irc_addr, "alice", &with_multiline()).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &with_multiline()).await;
    let mut charlie = IrcRaw::register(server.irc_addr, "charlie", &BASE).await;
    let mut json = Raw::login(server.addr, "dana").await;
    for c in [&mut alice, &mut bob, &mut charlie] {
        c.sync().await;
    }

    alice
        .send("@label=xyz;+draft/reply=1 BATCH +123 draft/multiline #lobby")
        .await;
    alice.send("@batch=123 PRIVMSG #lobby hello").await;
    alice.send("@batch=123 PRIVMSG #lobby :").await;
    alice.send("@batch=123 PRIVMSG #lobby :#how is ").await;
    alice
        .send("@batch=123;draft/multiline-concat PRIVMSG #lobby :everyone?")
        .await;
    alice.send("BATCH -123").await;

    // The echo: one batch, labeled on its opening line.
    let first = alice.until("BATCH").await;
    let echo = rest_of_batch(&mut alice, first).await;
    assert_eq!(echo[0].tag("label"), Some(Some("xyz")));
    assert_eq!(echo[0].params[1..], ["draft/multiline", "#lobby"]);
    let msgid = echo[0].tag("msgid").flatten().unwrap().to_owned();
    let texts: Vec<&str> = echo[1..echo.len() - 1].iter().map(last_param).collect();
    assert_eq!(texts, ["hello", "", "#how is ", "everyone?"]);
    assert!(echo[4].tag("draft/multiline-concat").is_some());
    assert!(echo[3].tag("draft/multiline-concat").is_none());

    // Another multiline client: the same batch, with the message's tags
    // on the opening line only.
    let first = bob.until("BATCH").await;
    let relay = rest_of_batch(&mut bob, first).await;
    assert_eq!(relay[0].tag("msgid"), Some(Some(msgid.as_str())));
    assert_eq!(relay[0].tag("+draft/reply"), Some(Some("1")));
    assert_eq!(relay[0].source.as_ref().unwrap().name, "alice");
    let reference = relay[0].params[0].trim_start_matches('+');
    for line in &relay[1..relay.len() - 1] {
        assert_eq!(line.command, "PRIVMSG");
        assert_eq!(line.tag("batch"), Some(Some(reference)));
        assert_eq!(line.tag("msgid"), None);
    }
    assert_eq!(relay.len(), 6);

    // Without the capability: the lines one by one, blank ones left out,
    // the first with the message's id, the client-only tags on each.
    let lines: Vec<Message> = charlie
        .sync()
        .await
        .into_iter()
        .filter(|m| m.command == "PRIVMSG")
        .collect();
    let texts: Vec<&str> = lines.iter().map(last_param).collect();
    assert_eq!(texts, ["hello", "#how is ", "everyone?"]);
    assert_eq!(lines[0].tag("msgid"), Some(Some(msgid.as_str())));
    assert_eq!(lines[1].tag("msgid"), None);
    assert!(lines.iter().all(|l| l.tag("+draft/reply").is_some()));
    assert!(
        lines
            .iter()
            .all(|l| l.tag("draft/multiline-concat").is_none())
    );

    // JSON: one message, its lines joined.
    let m = json.recv_type("message").await;
    assert_eq!(m["message"], "hello\n\n#how is everyone?");
    server.stop().await;
}

#[tokio::test]
async fn multi_line_text_from_json_reaches_multiline_clients_as_a_batch() {
    let server = TestServer::start().await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &with_multiline()).await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    let mut json = Raw::login(server.addr, "dana").await;
    bob.sync().await;
    plain.sync().await;
    let long = "长".repeat(300);
    json.say_in("lobby", &format!("one\ntwo\n{long}")).await;

    let first = bob.until("BATCH").await;
    let relay = rest_of_batch(&mut bob, first).await;
    let inner = &relay[1..relay.len() - 1];
    assert!(inner.len() >= 4, "a long line is cut in pieces: {inner:?}");
    assert_eq!(last_param(&inner[0]), "one");
    assert_eq!(last_param(&inner[1]), "two");
    let rebuilt: String = inner[2..].iter().map(last_param).collect();
    assert_eq!(rebuilt, long);
    assert!(inner[2].tag("draft/multiline-concat").is_none());
    assert!(
        inner[3..]
            .iter()
            .all(|l| l.tag("draft/multiline-concat").is_some())
    );

    let lines: Vec<Message> = plain
        .sync()
        .await
        .into_iter()
        .filter(|m| m.command == "PRIVMSG")
        .collect();
    assert_eq!(lines.len(), inner.len(), "the same lines, one by one");
    server.stop().await;
}

#[tokio::test]
async fn direct_messages_come_in_batches_too() {
    let server = TestServer::start().await;
    let mut alice = IrcRaw::register(server.irc_addr, "alice", &with_multiline()).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &with_multiline()).await;
    bob.sync().await;
    alice.send("BATCH +d draft/multiline bob").await;
    alice.send("@batch=d NOTICE bob :one").await;
    alice.send("@batch=d NOTICE BOB :two").await;
    alice.send("BATCH -d").await;
    let first = bob.until("BATCH").await;
    let relay = rest_of_batch(&mut bob, first).await;
    assert_eq!(relay[0].params[1..], ["draft/multiline", "bob"]);
    assert!(relay[1..3].iter().all(|m| m.command == "NOTICE"));
    server.stop().await;
}

#[tokio::test]
async fn refused_batches_say_why_and_deliver_nothing() {
    let server = TestServer::start().await;
    let mut alice = IrcRaw::register(server.irc_addr, "alice", &with_multiline()).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &BASE).await;
    alice.sync().await;
    bob.sync().await;
    let fail = |m: &Message| (m.params[0].clone(), m.params[1].clone());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "BATCH +1 draft/multiline #lobby".into(),
                "@batch=2 PRIVMSG #lobby :hi".into(),
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +1 draft/multiline #lobby".into(),
                "@batch=1 PRIVMSG #lobby :hi".into(),
                "@batch=1;draft/multiline-concat PRIVMSG #lobby :".into(),
                "BATCH -1".into(),
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +1 draft/multiline #lobby".into(),
                "@batch=1 PRIVMSG #elsewhere :hi".into(),
            ],
            "MULTILINE_INVALID_TARGET",
        ),
        (
            vec![
                "BATCH +1 draft/multiline #lobby".into(),
                "BATCH +2 draft/multiline #lobby".into(),
            ],
            "MULTILINE_INVALID",
        ),
        (
            vec![
                "BATCH +1 draft/multiline #lobby".into(),
                "@batch=1 PRIVMSG #lobby :".into(),
                "BATCH -1".into(),
            ],
            "MULTILINE_INVALID",
        ),
        (
            std::iter::once("BATCH +1 draft/multiline #lobby".to_owned())
                .chain((0..101).map(|_| "@batch=1 PRIVMSG #lobby :hi".to_owned()))
                .chain(std::iter::once("BATCH -1".to_owned()))
                .collect(),
            "MULTILINE_MAX_LINES",
        ),
        (
            std::iter::once("BATCH +1 draft/multiline #lobby".to_owned())
                .chain((0..11).map(|_| format!("@batch=1 PRIVMSG #lobby :{}", "x".repeat(400))))
                .chain(std::iter::once("BATCH -1".to_owned()))
                .collect(),
            "MULTILINE_MAX_BYTES",
        ),
        (vec!["BATCH +1 chathistory #lobby".into()], "INVALID_TYPE"),
    ];
    for (lines, code) in cases {
        for line in &lines {
            alice.send(line).await;
        }
        let answers = alice.sync().await;
        let fails: Vec<(String, String)> = answers
            .iter()
            .filter(|m| m.command == "FAIL")
            .map(fail)
            .collect();
        assert_eq!(
            fails.first(),
            Some(&("BATCH".to_owned(), code.to_owned())),
            "{lines:?}: {answers:?}"
        );
        assert_eq!(fails.len(), 1, "one refusal per batch: {answers:?}");
        assert!(
            !answers.iter().any(|m| m.command == "PRIVMSG"),
            "nothing echoed: {answers:?}"
        );
    }
    let seen = bob.sync().await;
    assert!(
        !seen.iter().any(|m| m.command == "PRIVMSG"),
        "nothing delivered: {seen:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_pasted_batch_is_one_message_under_the_message_rate() {
    let server = TestServer::start_with(chatroom_server::Config {
        messages_per_second: 2.0,
        ..chatroom_testkit::test_config()
    })
    .await;
    let mut alice = IrcRaw::register(server.irc_addr, "alice", &with_multiline()).await;
    let mut bob = IrcRaw::register(server.irc_addr, "bob", &with_multiline()).await;
    bob.sync().await;
    let mut paste = String::from("BATCH +p draft/multiline #lobby\r\n");
    for i in 0..60 {
        paste.push_str(&format!("@batch=p PRIVMSG #lobby :line {i}\r\n"));
    }
    paste.push_str("BATCH -p");
    alice.send(&paste).await;
    let first = bob.until("BATCH").await;
    let relay = rest_of_batch(&mut bob, first).await;
    assert_eq!(relay.len(), 62, "every line of the paste");
    let lines = alice.sync().await;
    assert!(
        !lines
            .iter()
            .any(|m| m.command == "NOTICE" || m.command == "FAIL"),
        "nothing refused: {lines:?}"
    );
    server.stop().await;
}
