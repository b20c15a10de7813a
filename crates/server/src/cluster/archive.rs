//! Copies every stored message of the cluster into this node's own history
//! database.
//!
//! The publish script appends each message that is kept to one archive
//! stream, under its message id (`<id>-0`); each node reads it with a
//! consumer group named after the node, positioned at the last message its
//! own database holds (so a restarted node, one restored from a backup, or
//! one keeping history in memory continues exactly where its database
//! stops, and nothing is stored twice), queues the rows to its store in
//! stream order (the cluster's id order), and moves on only once they are
//! durable here. History, search and chathistory then read the local
//! database as on a single node. Why per-node SQLite and not a shared
//! PostgreSQL: docs/architecture.md, "Several nodes".

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, RedisResult};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::backoff::Backoff;
use super::envelope::Entry;
use super::{Cluster, Envelope, keys};
use crate::store::{Outcome, Store};

/// Entries read per round.
const BATCH: usize = 1000;

/// How long one read waits for new entries.
const BLOCK: Duration = Duration::from_millis(500);

/// Archives until `stop`, continuing after message `stored` (the last one
/// this node's database holds).
pub(super) async fn run(
    cluster: Arc<Cluster>,
    store: Store,
    mut stored: u64,
    stop: CancellationToken,
) {
    let group = cluster.settings.name.clone();
    let mut backoff = Backoff::new();
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = archive(&cluster, &store, &group, &mut stored) => outcome,
        };
        if let Err(e) = outcome {
            warn!(error = %e, retry_in = ?backoff.next(), "cluster: archive reading interrupted");
        }
        if !backoff.pause(&stop).await {
            return;
        }
    }
}

/// One connection's worth of archiving, from after message `stored`,
/// which it advances as batches become durable. Its own connection,
/// because a blocking read would hold up everything queued behind it on a
/// shared one.
async fn archive(
    cluster: &Cluster,
    store: &Store,
    group: &str,
    stored: &mut u64,
) -> RedisResult<()> {
    let client = redis::Client::open(cluster.settings.url.as_str())?;
    let mut redis: MultiplexedConnection = client.get_multiplexed_async_connection().await?;
    let from = format!("{stored}-0");
    let created: RedisResult<()> = redis
        .xgroup_create_mkstream(keys::ARCHIVE, group, &from)
        .await;
    match created {
        Err(e) if e.code() == Some("BUSYGROUP") => {
            let _: () = redis::cmd("XGROUP")
                .arg("SETID")
                .arg(keys::ARCHIVE)
                .arg(group)
                .arg(&from)
                .query_async(&mut redis)
                .await?;
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let options = StreamReadOptions::default()
        .group(group, group)
        .count(BATCH)
        .block(usize::try_from(BLOCK.as_millis()).unwrap_or(usize::MAX))
        .noack();
    loop {
        let reply: StreamReadReply = redis
            .xread_options(&[keys::ARCHIVE], &[">"], &options)
            .await?;
        let entries: Vec<_> = reply.keys.into_iter().flat_map(|key| key.ids).collect();
        if entries.is_empty() {
            continue;
        }
        let failed = Arc::new(AtomicBool::new(false));
        let mut last = *stored;
        for entry in entries {
            let row = entry
                .map
                .get("e")
                .and_then(|value| redis::from_redis_value_ref::<Vec<u8>>(value).ok())
                .map(|payload| Entry::parse(&payload));
            match row {
                Some(Ok(Entry {
                    envelope:
                        Envelope {
                            stored: Some(row), ..
                        },
                    ..
                })) if row.id > *stored => {
                    last = last.max(row.id);
                    let failed = failed.clone();
                    let receipt = Box::new(move |outcome: Outcome<'_>| {
                        if outcome.error.is_some() {
                            failed.store(true, Ordering::Relaxed);
                        }
                    });
                    store.message(row, Some(receipt));
                }
                Some(Ok(_)) => {}
                _ => warn!(id = entry.id, "cluster: unreadable archive entry skipped"),
            }
        }
        if let Err(e) = store.flush().await {
            warn!(error = %e, "cluster: the history store stopped");
            return Ok(());
        }
        if failed.load(Ordering::Relaxed) {
            // Read again from the last durable message, after a pause.
            return Err(redis::RedisError::from(std::io::Error::other(
                "could not store archived messages",
            )));
        }
        cluster.saw_ids(last, 0);
        *stored = last;
    }
}
