//! IRCv3 labeled-response: the answers to a labeled request carry its
//! label (one line), come in a labeled batch (several), or are a labeled
//! ACK (none); others' traffic never does.

use chatroom_testkit::{IrcRaw, TestServer, commands};

const CAPS: [&str; 4] = ["labeled-response", "batch", "message-tags", "echo-message"];

#[tokio::test]
async fn answers_carry_the_requests_label() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "labeler", &CAPS).await;
    let mut other = IrcRaw::register(server.irc_addr, "other", &[]).await;
    other.send("JOIN #l").await;
    other.until("366").await;
    c.sync().await;

    // An unknown command's 421 is an answer too.
    c.send("@label=u1 NO_SUCH_COMMAND").await;
    let unknown = c.recv().await;
    assert_eq!(
        (unknown.command.as_str(), unknown.tag("label")),
        ("421", Some(Some("u1")))
    );

    // One line: labeled.
    c.send("@label=p1 PING :x").await;
    let pong = c.recv().await;
    assert_eq!(
        (pong.command.as_str(), pong.tag("label")),
        ("PONG", Some(Some("p1")))
    );
    // Several: a labeled batch holding them all.
    c.send("@label=j1 JOIN #l").await;
    let lines = c.sync().await;
    assert_eq!(lines[0].command, "BATCH");
    assert_eq!(lines[0].tag("label"), Some(Some("j1")));
    assert_eq!(lines[0].params[1], "labeled-response");
    let id = lines[0].params[0].trim_start_matches('+').to_owned();
    let inside: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .inspect(|m| assert_eq!(m.tag("batch"), Some(Some(id.as_str()))))
        .map(|m| m.command.as_str())
        .collect();
    assert_eq!(inside[0], "JOIN");
    assert!(
        inside.contains(&"353") && inside.contains(&"366"),
        "{inside:?}"
    );
    assert_eq!(lines.last().unwrap().params, [format!("-{id}")]);
    // The echo of one's own message is the answer.
    c.send("@label=m1 PRIVMSG #l :hello").await;
    let echo = c.recv().await;
    assert_eq!(
        (echo.command.as_str(), echo.tag("label")),
        ("PRIVMSG", Some(Some("m1")))
    );
    // To oneself: received as such, and the echo is the answer.
    c.send("@label=s1 PRIVMSG labeler :note to self").await;
    let lines = [c.recv().await, c.recv().await];
    assert_eq!(commands(&lines), ["PRIVMSG", "PRIVMSG"]);
    let labels: Vec<_> = lines.iter().map(|m| m.tag("label")).collect();
    assert!(
        labels.contains(&Some(Some("s1"))) && labels.contains(&None),
        "{lines:?}"
    );
    // Nothing to say: an ACK.
    c.send("@label=a1 AWAY :gone").await;
    c.send("@label=a2 PRIVMSG #l :x").await;
    let lines = c.sync().await;
    assert_eq!(lines[0].tag("label"), Some(Some("a1")), "306 is the answer");
    assert_eq!(lines[1].tag("label"), Some(Some("a2")));
    // Errors are answers too; others' messages are not.
    c.send("@label=e1 FROBNICATE").await;
    let error = c.recv().await;
    assert_eq!(
        (error.command.as_str(), error.tag("label")),
        ("421", Some(Some("e1")))
    );
    other.send("PRIVMSG #l :from elsewhere").await;
    let theirs = c.until("PRIVMSG").await;
    assert_eq!(theirs.tag("label"), None);
    // Without echo-message a message has no answer: ACK.
    let mut quiet =
        IrcRaw::register(server.irc_addr, "quiet", &["labeled-response", "batch"]).await;
    quiet.send("JOIN #l").await;
    quiet.until("366").await;
    quiet.sync().await;
    quiet.send("@label=q1 PRIVMSG #l :hi").await;
    let ack = quiet.recv().await;
    assert_eq!(
        (ack.command.as_str(), ack.tag("label")),
        ("ACK", Some(Some("q1")))
    );
    // A label too long is not used.
    quiet
        .send(&format!("@label={} PING :y", "x".repeat(65)))
        .await;
    let lines = quiet.sync().await;
    assert_eq!(commands(&lines), ["PONG"]);
    assert_eq!(lines[0].tag("label"), None);
    server.stop().await;
}
