//! Ids across restarts: a user id or message id is never handed out twice,
//! after a clean restart (which leaves no gap), a crash, or the restart of
//! a server that keeps history in memory.

use chatroom_testkit::{Raw, ServerProcess};
use serde_json::Value;

use super::support::{next_message_id, start};
use crate::support::BIN;

async fn welcome(addr: std::net::SocketAddr, nick: &str) -> Value {
    Raw::login(addr, nick).await.welcome
}

#[tokio::test]
async fn user_ids_are_not_reused_after_a_clean_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut ids = Vec::new();
    let mut online = Vec::new();
    for nick in ["u1", "u2", "u3"] {
        let c = Raw::login(server.addr(), nick).await;
        ids.push(c.id);
        online.push(c);
    }
    assert_eq!(server.stop().await.code, Some(0));

    let server = start(dir.path(), &[]).await;
    let next = Raw::login(server.addr(), "u4").await.id;
    let max = *ids.iter().max().unwrap();
    assert_eq!(next, max + 1, "a clean restart continues without a gap");
    assert_eq!(server.stop().await.code, Some(0));
}

#[tokio::test]
async fn user_ids_are_not_reused_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let mut online = Vec::new();
    for nick in ["u1", "u2", "u3"] {
        online.push(Raw::login(server.addr(), nick).await);
    }
    let max = online.iter().map(|c| c.id).max().unwrap();
    server.signal("KILL").await;
    assert_eq!(server.wait().await.code, None);

    let server = start(dir.path(), &[]).await;
    let next = Raw::login(server.addr(), "u4").await.id;
    assert!(
        next > max,
        "user id {next} after a crash; {max} was given before"
    );
    assert_eq!(server.stop().await.code, Some(0));
}

#[tokio::test]
async fn the_epoch_stays_with_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let first = welcome(server.addr(), "a").await;
    assert_eq!(server.stop().await.code, Some(0));
    let server = start(dir.path(), &[]).await;
    let second = welcome(server.addr(), "a").await;
    let epoch = first["epoch"].as_str().unwrap();
    assert_eq!(epoch.len(), 16, "{first}");
    assert_eq!(second["epoch"], epoch, "same database, same epoch");
    assert_eq!(server.stop().await.code, Some(0));
}

/// An in-memory server forgets its history, but its message ids still never
/// repeat, and its epoch says the ids started over.
#[tokio::test]
async fn in_memory_message_ids_never_repeat_across_restarts() {
    let args = ["--in-memory", "--messages-per-second", "0"];
    let server = ServerProcess::start(BIN, &args).await;
    let before = next_message_id(server.addr(), "mem").await;
    let first = welcome(server.addr(), "a").await;
    assert_eq!(server.stop().await.code, Some(0));

    let server = ServerProcess::start(BIN, &args).await;
    let after = next_message_id(server.addr(), "mem").await;
    let second = welcome(server.addr(), "a").await;
    assert!(
        after > before,
        "message id {after} after the restart, {before} before"
    );
    assert_ne!(first["epoch"], second["epoch"], "the id space started over");
    assert_eq!(server.stop().await.code, Some(0));
}
