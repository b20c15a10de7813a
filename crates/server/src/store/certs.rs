//! Accounts' client certificate fingerprints (schema version 9): a
//! connection presenting one of them may log into its account without a
//! password (IRC's `SASL EXTERNAL`). A fingerprint belongs to one account
//! at most (it is the table's key), and an account lists a few
//! ([`MAX_CERTS_PER_ACCOUNT`]); deleting an account deletes its
//! fingerprints. The rules are the store's as well as `accounts`'s, so
//! that two sessions racing cannot break them.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The most fingerprints one account lists.
pub const MAX_CERTS_PER_ACCOUNT: usize = 5;

/// A fingerprint listed by an account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCert {
    /// The fingerprint: SHA-256, 64 lower-case hex digits.
    pub fingerprint: String,
    /// The account (folded nickname) it logs into.
    pub account: String,
    /// When it was added (ms since the epoch).
    pub added: i64,
}

/// What became of a fingerprint to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertAdded {
    /// Added (or the account listed it already).
    Added,
    /// Another account lists it.
    Taken,
    /// The account lists [`MAX_CERTS_PER_ACCOUNT`] already.
    Full,
    /// The account does not exist (deleted meanwhile).
    NoAccount,
}

/// Adds `cert` to its account, unless that breaks a rule.
pub fn add(conn: &Connection, cert: &StoredCert) -> Result<CertAdded, StoreError> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT account FROM account_certs WHERE fingerprint = ?1")?
        .query_row([&cert.fingerprint], |r| r.get(0))
        .optional()?;
    match owner {
        Some(owner) if owner == cert.account => return Ok(CertAdded::Added),
        Some(_) => return Ok(CertAdded::Taken),
        None => {}
    }
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM accounts WHERE key = ?1)",
        [&cert.account],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(CertAdded::NoAccount);
    }
    if of_account(conn, &cert.account)?.len() >= MAX_CERTS_PER_ACCOUNT {
        return Ok(CertAdded::Full);
    }
    conn.prepare_cached(
        "INSERT INTO account_certs (fingerprint, account, added) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![cert.fingerprint, cert.account, cert.added])?;
    Ok(CertAdded::Added)
}

/// Removes `fingerprint` from `account`; false if the account did not
/// list it.
pub fn remove(conn: &Connection, account: &str, fingerprint: &str) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM account_certs WHERE fingerprint = ?1 AND account = ?2")?
        .execute([fingerprint, account])?;
    Ok(removed > 0)
}

/// The fingerprints `account` lists, oldest first.
pub fn of_account(conn: &Connection, account: &str) -> Result<Vec<StoredCert>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT fingerprint, added FROM account_certs WHERE account = ?1 ORDER BY added, fingerprint",
    )?;
    let rows = stmt.query_map([account], |r| {
        Ok(StoredCert {
            fingerprint: r.get(0)?,
            account: account.to_owned(),
            added: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every listed fingerprint (loaded at startup).
pub fn all(conn: &Connection) -> Result<Vec<StoredCert>, StoreError> {
    let mut stmt = conn.prepare("SELECT fingerprint, account, added FROM account_certs")?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredCert {
            fingerprint: r.get(0)?,
            account: r.get(1)?,
            added: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare(&conn, None, crate::store::DEFAULT_CACHE_MIB).unwrap();
        for account in ["ann", "bob"] {
            conn.execute(
                "INSERT INTO accounts (key, nick, hash, created) VALUES (?1, ?1, 'h', 0)",
                [account],
            )
            .unwrap();
        }
        conn
    }

    fn cert(account: &str, n: u8) -> StoredCert {
        StoredCert {
            fingerprint: format!("{n:02x}").repeat(32),
            account: account.into(),
            added: i64::from(n),
        }
    }

    #[test]
    fn a_fingerprint_belongs_to_one_account() {
        let conn = db();
        assert_eq!(add(&conn, &cert("ann", 1)).unwrap(), CertAdded::Added);
        assert_eq!(
            add(&conn, &cert("ann", 1)).unwrap(),
            CertAdded::Added,
            "again: nothing changes"
        );
        assert_eq!(add(&conn, &cert("bob", 1)).unwrap(), CertAdded::Taken);
        assert_eq!(of_account(&conn, "ann").unwrap(), [cert("ann", 1)]);
        assert_eq!(of_account(&conn, "bob").unwrap(), []);
        assert_eq!(
            add(&conn, &cert("nobody", 2)).unwrap(),
            CertAdded::NoAccount
        );
        assert_eq!(all(&conn).unwrap(), [cert("ann", 1)]);
    }

    #[test]
    fn an_account_lists_a_few_and_can_remove_them() {
        let conn = db();
        for n in 0..5 {
            assert_eq!(add(&conn, &cert("ann", n)).unwrap(), CertAdded::Added);
        }
        assert_eq!(add(&conn, &cert("ann", 9)).unwrap(), CertAdded::Full);
        assert_eq!(
            of_account(&conn, "ann").unwrap().len(),
            MAX_CERTS_PER_ACCOUNT
        );
        let first = cert("ann", 0).fingerprint;
        assert!(
            !remove(&conn, "bob", &first).unwrap(),
            "not bob's to remove"
        );
        assert!(remove(&conn, "ann", &first).unwrap());
        assert!(!remove(&conn, "ann", &first).unwrap(), "gone already");
        assert_eq!(add(&conn, &cert("ann", 9)).unwrap(), CertAdded::Added);
        assert_eq!(
            add(&conn, &cert("bob", 0)).unwrap(),
            CertAdded::Added,
            "free again"
        );
    }
}
