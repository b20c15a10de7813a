//! One customer's visit: the dialogue of the source document over one TCP connection.
//!
//! The session greets the customer with the goods, prices and stock, then answers every line
//! with exactly one line until the customer says 拜拜/bye, leaves, stays silent too long, sends
//! too many unreadable lines in a row, or the shop closes. It holds no stock or money itself: it
//! asks the store and reports what the store decided.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::timeout;
use tracing::{debug, error, warn};

use crate::admission::AddressSlot;
use crate::line::{Frame, LineReader};
use crate::money::Money;
use crate::order::{self, OrderError, Request};
use crate::replies::{Lang, ShelfLine};
use crate::server::Shared;
use crate::store::{Buyer, Outcome, Purchase, StoreError, StoreHandle};
use crate::wire::Codec;

/// After the goodbye, how long unread input from the customer is drained before closing.
///
/// Closing a socket with unread input makes the kernel send a reset, which can destroy the
/// goodbye on its way; draining first lets it arrive.
const LINGER: Duration = Duration::from_secs(2);
/// At most this much unread input is drained.
const LINGER_BYTES: usize = 64 * 1024;
/// How long a customer who is turned away gets to read why.
const TURN_AWAY_TIMEOUT: Duration = Duration::from_secs(5);

/// Who is shopping on this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Customer {
    /// No name given; the account is created with the first purchase.
    Anonymous(Option<i64>),
    /// Shopping under a name; the balance is kept between visits.
    Named { id: i64, name: String },
}

impl Customer {
    fn id(&self) -> Option<i64> {
        match self {
            Customer::Anonymous(id) => *id,
            Customer::Named { id, .. } => Some(*id),
        }
    }
}

/// The connection: frames in, lines out, in the connection's encoding.
struct Conn {
    reader: LineReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    write_timeout: Duration,
    codec: Codec,
}

impl Conn {
    /// Sends one reply line (CRLF-terminated, so telnet shows it properly too).
    async fn send(&mut self, line: &str) -> io::Result<()> {
        self.send_lines(&[line]).await
    }

    /// Sends lines in one write, so a client that reads once gets them all.
    async fn send_lines(&mut self, lines: &[&str]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(&self.codec.encode(line));
            bytes.extend_from_slice(b"\r\n");
        }
        match timeout(self.write_timeout, self.writer.write_all(&bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "customer is not reading",
            )),
        }
    }

    /// Closes our side, then drains what the customer already sent (see [`LINGER`]).
    async fn close(mut self) {
        let _ = timeout(self.write_timeout, self.writer.shutdown()).await;
        let inner = self.reader.get_mut();
        let _ = timeout(LINGER, async {
            let mut buf = [0u8; 4096];
            let mut drained = 0;
            while drained < LINGER_BYTES {
                match inner.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        })
        .await;
    }
}

/// Waits until the shop is closing (or its closing signal is gone).
async fn closing(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|closing| *closing).await;
}

/// Serves one customer until they leave. Never panics on anything the customer sends.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    store: StoreHandle,
    mut stop: watch::Receiver<bool>,
    // The place in the shop and the place for the customer's address, held for the visit.
    places: (OwnedSemaphorePermit, AddressSlot),
) {
    let (rd, wr) = stream.into_split();
    let limits = &shared.limits;
    let mut conn = Conn {
        reader: LineReader::new(rd, limits.max_line).with_pause(limits.request_pause),
        writer: wr,
        write_timeout: limits.write_timeout,
        codec: Codec::new(shared.encoding),
    };
    debug!(%peer, "customer arrived");
    let mut session = Session {
        lang: shared.lang,
        customer: Customer::Anonymous(None),
        peer,
        shared: shared.clone(),
        store,
    };
    match session.run(&mut conn, &mut stop).await {
        Ok(()) => debug!(%peer, "customer left"),
        Err(e) => debug!(%peer, error = %e, "connection ended"),
    }
    // The visit is over: free the places before lingering over the close.
    drop(places);
    conn.close().await;
}

/// Why a customer is turned away at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnedAway {
    /// `max_customers` are inside.
    ShopFull,
    /// `max_per_address` from the customer's address are inside.
    AddressFull,
}

/// Tells a customer why they cannot come in, and closes.
pub(crate) async fn turn_away(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    why: TurnedAway,
) {
    debug!(%peer, ?why, "customer turned away");
    let (rd, wr) = stream.into_split();
    let mut conn = Conn {
        reader: LineReader::new(rd, 0),
        writer: wr,
        write_timeout: TURN_AWAY_TIMEOUT,
        codec: Codec::new(shared.encoding),
    };
    let text = match why {
        TurnedAway::ShopFull => shared.lang.shop_full(),
        TurnedAway::AddressFull => shared.lang.address_full(),
    };
    let _ = conn.send(&text).await;
    conn.close().await;
}

/// What to say, and whether the visit is over.
struct Reply {
    text: String,
    close: bool,
}

impl Reply {
    fn say(text: String) -> Reply {
        Reply { text, close: false }
    }
}

struct Session {
    lang: Lang,
    customer: Customer,
    peer: SocketAddr,
    shared: Arc<Shared>,
    store: StoreHandle,
}

impl Session {
    async fn run(&mut self, conn: &mut Conn, stop: &mut watch::Receiver<bool>) -> io::Result<()> {
        let limits = self.shared.limits.clone();
        // When the encoding is detected, give the customer a moment to speak first (the
        // tutorial's GBK client sends right after connecting and decodes everything it
        // receives as GBK): then the greeting can be in their encoding.
        let spoke_first = conn.codec.detects()
            && matches!(
                timeout(limits.greeting_wait, conn.reader.wait_for_input()).await,
                Ok(Ok(true))
            );
        // The menu as it is on arrival, before the first request changes anything.
        let mut greeting = Some(self.menu().await);
        if !spoke_first && let Some(greeting) = greeting.take() {
            conn.send(&greeting).await?;
        }
        let mut bad_in_a_row = 0u32;
        // Until a first request arrives the wait is short: an idle newcomer must not hold a
        // place for the whole idle timeout.
        let mut wait = limits.first_request_timeout.min(limits.idle_timeout);
        loop {
            let frame = tokio::select! {
                () = closing(stop) => {
                    let closing = self.lang.closing();
                    let mut lines: Vec<&str> = greeting.as_deref().into_iter().collect();
                    lines.push(&closing);
                    conn.send_lines(&lines).await?;
                    return Ok(());
                }
                read = timeout(wait, conn.reader.next_frame()) => match read {
                    Err(_) => {
                        debug!(peer = %self.peer, "idle customer shown out");
                        conn.send(&self.lang.idle()).await?;
                        return Ok(());
                    }
                    Ok(Ok(Some(frame))) => frame,
                    Ok(Ok(None)) => {
                        if let Some(greeting) = greeting.take() {
                            conn.send(&greeting).await?;
                        }
                        return Ok(());
                    }
                    Ok(Err(e)) => return Err(e),
                },
            };
            wait = limits.idle_timeout;
            let reply = self.respond(conn, frame, &mut bad_in_a_row).await;
            match greeting.take() {
                Some(greeting) => conn.send_lines(&[&greeting, &reply.text]).await?,
                None => conn.send(&reply.text).await?,
            }
            if reply.close {
                return Ok(());
            }
        }
    }

    /// The answer to one frame: read in the connection's encoding (which a GBK or UTF-8 line
    /// may decide), then understood; unreadable frames are counted.
    async fn respond(&mut self, conn: &mut Conn, frame: Frame, bad_in_a_row: &mut u32) -> Reply {
        let text = match &frame {
            Frame::Line(bytes) => conn.codec.decode(bytes),
            Frame::TooLong => None,
        };
        if let Some(text) = text {
            *bad_in_a_row = 0;
            return self.handle(&text).await;
        }
        *bad_in_a_row += 1;
        warn!(peer = %self.peer, frame = ?frame, bad_in_a_row, "unreadable line");
        if *bad_in_a_row >= self.shared.limits.max_bad_lines {
            Reply {
                text: self.lang.too_much_garbage(),
                close: true,
            }
        } else if frame == Frame::TooLong {
            Reply::say(self.lang.line_too_long(conn.reader.max()))
        } else {
            Reply::say(self.lang.not_text(conn.codec.setting()))
        }
    }

    async fn handle(&mut self, text: &str) -> Reply {
        let lang = self.lang;
        let request = match order::parse(text, &self.shared.index) {
            Ok(request) => request,
            Err(e) => {
                debug!(peer = %self.peer, error = %e, "request not understood");
                return Reply::say(match e {
                    OrderError::UnknownGoods => lang.unknown_goods(),
                    OrderError::ZeroQuantity => lang.zero_quantity(),
                    OrderError::TooMany => lang.too_many(),
                    OrderError::BadQuantity => lang.bad_quantity(),
                    OrderError::BadName => lang.bad_name(),
                });
            }
        };
        Reply::say(match request {
            Request::Empty => lang.ask_again(),
            Request::Help => lang.help(),
            Request::Menu => self.menu().await,
            Request::Balance => match self.balance().await {
                Ok(balance) => lang.balance(balance),
                Err(e) => self.trouble(&e),
            },
            Request::Bye => {
                return Reply {
                    text: lang.goodbye(),
                    close: true,
                };
            }
            Request::Lang(new) => {
                self.lang = new;
                new.switched()
            }
            Request::Name(name) => self.take_name(name).await,
            Request::Buy { good, qty } => self.buy(good, qty).await,
        })
    }

    async fn balance(&self) -> Result<Money, StoreError> {
        match self.customer.id() {
            Some(id) => self.store.balance(id).await,
            None => Ok(self.shared.start_balance),
        }
    }

    /// The greeting line: goods with prices and current stock, balance, and the question.
    async fn menu(&self) -> String {
        let stock = match self.store.stock().await {
            Ok(stock) => stock,
            Err(e) => return self.trouble(&e),
        };
        let balance = match self.balance().await {
            Ok(balance) => balance,
            Err(e) => return self.trouble(&e),
        };
        let shelf: Vec<ShelfLine<'_>> = self
            .shared
            .menu
            .iter()
            .zip(stock)
            .map(|(item, stock)| ShelfLine {
                zh: &item.zh,
                en: &item.en,
                price: item.price,
                stock,
            })
            .collect();
        self.lang.greeting(&shelf, balance)
    }

    async fn take_name(&mut self, name: String) -> String {
        if let Customer::Anonymous(Some(_)) = self.customer {
            return self.lang.name_too_late();
        }
        match self.store.account(&name, self.shared.start_balance).await {
            Ok(account) => {
                debug!(peer = %self.peer, %name, created = account.created, "customer named");
                let reply = self.lang.hello_name(&name, account.balance);
                self.customer = Customer::Named {
                    id: account.id,
                    name,
                };
                reply
            }
            Err(e) => self.trouble(&e),
        }
    }

    async fn buy(&mut self, good: usize, qty: u32) -> String {
        let Some(item) = self.shared.menu.get(good) else {
            return self.lang.unknown_goods();
        };
        let buyer = match self.customer.id() {
            Some(id) => Buyer::Known(id),
            None => Buyer::New {
                start: self.shared.start_balance,
            },
        };
        let name = self.lang.pick(&item.zh, &item.en);
        match self
            .store
            .purchase(Purchase {
                buyer,
                good: item.id,
                qty,
            })
            .await
        {
            Ok(Outcome::Bought {
                customer,
                total,
                balance,
            }) => {
                if self.customer == Customer::Anonymous(None) {
                    self.customer = Customer::Anonymous(Some(customer));
                }
                self.shared.tally.sale(qty, total);
                debug!(peer = %self.peer, customer, good = %item.zh, qty, %total, %balance, "sold");
                self.lang.bought(name, qty, total, balance)
            }
            Ok(Outcome::SoldOut) => self.lang.sold_out(name),
            Ok(Outcome::NotEnoughStock { left }) => self.lang.not_enough_stock(name, left, qty),
            Ok(Outcome::NotEnoughMoney { cost, balance }) => {
                self.lang.not_enough_money(cost, balance)
            }
            Err(e) => self.trouble(&e),
        }
    }

    fn trouble(&self, e: &StoreError) -> String {
        error!(peer = %self.peer, error = %e, "store failed");
        self.lang.try_later()
    }
}
