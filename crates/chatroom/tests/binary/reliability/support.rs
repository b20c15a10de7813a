//! What the reliability tests share: starting the real binary on a data
//! directory, and reading a room's whole history back.

use std::path::Path;

use chatroom_testkit::{Raw, ServerProcess};
use serde_json::{Value, json};

use crate::support::BIN;

/// The real server on `dir`, without the per-connection rate limits or the
/// per-address cap (these tests send fast and read much history, from one
/// address).
pub async fn start(dir: &Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec![
        "--data-dir",
        dir.to_str().unwrap(),
        "--messages-per-second",
        "0",
        "--requests-per-second",
        "0",
        "--max-connections-per-ip",
        "0",
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(BIN, &args).await
}

/// Every stored message of a room, oldest first, read page by page.
pub async fn all_history(c: &mut Raw, room: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let mut request = json!({"type": "history", "room": room, "limit": 500});
        if let Some(before) = before {
            request["before"] = json!(before);
        }
        c.send_json(request).await;
        let (page, end) = c.until_history_end_frame().await;
        before = page.first().map(|m| m["msg_id"].as_u64().unwrap());
        all.splice(0..0, page);
        if end["has_more"] == false {
            return all;
        }
    }
}

/// The message id a fresh message gets now.
pub async fn next_message_id(addr: std::net::SocketAddr, room: &str) -> u64 {
    let mut c = Raw::login(addr, "probe").await;
    c.join(room).await;
    c.say_in(room, "after the restart").await
}
