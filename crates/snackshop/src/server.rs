//! The shop server: accepts customers on a TCP port and serves each one in its own task, so
//! many can shop at once, with one database thread keeping the books.
//!
//! [`Shop::bind`] opens the books and the port (port 0 works, for tests); [`Shop::run`] serves
//! until the shutdown future completes, then stops accepting, says goodbye to every customer
//! still inside, waits for them (bounded by [`SHUTDOWN_GRACE`]) and closes the books.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::admission::Addresses;
use crate::catalog::Catalog;
use crate::money::Money;
use crate::order::GoodsIndex;
use crate::replies::Lang;
use crate::session::{self, TurnedAway};
use crate::store::{DbLocation, MenuItem, Store, StoreError};
use crate::tally::Tally;
use crate::wire::WireEncoding;

/// How long customers get to hear the goodbye and leave when the shop closes.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The starting balance of a new customer unless configured: 100 yuan.
pub const DEFAULT_BALANCE: Money = Money::from_cents(10_000);
/// How often, by default, the log sums up the sales since the last summary.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// After a failed `accept` (e.g. out of file descriptors), wait this long before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Protection against hostile or forgetful customers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted line in bytes; longer lines are answered politely and discarded.
    pub max_line: usize,
    /// Customers served at once; more are told the shop is full.
    pub max_customers: usize,
    /// Customers served at once from one IP address; more from it are turned away, so one
    /// address cannot fill the shop.
    pub max_per_address: usize,
    /// A customer who sends no complete line for this long is shown out.
    pub idle_timeout: Duration,
    /// A new customer who sends no request for this long after arriving is shown out.
    pub first_request_timeout: Duration,
    /// This many unreadable (too long or non-UTF-8) lines in a row close the connection.
    pub max_bad_lines: u32,
    /// A customer who does not read our replies for this long is disconnected.
    pub write_timeout: Duration,
    /// A request that arrives in one piece without a line end is complete once nothing more
    /// arrives for this long (clients that send `cmd.encode()` without a newline).
    pub request_pause: Duration,
    /// With `--encoding auto`, how long the shop waits for a new customer to speak first
    /// before greeting them (in UTF-8, as it cannot know better yet).
    pub greeting_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: 1024,
            max_customers: 1000,
            max_per_address: 64,
            idle_timeout: Duration::from_secs(300),
            first_request_timeout: Duration::from_secs(30),
            max_bad_lines: 3,
            write_timeout: Duration::from_secs(30),
            request_pause: Duration::from_millis(200),
            greeting_wait: Duration::from_millis(300),
        }
    }
}

/// Everything the shop needs to open.
#[derive(Debug, Clone)]
pub struct ShopConfig {
    /// What is for sale.
    pub catalog: Catalog,
    /// Where the books are kept.
    pub db: DbLocation,
    /// The language the shop greets in (customers can switch).
    pub lang: Lang,
    /// The starting balance of a new customer.
    pub start_balance: Money,
    /// Limits on customer behaviour.
    pub limits: Limits,
    /// The encoding customers write and are answered in.
    pub encoding: WireEncoding,
    /// How often the sales of the last period are summed up in one log line.
    pub summary_every: Duration,
}

impl Default for ShopConfig {
    /// The document's shop: built-in catalog, Chinese, 100 yuan each, in-memory books.
    fn default() -> ShopConfig {
        ShopConfig {
            catalog: Catalog::builtin(),
            db: DbLocation::InMemory,
            lang: Lang::Zh,
            start_balance: DEFAULT_BALANCE,
            limits: Limits::default(),
            encoding: WireEncoding::Auto,
            summary_every: SUMMARY_EVERY,
        }
    }
}

/// Why the shop could not open or run.
#[derive(Debug, Error)]
pub enum ShopError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The books could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A background task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What every session shares: the menu and the rules.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) menu: Vec<MenuItem>,
    pub(crate) index: GoodsIndex,
    pub(crate) lang: Lang,
    pub(crate) start_balance: Money,
    pub(crate) limits: Limits,
    pub(crate) encoding: WireEncoding,
    pub(crate) summary_every: Duration,
    pub(crate) tally: Tally,
}

/// An open shop, bound to its port, not yet serving.
#[derive(Debug)]
pub struct Shop {
    listener: TcpListener,
    store: Store,
    shared: Arc<Shared>,
}

impl Shop {
    /// Opens the books (applying the catalog) and binds `addr`.
    pub async fn bind(addr: SocketAddr, config: ShopConfig) -> Result<Shop, ShopError> {
        let ShopConfig {
            catalog,
            db,
            lang,
            start_balance,
            limits,
            encoding,
            summary_every,
        } = config;
        let store = tokio::task::spawn_blocking(move || Store::open(&db, &catalog))
            .await
            .map_err(|e| ShopError::Internal(e.to_string()))??;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ShopError::Bind { addr, source })?;
        let menu = store.menu().to_vec();
        let index = GoodsIndex::new(menu.iter().map(|m| (m.zh.as_str(), m.en.as_str())));
        let shared = Arc::new(Shared {
            menu,
            index,
            lang,
            start_balance,
            limits,
            encoding,
            summary_every,
            tally: Tally::default(),
        });
        Ok(Shop {
            listener,
            store,
            shared,
        })
    }

    /// The address customers connect to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The goods on sale, in menu order.
    pub fn menu(&self) -> &[MenuItem] {
        &self.shared.menu
    }

    /// Serves customers until `shutdown` completes, then closes gracefully.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ShopError> {
        let Shop {
            listener,
            store,
            shared,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let permits = Arc::new(Semaphore::new(shared.limits.max_customers));
        let addresses = Addresses::default();
        let handle = store.handle();
        let mut sessions = JoinSet::new();
        let mut summary = tokio::time::interval_at(
            tokio::time::Instant::now() + shared.summary_every,
            shared.summary_every,
        );
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = summary.tick() => {
                    let inside = shared.limits.max_customers.saturating_sub(permits.available_permits());
                    log_summary(&shared, inside);
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(e) = stream.set_nodelay(true) {
                            warn!(%peer, error = %e, "cannot set TCP_NODELAY");
                        }
                        let slot = addresses.admit(peer.ip(), shared.limits.max_per_address);
                        match (slot, permits.clone().try_acquire_owned()) {
                            (None, _) => {
                                shared.tally.turned_away();
                                sessions.spawn(session::turn_away(
                                    stream,
                                    peer,
                                    shared.clone(),
                                    TurnedAway::AddressFull,
                                ));
                            }
                            (Some(slot), Ok(permit)) => {
                                shared.tally.arrived();
                                sessions.spawn(session::serve(
                                    stream,
                                    peer,
                                    shared.clone(),
                                    handle.clone(),
                                    stop_rx.clone(),
                                    (permit, slot),
                                ));
                            }
                            (Some(_), Err(_)) => {
                                shared.tally.turned_away();
                                sessions.spawn(session::turn_away(
                                    stream,
                                    peer,
                                    shared.clone(),
                                    TurnedAway::ShopFull,
                                ));
                            }
                        }
                    }
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(done) = sessions.join_next(), if !sessions.is_empty() => reap(done),
            }
        }
        drop(listener);
        info!(
            customers = sessions.len(),
            "closing: saying goodbye to customers"
        );
        // Receivers may all be gone already; that is fine.
        let _ = stop_tx.send(true);
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(done) = sessions.join_next().await {
                reap(done);
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                left = sessions.len(),
                "customers did not leave in time; disconnecting them"
            );
            sessions.shutdown().await;
        }
        log_summary(&shared, 0);
        drop(handle);
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(|e| ShopError::Internal(e.to_string()))?;
        info!("shop closed");
        Ok(())
    }
}

/// One INFO line for the period since the last one, if anything happened.
fn log_summary(shared: &Shared, inside: usize) {
    let s = shared.tally.take();
    if !s.is_quiet() {
        info!(
            sales = s.sales,
            items = s.items,
            revenue = %s.revenue,
            arrived = s.arrived,
            turned_away = s.turned_away,
            inside,
            "since the last summary"
        );
    }
}

/// Logs a session task that panicked; a panic ends only that customer's visit.
fn reap(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        error!(error = %e, "a customer session panicked");
    }
}
