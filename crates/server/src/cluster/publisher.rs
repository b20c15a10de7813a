//! Takes what this node's users say to Redis, in the order they said it.
//!
//! One task drains the queue in batches: first the nicknames direct
//! messages are for are looked up (one pipelined round trip), then every
//! entry is published with the publish script (one more). Redis runs the
//! scripts in order, so one node's messages keep their order. A batch
//! Redis did not take is refused to its senders (`Failure::NotSent`):
//! nothing is acknowledged that Redis does not have.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use redis::{ErrorKind, Pipeline, RedisError, ServerErrorKind};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::envelope::{Envelope, Recipients, set_msg_id};
use super::{Cluster, Outgoing, Route, keys, scripts};
use crate::event::{Event, EventKind, Person, TagTarget};
use crate::hub::Hub;
use crate::store::{Failure, Outcome};

/// How long a stopping node waits for more to publish (its users leaving)
/// before it stops publishing.
const LAST_WORDS: std::time::Duration = std::time::Duration::from_millis(500);

/// The most entries published in one round trip.
const BATCH: usize = 256;

/// Publishes what is queued until `stop`, then what is left.
pub(super) async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    stop: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let got = tokio::select! {
            () = stop.cancelled() => break,
            got = queue.recv_many(&mut batch, BATCH) => got,
        };
        if got == 0 {
            return;
        }
        cluster.publish(&hub, &mut batch).await;
    }
    // Stopping: what users said before the listeners closed, and their
    // departures as they leave, still go while they keep coming.
    while let Ok(got) = tokio::time::timeout(LAST_WORDS, queue.recv_many(&mut batch, BATCH)).await
        && got > 0
    {
        cluster.publish(&hub, &mut batch).await;
    }
}

/// A batch entry with where it goes.
struct Resolved {
    outgoing: Outgoing,
    route: String,
}

impl Cluster {
    /// Publishes `batch` (emptying it), telling each receipt what became
    /// of its entry.
    async fn publish(&self, hub: &Hub, batch: &mut Vec<Outgoing>) {
        let resolved = match self.resolve(std::mem::take(batch)).await {
            Ok(resolved) => resolved,
            Err((outgoing, e)) => {
                warn!(error = %e, "cluster: cannot look up nicknames in Redis");
                return refuse(outgoing, &e);
            }
        };
        if resolved.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for item in &resolved {
            add_member_writes(&mut pipe, &item.outgoing.envelope);
            self.add_publish(&mut pipe, item);
        }
        let mut redis = self.redis.clone();
        let started = Instant::now();
        let mut answer: Result<Vec<(u64, u64)>, RedisError> = pipe.query_async(&mut redis).await;
        self.metrics.round_trip(started.elapsed(), answer.is_ok());
        if answer
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Server(ServerErrorKind::NoScript))
        {
            // Redis restarted and forgot the script: load it, once.
            answer = match scripts::PUBLISH
                .prepare_invoke()
                .load_async(&mut redis)
                .await
            {
                Ok(_) => pipe.query_async(&mut redis).await,
                Err(e) => Err(e),
            };
        }
        match answer {
            Ok(placed) => {
                self.metrics.published(placed.len());
                if let Some((_, id)) = placed.last() {
                    self.saw_ids(*id, 0);
                }
                for (item, (_seq, id)) in resolved.into_iter().zip(placed) {
                    accepted(hub, item.outgoing, id);
                }
            }
            Err(e) => {
                warn!(error = %e, entries = resolved.len(), "cluster: Redis did not take a batch");
                refuse(resolved.into_iter().map(|r| r.outgoing).collect(), &e);
            }
        }
    }

    /// Finds the inbox each direct message goes to; those for nicknames
    /// nobody holds are refused here.
    async fn resolve(
        &self,
        batch: Vec<Outgoing>,
    ) -> Result<Vec<Resolved>, (Vec<Outgoing>, RedisError)> {
        let nicks: Vec<String> = batch
            .iter()
            .filter_map(|o| match &o.route {
                Route::Nick(nick) => Some(keys::nick(nick)),
                Route::Room(_) | Route::Everyone => None,
            })
            .collect();
        let mut holders: Vec<Option<String>> = Vec::new();
        if !nicks.is_empty() {
            let mut pipe = redis::pipe();
            for key in &nicks {
                pipe.get(key);
            }
            let started = Instant::now();
            let found = pipe.query_async(&mut self.redis.clone()).await;
            self.metrics.round_trip(started.elapsed(), found.is_ok());
            match found {
                Ok(found) => holders = found,
                Err(e) => return Err((batch, e)),
            }
        }
        let mut holders = holders.into_iter();
        let mut resolved = Vec::with_capacity(batch.len());
        for mut outgoing in batch {
            let route = match &outgoing.route {
                Route::Room(key) => keys::room_route(key),
                Route::Everyone => keys::EVERYONE_ROUTE.to_owned(),
                Route::Nick(nick) => {
                    let holder = holders.next().flatten();
                    let Some((node, id)) = holder.as_deref().and_then(parse_lease) else {
                        let nick = nick.clone();
                        if let Some(receipt) = outgoing.receipt.take() {
                            receipt(Outcome {
                                msg_id: 0,
                                ts: outgoing.envelope.ts,
                                error: Some(Failure::NoSuchUser(&nick)),
                            });
                        }
                        continue;
                    };
                    address(&mut outgoing, id);
                    keys::node_route(node)
                }
            };
            resolved.push(Resolved { outgoing, route });
        }
        Ok(resolved)
    }

    /// Adds one entry's publish script to `pipe`.
    fn add_publish(&self, pipe: &mut Pipeline, item: &Resolved) {
        // Events are plain data: this cannot fail; if it ever did, the
        // entry is published empty and every reader refuses it.
        let body = serde_json::to_string(&item.outgoing.envelope).unwrap_or_default();
        let route = &item.route;
        pipe.cmd("EVALSHA")
            .arg(scripts::PUBLISH.get_hash())
            .arg(4)
            .arg(keys::meta(route))
            .arg(keys::stream(route))
            .arg(keys::MESSAGE_IDS)
            .arg(keys::ARCHIVE)
            .arg(keys::channel(route))
            .arg(body)
            .arg(self.settings.stream_length)
            .arg(self.settings.archive_length)
            .arg(format!("{:016x}", fastrand::u64(..)))
            .arg(if item.outgoing.takes_id { "1" } else { "0" })
            .arg(if item.outgoing.envelope.stored.is_some() {
                "1"
            } else {
                "0"
            })
            .arg(self.highest_message.load(Ordering::Relaxed));
    }
}

/// Keeps Redis's member lists and room states (what a node starting to
/// listen to a room learns) in step with the joins, parts, kicks, quits,
/// renames, topics and mode changes passed on, in the same round trip and
/// order.
fn add_member_writes(pipe: &mut Pipeline, envelope: &Envelope) {
    if let (Recipients::Room(key), Some(room)) = (&envelope.to, &envelope.room) {
        pipe.hset(
            keys::room(key),
            "state",
            serde_json::to_string(room).unwrap_or_default(),
        )
        .ignore();
    }
    let entry = |who: &Person| {
        format!(
            "{} {}",
            envelope.origin,
            serde_json::to_string(who).unwrap_or_default()
        )
    };
    match (&envelope.to, &envelope.kind) {
        (Recipients::Room(key), EventKind::Join { who, .. }) => {
            pipe.hset(keys::members(key), who.id, entry(who)).ignore();
        }
        (Recipients::Room(key), EventKind::Part { who: gone, .. })
        | (Recipients::Room(key), EventKind::Kick { target: gone, .. }) => {
            pipe.hdel(keys::members(key), gone.id).ignore();
        }
        (Recipients::Room(key), EventKind::Topic { who, topic, .. }) => {
            pipe.hset_multiple(
                keys::room(key),
                &[
                    ("text", topic.to_string()),
                    ("by", who.nick.to_string()),
                    ("at", envelope.ts.to_string()),
                ],
            )
            .ignore();
        }
        (Recipients::Sharing { user, rooms }, EventKind::Quit { .. }) => {
            for key in rooms {
                pipe.hdel(keys::members(key), *user).ignore();
            }
        }
        (Recipients::Sharing { rooms, .. }, EventKind::Nick { who, new }) => {
            let renamed = Person {
                nick: new.clone(),
                ..who.clone()
            };
            for key in rooms {
                pipe.hset(keys::members(key), who.id, entry(&renamed))
                    .ignore();
            }
        }
        _ => {}
    }
}

/// A lease's value: the node and the user's id there.
pub(super) fn parse_lease(value: &str) -> Option<(&str, u64)> {
    let (node, id) = value.split_once(' ')?;
    Some((node, id.parse().ok()?))
}

/// Addresses a direct message to user `id` (now that the lease says who
/// holds the nickname).
fn address(outgoing: &mut Outgoing, id: u64) {
    outgoing.envelope.to = Recipients::User(id);
    match &mut outgoing.envelope.kind {
        EventKind::Direct { to, .. } => to.0 = id,
        EventKind::TagMsg {
            target: TagTarget::User(to, _),
            ..
        } => *to = id,
        _ => {}
    }
    if let Some(stored) = &mut outgoing.envelope.stored
        && let Some((recipient, _)) = &mut stored.recipient
    {
        *recipient = id;
    }
}

/// Tells a published entry's sender it is in Redis, and gives it back to
/// them if they want their own direct messages.
fn accepted(hub: &Hub, outgoing: Outgoing, id: u64) {
    let Outgoing {
        envelope,
        receipt,
        echo,
        ..
    } = outgoing;
    if let Some(receipt) = receipt {
        receipt(Outcome {
            msg_id: id,
            ts: envelope.ts,
            error: None,
        });
    }
    if let Some(sender) = echo {
        let mut kind = envelope.kind;
        set_msg_id(&mut kind, id);
        hub.deliver_to(sender, &Event::new(kind, envelope.ts));
    }
}

/// Tells every sender in `outgoing` that nothing was sent.
fn refuse(outgoing: Vec<Outgoing>, error: &RedisError) {
    let why = format!("the cluster's Redis did not answer ({error})");
    for item in outgoing {
        if let Some(receipt) = item.receipt {
            receipt(Outcome {
                msg_id: 0,
                ts: item.envelope.ts,
                error: Some(Failure::NotSent(&why)),
            });
        }
    }
}
