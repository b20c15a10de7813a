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
    config.server_pids = vec![std::process::id()];
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
    assert_eq!(report.server_processes.len(), 1);
    assert_eq!(report.server_processes[0].pid, server_process.pid);
    // One server: one share, holding everything.
    assert_eq!(report.server, server.addr.to_string());
    let share = &report.servers[..];
    assert_eq!(share.len(), 1, "{report}");
    assert_eq!((share[0].connected, share[0].senders), (6, 2));
    assert_eq!(
        (share[0].sent, share[0].delivered),
        (report.sent, report.delivered)
    );

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
        "server_processes",
        "servers",
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
    config.server_pids = vec![std::process::id()];
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_two_servers_spreads_clients_and_senders() {
    // Two ordinary servers, not a cluster: each client only hears the
    // senders on its own server, and the report's per-server shares say so.
    let (a, b) = (TestServer::start().await, TestServer::start().await);
    let mut config = Config::with_servers(vec![a.addr.to_string(), b.addr.to_string()]);
    config.clients = 6;
    config.senders = 2;
    config.rate = 20.0;
    config.duration = Duration::from_secs(1);
    config.ramp = 200.0;
    // Half the expected deliveries never come: do not wait long for them.
    config.quiet = Duration::from_millis(300);
    // Both servers run in this process: measure it twice, as two nodes.
    let me = std::process::id();
    config.server_pids = vec![me, me];
    let report = run(&config).await.unwrap();

    assert_eq!(report.server, format!("{},{}", a.addr, b.addr));
    assert_eq!((report.connected, report.failed), (6, 0), "{report}");
    let shares = &report.servers;
    assert_eq!(shares.len(), 2, "{report}");
    for (share, server) in shares.iter().zip([&a, &b]) {
        assert_eq!(share.server, server.addr.to_string());
        assert_eq!((share.clients, share.connected, share.failed), (3, 3, 0));
        // Clients 0 and 1 send: one on each server.
        assert_eq!(share.senders, 1, "{report}");
        assert!(share.sent > 0, "{report}");
        // Each of the other two clients on the server got every message.
        assert_eq!(share.delivered, share.sent * 2, "{report}");
    }
    assert_eq!(shares[0].sent + shares[1].sent, report.sent);
    assert_eq!(shares[0].delivered + shares[1].delivered, report.delivered);
    // The totals still count one room across both: 5 receivers a message.
    assert_eq!(report.expected, report.sent * 5);
    assert!(report.lost > 0, "{report}");

    assert_eq!(report.server_processes.len(), 2, "{report}");
    for p in &report.server_processes {
        assert_eq!(p.pid, me);
        assert!(!p.name.is_empty());
    }
    let first = report.server_process.clone().unwrap();
    assert_eq!(first.pid, report.server_processes[0].pid);
    let text = report.to_string();
    assert!(text.contains("server 2"), "{text}");
    assert!(text.contains(&format!("(pid {me})")), "{text}");

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["servers"][1]["connected"], 3, "{json}");
    assert_eq!(json["server_processes"][1]["pid"], me, "{json}");
    let back: chatroom_bench::Report = serde_json::from_value(json).unwrap();
    assert_eq!(back.servers, report.servers);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_are_spread_over_two_servers() {
    let (a, b) = (TestServer::start().await, TestServer::start().await);
    let mut config = Config::with_servers(vec![a.addr.to_string(), b.addr.to_string()]);
    config.clients = 5;
    config.duration = Duration::from_millis(200);
    let report = idle(&config).await.unwrap();
    assert_eq!((report.connected, report.failed), (5, 0), "{report}");
    let connected: Vec<u64> = report.servers.iter().map(|s| s.connected).collect();
    assert_eq!(connected, [3, 2], "{report}");
    assert!(report.server_processes.is_empty() && report.server_process.is_none());
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_fails_only_its_own_clients() {
    let a = TestServer::start().await;
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refusing = unused.local_addr().unwrap().to_string();
    drop(unused);
    let mut config = Config::with_servers(vec![a.addr.to_string(), refusing]);
    config.clients = 4;
    config.duration = Duration::from_millis(100);
    let report = idle(&config).await.unwrap();
    assert_eq!((report.connected, report.failed), (2, 2), "{report}");
    let failed: Vec<u64> = report.servers.iter().map(|s| s.failed).collect();
    assert_eq!(failed, [0, 2], "{report}");
    a.stop().await;
}
