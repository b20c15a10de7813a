//! History across real server processes: messages and topics survive a
//! restart, and retention is applied at startup.

use chatroom_testkit::Raw;
use serde_json::json;

use super::support::start;

#[tokio::test]
async fn history_and_topics_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut a = Raw::login(server.addr(), "alice").await;
    a.join("keep").await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(a.say_in("keep", &format!("before restart {i}")).await);
    }
    a.send_json(json!({"type": "topic", "room": "keep", "topic": "still here"}))
        .await;
    a.recv_type("topic").await;
    let first_user = a.id;
    assert_eq!(server.stop().await.code, Some(0));

    let server = start(dir.path(), &[]).await;
    let mut b = Raw::login(server.addr(), "bob").await;
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
    assert_eq!(server.stop().await.code, Some(0));
}

#[tokio::test]
async fn age_retention_is_applied_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut a = Raw::login(server.addr(), "a").await;
    a.join("brief").await;
    a.join("lasting").await;
    a.say_in("brief", "short-lived").await;
    a.say_in("lasting", "kept").await;
    assert_eq!(server.stop().await.code, Some(0));

    // Everything in "brief" is older than a millisecond by now.
    let server = start(dir.path(), &["--room-retention", "brief:age=1ms"]).await;
    let mut b = Raw::login(server.addr(), "b").await;
    let (_, brief) = b.join("brief").await;
    assert!(brief.is_empty(), "{brief:?}");
    let (_, lasting) = b.join("lasting").await;
    assert_eq!(lasting.len(), 1);
    assert_eq!(server.stop().await.code, Some(0));
}
