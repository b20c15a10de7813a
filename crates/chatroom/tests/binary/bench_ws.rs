//! The real `chatroom bench --proto ws` and `--proto irc-ws` against the
//! real `chatroom serve --http-listen 127.0.0.1:0`, as
//! scripts/bench-compare.sh runs them: the HTTP listener's port learnt
//! from the server's log, every message delivered, and the report naming
//! the protocol.

use chatroom_server::Protocol;
use chatroom_testkit::ServerProcess;

use crate::support::{BIN, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_over_websocket_delivers_every_message() {
    let server = ServerProcess::start(
        BIN,
        &[
            "--in-memory",
            "--http-listen",
            "127.0.0.1:0",
            "--messages-per-second",
            "0",
            "--max-connections-per-ip",
            "0",
        ],
    )
    .await;
    let http = server.listener(Protocol::Http, false).to_string();
    for proto in ["ws", "irc-ws"] {
        let (code, stdout, stderr) = run(
            &[
                "bench",
                "--proto",
                proto,
                "--server",
                &http,
                "--clients",
                "4",
                "--senders",
                "2",
                "--rate",
                "10",
                "--duration",
                "1s",
                "--json",
            ],
            "",
        )
        .await;
        assert_eq!(code, 0, "{proto}: stdout: {stdout}\nstderr: {stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(report["proto"], proto, "{report}");
        assert_eq!(report["connected"], 4, "{report}");
        let sent = report["sent"].as_u64().unwrap();
        assert!(sent > 0, "{report}");
        assert_eq!(report["expected"].as_u64(), Some(sent * 3), "{report}");
        assert_eq!(report["delivered"], report["expected"], "{report}");
        assert_eq!(report["lost"], 0, "{report}");
        assert_eq!(report["dropped"], 0, "{report}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bench_help_lists_the_websocket_protocols() {
    let (code, stdout, stderr) = run(&["bench", "--help"], "").await;
    assert_eq!(code, 0, "{stderr}");
    for text in [
        "irc-ws",
        "text.ircv3.net",
        "--proto ws --server 127.0.0.1:8080",
    ] {
        assert!(stdout.contains(text), "{text} missing from:\n{stdout}");
    }
}
