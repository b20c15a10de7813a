//! The accounts registry in Redis: what every node's registry is kept the
//! same as.
//!
//! Three hashes hold it (accounts by folded nickname, certificates by
//! fingerprint, bans by kind and value, each entry JSON), and every change
//! is also published on one channel, so that the other nodes take it at
//! once; a node that (re)connects reads the hashes whole. A registration is
//! one script: the account is written only if the nickname has none, and
//! only then announced.

use std::sync::{Arc, LazyLock};

use futures_util::future::BoxFuture;
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::{Cluster, keys};
use crate::accounts::{AccountChange, Replica, Snapshot};
use crate::store::{StoredAccount, StoredCert};

/// Registers an account unless the nickname has one, and announces it.
///
/// KEYS: the accounts hash. ARGV: the folded nickname, the account as
/// JSON, the channel, the announcement. Returns 1 if registered.
static REGISTER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
",
    )
});

/// A change as published: who made it, and what.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Announcement {
    /// The node that made it.
    pub origin: String,
    /// The change.
    pub change: AccountChange,
}

/// A ban's field in the bans hash.
fn ban_field(kind: &str, value: &str) -> String {
    format!("{kind} {value}")
}

impl Cluster {
    /// The announcement of `change` by this node, as published.
    fn announce(&self, change: AccountChange) -> String {
        serde_json::to_string(&Announcement {
            origin: self.node.clone(),
            change,
        })
        .unwrap_or_default()
    }

    /// The cluster's whole registry, and whether Redis still has it (an
    /// accounts hash that is gone means Redis lost its data: then nobody's
    /// deletions can be trusted from it).
    pub(super) async fn registry(&self) -> redis::RedisResult<(Snapshot, bool)> {
        let mut pipe = redis::pipe();
        pipe.hvals(keys::ACCOUNTS)
            .hvals(keys::CERTS)
            .hvals(keys::BANS)
            .exists(keys::ACCOUNTS);
        let (accounts, certs, bans, kept): (Vec<String>, Vec<String>, Vec<String>, bool) =
            pipe.query_async(&mut self.redis.clone()).await?;
        let snapshot = Snapshot {
            accounts: read(&accounts),
            certs: read(&certs),
            bans: read(&bans),
        };
        Ok((snapshot, kept))
    }

    /// Adds what `here` holds and Redis does not (a node's registry from
    /// before it joined, or from before Redis lost its data).
    pub(super) async fn upload(&self, here: &Snapshot) -> redis::RedisResult<()> {
        if here.accounts.is_empty() && here.certs.is_empty() && here.bans.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for account in &here.accounts {
            pipe.hset_nx(keys::ACCOUNTS, &account.key, json(account))
                .ignore();
        }
        for cert in &here.certs {
            pipe.hset_nx(keys::CERTS, &cert.fingerprint, json(cert))
                .ignore();
        }
        for ban in &here.bans {
            pipe.hset_nx(keys::BANS, ban_field(&ban.kind, &ban.value), json(ban))
                .ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await
    }
}

/// The entries of a hash that read as `T` (others are skipped).
fn read<T: serde::de::DeserializeOwned>(entries: &[String]) -> Vec<T> {
    entries
        .iter()
        .filter_map(|json| serde_json::from_str(json).ok())
        .collect()
}

/// An entry as the hashes keep it.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Replica for Cluster {
    fn claim<'a>(&'a self, account: &'a StoredAccount) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let announcement = self.announce(AccountChange::Registered(account.clone()));
            let registered: redis::RedisResult<u64> = REGISTER
                .key(keys::ACCOUNTS)
                .arg(&account.key)
                .arg(json(account))
                .arg(keys::ACCOUNTS_CHANNEL)
                .arg(announcement)
                .invoke_async(&mut self.redis.clone())
                .await;
            registered.map(|n| n == 1).map_err(|e| e.to_string())
        })
    }

    fn changed(&self, change: AccountChange) {
        let mut pipe = redis::pipe();
        match &change {
            AccountChange::Registered(account) => {
                pipe.hset(keys::ACCOUNTS, &account.key, json(account));
            }
            AccountChange::Unregistered { key } => {
                pipe.hdel(keys::ACCOUNTS, key);
                // Its certificates go with it.
            }
            AccountChange::CertAdded(cert) => {
                pipe.hset(keys::CERTS, &cert.fingerprint, json(cert));
            }
            AccountChange::CertRemoved { fingerprint, .. } => {
                pipe.hdel(keys::CERTS, fingerprint);
            }
            AccountChange::Banned(ban) => {
                pipe.hset(keys::BANS, ban_field(&ban.kind, &ban.value), json(ban));
            }
            AccountChange::Unbanned { kind, value } => {
                pipe.hdel(keys::BANS, ban_field(kind, value));
            }
        }
        pipe.ignore();
        if let AccountChange::Unregistered { key } = &change {
            // The certificates an account listed are gone with it.
            let key = key.clone();
            let redis = self.redis.clone();
            tokio::spawn(drop_certs_of(redis, key));
        }
        pipe.publish(keys::ACCOUNTS_CHANNEL, self.announce(change))
            .ignore();
        let mut redis = self.redis.clone();
        tokio::spawn(async move {
            if let Err(e) = pipe.query_async::<()>(&mut redis).await {
                // Nodes that missed it take it when they next read the
                // registry whole; this one keeps it meanwhile.
                warn!(error = %e, "cluster: cannot share an account change");
            }
        });
    }
}

/// Deletes the certificates `account` listed from Redis.
async fn drop_certs_of(mut redis: redis::aio::ConnectionManager, account: String) {
    let certs: redis::RedisResult<Vec<String>> = redis.hvals(keys::CERTS).await;
    let Ok(certs) = certs else { return };
    for cert in certs
        .iter()
        .filter_map(|json| serde_json::from_str::<StoredCert>(json).ok())
        .filter(|cert| cert.account == account)
    {
        let _: redis::RedisResult<u64> = redis.hdel(keys::CERTS, &cert.fingerprint).await;
    }
}

/// Registers this node's cluster as where its registry's changes go.
pub(super) fn share_accounts(cluster: &Arc<Cluster>, accounts: &crate::accounts::Accounts) {
    accounts.replicate_to(cluster.clone());
}
