//! `chatroom bench` over the JSON protocol against the real chat server
//! on 127.0.0.1:0, with small numbers: counting, loss, latency, rooms,
//! idle connections and the find-max search.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use chatroom_bench::{Config, FindMax, Proto, Verdict, find_max, idle, run};
use chatroom_testkit::TestServer;

/// 6 clients, 2 senders at 20 msg/s for 1 s.
fn small(server: &TestServer) -> Config {
    let mut config = Config::new(server.addr.to_string());
    config.clients = 6;
    config.senders = 2;
    config.rate = 20.0;
    config.duration = Duration::from_secs(1);
    config.ramp = 200.0;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_run_counts_every_delivery_in_the_lobby() {
    let server = TestServer::start().await;
    let mut config = small(&server);
    // The server runs in this process: measure it as a local server.
    config.server_pid = Some(std::process::id());
    let report = run(&config).await.unwrap();

    assert_eq!(report.proto, Proto::Json);
    assert_eq!((report.connected, report.failed), (6, 0), "{report}");
    assert_eq!(report.senders, 2);
    assert_eq!(report.offered, 40);
    assert!(
        report.sent > 0 && report.sent + report.shortfall == 40,
        "{report}"
    );
    assert_eq!(report.expected, report.sent * 5);
    assert_eq!(report.delivered, report.expected, "{report}");
    assert_eq!((report.lost, report.loss_pct, report.extra), (0, 0.0, 0));
    assert_eq!(report.echoes, 0);
    assert_eq!(report.dropped, 0, "{report}");
    assert_eq!(report.latency.count, report.delivered);
    let l = report.latency;
    assert!(
        0 < l.p50_us && l.p50_us <= l.p99_us && l.p99_us <= l.max_us,
        "{l:?}"
    );
    assert!(report.delivered_per_s > 0.0);
    assert!(report.bench_cpu.total_s() > 0.0);
    let server_process = report.server_process.clone().unwrap();
    assert_eq!(server_process.pid, std::process::id());
    assert!(server_process.rss_before_kib > 0 && server_process.rss_joined_kib > 0);

    // The report is a documented JSON object for scripts.
    let json = serde_json::to_value(&report).unwrap();
    for field in [
        "connected",
        "offered",
        "sent",
        "shortfall",
        "expected",
        "delivered",
        "lost",
        "loss_pct",
        "delivered_per_s",
        "latency",
        "timeline",
        "bench_cpu",
        "server_process",
    ] {
        assert!(json.get(field).is_some(), "{field} missing from {json}");
    }
    assert_eq!(json["latency"]["count"], report.delivered);

    // The timeline accounts for every delivery, second by second from the
    // first slot: a 1 s run fills one interval, perhaps two with the drain.
    let timeline = &report.timeline;
    assert_eq!(timeline.interval_s, 1.0);
    assert!((1..=3).contains(&timeline.len()), "{timeline:?}");
    assert_eq!(timeline.delivered.iter().sum::<u64>(), report.delivered);
    assert!(timeline.p99_us[0].is_some(), "{timeline:?}");
    // And the report reads back as it was written.
    let back: chatroom_bench::Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.timeline, report.timeline);
    assert_eq!(back.delivered, report.delivered);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_run_in_another_room_joins_it_first() {
    let server = TestServer::start().await;
    let mut config = small(&server);
    config.room = "benchroom".to_owned();
    let report = run(&config).await.unwrap();
    assert_eq!(report.connected, 6, "{report}");
    assert!(report.sent > 0);
    assert_eq!(report.delivered, report.sent * 5, "{report}");
    assert_eq!(report.lost, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_where_nobody_gets_in_is_an_error_naming_the_cause() {
    // A loopback port where nothing listens: every connection is refused.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = Config::new(unused.local_addr().unwrap().to_string());
    drop(unused);
    config.clients = 3;
    config.senders = 1;
    let err = run(&config).await.unwrap_err().to_string();
    assert!(err.contains("no client could connect"), "{err}");
    assert!(err.contains("refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_held_and_measured() {
    let server = TestServer::start().await;
    let mut config = small(&server);
    config.clients = 20;
    config.duration = Duration::from_millis(300);
    config.server_pid = Some(std::process::id());
    let report = idle(&config).await.unwrap();
    assert_eq!(
        (report.connected, report.failed, report.dropped),
        (20, 0, 0),
        "{report}"
    );
    assert!(report.held_s >= 0.3, "{report}");
    let server_process = report.server_process.unwrap();
    assert!(server_process.rss_per_client_bytes.is_finite());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_max_doubles_while_the_server_keeps_up() {
    let server = TestServer::start().await;
    let mut config = small(&server);
    config.clients = 3;
    config.senders = 1;
    config.rate = 5.0;
    config.duration = Duration::from_millis(600);
    let search = FindMax {
        max_p99: Duration::from_secs(5),
        max_steps: 3,
        ..FindMax::default()
    };
    let report = find_max(&config, search).await.unwrap();
    let rates: Vec<f64> = report.steps.iter().map(|s| s.rate).collect();
    assert_eq!(rates, [5.0, 10.0, 20.0], "{report}");
    assert!(
        report.steps.iter().all(|s| s.verdict == Verdict::Clean),
        "{report}"
    );
    assert_eq!(report.best_rate, Some(20.0));
    server.stop().await;
}
