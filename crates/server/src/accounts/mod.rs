//! Accounts (registered nicknames with passwords), operators and bans.
//!
//! Accounts are optional: a nickname nobody registered is free for whoever
//! is online with it first; a registered one can only be used with its
//! password (or, with `require_account`, every login needs an account).
//! Passwords are hashed with argon2id on a small pool of threads of their
//! own ([`hashing`]), never on the async workers, and never logged; how
//! many checks an address and an account get is limited ([`attempts`]), and
//! so is how many accounts an address may register an hour. Operators are
//! accounts named in the configuration. Bans (on a nickname or an IP
//! address) are stored and apply at once. An account may also list a few
//! TLS client certificates ([`certs`]) that log into it without a
//! password.

mod attempts;
mod certs;
mod hashing;
mod replica;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use chatroom_proto::json::Secret;
use chatroom_proto::nick;
use parking_lot::Mutex;
use thiserror::Error;

use crate::certfp::Fingerprint;
use crate::clock::now_ms;
use crate::limits::HourlyQuota;
use crate::store::{Store, StoredAccount, StoredBan, StoredCert};
use attempts::Attempts;
pub use hashing::{Hashing, HashingError, hash_password};
pub use replica::{AccountChange, Replica, Snapshot};

/// Wrong passwords one connection may give before it is closed (every
/// address and account is slowed down too: see [`attempts`]).
pub const WRONG_PASSWORDS_PER_CONNECTION: u8 = 3;

/// Shortest password accepted for a new account, unless the configuration
/// says otherwise (`min_password_chars`).
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
    #[error("a password has {0} to {MAX_PASSWORD_BYTES} characters")]
    BadPassword(usize),
    /// The nickname breaks the nickname rules.
    #[error(transparent)]
    InvalidNickname(#[from] chatroom_proto::nick::NickError),
    /// The nickname looks like another registered one.
    #[error("the nickname {0:?} looks too much like a registered one")]
    LooksLike(String),
    /// Someone else is online with the nickname.
    #[error("the nickname {0:?} is in use by someone else")]
    InUse(String),
    /// The nickname is banned.
    #[error("the nickname {0:?} is banned: {1}")]
    Banned(String, String),
    /// Too many password checks lately from this address or for this
    /// account.
    #[error("too many password attempts; try again in {} s", .0.as_secs().max(1))]
    TooManyAttempts(Duration),
    /// Every password hashing thread is busy and the queue is full.
    #[error("the server is busy checking passwords; try again in a moment")]
    Busy,
    /// This address registered as many accounts as allowed in an hour.
    #[error("too many accounts registered from your address; try again later")]
    QuotaExceeded,
    /// The session is not logged into an account (certificates belong to
    /// accounts), or the account is gone.
    #[error("you are not logged into an account: certificates belong to accounts")]
    NoAccount,
    /// No certificate was named and the connection presented none.
    #[error("this connection presented no TLS client certificate: name a fingerprint")]
    NoCertificate,
    /// No account lists the certificate (or not the one named).
    #[error("no account lists the certificate {0}")]
    UnknownCertificate(Fingerprint),
    /// Another account lists the certificate already.
    #[error("the certificate {0} belongs to another account")]
    CertificateTaken(Fingerprint),
    /// The account lists as many certificates as allowed.
    #[error(
        "an account lists at most {} certificates: remove one first",
        crate::store::MAX_CERTS_PER_ACCOUNT
    )]
    TooManyCertificates,
    /// Hashing or storing failed.
    #[error("the account could not be stored: {0}")]
    Internal(String),
}

impl From<HashingError> for AccountError {
    fn from(e: HashingError) -> Self {
        match e {
            HashingError::Busy => AccountError::Busy,
            e => AccountError::Internal(e.to_string()),
        }
    }
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

/// The registered nicknames: by folded nickname, and by look-alike
/// skeleton (`nick::skeleton`), so that nobody registers a name that looks
/// like someone else's.
#[derive(Default)]
struct Registry {
    /// Folded nickname to password hash.
    hashes: HashMap<String, String>,
    /// Folded nickname to the nickname as registered (how the account is
    /// shown: `Alice`, not `alice`).
    names: HashMap<String, String>,
    /// Skeleton to the nicknames (as registered) that have it.
    skeletons: HashMap<String, Vec<String>>,
    /// Client certificate fingerprint to the account (folded nickname)
    /// that lists it.
    certs: HashMap<Fingerprint, String>,
}

impl Registry {
    fn insert(&mut self, nickname: &str, key: String, hash: String) {
        self.skeletons
            .entry(nick::skeleton(nickname))
            .or_default()
            .push(nickname.to_owned());
        self.names.insert(key.clone(), nickname.to_owned());
        self.hashes.insert(key, hash);
    }

    /// Forgets an account and its certificates: its password hash and
    /// certificates, for putting it back if storing the removal fails.
    fn remove(&mut self, key: &str) -> Option<(String, Vec<Fingerprint>)> {
        for names in self.skeletons.values_mut() {
            names.retain(|name| nick::fold(name) != key);
        }
        self.skeletons.retain(|_, names| !names.is_empty());
        let certs = self.certs_of(key);
        for cert in &certs {
            self.certs.remove(cert);
        }
        self.names.remove(key);
        Some((self.hashes.remove(key)?, certs))
    }

    /// The certificates the account `key` lists, in fingerprint order.
    fn certs_of(&self, key: &str) -> Vec<Fingerprint> {
        let mut certs: Vec<Fingerprint> = self
            .certs
            .iter()
            .filter(|(_, account)| *account == key)
            .map(|(cert, _)| cert.clone())
            .collect();
        certs.sort();
        certs
    }

    /// The registered nickname `nickname` looks like (see
    /// `nick::looks_alike`), if any.
    fn lookalike(&self, nickname: &str) -> Option<&String> {
        self.skeletons
            .get(&nick::skeleton(nickname))
            .into_iter()
            .flatten()
            .find(|name| nick::looks_alike(nickname, name))
    }
}

/// The accounts, operators and bans of one server.
pub struct Accounts {
    registry: Mutex<Registry>,
    operators: HashSet<String>,
    /// Operator name to password hash.
    opers: HashMap<String, String>,
    require_account: bool,
    /// Shortest password a new account may have.
    min_password_chars: usize,
    /// Nickname bans by folded nickname, with the nickname's look-alike
    /// skeleton, so that `Ьоb` is as banned as `bob`.
    nick_bans: Mutex<HashMap<String, (String, Ban)>>,
    ip_bans: Mutex<HashMap<IpAddr, Ban>>,
    store: Store,
    hashing: Hashing,
    attempts: Attempts,
    registrations: HourlyQuota,
    /// The cluster this node's registry is shared with, if any.
    replica: std::sync::OnceLock<std::sync::Arc<dyn Replica>>,
}

/// A server operator's name and password hash, from the configuration:
/// `OPER name password` (IRC) or the `oper` request (JSON) makes whoever
/// gives them an operator.
#[derive(Clone, PartialEq, Eq)]
pub struct OperCredentials {
    /// The operator's name (not a nickname: any text without spaces).
    pub name: String,
    /// The argon2 PHC string of the password (`chatroom passwd` makes one).
    pub hash: String,
}

impl std::fmt::Debug for OperCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperCredentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// How accounts are protected, from the configuration.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Accounts (nicknames) that are operators.
    pub operators: Vec<String>,
    /// Operators by credentials.
    pub opers: Vec<OperCredentials>,
    /// Whether every login needs an account.
    pub require_account: bool,
    /// Shortest password a new account may have.
    pub min_password_chars: usize,
    /// Accounts one address may register an hour (0: no limit).
    pub registrations_per_hour: u32,
    /// Passwords hashed or checked at once.
    pub hashing_threads: usize,
    /// Password checks that may wait for a hashing thread; more are refused
    /// as [`AccountError::Busy`].
    pub hashing_queue: usize,
}

impl Accounts {
    /// The accounts and bans loaded from the store, with the operator
    /// account names from the configuration.
    pub fn new(
        store: Store,
        accounts: &[StoredAccount],
        bans: &[StoredBan],
        certs: &[StoredCert],
        settings: &AccountSettings,
    ) -> std::io::Result<Self> {
        let mut nick_bans = HashMap::new();
        let mut ip_bans = HashMap::new();
        for ban in bans {
            let info = Ban {
                reason: ban.reason.clone(),
                by: ban.by.clone(),
            };
            match ban.kind.as_str() {
                "nick" => {
                    nick_bans.insert(ban.value.clone(), (nick::skeleton(&ban.value), info));
                }
                "ip" => {
                    if let Ok(ip) = ban.value.parse() {
                        ip_bans.insert(ip, info);
                    }
                }
                other => tracing::warn!(kind = other, "unknown ban kind in the database"),
            }
        }
        let mut registry = Registry::default();
        for account in accounts {
            registry.insert(&account.nick, account.key.clone(), account.hash.clone());
        }
        for cert in certs {
            match Fingerprint::parse(&cert.fingerprint) {
                Ok(fingerprint) => {
                    registry.certs.insert(fingerprint, cert.account.clone());
                }
                Err(_) => tracing::warn!(
                    account = cert.account,
                    "unreadable certificate fingerprint in the database"
                ),
            }
        }
        Ok(Accounts {
            registry: Mutex::new(registry),
            operators: settings.operators.iter().map(|o| nick::fold(o)).collect(),
            opers: settings
                .opers
                .iter()
                .map(|o| (o.name.clone(), o.hash.clone()))
                .collect(),
            require_account: settings.require_account,
            min_password_chars: settings.min_password_chars,
            nick_bans: Mutex::new(nick_bans),
            ip_bans: Mutex::new(ip_bans),
            store,
            hashing: Hashing::new(settings.hashing_threads, settings.hashing_queue)?,
            attempts: Attempts::default(),
            registrations: HourlyQuota::new(settings.registrations_per_hour),
            replica: std::sync::OnceLock::new(),
        })
    }

    /// Whether the nickname has an account.
    pub fn is_registered(&self, nick: &str) -> bool {
        self.registry.lock().hashes.contains_key(&nick::fold(nick))
    }

    /// How the account `key` (a folded nickname) is shown: its nickname as
    /// registered, or the key itself if it has none any more.
    pub fn shown_name(&self, key: &str) -> std::sync::Arc<str> {
        match self.registry.lock().names.get(key) {
            Some(name) => name.as_str().into(),
            None => key.into(),
        }
    }

    /// The registered nickname that `nickname` looks like without being
    /// it, if any: nobody else may take such a name.
    pub fn lookalike(&self, nickname: &str) -> Option<String> {
        self.registry.lock().lookalike(nickname).cloned()
    }

    /// Checks a login from `from`: who the user is allowed to be with this
    /// nickname and password.
    pub async fn check(
        &self,
        nickname: &str,
        password: Option<&Secret>,
        from: IpAddr,
    ) -> Result<Identity, AccountError> {
        if let Some(ban) = self.nick_ban(nickname) {
            return Err(AccountError::Banned(nickname.to_owned(), ban.reason));
        }
        let key = nick::fold(nickname);
        let hash = self.registry.lock().hashes.get(&key).cloned();
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
        self.attempts
            .begin(from, &key, Instant::now())
            .map_err(AccountError::TooManyAttempts)?;
        let verified = match self
            .hashing
            .verify(password.expose().to_owned(), hash)
            .await
        {
            Ok(verified) => verified,
            Err(e) => {
                self.attempts.cancel(from, &key);
                return Err(e.into());
            }
        };
        if !verified {
            tracing::info!(nick = nickname, %from, "wrong password");
            return Err(AccountError::WrongPassword(nickname.to_owned()));
        }
        self.attempts.succeeded(from, &key);
        Ok(Identity {
            operator: self.operators.contains(&key),
            account: Some(key),
        })
    }

    /// Registers `nickname` with `password`, durably, for someone at `from`.
    pub async fn register(
        &self,
        nickname: &str,
        password: &Secret,
        from: IpAddr,
    ) -> Result<Identity, AccountError> {
        let password = password.expose();
        let min = self.min_password_chars;
        if password.chars().count() < min || password.len() > MAX_PASSWORD_BYTES {
            return Err(AccountError::BadPassword(min));
        }
        let nickname = &nick::normalize(nickname)?;
        if let Some(ban) = self.nick_ban(nickname) {
            return Err(AccountError::Banned(nickname.to_owned(), ban.reason));
        }
        let key = nick::fold(nickname);
        self.free_to_register(nickname, &key)?;
        if !self.registrations.take(from, Instant::now()) {
            return Err(AccountError::QuotaExceeded);
        }
        let hash = self.hashing.hash(password.to_owned()).await?;
        // Two registrations may race through the hashing; the first wins.
        self.free_to_register(nickname, &key)?;
        let stored = StoredAccount {
            key: key.clone(),
            nick: nickname.to_owned(),
            hash: hash.clone(),
            created: now_ms(),
        };
        // In a cluster, the first node to claim it has it.
        if let Some(replica) = self.replica.get() {
            match replica.claim(&stored).await {
                Ok(true) => {}
                Ok(false) => return Err(AccountError::AlreadyRegistered(nickname.to_owned())),
                Err(e) => {
                    return Err(AccountError::Internal(format!(
                        "the cluster is unreachable ({e})"
                    )));
                }
            }
            self.free_to_register(nickname, &key)?;
        }
        self.registry.lock().insert(nickname, key.clone(), hash);
        if let Err(e) = self.store.account(stored).await {
            self.registry.lock().remove(&key);
            return Err(AccountError::Internal(e.to_string()));
        }
        tracing::info!(nick = nickname, "account registered");
        Ok(Identity {
            operator: self.operators.contains(&key),
            account: Some(key),
        })
    }

    /// Refuses a registration of `nickname` (folded: `key`) that is taken
    /// or looks like a registered name.
    fn free_to_register(&self, nickname: &str, key: &str) -> Result<(), AccountError> {
        let registry = self.registry.lock();
        if registry.hashes.contains_key(key) {
            return Err(AccountError::AlreadyRegistered(nickname.to_owned()));
        }
        if registry.lookalike(nickname).is_some() {
            return Err(AccountError::LooksLike(nickname.to_owned()));
        }
        Ok(())
    }

    /// Checks an operator's credentials from `from` (counted like any
    /// password check). An unknown name reads as a wrong password, so that
    /// names cannot be probed for.
    pub async fn oper(
        &self,
        name: &str,
        password: &Secret,
        from: IpAddr,
    ) -> Result<(), AccountError> {
        let key = format!("oper {name}");
        self.attempts
            .begin(from, &key, Instant::now())
            .map_err(AccountError::TooManyAttempts)?;
        let Some(hash) = self.opers.get(name).cloned() else {
            tracing::warn!(name, %from, "OPER with an unknown name");
            return Err(AccountError::WrongPassword(name.to_owned()));
        };
        let verified = match self
            .hashing
            .verify(password.expose().to_owned(), hash)
            .await
        {
            Ok(verified) => verified,
            Err(e) => {
                self.attempts.cancel(from, &key);
                return Err(e.into());
            }
        };
        if !verified {
            tracing::warn!(name, %from, "OPER with a wrong password");
            return Err(AccountError::WrongPassword(name.to_owned()));
        }
        self.attempts.succeeded(from, &key);
        tracing::info!(name, %from, "server operator logged in");
        Ok(())
    }

    /// Deletes the account of `nickname`, durably; false if it had none.
    pub async fn unregister(&self, nickname: &str) -> Result<bool, AccountError> {
        let key = nick::fold(nickname);
        let Some((hash, certs)) = self.registry.lock().remove(&key) else {
            return Ok(false);
        };
        if let Err(e) = self.store.delete_account(key.clone()).await {
            let mut registry = self.registry.lock();
            for cert in certs {
                registry.certs.insert(cert, key.clone());
            }
            registry.insert(nickname, key, hash);
            return Err(AccountError::Internal(e.to_string()));
        }
        tracing::info!(nick = nickname, "account deleted");
        self.tell(AccountChange::Unregistered { key });
        Ok(true)
    }

    /// Whether `account` (a folded nickname) makes its owner an operator.
    pub fn is_operator_account(&self, account: &str) -> bool {
        self.operators.contains(account)
    }

    /// The ban on a nickname, if any.
    pub fn nick_ban(&self, nickname: &str) -> Option<Ban> {
        let bans = self.nick_bans.lock();
        if let Some((_, ban)) = bans.get(&nick::fold(nickname)) {
            return Some(ban.clone());
        }
        let skeleton = nick::skeleton(nickname);
        bans.iter()
            .find(|(banned, (their, _))| *their == skeleton && nick::looks_alike(nickname, banned))
            .map(|(_, (_, ban))| ban.clone())
    }

    /// The ban on an address, if any.
    pub fn ip_ban(&self, ip: IpAddr) -> Option<Ban> {
        self.ip_bans.lock().get(&ip).cloned()
    }

    /// Bans a nickname (stored).
    pub fn ban_nick(&self, nickname: &str, ban: Ban) {
        let key = nick::fold(nickname);
        let stored = StoredBan {
            kind: "nick".into(),
            value: key.clone(),
            reason: ban.reason.clone(),
            by: ban.by.clone(),
            at: now_ms(),
        };
        self.store.ban(stored.clone());
        self.tell(AccountChange::Banned(stored));
        self.nick_bans
            .lock()
            .insert(key, (nick::skeleton(nickname), ban));
    }

    /// Bans an address (stored).
    pub fn ban_ip(&self, ip: IpAddr, ban: Ban) {
        let stored = StoredBan {
            kind: "ip".into(),
            value: ip.to_string(),
            reason: ban.reason.clone(),
            by: ban.by.clone(),
            at: now_ms(),
        };
        self.store.ban(stored.clone());
        self.tell(AccountChange::Banned(stored));
        self.ip_bans.lock().insert(ip, ban);
    }

    /// Lifts a nickname ban; false if there was none.
    pub fn unban_nick(&self, nickname: &str) -> bool {
        let key = nick::fold(nickname);
        let had = self.nick_bans.lock().remove(&key).is_some();
        if had {
            self.store.unban("nick", &key);
            self.tell(AccountChange::Unbanned {
                kind: "nick".into(),
                value: key,
            });
        }
        had
    }

    /// Lifts an address ban; false if there was none.
    pub fn unban_ip(&self, ip: IpAddr) -> bool {
        let had = self.ip_bans.lock().remove(&ip).is_some();
        if had {
            self.store.unban("ip", &ip.to_string());
            self.tell(AccountChange::Unbanned {
                kind: "ip".into(),
                value: ip.to_string(),
            });
        }
        had
    }
}
