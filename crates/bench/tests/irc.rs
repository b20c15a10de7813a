//! `chatroom bench --proto irc` against a minimal IRC responder on
//! 127.0.0.1:0: registration with a PING cookie, JOIN, relayed PRIVMSGs,
//! PINGs during the run, and relays dropped on purpose.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use chatroom_bench::{Config, FindMax, Proto, Verdict, find_max, run};
use common::{DropPolicy, Responder};

/// 6 clients, 2 senders at 20 msg/s for 1 s, over IRC.
fn small(responder: &Responder) -> Config {
    let mut config = Config::new(responder.addr.to_string());
    config.proto = Proto::Irc;
    config.clients = 6;
    config.senders = 2;
    config.rate = 20.0;
    config.duration = Duration::from_secs(1);
    config.ramp = 200.0;
    config.quiet = Duration::from_millis(500);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irc_run_counts_every_delivery_and_answers_pings() {
    let responder = Responder::start(DropPolicy::Never).await;
    let report = run(&small(&responder)).await.unwrap();
    let counts = &responder.counts;

    assert_eq!(report.proto, Proto::Irc);
    assert_eq!((report.connected, report.failed), (6, 0), "{report}");
    assert_eq!(report.offered, 40);
    assert!(
        report.sent > 0 && report.sent + report.shortfall == 40,
        "{report}"
    );
    assert_eq!(counts.messages.load(Ordering::Relaxed), report.sent);
    assert_eq!(report.expected, report.sent * 5);
    assert_eq!(report.delivered, report.expected, "{report}");
    assert_eq!(counts.relayed.load(Ordering::Relaxed), report.delivered);
    assert_eq!((report.lost, report.loss_pct, report.extra), (0, 0.0, 0));
    assert_eq!(report.latency.count, report.delivered);
    assert!(report.latency.max_us > 0 && report.latency.max_us < 30_000_000);
    assert_eq!(report.dropped, 0, "{report}");
    // Every client answered the registration cookie, and every PING during
    // the run was answered.
    assert_eq!(counts.cookies.load(Ordering::Relaxed), 6);
    let pings = counts.live_pings.load(Ordering::Relaxed);
    assert!(pings >= 1, "{pings}");
    assert_eq!(counts.live_pongs.load(Ordering::Relaxed), pings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_tenth_relay_shows_as_ten_percent_loss() {
    let responder = Responder::start(DropPolicy::EveryNth(10)).await;
    let report = run(&small(&responder)).await.unwrap();
    let dropped = responder.counts.dropped.load(Ordering::Relaxed);

    assert_eq!(report.connected, 6);
    assert_eq!(report.expected, report.sent * 5);
    assert_eq!(dropped, report.expected / 10);
    assert_eq!(report.lost, dropped, "{report}");
    assert_eq!(report.delivered, report.expected - dropped);
    assert!((report.loss_pct - 10.0).abs() < 1.0, "{}", report.loss_pct);
    assert_eq!(report.latency.count, report.delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_max_settles_on_the_highest_rate_without_loss() {
    // Messages with sequence number 20 or more are never relayed, so with
    // 1-second steps every rate above 20 msg/s loses some.
    let responder = Responder::start(DropPolicy::SeqFrom(20)).await;
    let mut config = small(&responder);
    config.clients = 3;
    config.senders = 1;
    config.rate = 10.0;
    config.quiet = Duration::from_millis(300);
    let search = FindMax {
        max_p99: Duration::from_secs(5),
        ..FindMax::default()
    };
    let report = find_max(&config, search).await.unwrap();
    let rates: Vec<f64> = report.steps.iter().map(|s| s.rate).collect();
    assert_eq!(
        rates,
        [10.0, 20.0, 40.0, 30.0, 25.0, 22.5, 21.25],
        "{report}"
    );
    assert_eq!(report.steps[0].verdict, Verdict::Clean);
    assert_eq!(report.steps[1].verdict, Verdict::Clean);
    // At 40 msg/s, seq 20..40 of the one sender reach neither receiver.
    assert_eq!(
        report.steps[2].verdict,
        Verdict::Loss { lost: 40 },
        "{report}"
    );
    assert_eq!(report.best_rate, Some(20.0));
    assert_eq!(report.best_offered_deliveries_per_s, Some(40.0));
}
