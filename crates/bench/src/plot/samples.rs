//! Small made-up reports for the charts' unit tests.

use crate::latency::LatencySummary;
use crate::procstat::CpuTime;
use crate::report::{DrainedAs, FindMaxReport, Report, Step, Verdict};
use crate::timeline::Timeline;
use crate::wire::Proto;

/// A 3-second run offering `offered_per_s` deliveries/s with this p99.
pub fn run_report(offered_per_s: f64, p99_us: u64) -> Report {
    let delivered = (offered_per_s * 3.0) as u64;
    Report {
        proto: Proto::Json,
        server: "127.0.0.1:8000".to_owned(),
        servers: Vec::new(),
        room: "lobby".to_owned(),
        clients: 11,
        connected: 11,
        failed: 0,
        first_failure: None,
        connect_s: 0.1,
        senders: 2,
        rate: offered_per_s / 20.0,
        duration_s: 3.0,
        size: 64,
        offered: delivered / 10,
        offered_deliveries_per_s: offered_per_s,
        sent: delivered / 10,
        shortfall: 0,
        send_lag_max_us: 100,
        send_lag_mean_us: 10.0,
        expected: delivered,
        delivered,
        lost: 0,
        loss_pct: 0.0,
        extra: 0,
        echoes: 0,
        reads: delivered,
        read_bytes: delivered * 100,
        delivered_per_s: offered_per_s,
        latency: LatencySummary {
            count: delivered,
            p50_us: p99_us / 2,
            p90_us: p99_us * 3 / 4,
            p99_us,
            p999_us: p99_us * 2,
            max_us: p99_us * 3,
            mean_us: p99_us as f64 / 2.0,
        },
        timeline: Timeline {
            interval_s: 1.0,
            delivered: vec![delivered / 3, 0, delivered - delivered / 3],
            p50_us: vec![Some(p99_us / 2), None, Some(p99_us / 2)],
            p99_us: vec![Some(p99_us), None, Some(p99_us)],
            p999_us: vec![Some(p99_us * 2), None, Some(p99_us * 2)],
        },
        dropped: 0,
        first_drop: None,
        drained: DrainedAs::Complete,
        drain_s: 0.1,
        window_s: 3.1,
        bench_cpu: CpuTime {
            user_s: 0.1,
            sys_s: 0.1,
        },
        bench_cores: 0.06,
        server_process: None,
        server_processes: Vec::new(),
    }
}

/// A search of three steps: 50 and 100 msg/s clean, 200 too slow.
pub fn find_max_report() -> FindMaxReport {
    let step = |rate: f64, p99_us: u64, verdict: Verdict| Step {
        rate,
        verdict,
        report: run_report(rate * 20.0, p99_us),
    };
    FindMaxReport {
        max_p99_us: 50_000,
        steps: vec![
            step(50.0, 5_000, Verdict::Clean),
            step(100.0, 9_000, Verdict::Clean),
            step(200.0, 80_000, Verdict::SlowP99 { p99_us: 80_000 }),
        ],
        best_rate: Some(100.0),
        best_offered_deliveries_per_s: Some(2000.0),
        best_delivered_per_s: Some(2000.0),
    }
}

/// The texts of an SVG document, trimmed (plotters puts each on a line of
/// its own).
pub fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_owned())
        .collect()
}
