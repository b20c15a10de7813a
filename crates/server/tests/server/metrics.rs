//! The operators' endpoints of the HTTP listener over real sockets:
//! `/metrics` counts what clients did (logins, messages, deliveries,
//! connections by protocol, bytes, rate-limit and slow-consumer
//! disconnects), `/healthz` answers while the process serves, and
//! `/readyz` only while the history store answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use chatroom_server::Config;
use chatroom_server::store::Location;
use chatroom_testkit::{IrcRaw, Raw, TestServer, WAIT, Ws, test_config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{hold_the_store, user};

/// A response: its status, its head (lower-cased header lines) and body.
pub(crate) struct Response {
    pub(crate) status: u16,
    head: String,
    pub(crate) body: String,
}

/// `GET path` over a fresh connection that the server closes after it.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("no response in time")
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// One scrape: every sample by its series (`name{labels}`).
pub(crate) struct Scrape(HashMap<String, f64>);

impl Scrape {
    /// A sample's value; panics if the series is missing.
    pub(crate) fn get(&self, series: &str) -> f64 {
        match self.0.get(series) {
            Some(value) => *value,
            None => panic!("no series {series} in {:?}", self.0.keys()),
        }
    }

    /// The series of connections open over `protocol`.
    fn open(&self, protocol: &str) -> f64 {
        self.get(&format!(
            "chatroom_connections_open{{protocol=\"{protocol}\"}}"
        ))
    }

    /// The series of disconnects for `reason`.
    fn disconnects(&self, reason: &str) -> f64 {
        self.get(&format!(
            "chatroom_disconnects_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Messages accepted of `kind` (room or direct).
    fn messages(&self, kind: &str) -> f64 {
        self.get(&format!("chatroom_messages_total{{kind=\"{kind}\"}}"))
    }
}

/// `GET /metrics`, checked for its status and content type, and parsed.
pub(crate) async fn scrape(addr: SocketAddr) -> Scrape {
    let response = get(addr, "/metrics").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert!(
        response
            .head
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        response.head
    );
    let samples = response
        .body
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect();
    Scrape(samples)
}

/// Scrapes until `done` holds (what it waits for happens on the server
/// after the client has seen everything it can see); panics after [`WAIT`].
async fn scrape_until(addr: SocketAddr, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let scrape = scrape(addr).await;
        if done(&scrape) {
            return scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the metrics never got there: {:?}",
            scrape.0
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn metrics_count_logins_messages_deliveries_and_connections_by_protocol() {
    let server = TestServer::start().await;
    let addr = server.http_addr;
    let fresh = scrape(addr).await;
    assert_eq!(fresh.get("chatroom_logins_total"), 0.0);
    assert_eq!(fresh.get("chatroom_deliveries_total"), 0.0);

    // Five people in the lobby: two over JSON, one over IRC, one of each
    // over a WebSocket.
    let mut ann = user(&server, "ann").await;
    let mut bob = user(&server, "bob").await;
    let mut carol = IrcRaw::register(server.irc_addr, "carol", &[]).await;
    let mut web = Ws::login(addr, "web").await;
    let mut web_irc = Ws::connect_with(addr, Some("text.ircv3.net"), None)
        .await
        .unwrap();
    web_irc.send_text("NICK webirc").await;
    web_irc.send_text("USER webirc 0 * :Web IRC").await;
    while !web_irc.recv_line().await.contains(" 001 ") {}

    // Everyone has their welcome: every login, and every join notice it
    // made, is counted.
    let logged_in = scrape(addr).await;
    assert_eq!(logged_in.get("chatroom_logins_total"), 5.0);
    for protocol in ["json", "irc", "websocket-json", "websocket-irc"] {
        let expected = if protocol == "json" { 2.0 } else { 1.0 };
        assert_eq!(logged_in.open(protocol), expected, "{protocol}");
        let opened = format!("chatroom_connections_opened_total{{protocol=\"{protocol}\"}}");
        assert_eq!(logged_in.get(&opened), expected, "{protocol}");
    }
    assert_eq!(logged_in.messages("room"), 0.0);

    // A room message to four others (acknowledged once stored, so counted
    // by then), an IRC direct message (its PONG comes after it was
    // handled), a JSON one (acknowledged) and one to oneself.
    ann.say_in("lobby", "hello").await;
    carol.send("PRIVMSG bob :psst").await;
    carol.sync().await;
    ann.send_json(json!({"type": "direct", "to": "web", "message": "hi", "ref": "d"}))
        .await;
    ann.recv_type("ack").await;
    ann.send_json(json!({"type": "direct", "to": "ann", "message": "note", "ref": "n"}))
        .await;
    ann.recv_type("ack").await;

    let said = scrape(addr).await;
    assert_eq!(said.messages("room"), 1.0);
    assert_eq!(said.messages("direct"), 3.0);
    assert_eq!(
        said.get("chatroom_deliveries_total") - logged_in.get("chatroom_deliveries_total"),
        4.0 + 1.0 + 1.0 + 1.0,
        "four lobby members, then one recipient per direct message, oneself too"
    );
    assert_eq!(said.get("chatroom_fanout_seconds_count"), 4.0);
    assert!(
        said.get("chatroom_fanout_seconds_sum") > 0.0,
        "fan-out takes some time"
    );
    assert!(
        said.get("chatroom_store_commit_seconds_count")
            > logged_in.get("chatroom_store_commit_seconds_count"),
        "the acknowledged messages were committed"
    );
    assert!(said.get("chatroom_sent_bytes_total") > logged_in.get("chatroom_sent_bytes_total"));
    // Everyone got what was counted.
    assert_eq!(bob.recv_type("message").await["message"], "hello");
    assert_eq!(web.recv_type("message").await["message"], "hello");

    // A logout is counted before its `bye` is written.
    ann.send_json(json!({"type": "logout"})).await;
    assert_eq!(ann.recv_type("bye").await["type"], "bye");
    assert_eq!(scrape(addr).await.disconnects("logout"), 1.0);

    // The others just go; each connection counts as open until its driver
    // has closed it, then as a disconnect for some reason.
    drop((bob, carol, web, web_irc));
    let gone = scrape_until(addr, |s| {
        ["json", "irc", "websocket-json", "websocket-irc"]
            .iter()
            .all(|p| s.open(p) == 0.0)
    })
    .await;
    let reasons = ["logout", "closed", "reset"];
    let total: f64 = reasons.iter().map(|r| gone.disconnects(r)).sum();
    assert_eq!(total, 5.0, "{:?}", gone.0);
    assert_eq!(gone.get("chatroom_logins_total"), 5.0);
    server.stop().await;
}

#[tokio::test]
async fn bytes_sent_are_every_byte_the_clients_read() {
    let server = TestServer::start().await;
    let mut read = 0;
    // A JSON and an IRC client each log in, ask something and leave; the
    // server's FIN follows its last counted write.
    for (addr, script) in [
        (
            server.addr,
            &br#"{"type":"login","nickname":"ann"}{"type":"ping","ref":1}{"type":"logout"}"#[..],
        ),
        (
            server.irc_addr,
            b"NICK bob\r\nUSER bob 0 * :Bob\r\nPING :x\r\nQUIT :bye\r\n",
        ),
    ] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(script).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
            .await
            .expect("the server did not close in time")
            .unwrap();
        assert!(got.len() > 100, "{}", String::from_utf8_lossy(&got));
        read += got.len();
    }
    let scrape = scrape(server.http_addr).await;
    assert_eq!(scrape.get("chatroom_sent_bytes_total"), read as f64);
    server.stop().await;
}

#[tokio::test]
async fn a_flood_and_the_refused_messages_before_it_are_counted() {
    // One message a second in bursts of five: the test's writes take
    // microseconds, so no token comes back meanwhile.
    let server = TestServer::start_with(Config {
        messages_per_second: 1.0,
        message_burst: 5,
        ..test_config()
    })
    .await;
    let mut flooder = Raw::login(server.addr, "flooder").await;
    let flood: Vec<u8> = (0..40)
        .flat_map(|n| {
            json!({"type": "broadcast", "message": format!("m{n}"), "ref": n})
                .to_string()
                .into_bytes()
        })
        .collect();
    flooder.send(&flood).await;
    let frames = flooder.until_closed().await;
    assert_eq!(frames.last().unwrap()["code"], "flood", "{frames:?}");
    let scrape = scrape(server.http_addr).await;
    assert_eq!(scrape.disconnects("flood"), 1.0);
    // The burst passed, twice the burst was refused, the next one closed it.
    assert_eq!(scrape.messages("room"), 5.0);
    assert_eq!(scrape.get("chatroom_rate_limited_total"), 10.0);
    assert_eq!(scrape.disconnects("slow_consumer"), 0.0);
    server.stop().await;
}

#[tokio::test]
async fn a_slow_consumer_disconnect_is_counted() {
    let server = TestServer::start_with(Config {
        outbox_bytes: 64 * 1024,
        ..test_config()
    })
    .await;
    let mut watcher = IrcRaw::register(server.irc_addr, "watcher", &[]).await;
    // A tiny receive buffer, and it never reads after logging in.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (_slow_reader, mut slow_writer) = stream.into_split();
    slow_writer
        .write_all(br#"{"type":"login","nickname":"slowpoke"}"#)
        .await
        .unwrap();
    watcher.until("JOIN").await;
    let mut talker = Raw::login(server.addr, "talker").await;
    let text = "x".repeat(1000);
    let mut quit = false;
    // At most 8 MB, far past its 64 KiB budget and its socket buffers.
    for _ in 0..400 {
        for _ in 0..20 {
            talker.say(&text).await;
        }
        quit = watcher.sync().await.iter().any(|m| m.command == "QUIT");
        if quit {
            break;
        }
    }
    assert!(quit, "the slow client was never cut off");
    // Others hear of it after it was counted.
    let scrape = scrape(server.http_addr).await;
    assert_eq!(scrape.disconnects("slow_consumer"), 1.0);
    assert_eq!(scrape.disconnects("flood"), 0.0);
    drop(slow_writer);
    server.stop().await;
}

#[tokio::test]
async fn healthz_and_readyz_answer_and_metrics_can_be_turned_off() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(Config {
        store: Location::Dir(data.path().to_owned()),
        metrics: false,
        ..test_config()
    })
    .await;
    let alive = get(server.http_addr, "/healthz").await;
    assert_eq!((alive.status, alive.body.as_str()), (200, "ok"));
    let ready = get(server.http_addr, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    let metrics = get(server.http_addr, "/metrics").await;
    assert_eq!(metrics.status, 404, "{}", metrics.body);
    server.stop().await;
}

#[tokio::test]
async fn readyz_is_503_while_the_store_cannot_commit() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(Config {
        store: Location::Dir(data.path().to_owned()),
        ..test_config()
    })
    .await;
    let mut ann = user(&server, "ann").await;
    assert_eq!(get(server.http_addr, "/readyz").await.status, 200);

    // Another process holds the database's write lock: the writer waits
    // for it (SQLite's busy timeout) with ann's message in hand.
    let other = hold_the_store(data.path());
    ann.send_json(json!({"type": "broadcast", "message": "stuck", "ref": "s"}))
        .await;
    let stuck = get(server.http_addr, "/readyz").await;
    assert_eq!(stuck.status, 503, "{}", stuck.body);
    assert!(
        stuck.body.starts_with("history store: no answer within"),
        "{}",
        stuck.body
    );
    // Alive all the same.
    assert_eq!(get(server.http_addr, "/healthz").await.status, 200);

    // The lock released, the message is committed and the store ready.
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(ann.recv_type("ack").await["ref"], "s");
    let ready = get(server.http_addr, "/readyz").await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    server.stop().await;
}
