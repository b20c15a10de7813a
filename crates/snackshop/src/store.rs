//! The shop's books: stock, customer balances and sales, in SQLite, owned by one thread.
//!
//! Every change goes through a single database thread fed by a channel. That thread is the only
//! writer, so a purchase's checks ("is there stock?", "can they pay?") and its updates happen
//! with nothing in between: stock is never oversold and no balance goes negative, whatever the
//! interleaving of customers. Purchases that arrive together are applied in one transaction
//! (group commit) - each inside its own savepoint, so one failure does not undo the others - and
//! a customer is answered only after that transaction has committed (WAL, `synchronous=FULL`).
//! If the commit fails, everyone in the batch is told nothing was bought.
//! `CHECK` constraints in the schema repeat the rules as a second line of defence.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info};

use crate::catalog::Catalog;
use crate::money::Money;

/// The most jobs applied in one transaction.
const MAX_BATCH: usize = 256;
/// How many requests may wait for the database thread before senders wait too.
const QUEUE: usize = 1024;
/// The schema version this code writes (`PRAGMA user_version`). Version 2 added the books of
/// restocks and top-ups; a version 1 file is brought up to date when opened.
pub(crate) const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE goods (
    id          INTEGER PRIMARY KEY,
    zh          TEXT NOT NULL UNIQUE,
    en          TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    position    INTEGER              -- place on the current menu; NULL if no longer listed
);
CREATE TABLE customers (
    id            INTEGER PRIMARY KEY,
    name          TEXT UNIQUE,       -- NULL for an anonymous customer (one connection)
    start_cents   INTEGER NOT NULL CHECK (start_cents >= 0),
    balance_cents INTEGER NOT NULL CHECK (balance_cents >= 0),
    created_ms    INTEGER NOT NULL
);
CREATE TABLE sales (
    id                  INTEGER PRIMARY KEY,
    at_ms               INTEGER NOT NULL,
    customer_id         INTEGER NOT NULL REFERENCES customers(id),
    good_id             INTEGER NOT NULL REFERENCES goods(id),
    qty                 INTEGER NOT NULL CHECK (qty > 0),
    unit_cents          INTEGER NOT NULL CHECK (unit_cents > 0),
    total_cents         INTEGER NOT NULL CHECK (total_cents = unit_cents * qty),
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= 0)
);
CREATE INDEX sales_by_good ON sales(good_id);
CREATE INDEX sales_by_customer ON sales(customer_id);
";

/// Added in version 2: stock and money that came in other than by sales (`snackshop restock`,
/// `snackshop topup`), recorded like sales so the books still add up.
const SCHEMA_V2: &str = "
CREATE TABLE restocks (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    good_id     INTEGER NOT NULL REFERENCES goods(id),
    qty         INTEGER NOT NULL CHECK (qty > 0),
    stock_after INTEGER NOT NULL CHECK (stock_after >= qty)
);
CREATE TABLE topups (
    id                  INTEGER PRIMARY KEY,
    at_ms               INTEGER NOT NULL,
    customer_id         INTEGER NOT NULL REFERENCES customers(id),
    amount_cents        INTEGER NOT NULL CHECK (amount_cents > 0),
    balance_after_cents INTEGER NOT NULL CHECK (balance_after_cents >= amount_cents)
);
CREATE INDEX topups_by_customer ON topups(customer_id);
";

/// Where the books are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file (created if missing), in WAL mode.
    File(PathBuf),
    /// A throwaway in-memory database, gone when the server stops.
    InMemory,
}

/// A good on the current menu, as the database knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Database id.
    pub id: i64,
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
    /// Unit price.
    pub price: Money,
}

/// Who is paying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Buyer {
    /// A customer already in the database.
    Known(i64),
    /// An anonymous customer's first purchase: their account is created with `start` if (and
    /// only if) the purchase goes through.
    New {
        /// The starting balance.
        start: Money,
    },
}

/// One purchase request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purchase {
    /// Who pays.
    pub buyer: Buyer,
    /// The good's database id.
    pub good: i64,
    /// How many.
    pub qty: u32,
}

/// What happened to a purchase. Only `Bought` changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and committed.
    Bought {
        /// The buyer's customer id (new for a first anonymous purchase).
        customer: i64,
        /// What it cost.
        total: Money,
        /// The buyer's balance afterwards.
        balance: Money,
    },
    /// None left.
    SoldOut,
    /// Fewer left than asked for.
    NotEnoughStock {
        /// How many are left.
        left: u32,
    },
    /// The buyer cannot pay.
    NotEnoughMoney {
        /// What it would cost.
        cost: Money,
        /// What the buyer has.
        balance: Money,
    },
}

/// A named customer's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    /// Customer id.
    pub id: i64,
    /// Current balance.
    pub balance: Money,
    /// True if the account was just created.
    pub created: bool,
}

/// What went wrong with the database.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// SQLite reported an error (the message is kept so it can go to many waiting customers).
    #[error("database error: {0}")]
    Database(String),
    /// The database file was written by a newer snackshop, or is not a snackshop database.
    #[error("{0}")]
    Incompatible(String),
    /// A request referred to something that does not exist or broke a rule.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The database thread has stopped.
    #[error("the database thread has stopped")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(e.to_string())
    }
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the database thread.
enum Job {
    Purchase(Purchase, Reply<Outcome>),
    Account(String, Money, Reply<Account>),
    Stock(Reply<Vec<u32>>),
    Balance(i64, Reply<Money>),
}

/// The open books: the database thread and a handle to talk to it.
#[derive(Debug)]
pub struct Store {
    handle: StoreHandle,
    thread: JoinHandle<()>,
    menu: Vec<MenuItem>,
}

/// A cheap, cloneable way to ask the database thread for things.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Job>,
}

impl Store {
    /// Opens (or creates) the books, brings the catalog in and starts the database thread.
    ///
    /// Catalog rule: the catalog decides what is on the menu, the names and the prices; its stock
    /// is used only for goods the database has not seen before. Existing goods keep the stock
    /// recorded in the database, so stock survives restarts.
    ///
    /// Blocking: call it from a blocking context (e.g. `spawn_blocking`).
    pub fn open(location: &DbLocation, catalog: &Catalog) -> Result<Store, StoreError> {
        let mut conn = match location {
            DbLocation::File(path) => Connection::open(path)?,
            DbLocation::InMemory => Connection::open_in_memory()?,
        };
        configure(&conn, location)?;
        migrate(&mut conn)?;
        let menu = stock_from_catalog(&mut conn, catalog)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let ids: Vec<i64> = menu.iter().map(|m| m.id).collect();
        let thread = std::thread::Builder::new()
            .name("snackshop-db".into())
            .spawn(move || run(conn, rx, ids))
            .map_err(|e| StoreError::Database(format!("cannot start database thread: {e}")))?;
        Ok(Store {
            handle: StoreHandle { tx },
            thread,
            menu,
        })
    }

    /// The goods on the menu, in menu order.
    pub fn menu(&self) -> &[MenuItem] {
        &self.menu
    }

    /// A handle for sessions.
    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// Waits for the database thread to finish the queued work and stop. The thread stops once
    /// every handle is dropped, so drop the session handles first. Blocking.
    pub fn close(self) {
        drop(self.handle);
        if self.thread.join().is_err() {
            error!("the database thread panicked");
        }
    }
}

impl StoreHandle {
    async fn ask<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(job(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Buys something. Returns only after the purchase is committed (or refused).
    pub async fn purchase(&self, purchase: Purchase) -> Result<Outcome, StoreError> {
        self.ask(|r| Job::Purchase(purchase, r)).await
    }

    /// The account called `name`, created with balance `start` if it does not exist yet.
    pub async fn account(&self, name: &str, start: Money) -> Result<Account, StoreError> {
        let name = name.to_string();
        self.ask(|r| Job::Account(name, start, r)).await
    }

    /// Current stock of each menu item, in menu order.
    pub async fn stock(&self) -> Result<Vec<u32>, StoreError> {
        self.ask(Job::Stock).await
    }

    /// A customer's current balance.
    pub async fn balance(&self, customer: i64) -> Result<Money, StoreError> {
        self.ask(|r| Job::Balance(customer, r)).await
    }
}

pub(crate) fn configure(conn: &Connection, location: &DbLocation) -> Result<(), StoreError> {
    if let DbLocation::File(_) = location {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Database(format!(
                "could not switch to WAL (got {mode})"
            )));
        }
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

/// Creates the schema in an empty file, or brings an older snackshop database up to date.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    match version {
        0 => {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Err(StoreError::Incompatible(
                    "this SQLite file has tables but is not a snackshop database".into(),
                ));
            }
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        1 => {
            tx.execute_batch(SCHEMA_V2)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            info!("database brought up to schema version {SCHEMA_VERSION}");
        }
        SCHEMA_VERSION => {}
        newer => {
            return Err(StoreError::Incompatible(format!(
                "database schema version {newer} is newer than this snackshop ({SCHEMA_VERSION})"
            )));
        }
    }
    tx.commit()?;
    Ok(())
}

/// Applies the catalog rule (see [`Store::open`]) and returns the menu.
fn stock_from_catalog(
    conn: &mut Connection,
    catalog: &Catalog,
) -> Result<Vec<MenuItem>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute("UPDATE goods SET position = NULL", [])?;
    let mut menu = Vec::with_capacity(catalog.goods().len());
    for (position, good) in catalog.goods().iter().enumerate() {
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let existing: Option<i64> = tx
            .query_row("SELECT id FROM goods WHERE zh = ?1", [&good.zh], |r| {
                r.get(0)
            })
            .optional()?;
        let id = match existing {
            Some(id) => {
                tx.execute(
                    "UPDATE goods SET en = ?1, price_cents = ?2, position = ?3 WHERE id = ?4",
                    params![good.en, good.price.to_sql(), position, id],
                )?;
                id
            }
            None => {
                tx.execute(
                    "INSERT INTO goods (zh, en, price_cents, stock, position)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![good.zh, good.en, good.price.to_sql(), good.stock, position],
                )?;
                info!(good = %good.zh, stock = good.stock, "new good stocked");
                tx.last_insert_rowid()
            }
        };
        menu.push(MenuItem {
            id,
            zh: good.zh.clone(),
            en: good.en.clone(),
            price: good.price,
        });
    }
    tx.commit()?;
    Ok(menu)
}

/// The database thread: answers reads at once and applies writes in batches.
fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, menu_ids: Vec<i64>) {
    let mut writes = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A customer waits for each answer before asking again, so reads in a batch never
        // depend on writes in the same batch: answer them from the committed state first.
        for job in batch {
            match job {
                Job::Stock(reply) => {
                    let _ = reply.send(read_stock(&conn, &menu_ids));
                }
                Job::Balance(id, reply) => {
                    let _ = reply.send(read_balance(&conn, id));
                }
                write => writes.push(write),
            }
        }
        if !writes.is_empty() {
            apply_writes(&mut conn, &mut writes);
        }
    }
    debug!("database thread stopping");
}

fn read_stock(conn: &Connection, ids: &[i64]) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT stock FROM goods WHERE id = ?1")?;
    ids.iter()
        .map(|id| Ok(stmt.query_row([id], |r| r.get::<_, u32>(0))?))
        .collect()
}

fn read_balance(conn: &Connection, id: i64) -> Result<Money, StoreError> {
    let cents: Option<i64> = conn
        .query_row(
            "SELECT balance_cents FROM customers WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    let cents = cents.ok_or_else(|| StoreError::Invalid(format!("no customer {id}")))?;
    Money::from_sql(cents).ok_or_else(|| StoreError::Invalid(format!("customer {id}: bad balance")))
}

/// The answer to one write, held until the batch commits.
enum Pending {
    Purchase(Reply<Outcome>, Result<Outcome, StoreError>),
    Account(Reply<Account>, Result<Account, StoreError>),
}

impl Pending {
    fn send(self, commit: &Result<(), StoreError>) {
        match self {
            Pending::Purchase(reply, result) => {
                let _ = reply.send(commit.clone().and(result));
            }
            Pending::Account(reply, result) => {
                let _ = reply.send(commit.clone().and(result));
            }
        }
    }
}

/// One transaction for the whole batch; answers go out only after the commit.
fn apply_writes(conn: &mut Connection, writes: &mut Vec<Job>) {
    let count = writes.len();
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            error!(error = %e, "cannot start a transaction");
            let err = Err(StoreError::from(e));
            for job in writes.drain(..) {
                fail(job, &err);
            }
            return;
        }
    };
    let mut tx = tx;
    let mut pending = Vec::with_capacity(count);
    for job in writes.drain(..) {
        match job {
            Job::Purchase(p, reply) => {
                let result = in_savepoint(&mut tx, |sp| purchase(sp, p));
                pending.push(Pending::Purchase(reply, result));
            }
            Job::Account(name, start, reply) => {
                let result = in_savepoint(&mut tx, |sp| account(sp, &name, start));
                pending.push(Pending::Account(reply, result));
            }
            Job::Stock(_) | Job::Balance(..) => {}
        }
    }
    let commit = tx.commit().map_err(StoreError::from);
    match &commit {
        Ok(()) => debug!(count, "batch committed"),
        Err(e) => error!(error = %e, count, "batch commit failed; nothing in it was recorded"),
    }
    for p in pending {
        p.send(&commit);
    }
}

fn fail(job: Job, err: &Result<(), StoreError>) {
    let err = match err {
        Err(e) => e.clone(),
        Ok(()) => StoreError::Closed,
    };
    match job {
        Job::Purchase(_, reply) => {
            let _ = reply.send(Err(err));
        }
        Job::Account(_, _, reply) => {
            let _ = reply.send(Err(err));
        }
        Job::Stock(reply) => {
            let _ = reply.send(Err(err));
        }
        Job::Balance(_, reply) => {
            let _ = reply.send(Err(err));
        }
    }
}

/// Runs `f` inside a savepoint: kept if it succeeds, rolled back if it fails.
fn in_savepoint<T>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let sp = tx.savepoint()?;
    let result = f(&sp);
    if result.is_ok() {
        sp.commit()?;
    }
    // On error the savepoint is dropped, which rolls it back.
    result
}

/// Milliseconds since 1970, as the books record times.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn money_col(cents: i64, what: &str) -> Result<Money, StoreError> {
    Money::from_sql(cents)
        .ok_or_else(|| StoreError::Invalid(format!("negative {what} in database")))
}

/// Checks and records one purchase. Nothing is written unless every check passes.
fn purchase(conn: &Connection, p: Purchase) -> Result<Outcome, StoreError> {
    if p.qty == 0 {
        return Err(StoreError::Invalid("quantity 0".into()));
    }
    let good: Option<(i64, u32)> = conn
        .prepare_cached("SELECT price_cents, stock FROM goods WHERE id = ?1")?
        .query_row([p.good], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (price, stock) = good.ok_or_else(|| StoreError::Invalid(format!("no good {}", p.good)))?;
    let price = money_col(price, "price")?;
    if stock == 0 {
        return Ok(Outcome::SoldOut);
    }
    if stock < p.qty {
        return Ok(Outcome::NotEnoughStock { left: stock });
    }
    let cost = price
        .checked_mul(p.qty)
        .filter(|c| *c <= Money::MAX)
        .ok_or_else(|| StoreError::Invalid("total too large".into()))?;
    let balance = match p.buyer {
        Buyer::Known(id) => read_balance(conn, id)?,
        Buyer::New { start } => start,
    };
    let Some(after) = balance.checked_sub(cost) else {
        return Ok(Outcome::NotEnoughMoney { cost, balance });
    };
    let now = now_ms();
    let customer = match p.buyer {
        Buyer::Known(id) => {
            conn.prepare_cached("UPDATE customers SET balance_cents = ?1 WHERE id = ?2")?
                .execute(params![after.to_sql(), id])?;
            id
        }
        Buyer::New { start } => {
            conn.prepare_cached(
                "INSERT INTO customers (name, start_cents, balance_cents, created_ms)
                 VALUES (NULL, ?1, ?2, ?3)",
            )?
            .execute(params![start.to_sql(), after.to_sql(), now])?;
            conn.last_insert_rowid()
        }
    };
    conn.prepare_cached("UPDATE goods SET stock = stock - ?1 WHERE id = ?2")?
        .execute(params![p.qty, p.good])?;
    conn.prepare_cached(
        "INSERT INTO sales (at_ms, customer_id, good_id, qty, unit_cents, total_cents,
                            balance_after_cents)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        now,
        customer,
        p.good,
        p.qty,
        price.to_sql(),
        cost.to_sql(),
        after.to_sql()
    ])?;
    Ok(Outcome::Bought {
        customer,
        total: cost,
        balance: after,
    })
}

/// Finds or creates the account called `name`.
fn account(conn: &Connection, name: &str, start: Money) -> Result<Account, StoreError> {
    let found: Option<(i64, i64)> = conn
        .query_row(
            "SELECT id, balance_cents FROM customers WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((id, cents)) = found {
        return Ok(Account {
            id,
            balance: money_col(cents, "balance")?,
            created: false,
        });
    }
    conn.execute(
        "INSERT INTO customers (name, start_cents, balance_cents, created_ms)
         VALUES (?1, ?2, ?2, ?3)",
        params![name, start.to_sql(), now_ms()],
    )?;
    Ok(Account {
        id: conn.last_insert_rowid(),
        balance: start,
        created: true,
    })
}

/// The default database file, relative to the working directory.
pub const DEFAULT_DB_FILE: &str = "snackshop.db";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Good;

    fn catalog(stock: u32) -> Catalog {
        Catalog::new(vec![Good {
            zh: "辣条".into(),
            en: "spicy strip".into(),
            price: Money::from_cents(150),
            stock,
        }])
        .expect("valid catalog")
    }

    fn open(location: &DbLocation, stock: u32) -> Store {
        Store::open(location, &catalog(stock)).expect("store opens")
    }

    #[tokio::test]
    async fn purchase_checks_stock_then_money() {
        let store = open(&DbLocation::InMemory, 3);
        let h = store.handle();
        let good = store.menu()[0].id;
        let start = Money::from_cents(400);
        let first = h
            .purchase(Purchase {
                buyer: Buyer::New { start },
                good,
                qty: 2,
            })
            .await;
        let Ok(Outcome::Bought {
            customer,
            total,
            balance,
        }) = first
        else {
            panic!("expected a sale, got {first:?}");
        };
        assert_eq!((total.cents(), balance.cents()), (300, 100));
        let buyer = Buyer::Known(customer);
        assert_eq!(
            h.purchase(Purchase {
                buyer,
                good,
                qty: 2
            })
            .await,
            Ok(Outcome::NotEnoughStock { left: 1 })
        );
        assert_eq!(
            h.purchase(Purchase {
                buyer,
                good,
                qty: 1
            })
            .await,
            Ok(Outcome::NotEnoughMoney {
                cost: Money::from_cents(150),
                balance: Money::from_cents(100)
            })
        );
        assert_eq!(h.stock().await, Ok(vec![1]));
        assert_eq!(h.balance(customer).await, Ok(Money::from_cents(100)));
        let other = Buyer::New { start };
        assert!(matches!(
            h.purchase(Purchase {
                buyer: other,
                good,
                qty: 1
            })
            .await,
            Ok(Outcome::Bought { .. })
        ));
        assert_eq!(
            h.purchase(Purchase {
                buyer: other,
                good,
                qty: 1
            })
            .await,
            Ok(Outcome::SoldOut)
        );
        drop(h);
        tokio::task::spawn_blocking(move || store.close())
            .await
            .expect("closed");
    }

    #[tokio::test]
    async fn refused_first_purchase_creates_no_customer() {
        let store = open(&DbLocation::InMemory, 3);
        let h = store.handle();
        let good = store.menu()[0].id;
        let poor = Buyer::New {
            start: Money::from_cents(100),
        };
        assert!(matches!(
            h.purchase(Purchase {
                buyer: poor,
                good,
                qty: 1
            })
            .await,
            Ok(Outcome::NotEnoughMoney { .. })
        ));
        // Customer ids start at 1; a refused anonymous purchase must not have used one.
        assert!(matches!(h.balance(1).await, Err(StoreError::Invalid(_))));
    }

    #[tokio::test]
    async fn named_accounts_are_found_again() {
        let store = open(&DbLocation::InMemory, 3);
        let h = store.handle();
        let a = h
            .account("alice", Money::from_cents(500))
            .await
            .expect("account");
        assert!(a.created);
        let again = h
            .account("alice", Money::from_cents(9_999))
            .await
            .expect("account");
        assert_eq!(
            (again.id, again.balance, again.created),
            (a.id, Money::from_cents(500), false)
        );
    }

    #[test]
    fn catalog_stock_seeds_only_new_goods() {
        let dir = tempfile::tempdir().expect("tempdir");
        let location = DbLocation::File(dir.path().join("shop.db"));
        let store = open(&location, 5);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let h = store.handle();
        let good = store.menu()[0].id;
        let buyer = Buyer::New {
            start: Money::from_cents(1000),
        };
        let out = rt.block_on(h.purchase(Purchase {
            buyer,
            good,
            qty: 2,
        }));
        assert!(matches!(out, Ok(Outcome::Bought { .. })));
        drop(h);
        store.close();

        let store = open(&location, 50);
        let h = store.handle();
        assert_eq!(rt.block_on(h.stock()), Ok(vec![3]));
        drop(h);
        store.close();
    }

    /// A connection prepared like the database thread's, for driving batches directly.
    fn raw_books(stock: u32) -> (Connection, i64) {
        let mut conn = Connection::open_in_memory().expect("open");
        configure(&conn, &DbLocation::InMemory).expect("configure");
        migrate(&mut conn).expect("migrate");
        let menu = stock_from_catalog(&mut conn, &catalog(stock)).expect("catalog");
        (conn, menu[0].id)
    }

    fn purchase_job(
        buyer: Buyer,
        good: i64,
        qty: u32,
    ) -> (Job, oneshot::Receiver<Result<Outcome, StoreError>>) {
        let (tx, rx) = oneshot::channel();
        (Job::Purchase(Purchase { buyer, good, qty }, tx), rx)
    }

    #[test]
    fn one_bad_purchase_does_not_spoil_its_batch() {
        let (mut conn, good) = raw_books(10);
        let start = Money::from_cents(1000);
        let (a, a_rx) = purchase_job(Buyer::New { start }, good, 2);
        let (bad, bad_rx) = purchase_job(Buyer::Known(999), good, 1);
        let (c, c_rx) = purchase_job(Buyer::New { start }, good, 3);
        let mut batch = vec![a, bad, c];
        apply_writes(&mut conn, &mut batch);
        assert!(matches!(
            a_rx.blocking_recv(),
            Ok(Ok(Outcome::Bought { .. }))
        ));
        assert!(matches!(
            bad_rx.blocking_recv(),
            Ok(Err(StoreError::Invalid(_)))
        ));
        assert!(matches!(
            c_rx.blocking_recv(),
            Ok(Ok(Outcome::Bought { .. }))
        ));
        assert_eq!(read_stock(&conn, &[good]), Ok(vec![5]));
        let sales: i64 = conn
            .query_row("SELECT count(*) FROM sales", [], |r| r.get(0))
            .expect("count");
        assert_eq!(sales, 2);
    }

    #[test]
    fn a_failing_database_sells_nothing() {
        let (mut conn, good) = raw_books(10);
        conn.execute_batch("PRAGMA query_only = ON")
            .expect("read-only");
        let (a, a_rx) = purchase_job(
            Buyer::New {
                start: Money::from_cents(1000),
            },
            good,
            1,
        );
        let mut batch = vec![a];
        apply_writes(&mut conn, &mut batch);
        assert!(matches!(
            a_rx.blocking_recv(),
            Ok(Err(StoreError::Database(_)))
        ));
        conn.execute_batch("PRAGMA query_only = OFF")
            .expect("writable");
        assert_eq!(read_stock(&conn, &[good]), Ok(vec![10]));
    }

    #[test]
    fn a_version_1_database_gains_the_new_books_and_keeps_its_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(SCHEMA).expect("v1 schema");
            conn.execute(
                "INSERT INTO goods (zh, en, price_cents, stock, position) VALUES ('辣条', 'spicy strip', 150, 7, 0)",
                [],
            )
            .expect("a good");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
        }
        let store = open(&DbLocation::File(path.clone()), 99);
        store.close();
        let conn = Connection::open(&path).expect("open");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let restocks: i64 = conn
            .query_row("SELECT count(*) FROM restocks", [], |r| r.get(0))
            .expect("restocks table");
        let stock: i64 = conn
            .query_row("SELECT stock FROM goods", [], |r| r.get(0))
            .expect("stock");
        assert_eq!((restocks, stock), (0, 7));
    }

    #[test]
    fn refuses_foreign_sqlite_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
            .expect("foreign db");
        let err = Store::open(&DbLocation::File(path), &catalog(1)).expect_err("refused");
        assert!(matches!(err, StoreError::Incompatible(_)));
    }
}
