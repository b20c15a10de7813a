//! `chatroom bench --proto ws` and `--proto irc-ws` against the real chat
//! server's HTTP listener on 127.0.0.1:0 (WebSocket at `/ws`), with small
//! numbers: every delivery counted, idle clients kept alive through the
//! server's WebSocket pings, find-max, refusals that say why; and, against
//! a minimal IRC-over-WebSocket responder, the subprotocol, one line per
//! message, and PINGs answered during login and during the run.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chatroom_bench::{Config, FindMax, Proto, Verdict, find_max, idle, run};
use chatroom_testkit::{TestServer, test_config};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// 6 clients, 2 senders at 20 msg/s for 1 s, over `proto` to the server's
/// HTTP listener.
fn small(server: &TestServer, proto: Proto) -> Config {
    let mut config = Config::new(server.http_addr.to_string());
    config.proto = proto;
    config.clients = 6;
    config.senders = 2;
    config.rate = 20.0;
    config.duration = Duration::from_secs(1);
    config.ramp = 200.0;
    config
}

/// Every message sent reached the five other clients, and nothing else
/// went wrong.
fn assert_all_delivered(report: &chatroom_bench::Report) {
    assert_eq!((report.connected, report.failed), (6, 0), "{report}");
    assert_eq!(report.offered, 40);
    assert!(
        report.sent > 0 && report.sent + report.shortfall == 40,
        "{report}"
    );
    assert_eq!(report.expected, report.sent * 5);
    assert_eq!(report.delivered, report.expected, "{report}");
    assert_eq!((report.lost, report.loss_pct, report.extra), (0, 0.0, 0));
    assert_eq!(report.echoes, 0, "{report}");
    assert_eq!(report.dropped, 0, "{report}");
    assert_eq!(report.latency.count, report.delivered);
    let l = report.latency;
    assert!(
        0 < l.p50_us && l.p50_us <= l.p99_us && l.p99_us <= l.max_us,
        "{l:?}"
    );
    assert!(report.reads > 0 && report.read_bytes > 0, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_run_counts_every_delivery() {
    let server = TestServer::start().await;
    let mut config = small(&server, Proto::Ws);
    config.server_pids = vec![std::process::id()];
    let report = run(&config).await.unwrap();
    assert_eq!(report.proto, Proto::Ws);
    assert_all_delivered(&report);
    assert!(report.server_process.is_some());
    // The report names the protocol as the flag does.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["proto"], "ws");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_run_in_another_room_joins_it_first() {
    let server = TestServer::start().await;
    let mut config = small(&server, Proto::Ws);
    config.room = "benchroom".to_owned();
    let report = run(&config).await.unwrap();
    assert_all_delivered(&report);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_ws_run_counts_every_delivery() {
    let server = TestServer::start().await;
    let report = run(&small(&server, Proto::IrcWs)).await.unwrap();
    assert_eq!(report.proto, Proto::IrcWs);
    assert_all_delivered(&report);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["proto"], "irc-ws");
    let back: chatroom_bench::Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.proto, Proto::IrcWs);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_ws_clients_answer_the_servers_websocket_pings() {
    // The server pings a WebSocket client that has been silent for 100 ms
    // and closes it when a ping is not answered within 300 ms: a client
    // that did not answer would be dropped well within the second held.
    let server = TestServer::start_with(chatroom_server::Config {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    for proto in [Proto::Ws, Proto::IrcWs] {
        let mut config = small(&server, proto);
        config.clients = 10;
        config.duration = Duration::from_secs(1);
        config.server_pids = vec![std::process::id()];
        let report = idle(&config).await.unwrap();
        assert_eq!(
            (report.connected, report.failed, report.dropped),
            (10, 0, 0),
            "{proto}: {report}"
        );
        assert!(report.held_s >= 1.0, "{report}");
        assert!(report.server_process.is_some());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_max_over_ws_doubles_while_the_server_keeps_up() {
    let server = TestServer::start().await;
    let mut config = small(&server, Proto::Ws);
    config.clients = 3;
    config.senders = 1;
    config.rate = 5.0;
    config.duration = Duration::from_millis(600);
    let search = FindMax {
        max_p99: Duration::from_secs(5),
        max_steps: 2,
        ..FindMax::default()
    };
    let report = find_max(&config, search).await.unwrap();
    let rates: Vec<f64> = report.steps.iter().map(|s| s.rate).collect();
    assert_eq!(rates, [5.0, 10.0], "{report}");
    assert!(
        report.steps.iter().all(|s| s.verdict == Verdict::Clean),
        "{report}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrade_says_what_the_server_answered() {
    // Three connections per address: the fourth and fifth client are
    // refused before the upgrade, with the HTTP status and the reason.
    let server = TestServer::start_with(chatroom_server::Config {
        max_connections_per_ip: 3,
        ..test_config()
    })
    .await;
    let mut config = small(&server, Proto::Ws);
    config.clients = 5;
    let report = run(&config).await.unwrap();
    assert_eq!((report.connected, report.failed), (3, 2), "{report}");
    let failure = report.first_failure.clone().unwrap();
    let url = format!("ws://{}/ws", server.http_addr);
    assert!(failure.contains(&url), "{failure}");
    assert!(failure.contains("HTTP 503"), "{failure}");
    assert!(
        failure.contains("too many connections from your address"),
        "{failure}"
    );
    // The three that got in still measured a clean run.
    assert_eq!(report.delivered, report.sent * 2, "{report}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_at_a_port_that_is_not_http_is_a_clear_error() {
    // The JSON listener does not speak HTTP: no client gets in, and the
    // error says the WebSocket handshake with which URL failed.
    let server = TestServer::start().await;
    let mut config = small(&server, Proto::Ws);
    config.servers = vec![server.addr.to_string()];
    config.clients = 2;
    config.senders = 1;
    let err = run(&config).await.unwrap_err().to_string();
    assert!(err.contains("no client could connect"), "{err}");
    assert!(
        err.contains(&format!("WebSocket handshake with ws://{}/ws", server.addr)),
        "{err}"
    );
    server.stop().await;
}

/// What the IRC-over-WebSocket responder saw.
#[derive(Debug, Default)]
struct Seen {
    /// Upgrades that asked for `text.ircv3.net`.
    subprotocol: AtomicU64,
    /// Registration cookies answered (PONG during login).
    cookies: AtomicU64,
    /// PINGs after the join answered (PONG during the run).
    live_pongs: AtomicU64,
    /// QUITs received.
    quits: AtomicU64,
    /// Anything that broke the expected conversation.
    faults: std::sync::Mutex<Vec<String>>,
}

/// A minimal IRC server over WebSocket on 127.0.0.1:0 that insists on
/// PONGs: a PING cookie before `001`, and a PING right after the join that
/// must be answered before anything else. Returns its address.
async fn irc_ws_responder(seen: Arc<Seen>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut id = 0;
        while let Ok((stream, _)) = listener.accept().await {
            id += 1;
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                if let Err(fault) = irc_ws_client(stream, id, &seen).await {
                    seen.faults.lock().unwrap().push(fault);
                }
            });
        }
    });
    addr
}

// The upgrade callback's error type is tungstenite's.
#[allow(clippy::result_large_err)]
async fn irc_ws_client(stream: tokio::net::TcpStream, id: u32, seen: &Seen) -> Result<(), String> {
    let pick = |request: &Request, mut response: Response| {
        let asked = request
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        if asked == Some("text.ircv3.net") {
            seen.subprotocol.fetch_add(1, Ordering::Relaxed);
            response.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static("text.ircv3.net"),
            );
        }
        Ok(response)
    };
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, pick)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let nick_line = next_line(&mut ws).await?;
    let Some(nick) = nick_line.strip_prefix("NICK ") else {
        return Err(format!("expected NICK, got {nick_line}"));
    };
    expect(&mut ws, "USER ").await?;
    send(&mut ws, &[&format!("PING :cookie{id}")]).await?;
    expect(&mut ws, &format!("PONG :cookie{id}")).await?;
    seen.cookies.fetch_add(1, Ordering::Relaxed);
    send(&mut ws, &[&format!(":resp 001 {nick} :Welcome {nick}")]).await?;
    expect(&mut ws, "JOIN #lobby").await?;
    let joined = format!(":{nick}!~{nick}@127.0.0.1 JOIN #lobby");
    let names = format!(":resp 366 {nick} #lobby :End of /NAMES list.");
    send(&mut ws, &[&joined, &names, "PING :live"]).await?;
    expect(&mut ws, "PONG :live").await?;
    seen.live_pongs.fetch_add(1, Ordering::Relaxed);
    expect(&mut ws, "QUIT ").await?;
    seen.quits.fetch_add(1, Ordering::Relaxed);
    send(&mut ws, &["ERROR :Closing link (bench done)"]).await?;
    let _ = ws.close(None).await;
    while let Some(Ok(_)) = ws.next().await {}
    Ok(())
}

type ServerWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// The next text message, which must be one line without its line end.
async fn next_line(ws: &mut ServerWs) -> Result<String, String> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) if !text.contains(['\r', '\n']) => Ok(text.to_string()),
        other => Err(format!("expected one line without its end, got {other:?}")),
    }
}

/// The next message must be a line starting with `start`.
async fn expect(ws: &mut ServerWs, start: &str) -> Result<(), String> {
    let line = next_line(ws).await?;
    if line.starts_with(start) {
        Ok(())
    } else {
        Err(format!("expected {start:?}, got {line:?}"))
    }
}

/// Sends each of `lines` as a text message.
async fn send(ws: &mut ServerWs, lines: &[&str]) -> Result<(), String> {
    for line in lines {
        ws.send(Message::text(*line))
            .await
            .map_err(|e| format!("send: {e}"))?;
    }
    Ok(())
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_ws_asks_for_the_subprotocol_and_answers_pings_in_login_and_run() {
    let seen = Arc::new(Seen::default());
    let addr = irc_ws_responder(Arc::clone(&seen)).await;
    let mut config = Config::new(addr.to_string());
    config.proto = Proto::IrcWs;
    config.clients = 3;
    config.ramp = 200.0;
    config.duration = Duration::from_millis(500);
    let report = idle(&config).await.unwrap();
    assert_eq!(
        (report.connected, report.failed, report.dropped),
        (3, 0, 0),
        "{report}"
    );
    let faults = seen.faults.lock().unwrap().clone();
    assert!(faults.is_empty(), "{faults:?}");
    for (what, count) in [
        ("subprotocol", &seen.subprotocol),
        ("cookies", &seen.cookies),
        ("live pongs", &seen.live_pongs),
        ("quits", &seen.quits),
    ] {
        assert_eq!(count.load(Ordering::Relaxed), 3, "{what}");
    }
}
