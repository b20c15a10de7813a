//! The hostile-input corpus (see `hostile`) replayed over WebSocket, in
//! both protocols, while alice (JSON over TCP) and bob (IRC over TCP) keep
//! chatting: every input gets its documented answer (an error frame or
//! numeric and an open connection, or a close code), the conversation goes
//! on, nothing panics and the server shuts down cleanly.

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::hostile::{Scene, nesting, noise};
use chatroom_testkit::Ws;

/// Sends one message and expects an error frame with `code`, the
/// connection staying open.
async fn refused(ws: &mut Ws, text: &str, code: &str) -> Value {
    ws.send_text(text).await;
    let frame = ws.recv().await;
    assert_eq!(frame["type"], "error", "{text:.80}: {frame}");
    assert_eq!(frame["code"], code, "{text:.80}: {frame}");
    frame
}

/// Pings and reads up to the pong, skipping the errors on the way.
async fn alive(ws: &mut Ws, reference: &str) {
    ws.send_json(json!({"type": "ping", "ref": reference}))
        .await;
    loop {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("pong") => {
                assert_eq!(frame["ref"], reference);
                return;
            }
            Some("error") => {}
            _ => panic!("unexpected {frame}"),
        }
    }
}

/// Reads until the server closes; asserts the close code.
async fn closes_with(ws: &mut Ws, code: CloseCode) {
    let frame = ws.closed().await.expect("a close frame");
    assert_eq!(frame.code, code, "{frame:?}");
}

#[tokio::test]
async fn json_corpus_over_websocket_gets_the_documented_answers() {
    let mut scene = Scene::start().await;
    let addr = scene.server.http_addr;
    let mut p = Ws::connect(addr).await;

    // Garbage and wrong shapes: one error each.
    for (text, code) in [
        ("hello, world", "malformed_json"),
        ("[1,2,3]", "malformed_json"),
        ("\0\0\0\0", "malformed_json"),
        (r#"{"type":"ping",}"#, "malformed_json"),
        (r#"{"type":7}"#, "invalid_field"),
        (r#"{"type":"ping","type":"ping"}"#, "invalid_field"),
        (r#"{"type":"teleport"}"#, "unknown_type"),
        (r#"{"type":"join","room":"lobby"}"#, "not_logged_in"),
        (r#"{"type":"ping","ref":1e999999}"#, "invalid_field"),
        (
            r#"{"type":"history","room":"lobby","limit":-1e400}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"login","nickname":"a\u0000b"}"#,
            "invalid_nickname",
        ),
    ] {
        refused(&mut p, text, code).await;
    }
    scene.chat.goes_on().await;

    // Control characters and escape sequences in nicknames.
    for nick in [
        "\u{1b}[31mred",
        "bell\u{7}",
        "evil\u{202e}",
        "zero\u{200b}width",
        "line\r\nQUIT",
    ] {
        let login = json!({"type": "login", "nickname": nick}).to_string();
        refused(&mut p, &login, "invalid_nickname").await;
    }

    // Deep nesting, up to the size limit.
    let deep = format!(
        r#"{{"type":"ping","ref":"deep","x":{}}}"#,
        nesting(30_000, true)
    );
    p.send_text(&deep).await;
    assert_eq!(p.recv().await, json!({"type": "pong", "ref": "deep"}));
    let deep = format!(
        r#"{{"type":"login","nickname":{}}}"#,
        nesting(10_000, false)
    );
    refused(&mut p, &deep, "invalid_field").await;

    // Floods of one character, and noise made text.
    for flood in ["}", "]", "\"", ":"] {
        p.send_text(&flood.repeat(60_000)).await;
        alive(&mut p, flood).await;
    }
    for seed in 0..8 {
        let text = String::from_utf8_lossy(&noise(seed, 16 * 1024)).into_owned();
        p.send_text(&text).await;
        alive(&mut p, &format!("noise{seed}")).await;
    }
    scene.chat.goes_on().await;

    // A flood of tiny frames: each answered, in order.
    for n in 0..500 {
        p.send_json(json!({"type": "ping", "ref": n})).await;
    }
    for n in 0..500 {
        assert_eq!(p.recv().await, json!({"type": "pong", "ref": n}));
    }
    scene.chat.goes_on().await;

    // What the WebSocket layer refuses closes the connection, with the
    // code that says why.
    let mut bad = Ws::connect(addr).await;
    bad.send_raw_text(b"{\"type\":\"ping\",\"ref\":\"\xed\xa0\x80\xc0\xaf\"}")
        .await;
    closes_with(&mut bad, CloseCode::Invalid).await;
    let mut bad = Ws::connect(addr).await;
    bad.send(Message::binary(noise(7, 1024))).await;
    closes_with(&mut bad, CloseCode::Unsupported).await;
    let mut bad = Ws::connect(addr).await;
    bad.send_text(&"{".repeat(70_000)).await;
    closes_with(&mut bad, CloseCode::Size).await;
    scene.chat.goes_on().await;

    alive(&mut p, "end").await;
    drop(p);
    scene.finish().await;
}

#[tokio::test]
async fn irc_corpus_over_websocket_gets_the_documented_numerics() {
    let mut scene = Scene::start().await;
    let addr = scene.server.http_addr;
    let mut p = Ws::connect_with(addr, Some("text.ircv3.net"), None)
        .await
        .unwrap();

    /// Sends a line and expects a reply whose command is `command`.
    async fn numeric(p: &mut Ws, line: &str, command: &str) {
        p.send_text(line).await;
        let reply = p.recv_line().await;
        assert_eq!(
            reply.split(' ').nth(1),
            Some(command),
            "{line:.80}: {reply}"
        );
    }

    numeric(&mut p, "JOIN #early", "451").await;
    numeric(&mut p, "PRIVMSG #lobby :a\0b", "421").await;
    numeric(&mut p, "FROBNICATE", "421").await;
    numeric(&mut p, "@a=b", "421").await;
    for nick in ["\u{1b}[31mred", "bell\u{7}", "evil\u{202e}", "#chan", "a,b"] {
        numeric(&mut p, &format!("NICK {nick}"), "432").await;
    }
    numeric(&mut p, "NICK", "431").await;
    numeric(&mut p, "USER only", "461").await;
    // Over-long lines within the message limit: 417, and the connection
    // stays.
    numeric(
        &mut p,
        &format!("PRIVMSG #lobby :{}", "y".repeat(20_000)),
        "417",
    )
    .await;
    // Several lines in one message are taken one by one.
    p.send_text("NICK first\r\nUSER first 0 * :First").await;
    while !p.recv_line().await.contains(" 001 ") {}
    scene.chat.goes_on().await;
    for seed in 0..8 {
        let text = String::from_utf8_lossy(&noise(seed, 4096)).replace(['\r', '\n'], " ");
        p.send_text(&text).await;
    }
    p.send_text("PING :still").await;
    while !p.recv_line().await.contains("PONG") {}
    scene.chat.goes_on().await;

    // Invalid UTF-8 in a text message: 1007.
    let mut bad = Ws::connect_with(addr, Some("text.ircv3.net"), None)
        .await
        .unwrap();
    bad.send_raw_text(b"NICK \xc3\x28").await;
    closes_with(&mut bad, CloseCode::Invalid).await;
    // On the binary subprotocol the bytes are the line's, as over TCP:
    // the documented FAIL, and the connection stays.
    let mut bin = Ws::connect_with(addr, Some("binary.ircv3.net"), None)
        .await
        .unwrap();
    bin.send(Message::binary(&b"NICK \xc3\x28"[..])).await;
    let fail = bin.recv_line().await;
    assert!(fail.contains("FAIL NICK INVALID_UTF8"), "{fail}");
    scene.chat.goes_on().await;
    drop((p, bad, bin));
    scene.finish().await;
}
