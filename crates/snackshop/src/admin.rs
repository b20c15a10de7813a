//! `snackshop restock` and `snackshop topup`: the shopkeeper adds stock or money without editing
//! the database by hand, and each change is recorded in the books like a sale.
//!
//! Both work on the database file directly, also while the server runs: the change is one
//! SQLite transaction (WAL, `synchronous=FULL`), taken in turn with the server's own (each side
//! waits up to 10 s for the other), and the server reads stock and balances from the database
//! for every purchase, so the next customer sees it. A database file is never created here.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use thiserror::Error;

use crate::catalog::MAX_STOCK;
use crate::money::Money;
use crate::order::normalize;
use crate::replies::Lang;
use crate::store::{StoreError, now_ms};

/// Why a restock or a top-up was not made. Nothing was changed.
#[derive(Debug, Error)]
pub enum AdminError {
    /// There is no database at the path.
    #[error("no shop database at {0} (start `snackshop serve --db {0}` first, or pass --db)")]
    NoDatabase(String),
    /// No good by that name or number.
    #[error("no good {0:?} in the shop (goods: {1})")]
    UnknownGood(String, String),
    /// No customer by that name or number.
    #[error(
        "no customer {0:?} (a name, or #id as the report shows it; a name exists once the \
         customer has given it in the shop)"
    )]
    UnknownCustomer(String),
    /// The quantity or amount is out of range.
    #[error("{0}")]
    OutOfRange(String),
    /// The database could not be opened, read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for AdminError {
    fn from(e: rusqlite::Error) -> AdminError {
        AdminError::Store(StoreError::from(e))
    }
}

/// A restock that was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restocked {
    /// The good's Chinese name.
    pub zh: String,
    /// The good's English name.
    pub en: String,
    /// Units added.
    pub qty: u32,
    /// Units in stock now.
    pub stock: u32,
}

/// A top-up that was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToppedUp {
    /// The customer's name, or `#id` for an anonymous customer.
    pub customer: String,
    /// Money added.
    pub amount: Money,
    /// The customer's balance now.
    pub balance: Money,
}

fn open(path: &Path) -> Result<Connection, AdminError> {
    if !path.is_file() {
        return Err(AdminError::NoDatabase(path.display().to_string()));
    }
    // Read-write, but never create: a typo in --db must not start empty books.
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    crate::store::configure(&conn, &crate::store::DbLocation::File(path.to_path_buf()))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    crate::store::migrate(&mut conn)?;
    Ok(conn)
}

/// Adds `qty` units of `good` (its Chinese or English name, or its menu number) to the stock.
pub fn restock(path: &Path, good: &str, qty: u32) -> Result<Restocked, AdminError> {
    if qty == 0 || qty > MAX_STOCK {
        return Err(AdminError::OutOfRange(format!(
            "the quantity must be 1 to {MAX_STOCK}"
        )));
    }
    let mut conn = open(path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let goods: Vec<(i64, String, String, u32, Option<i64>)> = tx
        .prepare(
            "SELECT id, zh, en, stock, position FROM goods ORDER BY position IS NULL, position, id",
        )?
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let wanted = normalize(good);
    let by_number = wanted
        .parse::<i64>()
        .ok()
        .and_then(|n| goods.iter().find(|g| g.4 == Some(n - 1)));
    let found = by_number.or_else(|| {
        goods
            .iter()
            .find(|g| normalize(&g.1) == wanted || normalize(&g.2) == wanted)
    });
    let Some((id, zh, en, stock, _)) = found.cloned() else {
        let names: Vec<&str> = goods.iter().map(|g| g.1.as_str()).collect();
        return Err(AdminError::UnknownGood(good.to_string(), names.join(", ")));
    };
    let after = stock
        .checked_add(qty)
        .filter(|after| *after <= MAX_STOCK)
        .ok_or_else(|| {
            AdminError::OutOfRange(format!(
                "{zh} has {stock}; with {qty} more it would be over the most a good can have \
                 ({MAX_STOCK})"
            ))
        })?;
    tx.execute(
        "UPDATE goods SET stock = ?1 WHERE id = ?2",
        params![after, id],
    )?;
    tx.execute(
        "INSERT INTO restocks (at_ms, good_id, qty, stock_after) VALUES (?1, ?2, ?3, ?4)",
        params![now_ms(), id, qty, after],
    )?;
    tx.commit()?;
    Ok(Restocked {
        zh,
        en,
        qty,
        stock: after,
    })
}

/// Adds `amount` to the balance of `customer`: a name, or `#id` (also a bare id when no
/// customer has that name) for an anonymous customer, as the report lists them.
pub fn topup(path: &Path, customer: &str, amount: Money) -> Result<ToppedUp, AdminError> {
    if amount == Money::ZERO || amount > Money::MAX {
        return Err(AdminError::OutOfRange(format!(
            "the amount must be above 0 and at most {}",
            Money::MAX
        )));
    }
    let mut conn = open(path)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let lookup = |sql: &str, key: &dyn rusqlite::ToSql| {
        tx.query_row(sql, [key], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()
    };
    let by_id = "SELECT id, name, balance_cents FROM customers WHERE id = ?1";
    let found = match customer.strip_prefix('#').map(str::parse::<i64>) {
        Some(Ok(id)) => lookup(by_id, &id)?,
        Some(Err(_)) => None,
        None => match lookup(
            "SELECT id, name, balance_cents FROM customers WHERE name = ?1",
            &customer,
        )? {
            Some(row) => Some(row),
            None => match customer.parse::<i64>() {
                Ok(id) => lookup(by_id, &id)?,
                Err(_) => None,
            },
        },
    };
    let (id, name, cents) = found.ok_or_else(|| AdminError::UnknownCustomer(customer.into()))?;
    let balance = Money::from_sql(cents)
        .ok_or_else(|| StoreError::Invalid(format!("customer {id}: bad balance")))?;
    let after = balance
        .checked_add(amount)
        .filter(|after| *after <= Money::MAX)
        .ok_or_else(|| {
            AdminError::OutOfRange(format!(
                "the balance would be over the most allowed ({})",
                Money::MAX
            ))
        })?;
    tx.execute(
        "UPDATE customers SET balance_cents = ?1 WHERE id = ?2",
        params![after.to_sql(), id],
    )?;
    tx.execute(
        "INSERT INTO topups (at_ms, customer_id, amount_cents, balance_after_cents)
         VALUES (?1, ?2, ?3, ?4)",
        params![now_ms(), id, amount.to_sql(), after.to_sql()],
    )?;
    tx.commit()?;
    Ok(ToppedUp {
        customer: name.unwrap_or_else(|| format!("#{id}")),
        amount,
        balance: after,
    })
}

impl Restocked {
    /// What `snackshop restock` prints.
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!("{} 补货 {} 件,现在库存 {}。", self.zh, self.qty, self.stock),
            Lang::En => format!(
                "Restocked {}: +{}, {} in stock now.",
                self.en, self.qty, self.stock
            ),
        }
    }
}

impl ToppedUp {
    /// What `snackshop topup` prints.
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "顾客 {} 充值 {},现在余额 {}。",
                self.customer, self.amount, self.balance
            ),
            Lang::En => format!(
                "Topped up {}: +{}, balance {} now.",
                self.customer, self.amount, self.balance
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::store::{Buyer, DbLocation, Outcome, Purchase, Store};

    /// A shop database with the built-in goods, one named customer (alice, 100) and one
    /// anonymous customer who bought a watermelon (#2, 98).
    fn books(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("shop.db");
        let store =
            Store::open(&DbLocation::File(path.clone()), &Catalog::builtin()).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let h = store.handle();
        let start = Money::from_cents(10_000);
        rt.block_on(h.account("alice", start)).expect("alice");
        let bought = rt.block_on(h.purchase(Purchase {
            buyer: Buyer::New { start },
            good: store.menu()[1].id,
            qty: 1,
        }));
        assert!(matches!(bought, Ok(Outcome::Bought { customer: 2, .. })));
        drop(h);
        store.close();
        path
    }

    #[test]
    fn restock_by_either_name_or_number_is_recorded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = books(dir.path());
        let r = restock(&path, "西瓜", 10).expect("restock");
        assert_eq!((r.zh.as_str(), r.qty, r.stock), ("西瓜", 10, 39));
        assert_eq!(r.render(Lang::Zh), "西瓜 补货 10 件,现在库存 39。");
        assert_eq!(
            restock(&path, "Mineral Water", 5).expect("by name").stock,
            55
        );
        assert_eq!(restock(&path, "1", 1).expect("by number").zh, "瓜子");
        let report = crate::report::load(&path, 5).expect("report");
        assert_eq!(report.restocks, 3);
        assert_eq!(
            report.goods.iter().map(|g| g.restocked).collect::<Vec<_>>(),
            [1, 10, 5]
        );
    }

    #[test]
    fn topup_by_name_or_id_is_recorded_and_the_books_still_add_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = books(dir.path());
        let t = topup(&path, "alice", Money::from_cents(5_050)).expect("topup");
        assert_eq!(t.balance, Money::from_cents(15_050));
        assert_eq!(
            t.render(Lang::En),
            "Topped up alice: +50.5, balance 150.5 now."
        );
        let t = topup(&path, "#2", Money::from_cents(200)).expect("by id");
        assert_eq!(
            (t.customer.as_str(), t.balance),
            ("#2", Money::from_cents(10_000))
        );
        assert_eq!(
            topup(&path, "2", Money::from_cents(1))
                .expect("bare id")
                .customer,
            "#2"
        );
        let report = crate::report::load(&path, 5).expect("report");
        assert_eq!(
            (report.topups, report.topped_up),
            (3, Money::from_cents(5_251))
        );
        assert!(report.mismatched.is_empty(), "{:?}", report.mismatched);
    }

    #[test]
    fn mistakes_change_nothing_and_say_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = books(dir.path());
        let err = restock(&path, "红牛", 1).expect_err("no such good");
        assert!(err.to_string().contains("瓜子, 西瓜, 矿泉水"), "{err}");
        assert!(matches!(
            restock(&path, "西瓜", 0),
            Err(AdminError::OutOfRange(_))
        ));
        assert!(matches!(
            restock(&path, "西瓜", MAX_STOCK),
            Err(AdminError::OutOfRange(_))
        ));
        assert!(matches!(
            topup(&path, "bob", Money::from_cents(1)),
            Err(AdminError::UnknownCustomer(_))
        ));
        assert!(matches!(
            topup(&path, "#x", Money::from_cents(1)),
            Err(AdminError::UnknownCustomer(_))
        ));
        assert!(matches!(
            topup(&path, "alice", Money::ZERO),
            Err(AdminError::OutOfRange(_))
        ));
        let report = crate::report::load(&path, 5).expect("report");
        assert_eq!((report.restocks, report.topups), (0, 0));
        assert_eq!(report.goods[1].stock, 29);

        let missing = dir.path().join("typo.db");
        assert!(matches!(
            restock(&missing, "西瓜", 1),
            Err(AdminError::NoDatabase(_))
        ));
        assert!(!missing.exists(), "no database is created");
    }
}
