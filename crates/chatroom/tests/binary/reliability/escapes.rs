//! Terminal escapes in what users send never reach other users raw, in
//! either protocol: ESC, BEL, OSC 52 (clipboard writes), C1 controls and
//! unterminated bidirectional overrides are defused in messages, topics,
//! away texts and reasons; IRC's own formatting codes survive.

use chatroom_testkit::{IrcRaw, Raw, ServerProcess};
use serde_json::json;

use crate::support::BIN;

/// What must never reach a terminal: C0 controls but newline, tab and
/// IRC's formatting codes; DEL; C1 controls.
fn forbidden(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| {
            let irc_format = matches!(
                c,
                '\u{02}'
                    | '\u{03}'
                    | '\u{04}'
                    | '\u{0F}'
                    | '\u{11}'
                    | '\u{16}'
                    | '\u{1D}'
                    | '\u{1E}'
                    | '\u{1F}'
            );
            c.is_control() && !matches!(c, '\n' | '\t') && !irc_format
        })
        .collect()
}

const HOSTILE: &str =
    "\x1b]52;c;cm0gLXJmIH4=\x07clip \x1b[2Jclear \u{9b}31mcsi \x07bell \u{202E}evil";

#[tokio::test]
async fn escapes_are_defused_for_every_protocol() {
    let server = ServerProcess::start(BIN, &["--in-memory", "--irc-listen", "127.0.0.1:0"]).await;
    let mut irc = IrcRaw::register(server.irc_addr(), "watcher", &[]).await;
    irc.send("JOIN #den").await;
    irc.until("366").await;
    // Anyone in the room may set its topic (its creator lifts the lock).
    irc.send("MODE #den -t").await;
    irc.until("MODE").await;
    let mut json_watcher = Raw::login(server.addr(), "jwatcher").await;
    json_watcher.join("den").await;
    let mut mallory = Raw::login(server.addr(), "mallory").await;
    mallory.join("den").await;
    mallory
        .send_json(json!({"type": "broadcast", "room": "den", "message": format!("{HOSTILE} \x02bold\x02 \x0304red\x03")}))
        .await;
    mallory
        .send_json(json!({"type": "topic", "room": "den", "topic": HOSTILE}))
        .await;
    mallory.recv_type("topic").await;
    mallory
        .send_json(json!({"type": "part", "room": "den"}))
        .await;
    mallory.recv_type("parted").await;

    // IRC: the message (formatting kept), the topic, in raw lines.
    let privmsg = irc.until("PRIVMSG").await;
    let text = privmsg.params.last().unwrap();
    assert!(
        forbidden(text).is_empty(),
        "{:?} in {text:?}",
        forbidden(text)
    );
    assert!(
        text.contains("\x02bold\x02") && text.contains("\x0304red\x03"),
        "{text:?}"
    );
    assert!(
        text.contains("clip") && text.contains('\u{FFFD}'),
        "{text:?}"
    );
    let topic = irc.until("TOPIC").await;
    let text = topic.params.last().unwrap();
    assert!(
        forbidden(text).is_empty(),
        "{:?} in {text:?}",
        forbidden(text)
    );
    // An override is closed before the end of the text (PDF).
    assert!(text.ends_with('\u{202C}'), "{text:?}");

    // JSON: the same text, as JSON strings.
    let m = json_watcher.recv_type("message").await;
    let text = m["message"].as_str().unwrap();
    assert!(forbidden(text).is_empty(), "{text:?}");

    // An away text reaches WHOIS defused too.
    irc.send(&format!("AWAY :{}", "gone\x1b]0;title\x07")).await;
    irc.until("306").await;
    json_watcher
        .send_json(json!({"type": "whois", "nickname": "watcher"}))
        .await;
    let whois = json_watcher.recv_type("whois").await;
    let away = whois["away"].as_str().unwrap();
    assert!(forbidden(away).is_empty(), "{away:?}");
    assert_eq!(server.stop().await.code, Some(0));
}
