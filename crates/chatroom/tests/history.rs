//! Durable history across real server processes: restarts, `kill -9`, and
//! retention applied at startup.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chatroom_testkit::{Raw, SpawnedServer};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_chatroom");

/// The longest a relayed message may wait for its commit (the documented
/// batch interval).
const BATCH_INTERVAL: Duration = Duration::from_millis(100);

async fn start(dir: &std::path::Path, extra: &[&str]) -> SpawnedServer {
    let dir = dir.to_str().unwrap();
    // These tests send as fast as they can: no rate limit.
    let mut args = vec!["--data-dir", dir, "--messages-per-second", "0"];
    args.extend_from_slice(extra);
    SpawnedServer::start(BIN, &args).await
}

/// Every stored message of a room, oldest first, read through pages.
async fn all_history(c: &mut Raw, room: &str) -> Vec<Value> {
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

#[tokio::test]
async fn history_and_topics_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut a = Raw::login(server.addr, "alice").await;
    a.join("keep").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(a.say_in("keep", &format!("before restart {i}")).await);
    }
    a.send_json(json!({"type": "topic", "room": "keep", "topic": "still here"}))
        .await;
    a.recv_type("topic").await;
    let first_user = a.id;
    server.signal("TERM").await;
    assert_eq!(server.wait().await, Some(0));

    let server = start(dir.path(), &[]).await;
    let mut b = Raw::login(server.addr, "bob").await;
    assert!(b.id > first_user, "user ids are not reused after a restart");
    let (joined, replay) = b.join("keep").await;
    assert_eq!(joined["topic"], "still here");
    let replayed: Vec<u64> = replay
        .iter()
        .map(|m| m["msg_id"].as_u64().unwrap())
        .collect();
    assert_eq!(replayed, ids);
    assert_eq!(replay[0]["message"], "before restart 0");
    assert_eq!(replay[0]["sender_nickname"], "alice");
    let next = b.say_in("keep", "after restart").await;
    assert!(next > *ids.last().unwrap(), "message ids keep increasing");
    server.signal("TERM").await;
    assert_eq!(server.wait().await, Some(0));
}

/// Messages keep flowing while the server is killed with SIGKILL; after a
/// restart every message acknowledged more than the batch interval before
/// the kill is in history, and the database opens cleanly.
#[tokio::test]
async fn kill_9_loses_nothing_older_than_the_batch_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut a = Raw::login(server.addr, "writer").await;
    a.join("crash").await;

    // Keep up to 32 messages in flight for about 300 ms (bounded: at most
    // 20,000 messages), recording when each was acknowledged.
    let mut acked: HashMap<u64, Instant> = HashMap::new();
    let mut sent = 0u64;
    let mut in_flight = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(300) && sent < 20_000 {
        while in_flight < 32 {
            a.send_json(json!({"type": "broadcast", "room": "crash", "message": format!("m{sent}"), "ref": sent}))
                .await;
            sent += 1;
            in_flight += 1;
        }
        let ack = a.recv_type("ack").await;
        acked.insert(ack["msg_id"].as_u64().unwrap(), Instant::now());
        in_flight -= 1;
    }
    server.signal("KILL").await;
    let killed_at = Instant::now();
    assert_eq!(server.wait().await, None, "killed by a signal");
    assert!(
        acked.len() > 100,
        "too little traffic to judge: {}",
        acked.len()
    );

    let server = start(dir.path(), &[]).await;
    let mut reader = Raw::login(server.addr, "reader").await;
    reader.join("crash").await;
    let stored: std::collections::HashSet<u64> = all_history(&mut reader, "crash")
        .await
        .iter()
        .map(|m| m["msg_id"].as_u64().unwrap())
        .collect();
    let mut lost_ages: Vec<Duration> = acked
        .iter()
        .filter(|(id, _)| !stored.contains(id))
        .map(|(_, at)| killed_at.duration_since(*at))
        .collect();
    lost_ages.sort();
    eprintln!(
        "acknowledged {}, stored {}, lost {} (oldest lost acknowledged {:?} before the kill)",
        acked.len(),
        stored.len(),
        lost_ages.len(),
        lost_ages.last()
    );
    assert!(
        lost_ages.iter().all(|age| *age <= BATCH_INTERVAL),
        "messages older than {BATCH_INTERVAL:?} were lost: {lost_ages:?}"
    );
    server.signal("TERM").await;
    assert_eq!(server.wait().await, Some(0));
}

#[tokio::test]
async fn age_retention_is_applied_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut a = Raw::login(server.addr, "a").await;
    a.join("brief").await;
    a.join("lasting").await;
    a.say_in("brief", "short-lived").await;
    a.say_in("lasting", "kept").await;
    server.signal("TERM").await;
    assert_eq!(server.wait().await, Some(0));

    // Everything in "brief" is older than a millisecond by now.
    let server = start(dir.path(), &["--room-retention", "brief:age=1ms"]).await;
    let mut b = Raw::login(server.addr, "b").await;
    let (_, brief) = b.join("brief").await;
    assert!(brief.is_empty(), "{brief:?}");
    let (_, lasting) = b.join("lasting").await;
    assert_eq!(lasting.len(), 1);
    server.signal("TERM").await;
    assert_eq!(server.wait().await, Some(0));
}
