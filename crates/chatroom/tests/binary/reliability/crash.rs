//! `kill -9` while ten clients pipeline messages: after a restart, every
//! message that was acknowledged is in history, and new messages get ids
//! above every id anyone saw before the crash.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use chatroom_testkit::Raw;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::support::{all_history, next_message_id, start};

const WRITERS: usize = 10;
/// Messages each writer keeps unacknowledged at once.
const IN_FLIGHT: u64 = 32;
/// Each writer stops after this many messages, whatever happens.
const MOST: u64 = 20_000;
/// How long the load runs before the kill.
const LOAD: Duration = Duration::from_millis(700);
const ROUNDS: usize = 3;

/// What one writer learned before the server died.
#[derive(Default)]
struct Seen {
    acked: Vec<u64>,
    /// The highest message id it received from anyone.
    max_id: u64,
}

/// Logs in, joins `room` and pipelines broadcasts until the connection
/// dies (or `MOST` are sent), keeping `IN_FLIGHT` unacknowledged.
async fn writer(addr: SocketAddr, nick: String, room: &'static str) -> Seen {
    let mut joined = Raw::login(addr, &nick).await;
    joined.join(room).await;
    let (reader, mut writer) = joined.into_halves();
    let mut lines = reader.lines();
    let mut seen = Seen::default();
    let (mut sent, mut in_flight) = (0u64, 0u64);
    loop {
        while in_flight < IN_FLIGHT && sent < MOST {
            let frame = json!({"type": "broadcast", "room": room, "message": format!("{nick} {sent}"), "ref": sent});
            if writer
                .write_all(frame.to_string().as_bytes())
                .await
                .is_err()
            {
                return seen;
            }
            sent += 1;
            in_flight += 1;
        }
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            // Killed: the end of the stream or a reset.
            Ok(None) | Err(_) => return seen,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&line) else {
            return seen;
        };
        match frame["type"].as_str() {
            Some("ack") => {
                let id = frame["msg_id"].as_u64().unwrap();
                seen.acked.push(id);
                seen.max_id = seen.max_id.max(id);
                in_flight -= 1;
            }
            Some("message") => {
                seen.max_id = seen.max_id.max(frame["msg_id"].as_u64().unwrap());
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_pipelined_load_loses_no_acknowledged_message() {
    for round in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        let server = start(dir.path(), &[]).await;
        let writers: Vec<_> = (0..WRITERS)
            .map(|i| tokio::spawn(writer(server.addr(), format!("w{i}"), "crash")))
            .collect();
        tokio::time::sleep(LOAD).await;
        server.signal("KILL").await;
        assert_eq!(server.wait().await.code, None, "killed by a signal");
        let mut acked = HashSet::new();
        let mut max_seen = 0;
        for w in writers {
            let seen = w.await.unwrap();
            acked.extend(seen.acked);
            max_seen = max_seen.max(seen.max_id);
        }
        assert!(
            acked.len() > 100,
            "too little traffic to judge: {}",
            acked.len()
        );

        let server = start(dir.path(), &[]).await;
        let mut reader = Raw::login(server.addr(), "reader").await;
        reader.join("crash").await;
        let stored: HashSet<u64> = all_history(&mut reader, "crash")
            .await
            .iter()
            .map(|m| m["msg_id"].as_u64().unwrap())
            .collect();
        let lost: Vec<&u64> = acked.iter().filter(|id| !stored.contains(id)).collect();
        eprintln!(
            "round {round}: acknowledged {}, stored {}, lost {}",
            acked.len(),
            stored.len(),
            lost.len()
        );
        assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
        let next = next_message_id(server.addr(), "crash").await;
        assert!(
            next > max_seen,
            "message id {next} after the crash, but {max_seen} was seen before it"
        );
        assert_eq!(server.stop().await.code, Some(0));
    }
}
