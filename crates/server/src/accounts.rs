//! Accounts (registered nicknames with passwords), operators and bans.
//!
//! Accounts are optional: a nickname nobody registered is free for whoever
//! is online with it first; a registered one can only be used with its
//! password (or, with `require_account`, every login needs an account).
//! Passwords are hashed with argon2id on the blocking thread pool, never on
//! the async workers, and never logged. Operators are accounts named in the
//! configuration. Bans (on a nickname or an IP address) are stored and
//! apply at once.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chatroom_proto::json::Secret;
use chatroom_proto::nick;
use parking_lot::Mutex;
use thiserror::Error;

use crate::clock::now_ms;
use crate::store::{Store, StoredAccount, StoredBan};

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longest password accepted (argon2 takes anything; this bounds the work).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// Why an account operation failed.
#[derive(Debug, Error)]
pub enum AccountError {
    /// The nickname is registered and no password was given (or every login
    /// needs an account).
    #[error("{0}")]
    Required(String),
    /// The password does not match.
    #[error("wrong password for {0:?}")]
    WrongPassword(String),
    /// The nickname already has an account.
    #[error("the nickname {0:?} is already registered")]
    AlreadyRegistered(String),
    /// The password breaks the rules.
    #[error("a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} bytes")]
    BadPassword,
    /// The nickname breaks the nickname rules.
    #[error(transparent)]
    InvalidNickname(#[from] chatroom_proto::nick::NickError),
    /// Someone else is online with the nickname.
    #[error("the nickname {0:?} is in use by someone else")]
    InUse(String),
    /// The nickname is banned.
    #[error("the nickname {0:?} is banned: {1}")]
    Banned(String, String),
    /// Hashing or storing failed.
    #[error("the account could not be stored: {0}")]
    Internal(String),
}

/// What a successful check established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account (folded nickname) logged into, if any.
    pub account: Option<String>,
    /// Whether that account is an operator.
    pub operator: bool,
}

/// A ban's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// Why.
    pub reason: String,
    /// Who banned.
    pub by: String,
}

/// The accounts, operators and bans of one server.
pub struct Accounts {
    /// Folded nickname to password hash.
    hashes: Mutex<HashMap<String, String>>,
    operators: HashSet<String>,
    require_account: bool,
    nick_bans: Mutex<HashMap<String, Ban>>,
    ip_bans: Mutex<HashMap<IpAddr, Ban>>,
    store: Store,
}

impl Accounts {
    /// The accounts and bans loaded from the store, with the operator
    /// account names from the configuration.
    pub fn new(
        store: Store,
        accounts: &[StoredAccount],
        bans: &[StoredBan],
        operators: &[String],
        require_account: bool,
    ) -> Self {
        let mut nick_bans = HashMap::new();
        let mut ip_bans = HashMap::new();
        for ban in bans {
            let info = Ban {
                reason: ban.reason.clone(),
                by: ban.by.clone(),
            };
            match ban.kind.as_str() {
                "nick" => {
                    nick_bans.insert(ban.value.clone(), info);
                }
                "ip" => {
                    if let Ok(ip) = ban.value.parse() {
                        ip_bans.insert(ip, info);
                    }
                }
                other => tracing::warn!(kind = other, "unknown ban kind in the database"),
            }
        }
        Accounts {
            hashes: Mutex::new(
                accounts
                    .iter()
                    .map(|a| (a.key.clone(), a.hash.clone()))
                    .collect(),
            ),
            operators: operators.iter().map(|o| nick::fold(o)).collect(),
            require_account,
            nick_bans: Mutex::new(nick_bans),
            ip_bans: Mutex::new(ip_bans),
            store,
        }
    }

    /// Whether the nickname has an account.
    pub fn is_registered(&self, nick: &str) -> bool {
        self.hashes.lock().contains_key(&nick::fold(nick))
    }

    /// Checks a login: who the user is allowed to be with this nickname and
    /// password.
    pub async fn check(
        &self,
        nickname: &str,
        password: Option<&Secret>,
    ) -> Result<Identity, AccountError> {
        if let Some(ban) = self.nick_ban(nickname) {
            return Err(AccountError::Banned(nickname.to_owned(), ban.reason));
        }
        let key = nick::fold(nickname);
        let hash = self.hashes.lock().get(&key).cloned();
        let Some(hash) = hash else {
            if self.require_account {
                return Err(AccountError::Required(format!(
                    "this server requires an account: register {nickname:?} with a password first"
                )));
            }
            return Ok(Identity {
                account: None,
                operator: false,
            });
        };
        let Some(password) = password else {
            return Err(AccountError::Required(format!(
                "the nickname {nickname:?} is registered: log in with its password"
            )));
        };
        let password = password.expose().to_owned();
        let verified = tokio::task::spawn_blocking(move || verify(&password, &hash))
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        if !verified {
            return Err(AccountError::WrongPassword(nickname.to_owned()));
        }
        Ok(Identity {
            operator: self.operators.contains(&key),
            account: Some(key),
        })
    }

    /// Registers `nickname` with `password`, durably.
    pub async fn register(
        &self,
        nickname: &str,
        password: &Secret,
    ) -> Result<Identity, AccountError> {
        let password = password.expose();
        if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
            return Err(AccountError::BadPassword);
        }
        nick::validate(nickname)?;
        if let Some(ban) = self.nick_ban(nickname) {
            return Err(AccountError::Banned(nickname.to_owned(), ban.reason));
        }
        let key = nick::fold(nickname);
        if self.hashes.lock().contains_key(&key) {
            return Err(AccountError::AlreadyRegistered(nickname.to_owned()));
        }
        let owned = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash(&owned))
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?
            .map_err(AccountError::Internal)?;
        {
            // Two registrations may race through the hashing; the first wins.
            let mut hashes = self.hashes.lock();
            if hashes.contains_key(&key) {
                return Err(AccountError::AlreadyRegistered(nickname.to_owned()));
            }
            hashes.insert(key.clone(), hash.clone());
        }
        let stored = StoredAccount {
            key: key.clone(),
            nick: nickname.to_owned(),
            hash,
            created: now_ms(),
        };
        if let Err(e) = self.store.account(stored).await {
            self.hashes.lock().remove(&key);
            return Err(AccountError::Internal(e.to_string()));
        }
        tracing::info!(nick = nickname, "account registered");
        Ok(Identity {
            operator: self.operators.contains(&key),
            account: Some(key),
        })
    }

    /// The ban on a nickname, if any.
    pub fn nick_ban(&self, nickname: &str) -> Option<Ban> {
        self.nick_bans.lock().get(&nick::fold(nickname)).cloned()
    }

    /// The ban on an address, if any.
    pub fn ip_ban(&self, ip: IpAddr) -> Option<Ban> {
        self.ip_bans.lock().get(&ip).cloned()
    }

    /// Bans a nickname (stored).
    pub fn ban_nick(&self, nickname: &str, ban: Ban) {
        let key = nick::fold(nickname);
        self.store.ban(StoredBan {
            kind: "nick".into(),
            value: key.clone(),
            reason: ban.reason.clone(),
            by: ban.by.clone(),
            at: now_ms(),
        });
        self.nick_bans.lock().insert(key, ban);
    }

    /// Bans an address (stored).
    pub fn ban_ip(&self, ip: IpAddr, ban: Ban) {
        self.store.ban(StoredBan {
            kind: "ip".into(),
            value: ip.to_string(),
            reason: ban.reason.clone(),
            by: ban.by.clone(),
            at: now_ms(),
        });
        self.ip_bans.lock().insert(ip, ban);
    }

    /// Lifts a nickname ban; false if there was none.
    pub fn unban_nick(&self, nickname: &str) -> bool {
        let key = nick::fold(nickname);
        let had = self.nick_bans.lock().remove(&key).is_some();
        if had {
            self.store.unban("nick", &key);
        }
        had
    }

    /// Lifts an address ban; false if there was none.
    pub fn unban_ip(&self, ip: IpAddr) -> bool {
        let had = self.ip_bans.lock().remove(&ip).is_some();
        if had {
            self.store.unban("ip", &ip.to_string());
        }
        had
    }
}

/// An argon2id PHC hash of `password` with a fresh salt.
fn hash(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC `hash`.
fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong horse", &a));
        assert!(!verify("correct horse", "not a hash"));
    }
}
