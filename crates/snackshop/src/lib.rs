//! snackshop: the source document's snack shop (案例:零食销售系统) as a real server.
//!
//! Customers connect over TCP with any line-based tool (nc, telnet, netassist) or with
//! `snackshop buy`, are greeted with the goods, prices and stock, and buy by name (Chinese or
//! English), by number, with quantities. Many customers shop at once, each in its own task; one
//! database thread owns the SQLite books, so stock and balances change atomically and a purchase
//! is confirmed only once it is durably recorded. That is the answer to the document's closing
//! question, "can the server serve several customers at once?": yes.
//!
//! Modules, from the wire inwards:
//! - [`line`](mod@line): lines with a length cap, hostile input turned into polite frames.
//! - [`wire`]: the encoding of each connection (UTF-8, or else GBK).
//! - [`order`]: what a customer's line means (a purchase or a command).
//! - [`replies`]: everything the shop says, in Chinese and English.
//! - [`server`] (and the private `session`): accepting customers and the dialogue.
//! - [`store`]: the books (SQLite, WAL, one owner thread, group commit).
//! - [`catalog`] and [`money`]: goods and prices, money as integer cents.
//! - [`report`]: sales and stock from the database.
//! - [`admin`]: restocking and topping up, recorded in the books.
//! - [`client`]: the `snackshop buy` client.

pub mod admin;
mod admission;
pub mod catalog;
pub mod client;
pub mod line;
pub mod money;
pub mod order;
pub mod replies;
pub mod report;
pub mod server;
mod session;
pub mod store;
mod tally;
pub mod wire;

pub use catalog::{Catalog, Good};
pub use money::Money;
pub use replies::Lang;
pub use server::{Limits, Shop, ShopConfig, ShopError};
pub use store::DbLocation;
pub use wire::WireEncoding;
