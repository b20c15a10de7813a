//! Copies every stored message of the cluster into this node's own history
//! database.
//!
//! The publish script appends each message that is kept to one archive
//! stream; each node reads it with a consumer group named after the node
//! (so a restarted node continues where it stopped, and a new node starts
//! from what the stream still holds), queues the rows to its store in
//! stream order (the cluster's id order), and acknowledges them to Redis
//! only once they are durable here. History, search and chathistory then
//! read the local database as on a single node. Why per-node SQLite and not
//! a shared PostgreSQL: docs/architecture.md, "Several nodes".

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, RedisResult};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::envelope::Entry;
use super::{Cluster, keys};
use crate::store::Store;

/// Entries read per round.
const BATCH: usize = 1000;

/// How long one read waits for new entries.
const BLOCK: Duration = Duration::from_millis(500);

/// Archives until `stop`.
pub(super) async fn run(cluster: Arc<Cluster>, store: Store, stop: CancellationToken) {
    let group = cluster.settings.name.clone();
    let mut backoff = Duration::from_millis(50);
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = archive(&cluster, &store, &group) => outcome,
        };
        if let Err(e) = outcome {
            warn!(error = %e, retry_in = ?backoff, "cluster: archive reading interrupted");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One connection's worth of archiving: its own connection, because a
/// blocking read would hold up everything queued behind it on a shared one.
async fn archive(cluster: &Cluster, store: &Store, group: &str) -> RedisResult<()> {
    let client = redis::Client::open(cluster.settings.url.as_str())?;
    let mut redis: MultiplexedConnection = client.get_multiplexed_async_connection().await?;
    let created: RedisResult<()> = redis
        .xgroup_create_mkstream(keys::ARCHIVE, group, "0")
        .await;
    match created {
        Err(e) if e.code() != Some("BUSYGROUP") => return Err(e),
        _ => {}
    }
    // First what this node read before and may not have stored (a crash),
    // then what is new.
    let mut from = "0";
    loop {
        let options = StreamReadOptions::default()
            .group(group, group)
            .count(BATCH)
            .block(usize::try_from(BLOCK.as_millis()).unwrap_or(usize::MAX));
        let reply: RedisResult<StreamReadReply> = redis
            .xread_options(&[keys::ARCHIVE], &[from], &options)
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    // Redis lost its data: the group is made again below.
                    info!("cluster: the archive's consumer group is gone; making it again");
                }
                return Err(e);
            }
        };
        let entries: Vec<_> = reply.keys.into_iter().flat_map(|key| key.ids).collect();
        if entries.is_empty() {
            from = ">";
            continue;
        }
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            let row = entry
                .map
                .get("e")
                .and_then(|value| redis::from_redis_value_ref::<Vec<u8>>(value).ok())
                .map(|payload| Entry::parse(&payload));
            match row {
                Some(Ok(Entry {
                    envelope:
                        super::Envelope {
                            stored: Some(stored),
                            ..
                        },
                    ..
                })) => store.message(stored, None),
                _ => warn!(id = entry.id, "cluster: unreadable archive entry skipped"),
            }
            ids.push(entry.id);
        }
        if let Err(e) = store.flush().await {
            // Not acknowledged: read again after the restart.
            warn!(error = %e, "cluster: could not store archived messages");
            return Ok(());
        }
        let _: usize = redis.xack(keys::ARCHIVE, group, &ids).await?;
    }
}
