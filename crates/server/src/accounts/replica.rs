//! Accounts, client certificates and bans shared by the nodes of a
//! cluster.
//!
//! Each node keeps its own registry (in memory and in its database) so
//! that checks stay local and synchronous; the cluster keeps them the same
//! everywhere. A registration is decided by the cluster first (the first
//! node to claim a nickname's account has it); every other change made
//! here is told to the other nodes ([`Replica::changed`]), which take it
//! with [`Accounts::apply`]. A node that (re)connects takes the cluster's
//! whole registry ([`Accounts::take`]).

use std::collections::HashSet;
use std::sync::Arc;

use chatroom_proto::nick;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Accounts, Ban};
use crate::certfp::Fingerprint;
use crate::store::{StoredAccount, StoredBan, StoredCert};

/// One change to the registry, as nodes tell each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountChange {
    /// A nickname was registered.
    Registered(StoredAccount),
    /// An account was deleted (`key`: its folded nickname).
    Unregistered {
        /// The account.
        key: String,
    },
    /// An account listed a client certificate.
    CertAdded(StoredCert),
    /// An account stopped listing a client certificate.
    CertRemoved {
        /// The account.
        account: String,
        /// The fingerprint.
        fingerprint: String,
    },
    /// A nickname or an address was banned.
    Banned(StoredBan),
    /// A ban was lifted.
    Unbanned {
        /// `nick` or `ip`.
        kind: String,
        /// What was banned.
        value: String,
    },
}

/// Where the registry's changes go: the cluster.
pub trait Replica: Send + Sync {
    /// Claims `account` cluster-wide (and tells the other nodes):
    /// `Ok(false)` if another node registered the nickname first.
    fn claim<'a>(&'a self, account: &'a StoredAccount) -> BoxFuture<'a, Result<bool, String>>;
    /// Tells the other nodes about a change made here, without waiting.
    fn changed(&self, change: AccountChange);
}

/// Everything a registry holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The accounts.
    pub accounts: Vec<StoredAccount>,
    /// The client certificates accounts list.
    pub certs: Vec<StoredCert>,
    /// The bans.
    pub bans: Vec<StoredBan>,
}

impl Accounts {
    /// From now on, registrations are claimed from `replica` and changes
    /// made here are told to it.
    pub fn replicate_to(&self, replica: Arc<dyn Replica>) {
        // Set once, before any connection is served.
        let _ = self.replica.set(replica);
    }

    /// Tells the cluster, if there is one, about a change made here.
    pub(super) fn tell(&self, change: AccountChange) {
        if let Some(replica) = self.replica.get() {
            replica.changed(change);
        }
    }

    /// Everything this node's registry holds (times it does not keep read
    /// as 0).
    pub fn snapshot(&self) -> Snapshot {
        let registry = self.registry.lock();
        let accounts = registry
            .hashes
            .iter()
            .map(|(key, hash)| StoredAccount {
                key: key.clone(),
                nick: registry
                    .names
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| key.clone()),
                hash: hash.clone(),
                created: 0,
            })
            .collect();
        let certs = registry
            .certs
            .iter()
            .map(|(fingerprint, account)| StoredCert {
                fingerprint: fingerprint.to_string(),
                account: account.clone(),
                added: 0,
            })
            .collect();
        drop(registry);
        let ban = |kind: &str, value: String, ban: &Ban| StoredBan {
            kind: kind.to_owned(),
            value,
            reason: ban.reason.clone(),
            by: ban.by.clone(),
            at: 0,
        };
        let mut bans: Vec<StoredBan> = self
            .nick_bans
            .lock()
            .iter()
            .map(|(key, (_, b))| ban("nick", key.clone(), b))
            .collect();
        bans.extend(
            self.ip_bans
                .lock()
                .iter()
                .map(|(ip, b)| ban("ip", ip.to_string(), b)),
        );
        Snapshot {
            accounts,
            certs,
            bans,
        }
    }

    /// Takes a change another node made: in memory now, in the database
    /// in the background.
    pub fn apply(&self, change: AccountChange) {
        let store = self.store.clone();
        match change {
            AccountChange::Registered(account) => {
                {
                    let mut registry = self.registry.lock();
                    if registry.hashes.get(&account.key) == Some(&account.hash) {
                        return;
                    }
                    registry.remove(&account.key);
                    registry.insert(&account.nick, account.key.clone(), account.hash.clone());
                }
                tokio::spawn(async move { store.account(account).await });
            }
            AccountChange::Unregistered { key } => {
                if self.registry.lock().remove(&key).is_some() {
                    tokio::spawn(async move { store.delete_account(key).await });
                }
            }
            AccountChange::CertAdded(cert) => {
                let Ok(fingerprint) = Fingerprint::parse(&cert.fingerprint) else {
                    return;
                };
                let before = self
                    .registry
                    .lock()
                    .certs
                    .insert(fingerprint, cert.account.clone());
                if before.as_ref() != Some(&cert.account) {
                    tokio::spawn(async move { store.add_cert(cert).await });
                }
            }
            AccountChange::CertRemoved {
                account,
                fingerprint,
            } => {
                let Ok(parsed) = Fingerprint::parse(&fingerprint) else {
                    return;
                };
                let mut registry = self.registry.lock();
                if registry.certs.get(&parsed) == Some(&account) {
                    registry.certs.remove(&parsed);
                    drop(registry);
                    tokio::spawn(async move { store.remove_cert(account, fingerprint).await });
                }
            }
            AccountChange::Banned(ban) => self.take_ban(ban),
            AccountChange::Unbanned { kind, value } => {
                let had = match kind.as_str() {
                    "nick" => self.nick_bans.lock().remove(&value).is_some(),
                    _ => value
                        .parse()
                        .is_ok_and(|ip| self.ip_bans.lock().remove(&ip).is_some()),
                };
                if had {
                    store.unban(&kind, &value);
                }
            }
        }
    }

    /// Takes a ban another node made, unless it is here already.
    fn take_ban(&self, ban: StoredBan) {
        let info = Ban {
            reason: ban.reason.clone(),
            by: ban.by.clone(),
        };
        let new = match ban.kind.as_str() {
            "nick" => {
                let skeleton = nick::skeleton(&ban.value);
                self.nick_bans
                    .lock()
                    .insert(ban.value.clone(), (skeleton, info))
                    .is_none()
            }
            _ => match ban.value.parse() {
                Ok(ip) => self.ip_bans.lock().insert(ip, info).is_none(),
                Err(_) => false,
            },
        };
        if new {
            self.store.ban(ban);
        }
    }

    /// Takes the cluster's whole registry: what it holds is added here;
    /// when it is `authoritative` (the cluster kept its data), what this
    /// node holds and the cluster does not was deleted elsewhere meanwhile
    /// and goes too.
    pub fn take(&self, cluster: Snapshot, authoritative: bool) {
        let (accounts, certs, bans): (HashSet<String>, HashSet<String>, HashSet<(String, String)>) = (
            cluster.accounts.iter().map(|a| a.key.clone()).collect(),
            cluster
                .certs
                .iter()
                .map(|c| c.fingerprint.clone())
                .collect(),
            cluster
                .bans
                .iter()
                .map(|b| (b.kind.clone(), b.value.clone()))
                .collect(),
        );
        if authoritative {
            let here = self.snapshot();
            for account in here
                .accounts
                .into_iter()
                .filter(|a| !accounts.contains(&a.key))
            {
                self.apply(AccountChange::Unregistered { key: account.key });
            }
            for cert in here
                .certs
                .into_iter()
                .filter(|c| !certs.contains(&c.fingerprint))
            {
                self.apply(AccountChange::CertRemoved {
                    account: cert.account,
                    fingerprint: cert.fingerprint,
                });
            }
            for ban in here
                .bans
                .into_iter()
                .filter(|b| !bans.contains(&(b.kind.clone(), b.value.clone())))
            {
                self.apply(AccountChange::Unbanned {
                    kind: ban.kind,
                    value: ban.value,
                });
            }
        }
        for account in cluster.accounts {
            self.apply(AccountChange::Registered(account));
        }
        for cert in cluster.certs {
            self.apply(AccountChange::CertAdded(cert));
        }
        for ban in cluster.bans {
            self.take_ban(ban);
        }
    }
}
