//! Listens to the rooms this node has members in, and to its own inbox,
//! and delivers what comes in the order Redis gave it.
//!
//! One pub/sub connection per node: a subscription per room with members
//! here (so Redis sends each message once per node, never once per
//! recipient) and one to the node's inbox. Every entry is placed in its
//! route's order ([`Sequence`]); a gap is read from the route's stream
//! before anything newer is delivered. When the connection drops, the node
//! reconnects with backoff, subscribes again and reads what it missed from
//! the streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::PubSubSink;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::accounts::Announcement;
use super::backoff::Backoff;
use super::envelope::Entry;
use super::order::{Sequence, Verdict};
use super::{Cluster, Watch, keys};
use crate::hub::Hub;

/// How often rooms nobody here is in any more are let go (a join that
/// was refused after the node started listening, a race with a leave).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Listens until `stop`.
pub(super) async fn run(
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
    mut watch: mpsc::UnboundedReceiver<Watch>,
    stop: CancellationToken,
) {
    let client = match redis::Client::open(cluster.settings.url.as_str()) {
        Ok(client) => client,
        Err(e) => return warn!(error = %e, "cluster: bad Redis address"),
    };
    let mut listener = Listener {
        routes: HashMap::new(),
        cluster,
        hub,
    };
    let inbox = keys::node_route(listener.cluster.node());
    listener.routes.insert(inbox, Sequence::default());
    if let Err(e) = listener.start_at_now(keys::EVERYONE_ROUTE).await {
        warn!(error = %e, "cluster: cannot read where the presence route is");
    }
    let mut backoff = Backoff::new();
    let mut reconnecting = false;
    loop {
        let connected = tokio::select! {
            () = stop.cancelled() => return,
            connected = client.get_async_pubsub() => connected,
        };
        let (mut sink, mut stream) = match connected {
            Ok(pubsub) => pubsub.split(),
            Err(e) => {
                warn!(error = %e, retry_in = ?backoff.next(), "cluster: cannot subscribe in Redis");
                if !backoff.pause(&stop).await {
                    return;
                }
                continue;
            }
        };
        if reconnecting {
            listener.cluster.metrics.reconnected();
        }
        let ready = match listener.cluster.raise_counters().await {
            Ok(()) => match listener.resubscribe(&mut sink).await {
                Ok(()) => listener.sync_accounts().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = ready {
            // Redis answers but not yet (loading its data, say).
            warn!(error = %e, retry_in = ?backoff.next(), "cluster: cannot subscribe again");
            if !backoff.pause(&stop).await {
                return;
            }
            continue;
        }
        if reconnecting {
            info!(
                routes = listener.routes.len(),
                "cluster: subscribed again and caught up"
            );
        }
        reconnecting = true;
        backoff.reset();
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outcome = tokio::select! {
                () = stop.cancelled() => return,
                command = watch.recv() => match command {
                    None => return,
                    Some(Watch::Room(key)) => listener.listen_room(&mut sink, &key).await,
                    Some(Watch::Listen(key, done)) => {
                        let listened = listener.listen_room(&mut sink, &key).await;
                        let _ = done.send(());
                        listened
                    }
                    Some(Watch::Unroom(key)) => listener.unlisten(&mut sink, keys::room_route(&key)).await,
                },
                _ = sweep.tick() => {
                    listener.sweep(&mut sink).await
                }
                message = stream.next() => match message {
                    None => Err(redis::RedisError::from(std::io::Error::other("connection closed"))),
                    Some(message) => {
                        listener.receive(message.get_channel_name(), message.get_payload_bytes()).await;
                        Ok(())
                    }
                },
            };
            if let Err(e) = outcome {
                warn!(error = %e, "cluster: lost the subscription; reconnecting");
                break;
            }
        }
    }
}

/// What this node has delivered of each route it listens to.
struct Listener {
    routes: HashMap<String, Sequence>,
    cluster: Arc<Cluster>,
    hub: Arc<Hub>,
}

impl Listener {
    /// Starts listening to `route`, from what it holds now: entries before
    /// were said before anyone here was there.
    async fn listen(&mut self, sink: &mut PubSubSink, route: String) -> redis::RedisResult<()> {
        if self.routes.contains_key(&route) {
            return Ok(());
        }
        // Where the route is before subscribing: whatever is published in
        // between shows as a gap and is read from the stream.
        self.start_at_now(&route).await?;
        sink.subscribe(keys::channel(&route)).await
    }

    /// Takes `route` on from the entry Redis has last (later ones will be
    /// delivered).
    async fn start_at_now(&mut self, route: &str) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(keys::meta(route))
            .arg("epoch")
            .arg("seq")
            .get(keys::MESSAGE_IDS);
        let ((epoch, seq), said): ((Option<String>, Option<u64>), Option<u64>) =
            pipe.query_async(&mut self.cluster.redis.clone()).await?;
        if let Some(key) = route.strip_prefix(keys::ROOM_ROUTES) {
            // Every message with an id up to here was published before
            // this node listened: a join replays them from history.
            self.hub.relayed_through(key, said.unwrap_or(0));
        }
        self.routes
            .insert(route.to_owned(), Sequence::after(epoch, seq.unwrap_or(0)));
        Ok(())
    }

    /// Starts listening to room `key`, and learns who is in it on other
    /// nodes.
    async fn listen_room(&mut self, sink: &mut PubSubSink, key: &str) -> redis::RedisResult<()> {
        self.listen(sink, keys::room_route(key)).await?;
        let room = self.cluster.room_state(key).await?;
        self.hub.seed_room(key, room.members, self.cluster.node());
        Ok(())
    }

    /// Stops listening to the rooms nobody here is in.
    async fn sweep(&mut self, sink: &mut PubSubSink) -> redis::RedisResult<()> {
        let empty: Vec<String> = self
            .routes
            .keys()
            .filter_map(|route| route.strip_prefix(keys::ROOM_ROUTES))
            .filter(|key| !self.hub.has_members_here(key))
            .map(keys::room_route)
            .collect();
        for route in empty {
            self.unlisten(sink, route).await?;
        }
        Ok(())
    }

    /// Stops listening to `route`.
    async fn unlisten(&mut self, sink: &mut PubSubSink, route: String) -> redis::RedisResult<()> {
        if self.routes.remove(&route).is_none() {
            return Ok(());
        }
        sink.unsubscribe(keys::channel(&route)).await
    }

    /// On a new connection: subscribes to every route again and delivers
    /// what was published while the node was not listening.
    async fn resubscribe(&mut self, sink: &mut PubSubSink) -> redis::RedisResult<()> {
        sink.subscribe(keys::ACCOUNTS_CHANNEL).await?;
        let routes: Vec<String> = self.routes.keys().cloned().collect();
        for route in &routes {
            sink.subscribe(keys::channel(route)).await?;
        }
        for route in &routes {
            self.catch_up(route).await?;
        }
        Ok(())
    }

    /// Delivers what `route`'s stream holds after the last entry delivered
    /// (from its start if Redis lost the route and began a new epoch).
    async fn catch_up(&mut self, route: &str) -> redis::RedisResult<()> {
        let (epoch, seq): (Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(keys::meta(route))
            .arg("epoch")
            .arg("seq")
            .query_async(&mut self.cluster.redis.clone())
            .await?;
        let Some(known) = self.routes.get_mut(route) else {
            return Ok(());
        };
        let from = match (known.last(), epoch) {
            ((Some(ours), last), Some(now)) if ours == now => {
                let now_at = seq.unwrap_or(0);
                if now_at < last {
                    // Redis lost the last moment of its data (a crash with
                    // `appendfsync everysec`): its numbers go on from
                    // where it is, not from where this node was.
                    warn!(
                        route,
                        ours = last,
                        redis = now_at,
                        "cluster: Redis's sequence went back"
                    );
                    *known = Sequence::after(Some(now), now_at);
                }
                now_at.min(last) + 1
            }
            (_, None) => return Ok(()),
            _ => 1,
        };
        self.read_stream(route, from, None).await
    }

    /// Takes the cluster's accounts registry whole (after subscribing to
    /// its changes, so that none falls in between). If Redis lost it, this
    /// node's goes back first.
    async fn sync_accounts(&mut self) -> redis::RedisResult<()> {
        let accounts = self.hub.accounts();
        let (mut registry, kept) = self.cluster.registry().await?;
        if !kept {
            self.cluster.upload(&accounts.snapshot()).await?;
            (registry, _) = self.cluster.registry().await?;
        }
        accounts.take(registry, true);
        Ok(())
    }

    /// Places an entry that came by pub/sub and delivers it, after any gap
    /// before it.
    async fn receive(&mut self, channel: &str, payload: &[u8]) {
        if channel == keys::ACCOUNTS_CHANNEL {
            match serde_json::from_slice::<Announcement>(payload) {
                Ok(news) if news.origin != self.cluster.node() => {
                    self.hub.accounts().apply(news.change);
                }
                Ok(_) => {}
                Err(e) => warn!(error = %e, "cluster: unreadable account change dropped"),
            }
            return;
        }
        let Some(route) = keys::route_of_channel(channel) else {
            return;
        };
        let entry = match Entry::parse(payload) {
            Ok(entry) => entry,
            Err(e) => return warn!(route, error = %e, "cluster: unreadable entry dropped"),
        };
        let Some(sequence) = self.routes.get_mut(route) else {
            return;
        };
        match sequence.place(entry.seq, &entry.epoch) {
            Verdict::Seen => return,
            Verdict::Next => {}
            Verdict::After { from, to } => {
                let route = route.to_owned();
                if let Err(e) = self.read_stream(&route, from, Some(to)).await {
                    warn!(route, error = %e, "cluster: cannot read a gap from the stream");
                }
                return self.place_and_deliver(&route, entry);
            }
        }
        self.place_and_deliver(route, entry);
    }

    /// Reads `route`'s entries `from..=to` (to the end if `None`) from its
    /// stream and delivers those that are next. What the stream no longer
    /// holds is skipped, said in the log.
    async fn read_stream(
        &mut self,
        route: &str,
        from: u64,
        to: Option<u64>,
    ) -> redis::RedisResult<()> {
        let end = to.map_or_else(|| "+".to_owned(), |to| format!("{to}-0"));
        let started = Instant::now();
        let entries: redis::RedisResult<Vec<(String, Vec<Vec<u8>>)>> = redis::cmd("XRANGE")
            .arg(keys::stream(route))
            .arg(format!("{from}-0"))
            .arg(end)
            .query_async(&mut self.cluster.redis.clone())
            .await;
        self.cluster
            .metrics
            .round_trip(started.elapsed(), entries.is_ok());
        for (id, fields) in entries? {
            match fields.get(1).map(|payload| Entry::parse(payload)) {
                Some(Ok(entry)) => self.recover(route, entry),
                _ => {
                    warn!(route, id, "cluster: unreadable stream entry skipped");
                    let seq = id.split('-').next().and_then(|n| n.parse().ok());
                    if let (Some(sequence), Some(seq)) = (self.routes.get_mut(route), seq) {
                        sequence.delivered(seq);
                    }
                }
            }
        }
        if let (Some(sequence), Some(to)) = (self.routes.get_mut(route), to)
            && sequence.last().1 < to
        {
            warn!(
                route,
                missed_from = sequence.last().1 + 1,
                to,
                "cluster: entries gone from the stream"
            );
            sequence.delivered(to);
        }
        Ok(())
    }

    /// Delivers `entry`, read from its route's stream, if it was not: what
    /// should have come before it and is not in the stream any more (it
    /// keeps `stream_length` entries) is gone, said in the log.
    fn recover(&mut self, route: &str, entry: Entry) {
        let Some(sequence) = self.routes.get_mut(route) else {
            return;
        };
        match sequence.place(entry.seq, &entry.epoch) {
            Verdict::Seen => return,
            Verdict::Next => {}
            Verdict::After { from, to } => {
                warn!(route, from, to, "cluster: entries gone from the stream");
                sequence.delivered(to);
            }
        }
        self.cluster.metrics.recovered();
        self.place_and_deliver(route, entry);
    }

    /// Delivers `entry` if it is the next of its route.
    fn place_and_deliver(&mut self, route: &str, entry: Entry) {
        let Some(sequence) = self.routes.get_mut(route) else {
            return;
        };
        if sequence.place(entry.seq, &entry.epoch) != Verdict::Next {
            return;
        }
        sequence.delivered(entry.seq);
        self.hub
            .deliver_relayed(entry.envelope, entry.id, self.cluster.node());
    }
}
