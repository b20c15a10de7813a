//! A real IRC client from Debian's packages (weechat-headless) joins
//! `#lobby` on the real server binary and exchanges messages with a JSON
//! client, both ways.
//!
//! `scripts/install-test-deps.sh` installs weechat-headless; without it the
//! test says so and passes, unless `CHATROOM_E2E=require` (set by
//! `scripts/test-all.sh`, hence CI) makes a missing client a failure.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chatroom_testkit::{Raw, ServerProcess, WAIT};

use crate::support::BIN;

/// Whether `program` is on the PATH; fails instead of skipping when the
/// end-to-end tests are required.
fn available(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("CHATROOM_E2E").as_deref() != Ok("require"),
            "{program} is required (scripts/install-test-deps.sh installs it)"
        );
        eprintln!(
            "skipping: {program} is not installed (scripts/install-test-deps.sh installs it)"
        );
    }
    found
}

/// Polls `path` until it contains `needle`.
async fn wait_for_file(path: &Path, needle: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {needle:?}:\n{text}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The weechat FIFO (created at startup), for sending it commands.
async fn fifo(dir: &Path) -> PathBuf {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(entry) = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("weechat_fifo"))
        {
            return entry.path();
        }
        assert!(Instant::now() < deadline, "weechat never created its FIFO");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn weechat_and_a_json_client_talk_in_lobby() {
    if !available("weechat-headless") {
        return;
    }
    let server = ServerProcess::start(BIN, &["--in-memory", "--irc-listen", "127.0.0.1:0"]).await;
    let irc = server.irc_addr();
    let mut json = Raw::login(server.addr(), "jsonpal").await;

    let home = tempfile::tempdir().unwrap();
    let logs = home.path().join("logs");
    let commands = format!(
        "/set logger.file.path {};/set logger.file.flush_delay 0;\
         /server add chat {}/{} -notls -nicks=wee;/connect chat",
        logs.display(),
        irc.ip(),
        irc.port()
    );
    let mut weechat = tokio::process::Command::new("weechat-headless")
        .arg("--dir")
        .arg(home.path())
        .args(["-r", &commands])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // weechat registers and is put in #lobby: the JSON client sees it join.
    let joined = json.recv_type("presence").await;
    assert_eq!(
        (joined["event"].as_str(), joined["nickname"].as_str()),
        (Some("join"), Some("wee"))
    );
    let lobby_log = logs.join("irc.chat.#lobby.weechatlog");
    wait_for_file(&lobby_log, "Channel #lobby: 2 nicks").await;

    // IRC to JSON.
    let fifo = fifo(home.path()).await;
    std::fs::write(&fifo, "irc.server.chat */msg #lobby hello from weechat\n").unwrap();
    let m = json.recv_type("message").await;
    assert_eq!(
        (m["sender_nickname"].as_str(), m["message"].as_str()),
        (Some("wee"), Some("hello from weechat"))
    );

    // JSON to IRC.
    json.say("hello weechat 你好").await;
    let log = wait_for_file(&lobby_log, "hello weechat 你好").await;
    assert!(
        log.lines()
            .any(|l| l.contains("jsonpal") && l.contains("hello weechat 你好")),
        "{log}"
    );

    // weechat quits; the JSON client is told.
    std::fs::write(&fifo, "*/quit\n").unwrap();
    let left = json.recv_type("presence").await;
    assert_eq!(
        (left["event"].as_str(), left["nickname"].as_str()),
        (Some("leave"), Some("wee"))
    );
    tokio::time::timeout(WAIT, weechat.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.stop().await.code, Some(0));
}
