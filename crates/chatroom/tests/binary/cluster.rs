//! Cluster nodes as real processes: one killed with `kill -9`, the others
//! carry on.

use std::time::Duration;

use chatroom_testkit::{Raw, RedisServer, ServerProcess, WAIT};
use serde_json::json;

use crate::support::BIN;

/// A node called `name` of the cluster meeting at `redis`, with a short
/// lease.
async fn node(redis: &RedisServer, name: &str) -> ServerProcess {
    let url = redis.url();
    ServerProcess::start(
        BIN,
        &[
            "--in-memory",
            "--cluster",
            &url,
            "--node-name",
            name,
            "--cluster-lease",
            "2s",
        ],
    )
    .await
}

/// Waits until `count` nodes listen to the lobby.
async fn listening(redis: &RedisServer, count: usize) {
    let want = format!(":{count}\r\n");
    tokio::time::timeout(WAIT, async {
        while !redis
            .command(&["PUBSUB", "NUMSUB", "chatroom:ch:room:lobby"])
            .await
            .ends_with(&want)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} nodes never listened to the lobby"));
}

#[tokio::test]
async fn a_killed_nodes_users_are_announced_gone_and_their_nicknames_freed() {
    let redis = RedisServer::start().await;
    let a = node(&redis, "a").await;
    let c = node(&redis, "c").await;
    let mut ann = Raw::login(a.addr(), "ann").await;
    let _cid = Raw::login(c.addr(), "cid").await;
    listening(&redis, 2).await;

    c.signal("KILL").await;
    // Node a notices c stopped renewing (within the lease and a renewal)
    // and tells ann that cid is gone.
    let left = loop {
        let frame = ann.recv_type("presence").await;
        if frame["event"] == "leave" && frame["nickname"] == "cid" {
            break frame;
        }
    };
    assert_eq!(left["reason"], "ping_timeout", "{left}");
    // The nickname is free again, on any node.
    let mut again = Raw::connect(a.addr()).await;
    let welcome = tokio::time::timeout(WAIT, async {
        loop {
            again
                .send_json(json!({"type": "login", "nickname": "cid"}))
                .await;
            let frame = again.recv().await;
            if frame["type"] == "welcome" {
                return frame;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("cid's nickname was never freed");
    assert_eq!(welcome["nickname"], "cid");
    drop(c);
    a.stop().await;
}
