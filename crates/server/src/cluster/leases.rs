//! Nicknames held cluster-wide: a lease per nickname in Redis, owned by the
//! node its user is on, renewed while they are online.
//!
//! A login or rename claims the nickname (and, at login, a cluster-wide
//! user id) with one script; logging out lets it go; a node that stops
//! renewing (killed, cut off) loses its leases when they expire, so its
//! nicknames become free within the lease time. Renewal also keeps the
//! node's liveness key, and takes back leases Redis lost in a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::publisher::parse_lease;
use super::{Cluster, ClusterError, Lease, keys, scripts};
use crate::hub::{Hub, UserId};

impl Cluster {
    /// At a clean stop: lets go of the node's name and liveness, and
    /// deletes its inbox (every user here has left).
    async fn retire(&self, name: &Lease) {
        let mut redis = self.redis.clone();
        let mut release = scripts::RELEASE.key(&name.key);
        release.arg(&name.value);
        let _ = release.invoke_async::<u64>(&mut redis).await;
        let inbox = keys::node_route(&self.node);
        let mut pipe = redis::pipe();
        pipe.del(keys::node(&self.node))
            .del(keys::meta(&inbox))
            .del(keys::stream(&inbox));
        let _ = pipe.query_async::<()>(&mut redis).await;
    }

    /// Claims `folded` (a folded nickname) for user `id` on this node (a
    /// rename: [`Cluster::renamed`] or [`Cluster::unclaim`] follows), or for
    /// a new user when `id` is `None` (a cluster-wide id is made; the lease
    /// is renewed from now on). `Ok(None)`: another user holds it.
    pub async fn claim(
        &self,
        folded: &str,
        id: Option<UserId>,
    ) -> Result<Option<UserId>, ClusterError> {
        let key = keys::nick(folded);
        let got: u64 = scripts::CLAIM
            .key(&key)
            .key(keys::USER_IDS)
            .arg(&self.node)
            .arg(self.lease_ms())
            .arg(id.unwrap_or(0))
            .invoke_async(&mut self.redis.clone())
            .await?;
        if got == 0 {
            return Ok(None);
        }
        self.saw_ids(0, got);
        if id.is_none() {
            self.leases.lock().insert(got, self.lease(key, got));
        }
        Ok(Some(got))
    }

    /// User `id` is called `folded` now: that lease is renewed from now on
    /// and the old one is let go.
    pub fn renamed(&self, id: UserId, folded: &str) {
        let new = self.lease(keys::nick(folded), id);
        let old = self.leases.lock().insert(id, new.clone());
        if let Some(old) = old.filter(|old| *old != new) {
            self.let_go(old);
        }
    }

    /// Lets go of the nickname user `id` holds (at logout), without
    /// waiting.
    pub fn release(&self, id: UserId) {
        let lease = self.leases.lock().remove(&id);
        if let Some(lease) = lease {
            self.let_go(lease);
        }
    }

    /// Lets go of a nickname claimed for a rename that did not happen.
    pub fn unclaim(&self, folded: &str, id: UserId) {
        self.let_go(self.lease(keys::nick(folded), id));
    }

    /// The lease this node holds for user `id` at `key`.
    fn lease(&self, key: String, id: UserId) -> Lease {
        Lease {
            key,
            value: format!("{} {id}", self.node),
        }
    }

    /// Deletes `lease` in Redis if it is still ours, in the background.
    fn let_go(&self, lease: Lease) {
        let mut redis = self.redis.clone();
        tokio::spawn(async move {
            let released: Result<u64, _> = scripts::RELEASE
                .key(&lease.key)
                .arg(&lease.value)
                .invoke_async(&mut redis)
                .await;
            if let Err(e) = released {
                // It expires on its own within the lease.
                warn!(error = %e, lease = lease.key, "cluster: cannot release a nickname");
            }
        });
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.settings.lease.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Renews this node's leases three times per lease until `stop`, and
/// announces the users of nodes whose liveness expired as gone.
pub(super) async fn renew(cluster: Arc<Cluster>, hub: Arc<Hub>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(cluster.settings.lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let name = Lease {
        key: keys::name(&cluster.settings.name),
        value: cluster.node.clone(),
    };
    // Nodes whose liveness key was missing at the last check, and whether
    // this node's own last renewal worked: a node is buried only when its
    // key is missing twice in a row while this node renews fine (after a
    // Redis outage, every node needs one renewal to show it is alive).
    let mut suspects = HashSet::new();
    let mut renewing = false;
    loop {
        tokio::select! {
            () = stop.cancelled() => {
                // The next run of this node may start at once, and the
                // others need not wait for its leases to run out.
                let _ = tokio::time::timeout(Duration::from_secs(1), cluster.retire(&name)).await;
                return;
            }
            _ = tick.tick() => {}
        }
        let mut leases: Vec<Lease> = vec![name.clone()];
        leases.extend(cluster.leases.lock().values().cloned());
        let mut script = scripts::RENEW.key(keys::node(&cluster.node));
        script.arg(cluster.lease_ms());
        for lease in &leases {
            script.key(&lease.key).arg(&lease.value);
        }
        let started = Instant::now();
        let renewed = script
            .invoke_async::<Vec<usize>>(&mut cluster.redis.clone())
            .await;
        cluster
            .metrics
            .round_trip(started.elapsed(), renewed.is_ok());
        let renewed_now = renewed.is_ok();
        match renewed {
            Ok(lost) => {
                for index in lost {
                    let Some(lease) = index.checked_sub(1).and_then(|i| leases.get(i)) else {
                        continue;
                    };
                    // Ours expired while Redis was away and someone else
                    // took it: two users cannot go by one nickname.
                    warn!(
                        lease = lease.key,
                        "cluster: another node holds a nickname of ours now"
                    );
                    if let Some((_, id)) = parse_lease(&lease.value) {
                        hub.evict(id);
                    }
                }
            }
            Err(e) => warn!(error = %e, "cluster: cannot renew leases"),
        }
        if renewed_now && renewing {
            if let Err(e) = bury(&cluster, &hub, &mut suspects).await {
                warn!(error = %e, "cluster: cannot check the other nodes");
            }
        } else {
            suspects.clear();
        }
        renewing = renewed_now;
    }
}

/// Announces the users of every node whose liveness key was missing at
/// this check and the last as gone, takes them off Redis's member lists
/// and deletes the node's inbox.
async fn bury(
    cluster: &Cluster,
    hub: &Hub,
    suspects: &mut HashSet<Arc<str>>,
) -> redis::RedisResult<()> {
    let nodes: Vec<_> = hub.remote_nodes().into_iter().collect();
    if nodes.is_empty() {
        suspects.clear();
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for node in &nodes {
        pipe.exists(keys::node(node));
    }
    let alive: Vec<bool> = pipe.query_async(&mut cluster.redis.clone()).await?;
    let mut pipe = redis::pipe();
    let mut any = false;
    let mut missing = HashSet::new();
    for (node, _) in nodes.iter().zip(alive).filter(|(_, alive)| !alive) {
        if !suspects.contains(node) {
            missing.insert(node.clone());
            continue;
        }
        info!(
            node = &**node,
            "cluster: a node stopped renewing; its users are gone"
        );
        for (key, id) in hub.node_gone(node) {
            pipe.hdel(keys::members(&key), id).ignore();
        }
        let inbox = keys::node_route(node);
        pipe.del(keys::meta(&inbox)).ignore();
        pipe.del(keys::stream(&inbox)).ignore();
        any = true;
    }
    *suspects = missing;
    if any {
        pipe.query_async::<()>(&mut cluster.redis.clone()).await?;
    }
    Ok(())
}
