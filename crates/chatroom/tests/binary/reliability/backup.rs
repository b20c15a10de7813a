//! `chatroom backup` while four clients write: the copy restores to a
//! server whose history is consistent (each writer's messages without a
//! gap up to some point) and whose search finds what it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chatroom_testkit::Raw;
use serde_json::json;

use super::support::{all_history, start};
use crate::support::BIN;

const WRITERS: usize = 4;
/// Each writer stops after this many messages, whatever happens.
const MOST: u64 = 5_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (addr, stop) = (server.addr(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut c = Raw::login(addr, &format!("w{w}")).await;
            c.join("copied").await;
            let mut sent = 0;
            while !stop.load(Ordering::Relaxed) && sent < MOST {
                c.say_in("copied", &format!("w{w} {sent}")).await;
                sent += 1;
            }
            sent
        }));
    }
    // Let the writers get going, then copy while they write.
    let mut probe = Raw::login(server.addr(), "probe").await;
    probe.join("copied").await;
    while all_history(&mut probe, "copied").await.len() < 200 {
        tokio::task::yield_now().await;
    }
    let file = dir.path().join("backup.db");
    let output = tokio::process::Command::new(BIN)
        .args(["backup", "--data-dir", dir.path().to_str().unwrap()])
        .arg(&file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let copied: usize = stdout
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stdout:?}"));
    // The server goes on storing after the copy (on a loaded machine the
    // copy can be quicker than the next commit): wait to see it.
    while all_history(&mut probe, "copied").await.len() <= copied
        && !writers.iter().all(|w| w.is_finished())
    {
        tokio::task::yield_now().await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut after = 0;
    for w in writers {
        after += w.await.unwrap();
    }
    server.signal("TERM").await;
    assert_eq!(server.wait().await.code, Some(0));

    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&file, restored.path().join("chatroom.db")).unwrap();
    let server = start(restored.path(), &[]).await;
    let mut reader = Raw::login(server.addr(), "reader").await;
    reader.join("copied").await;
    let history = all_history(&mut reader, "copied").await;
    assert_eq!(history.len(), copied, "the restored history is the copy");
    assert!(
        (copied as u64) < after,
        "copied during the load: {copied} of {after}"
    );
    for w in 0..WRITERS {
        let prefix = format!("w{w} ");
        let seqs: Vec<u64> = history
            .iter()
            .filter_map(|m| m["message"].as_str()?.strip_prefix(&prefix)?.parse().ok())
            .collect();
        let expected: Vec<u64> = (0..seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "writer {w}: in order, without a gap");
    }
    let last = history.last().unwrap()["message"]
        .as_str()
        .unwrap()
        .to_owned();
    reader
        .send_json(json!({"type": "search", "text": last, "room": "copied", "ref": "s"}))
        .await;
    let hit = reader.recv_type("search_hit").await;
    assert_eq!(hit["message"], last.as_str());
    server.signal("TERM").await;
    assert_eq!(server.wait().await.code, Some(0));
}
