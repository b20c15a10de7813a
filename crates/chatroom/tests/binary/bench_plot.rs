//! The real `chatroom` binary draws charts: `chatroom bench plot` turns
//! small recorded reports (tests/fixtures/plot, made by `chatroom bench
//! --json` against `chatroom serve --in-memory`) into an SVG with one
//! series per input, refuses missing, empty and malformed reports, and
//! `chatroom bench --plot` draws a live run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chatroom_testkit::TestServer;

use crate::support::run;

/// A recorded report from the fixtures.
fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plot")
        .join(name)
        .display()
        .to_string()
}

/// What a chart shows: its texts (trimmed) and the distinct fill colours
/// of its data markers (every series marks its points in its own colour).
struct Chart {
    texts: Vec<String>,
    series_colours: HashSet<String>,
}

fn read_chart(path: &Path) -> Chart {
    let svg = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the chart is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    Chart {
        texts: doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .map(|t| t.trim().to_owned())
            .collect(),
        series_colours: doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .filter_map(|n| n.attribute("fill"))
            .map(str::to_owned)
            .collect(),
    }
}

fn output(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[tokio::test]
async fn plot_draws_one_series_per_report() {
    let dir = tempfile::tempdir().unwrap();
    let svg = output(&dir, "compare.svg");
    let (code, stdout, stderr) = run(
        &[
            "bench",
            "plot",
            &fixture("run-json.json"),
            &fixture("run-irc.json"),
            &fixture("findmax-json.json"),
            "-o",
            svg.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("wrote"), "{stdout}");
    let chart = read_chart(&svg);
    assert_eq!(chart.series_colours.len(), 3, "{:?}", chart.series_colours);
    for label in ["run-json", "run-irc", "findmax-json"] {
        assert!(
            chart.texts.iter().any(|t| t == label),
            "no legend for {label}: {:?}",
            chart.texts
        );
    }
    assert!(
        chart
            .texts
            .iter()
            .any(|t| t == "p99 latency against offered load")
    );
}

#[tokio::test]
async fn reports_with_the_same_label_make_one_series() {
    let dir = tempfile::tempdir().unwrap();
    let svg = output(&dir, "labelled.svg");
    let ours = format!("ours={}", fixture("run-json.json"));
    let ours_too = format!("ours={}", fixture("findmax-json.json"));
    let irc = format!("over IRC={}", fixture("run-irc.json"));
    let (code, _, stderr) = run(
        &[
            "bench",
            "plot",
            &ours,
            &irc,
            &ours_too,
            "-o",
            svg.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let chart = read_chart(&svg);
    assert_eq!(chart.series_colours.len(), 2, "{:?}", chart.series_colours);
    assert!(chart.texts.iter().any(|t| t == "ours"), "{:?}", chart.texts);
    assert!(
        chart.texts.iter().any(|t| t == "over IRC"),
        "{:?}",
        chart.texts
    );
}

#[tokio::test]
async fn missing_empty_and_malformed_reports_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = output(&dir, "empty.json");
    std::fs::write(&empty, "").unwrap();
    let truncated = output(&dir, "truncated.json");
    let whole = std::fs::read_to_string(fixture("run-json.json")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let not_a_report = output(&dir, "other.json");
    std::fs::write(&not_a_report, r#"{"name": "something else"}"#).unwrap();
    let idle = output(&dir, "idle.json");
    std::fs::write(&idle, r#"{"proto": "json", "held_s": 10.0}"#).unwrap();
    let missing = output(&dir, "missing.json");

    let cases = [
        (&missing, "cannot read"),
        (&empty, "is empty"),
        (&truncated, "not JSON"),
        (&not_a_report, "missing field"),
        (&idle, "--idle report"),
    ];
    let svg = output(&dir, "never.svg");
    for (bad, expect) in cases {
        let (code, _, stderr) = run(
            &[
                "bench",
                "plot",
                &fixture("run-json.json"),
                bad.to_str().unwrap(),
                "-o",
                svg.to_str().unwrap(),
            ],
            "",
        )
        .await;
        assert_eq!(code, 1, "{}: {stderr}", bad.display());
        assert!(
            stderr.contains(expect) && stderr.contains(bad.to_str().unwrap()),
            "{expect}: {stderr}"
        );
        assert!(!svg.exists(), "no chart is written for a bad report");
    }
}

#[tokio::test]
async fn plot_needs_a_report_and_an_output() {
    let (code, _, stderr) = run(&["bench", "plot", "-o", "x.svg"], "").await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("REPORT.json"), "{stderr}");
    let (code, _, stderr) = run(&["bench", "plot", &fixture("run-json.json")], "").await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--output"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_plot_draws_its_timeline() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let svg = output(&dir, "run.svg");
    let addr = server.addr.to_string();
    let (code, stdout, stderr) = run(
        &[
            "bench",
            "--server",
            &addr,
            "--clients",
            "4",
            "--senders",
            "2",
            "--rate",
            "20",
            "--duration",
            "1s",
            "--json",
            "--plot",
            svg.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    // stdout is still the report alone, for scripts.
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["timeline"]["delivered"].is_array(), "{report}");
    let chart = read_chart(&svg);
    for label in ["p50", "p99", "p99.9", "delivered/s (right axis)"] {
        assert!(
            chart.texts.iter().any(|t| t == label),
            "{label}: {:?}",
            chart.texts
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn plot_into_a_missing_folder_fails_before_running() {
    // Nothing listens there: had the bench started, it would say that no
    // client could connect.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap().to_string();
    drop(unused);
    let (code, _, stderr) = run(
        &[
            "bench",
            "--server",
            &addr,
            "--plot",
            "/nonexistent-folder/run.svg",
        ],
        "",
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("there is no folder"), "{stderr}");
    let (code, _, stderr) = run(&["bench", "--idle", "--plot", "x.svg"], "").await;
    assert_eq!(code, 2, "--plot draws no --idle run: {stderr}");
}
