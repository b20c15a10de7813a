//! TLS client certificates that log into an account without a password
//! (IRC's `SASL EXTERNAL`, as ergo's `NS CERT`): an account lists up to
//! [`MAX_CERTS_PER_ACCOUNT`] fingerprints, each fingerprint belongs to one
//! account at most. Kept in memory for lookups, like the password hashes,
//! and stored before a change is answered.

use super::{AccountChange, AccountError, Accounts, Identity};
use crate::certfp::Fingerprint;
use crate::clock::now_ms;
use crate::store::{CertAdded, MAX_CERTS_PER_ACCOUNT, StoredCert};

impl Accounts {
    /// Who a connection that presented the certificate `fingerprint` may
    /// be: the account listing it (a banned account's nickname is refused,
    /// as at any login).
    pub fn by_certificate(&self, fingerprint: &Fingerprint) -> Result<Identity, AccountError> {
        let account = self.registry.lock().certs.get(fingerprint).cloned();
        let Some(key) = account else {
            return Err(AccountError::UnknownCertificate(fingerprint.clone()));
        };
        self.certified(key)
    }

    /// Who a connection that presented the certificate `fingerprint` may
    /// be when it logs in as `nickname` without a password (a JSON
    /// `login`): the nickname's account, if that account lists the
    /// certificate. `None` when it does not: the login goes on as one
    /// without a certificate.
    pub fn certificate_login(
        &self,
        nickname: &str,
        fingerprint: &Fingerprint,
    ) -> Option<Result<Identity, AccountError>> {
        let key = chatroom_proto::nick::fold(nickname);
        if self.registry.lock().certs.get(fingerprint) != Some(&key) {
            return None;
        }
        // The identity of the nickname's account, whatever the listing
        // says by now (`Hub::may_use` checks the account again).
        Some(self.certified(key))
    }

    /// Who may log into the account `key` by one of its certificates: its
    /// owner, unless the account's nickname is banned.
    fn certified(&self, key: String) -> Result<Identity, AccountError> {
        if let Some(ban) = self.nick_ban(&key) {
            return Err(AccountError::Banned(key, ban.reason));
        }
        Ok(Identity {
            operator: self.operators.contains(&key),
            account: Some(key),
        })
    }

    /// Adds `fingerprint` to the account `key` (a folded nickname),
    /// durably. Adding one the account lists already changes nothing.
    pub async fn add_certificate(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> Result<(), AccountError> {
        {
            let mut registry = self.registry.lock();
            if !registry.hashes.contains_key(key) {
                return Err(AccountError::NoAccount);
            }
            match registry.certs.get(fingerprint) {
                Some(owner) if owner == key => return Ok(()),
                Some(_) => return Err(AccountError::CertificateTaken(fingerprint.clone())),
                None => {}
            }
            if registry.certs_of(key).len() >= MAX_CERTS_PER_ACCOUNT {
                return Err(AccountError::TooManyCertificates);
            }
            // Held from now on, so that nobody else takes it meanwhile.
            registry.certs.insert(fingerprint.clone(), key.to_owned());
        }
        let stored = StoredCert {
            fingerprint: fingerprint.to_string(),
            account: key.to_owned(),
            added: now_ms(),
        };
        let refused = match self.store.add_cert(stored).await {
            Ok(CertAdded::Added) => None,
            Ok(CertAdded::Taken) => Some(AccountError::CertificateTaken(fingerprint.clone())),
            Ok(CertAdded::Full) => Some(AccountError::TooManyCertificates),
            Ok(CertAdded::NoAccount) => Some(AccountError::NoAccount),
            Err(e) => Some(AccountError::Internal(e.to_string())),
        };
        if let Some(e) = refused {
            let mut registry = self.registry.lock();
            if registry
                .certs
                .get(fingerprint)
                .is_some_and(|owner| owner == key)
            {
                registry.certs.remove(fingerprint);
            }
            return Err(e);
        }
        tracing::info!(account = key, %fingerprint, "client certificate added");
        self.tell(AccountChange::CertAdded(StoredCert {
            fingerprint: fingerprint.to_string(),
            account: key.to_owned(),
            added: now_ms(),
        }));
        Ok(())
    }

    /// Takes `fingerprint` off the account `key`, durably.
    pub async fn remove_certificate(
        &self,
        key: &str,
        fingerprint: &Fingerprint,
    ) -> Result<(), AccountError> {
        {
            let mut registry = self.registry.lock();
            if registry
                .certs
                .get(fingerprint)
                .is_none_or(|owner| owner != key)
            {
                return Err(AccountError::UnknownCertificate(fingerprint.clone()));
            }
            registry.certs.remove(fingerprint);
        }
        let removed = self
            .store
            .remove_cert(key.to_owned(), fingerprint.to_string())
            .await;
        if let Err(e) = removed {
            self.registry
                .lock()
                .certs
                .insert(fingerprint.clone(), key.to_owned());
            return Err(AccountError::Internal(e.to_string()));
        }
        tracing::info!(account = key, %fingerprint, "client certificate removed");
        self.tell(AccountChange::CertRemoved {
            account: key.to_owned(),
            fingerprint: fingerprint.to_string(),
        });
        Ok(())
    }

    /// The certificates the account `key` lists, in fingerprint order.
    pub fn certificates(&self, key: &str) -> Vec<Fingerprint> {
        self.registry.lock().certs_of(key)
    }
}
