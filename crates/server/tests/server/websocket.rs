//! The HTTP listener over real sockets: the page and its headers, the
//! WebSocket upgrade and its refusals, both protocols over WebSocket in
//! the same rooms as TCP clients, and the WebSocket's own limits (1009 for
//! a message too big, 1007 for text that is not UTF-8, the slow-consumer
//! policy, keepalive pings).

use std::net::SocketAddr;
use std::time::Duration;

use chatroom_proto::DEFAULT_MAX_FRAME_BYTES;
use chatroom_testkit::{IrcRaw, Raw, TestServer, WAIT, Ws, test_config};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};

/// Sends a raw HTTP request and reads the whole response (the server
/// closes after it: every request says `connection: close`).
async fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("no response in time")
        .unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// `GET path` with `connection: close`.
async fn get(addr: SocketAddr, path: &str) -> String {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
    )
    .await
}

/// The status code of a raw response.
fn status(response: &str) -> &str {
    response.split(' ').nth(1).unwrap_or("")
}

/// A header's value in a raw response (names compared without case).
fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn the_page_is_served_with_security_headers() {
    let server = TestServer::start().await;
    for path in ["/", "/app.js", "/style.css", "/nowhere"] {
        let response = get(server.http_addr, path).await;
        let csp = header(&response, "content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {response}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&response, "referrer-policy"), Some("no-referrer"));
        if path == "/nowhere" {
            assert_eq!(status(&response), "404", "{response}");
        } else {
            assert_eq!(status(&response), "200", "{path}: {response}");
        }
    }
    let page = get(server.http_addr, "/").await;
    assert!(
        header(&page, "content-type").is_some_and(|t| t.starts_with("text/html")),
        "{page}"
    );
    // No inline script: every script is a file the policy allows.
    assert!(!page.contains("<script>"), "{page}");
    assert!(!page.contains("onclick="), "{page}");
    let script = get(server.http_addr, "/app.js").await;
    assert!(
        header(&script, "content-type").is_some_and(|t| t.starts_with("text/javascript")),
        "{script}"
    );
    // Paths out of the web client's folder find nothing.
    for path in ["/../Cargo.toml", "/%2e%2e/Cargo.toml", "/..%2fsrc/lib.rs"] {
        assert_eq!(status(&get(server.http_addr, path).await), "404", "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_foreign_origin_gets_403_and_the_own_or_allowed_ones_connect() {
    let server = TestServer::start_with(chatroom_server::Config {
        allowed_origins: vec!["https://chat.example".to_owned()],
        ..test_config()
    })
    .await;
    let addr = server.http_addr;
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        match Ws::connect_with(addr, None, Some(origin)).await {
            Err(Error::Http(response)) => assert_eq!(response.status(), 403, "{origin}"),
            Err(e) => panic!("{origin}: {e}"),
            Ok(_) => panic!("{origin} was let in"),
        }
    }
    let own = format!("http://{addr}");
    for origin in [own.as_str(), "https://chat.example"] {
        let mut ws = Ws::connect_with(addr, None, Some(origin)).await.unwrap();
        ws.send_json(json!({"type": "ping", "ref": 1})).await;
        assert_eq!(ws.recv().await, json!({"type": "pong", "ref": 1}));
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_upgrades_get_the_right_status() {
    let server = TestServer::start().await;
    let addr = server.http_addr;
    let upgrade = "connection: upgrade\r\nupgrade: websocket\r\n\
                   sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for (request, expected) in [
        // Not a GET.
        (
            format!(
                "POST /ws HTTP/1.1\r\nhost: {addr}\r\n{upgrade}sec-websocket-version: 13\r\ncontent-length: 0\r\n\r\n"
            ),
            "405",
        ),
        // A plain GET: no upgrade asked for.
        (
            format!("GET /ws HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n"),
            "400",
        ),
        // A WebSocket version the server does not speak.
        (
            format!(
                "GET /ws HTTP/1.1\r\nhost: {addr}\r\n{upgrade}sec-websocket-version: 8\r\n\r\n"
            ),
            "400",
        ),
        // No key.
        (
            format!(
                "GET /ws HTTP/1.1\r\nhost: {addr}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\n\r\n"
            ),
            "400",
        ),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        tokio::time::timeout(WAIT, stream.read_exact(&mut head))
            .await
            .expect("no response in time")
            .unwrap();
        let head = String::from_utf8_lossy(&head);
        assert_eq!(status(&head), expected, "{request}");
    }
    server.stop().await;
}

#[tokio::test]
async fn json_and_irc_over_websocket_share_a_room_with_tcp_clients() {
    let server = TestServer::start().await;
    let mut tcp = Raw::login(server.addr, "tcp").await;
    let mut irc_tcp = IrcRaw::register(server.irc_addr, "irctcp", &[]).await;
    let mut web = Ws::login(server.http_addr, "web").await;
    let mut web_irc = Ws::connect_with(server.http_addr, Some("text.ircv3.net"), None)
        .await
        .unwrap();
    web_irc.send_text("NICK webirc").await;
    web_irc.send_text("USER webirc 0 * :Web IRC").await;
    while !web_irc.recv_line().await.contains(" 001 ") {}
    web_irc.send_text("JOIN #lobby").await;
    while !web_irc.recv_line().await.contains(" 366 ") {}
    let mut web_bin = Ws::connect_with(server.http_addr, Some("binary.ircv3.net"), None)
        .await
        .unwrap();
    web_bin.send(Message::binary(&b"NICK webbin"[..])).await;
    web_bin
        .send(Message::binary(&b"USER webbin 0 * :Bin"[..]))
        .await;
    while !web_bin.recv_line().await.contains(" 001 ") {}
    web_bin.send(Message::binary(&b"JOIN #lobby"[..])).await;
    while !web_bin.recv_line().await.contains(" 366 ") {}

    // Each speaks once; every other one hears it.
    tcp.say("from tcp").await;
    web.send_json(json!({"type": "broadcast", "message": "from web"}))
        .await;
    web_irc.send_text("PRIVMSG #lobby :from webirc").await;
    web_bin
        .send(Message::binary(&b"PRIVMSG #lobby :from webbin"[..]))
        .await;
    irc_tcp.send("PRIVMSG #lobby :from irctcp").await;

    let heard = |frames: Vec<String>| {
        let mut frames = frames;
        frames.sort();
        frames
    };
    let everyone = ["tcp", "web", "webirc", "webbin", "irctcp"];
    let said = |nick: &str| format!("from {nick}");
    let expected = |me: &str| {
        heard(
            everyone
                .iter()
                .filter(|n| **n != me)
                .map(|n| said(n))
                .collect(),
        )
    };

    let mut got = Vec::new();
    while got.len() < 4 {
        let frame = tcp.recv().await;
        if frame["type"] == "message" && frame["sender_nickname"] != "tcp" {
            got.push(frame["message"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(heard(got), expected("tcp"));

    let mut got = Vec::new();
    while got.len() < 4 {
        let frame = web.recv().await;
        if frame["type"] == "message" && frame["sender_nickname"] != "web" {
            got.push(frame["message"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(heard(got), expected("web"));

    // Each IRC client hears the others in the kind of message it chose
    // (events are framed once per kind for all their receivers).
    for (ws, me, binary) in [
        (&mut web_irc, "webirc", false),
        (&mut web_bin, "webbin", true),
    ] {
        let mut got = Vec::new();
        while got.len() < 4 {
            let line = match ws.recv_message().await {
                Some(Message::Text(text)) if !binary => text.to_string(),
                Some(Message::Binary(data)) if binary => String::from_utf8(data.to_vec()).unwrap(),
                other => panic!("{me} (binary: {binary}) got {other:?}"),
            };
            assert!(!line.ends_with('\n'), "one line per message: {line:?}");
            if let Some((_, text)) = line.split_once(" PRIVMSG #lobby :") {
                got.push(text.to_owned());
            }
        }
        assert_eq!(heard(got), expected(me));
    }

    let mut got = Vec::new();
    while got.len() < 4 {
        let m = irc_tcp.recv().await;
        if m.command == "PRIVMSG" {
            got.push(m.params[1].clone());
        }
    }
    assert_eq!(heard(got), expected("irctcp"));
    server.stop().await;
}

/// Reads until the server closes; asserts the close code.
async fn closes_with(ws: &mut Ws, code: CloseCode) {
    let frame = ws.closed().await.expect("a close frame");
    assert_eq!(frame.code, code, "{frame:?}");
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009() {
    let server = TestServer::start().await;
    let mut watcher = Raw::login(server.addr, "watcher").await;

    // Exactly the limit is a frame like any other.
    let mut ws = Ws::login(server.http_addr, "big").await;
    let envelope = r#"{"type":"ping","ref":"cap","x":""}"#;
    let exact = format!(
        r#"{{"type":"ping","ref":"cap","x":"{}"}}"#,
        "p".repeat(DEFAULT_MAX_FRAME_BYTES - envelope.len())
    );
    assert_eq!(exact.len(), DEFAULT_MAX_FRAME_BYTES);
    ws.send_text(&exact).await;
    assert_eq!(ws.recv().await, json!({"type": "pong", "ref": "cap"}));

    // One byte more closes the connection with 1009.
    let over = format!("{exact} ");
    ws.send_text(&over).await;
    closes_with(&mut ws, CloseCode::Size).await;
    let left = loop {
        let frame = watcher.recv_type("presence").await;
        if frame["event"] == "leave" {
            break frame;
        }
    };
    assert_eq!(left["nickname"], "big", "{left}");

    // The same for IRC.
    let mut irc = Ws::connect_with(server.http_addr, Some("text.ircv3.net"), None)
        .await
        .unwrap();
    irc.send_text(&format!(
        "PRIVMSG #lobby :{}",
        "x".repeat(DEFAULT_MAX_FRAME_BYTES)
    ))
    .await;
    closes_with(&mut irc, CloseCode::Size).await;

    // Ten megabytes in one message: refused at its header, and the rest
    // read and dropped while the connection closes, so the client
    // finishes sending and hears why (not a reset for unread input). The
    // server stops draining after a tenth of a second without input, which
    // a test machine too busy to run this client can cause: three tries.
    let mut heard = None;
    for _ in 0..3 {
        let mut huge = Ws::connect(server.http_addr).await;
        if huge
            .try_send(Message::text("x".repeat(10 * 1024 * 1024)))
            .await
            .is_ok()
            && let Some(frame) = huge.closed().await
        {
            heard = Some(frame.code);
            break;
        }
    }
    assert_eq!(heard, Some(CloseCode::Size), "the 1009 close frame");
    watcher.assert_quiet_and_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let server = TestServer::start().await;
    for subprotocol in [None, Some("text.ircv3.net")] {
        let mut ws = Ws::connect_with(server.http_addr, subprotocol, None)
            .await
            .unwrap();
        ws.send_raw_text(b"{\"type\":\"login\",\"nickname\":\"\xe4\xbd\"}")
            .await;
        closes_with(&mut ws, CloseCode::Invalid).await;
    }
    // Binary messages are not the JSON protocol's (it is text): 1003.
    let mut ws = Ws::connect(server.http_addr).await;
    ws.send(Message::binary(&br#"{"type":"ping"}"#[..])).await;
    closes_with(&mut ws, CloseCode::Unsupported).await;
    server.stop().await;
}

#[tokio::test]
async fn idle_websockets_are_pinged_and_answer() {
    let server = TestServer::start_with(chatroom_server::Config {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_secs(20),
        ..test_config()
    })
    .await;
    let mut ws = Ws::login(server.http_addr, "idle").await;
    // Two pings in a row: the client's automatic pong answered the first.
    for _ in 0..2 {
        loop {
            match ws.next_raw().await {
                Some(Message::Ping(_)) => break,
                Some(Message::Text(_)) => {}
                other => panic!("expected a ping, got {other:?}"),
            }
        }
    }
    ws.send_json(json!({"type": "ping", "ref": "still"})).await;
    assert_eq!(ws.recv_type("pong").await["ref"], "still");
    server.stop().await;
}

#[tokio::test]
async fn a_client_ping_is_answered_and_a_client_close_is_echoed() {
    let server = TestServer::start().await;
    let mut watcher = Raw::login(server.addr, "watcher").await;
    let mut ws = Ws::login(server.http_addr, "pinger").await;
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await;
    loop {
        match ws.next_raw().await {
            Some(Message::Pong(payload)) => {
                assert_eq!(&payload[..], b"are you there");
                break;
            }
            Some(Message::Text(_)) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    // Still a working session after it.
    ws.send_json(json!({"type": "ping", "ref": "after"})).await;
    assert_eq!(ws.recv_type("pong").await["ref"], "after");
    // The client closes (going away, as a browser leaving the page does):
    // the server answers with the same code and the member leaves.
    ws.send(Message::Close(Some(
        tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: CloseCode::Away,
            reason: "".into(),
        },
    )))
    .await;
    closes_with(&mut ws, CloseCode::Away).await;
    let left = loop {
        let frame = watcher.recv_type("presence").await;
        if frame["event"] == "leave" {
            break frame;
        }
    };
    assert_eq!(left["nickname"], "pinger", "{left}");
    server.stop().await;
}

#[tokio::test]
async fn a_websocket_that_never_reads_is_cut_off_while_others_keep_receiving() {
    let server = TestServer::start_with(chatroom_server::Config {
        outbox_bytes: 64 * 1024,
        ..test_config()
    })
    .await;
    let mut reader = Raw::login(server.addr, "reader").await;
    let mut slow = Ws::login(server.http_addr, "slow").await;
    slow.send_json(json!({"type": "ping", "ref": "ready"}))
        .await;
    assert_eq!(slow.recv_type("pong").await["ref"], "ready");
    // From here on `slow` reads nothing. The sender keeps a few messages
    // ahead of the reader, so the reader never falls behind, while
    // `slow`'s socket, write buffer and outbox fill up.
    let mut sender = Raw::login(server.addr, "sender").await;
    let text = "y".repeat(4 * 1024);
    const AHEAD: u32 = 4;
    // Bounded: far more than the socket buffers and the outbox can hold.
    const MOST: u32 = 20_000;
    let (mut sent, mut next) = (0u32, 0u32);
    let mut cut_off = None;
    while cut_off.is_none() || next < sent {
        let after_cut = cut_off.map_or(0, |at| sent - at);
        if sent - next < AHEAD && sent < MOST && after_cut < 16 {
            sender
                .send_json(json!({"type": "broadcast", "message": format!("{sent} {text}")}))
                .await;
            sent += 1;
            continue;
        }
        let frame: Value = reader.recv().await;
        match frame["type"].as_str() {
            Some("message") => {
                let text = frame["message"].as_str().unwrap();
                let n: u32 = text.split(' ').next().unwrap().parse().unwrap();
                assert_eq!(n, next, "the reader missed a message");
                next += 1;
            }
            Some("presence") if frame["nickname"] == "slow" && frame["event"] == "leave" => {
                assert_eq!(frame["reason"], "slow_consumer", "{frame}");
                cut_off = Some(sent);
            }
            _ => {}
        }
    }
    assert!(cut_off.is_some(), "slow was never cut off");
    drop(slow);
    server.stop().await;
}

/// Web IRC clients (and irctest) open their WebSocket at the server's
/// root: `/` upgrades like `/ws`, and without an upgrade still serves the
/// page.
#[tokio::test]
async fn the_root_takes_websockets_too() {
    let server = TestServer::start().await;
    let mut irc = Ws::connect_at_root(server.http_addr, Some("text.ircv3.net"))
        .await
        .unwrap();
    irc.send_text("NICK rooted").await;
    irc.send_text("USER rooted 0 * :Rooted").await;
    while !irc.recv_line().await.contains(" 001 ") {}
    let json = Ws::connect_at_root(server.http_addr, None).await;
    assert!(
        json.is_ok(),
        "JSON at the root too: {json:?}",
        json = json.err()
    );
    let page = get(server.http_addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("<!doctype html") || page.contains("<!DOCTYPE html"),
        "{page}"
    );
    server.stop().await;
}
