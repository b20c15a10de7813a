//! `chatroom bench history` end to end, small: it fills a directory, starts
//! the real server on it (as a child process, on loopback), measures every
//! phase and reports JSON whose figures add up; a second run grows the
//! same directory.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tokio::process::Command;

async fn bench_history(dir: &std::path::Path, messages: &str) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_chatroom"))
        .args(["bench", "history", "--data-dir", dir.to_str().unwrap()])
        .args(["--messages", messages, "--rooms", "20", "--users", "40"])
        .args(["--dm-pairs", "30", "--joins", "8", "--pages", "8"])
        .args(["--searches", "24", "--starts", "1", "--ingest-rate", "400"])
        .args(["--senders", "4", "--ingest-duration", "1s", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_measures_and_grows_a_history() {
    let dir = tempfile::tempdir().unwrap();
    let report = bench_history(dir.path(), "3000").await;
    assert_eq!(report["fill"]["added"], 3000);
    assert_eq!(report["filled"]["messages"], 3000);
    assert!(report["filled"]["text_bytes"].as_u64().unwrap() > 3000 * 10);
    assert_eq!(report["join"]["count"], 8);
    assert_eq!(report["page"]["count"], 8);
    assert_eq!(report["irc_join"]["count"], 2);
    assert_eq!(report["search"]["all"]["count"], 24);
    assert!(
        report["search"]["mean_hits"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    let (rss, own) = (
        report["rss_read_kib"].as_u64().unwrap(),
        report["anon_read_kib"].as_u64().unwrap(),
    );
    assert!(own > 0 && own <= rss, "{report}");
    for (mode, ingest) in [("full", 0), ("normal", 1)] {
        let run = &report["ingest"][ingest];
        assert_eq!(run[0], mode);
        assert_eq!(run[1]["offered"], 400);
        assert_eq!(run[1]["acked"], 400, "every message acknowledged: {run}");
        assert_eq!(run[1]["errors"], 0);
    }
    let retention = &report["retention"];
    assert!(retention["deleted"].as_u64().unwrap() > 0, "{retention}");
    assert_eq!(retention["ingest"]["acked"], 400);

    // The same directory grows; what was there stays.
    let report = bench_history(dir.path(), "4000").await;
    assert_eq!(report["fill"]["added"], 1000);
    assert_eq!(report["layout"]["filled"], 4000);
}
