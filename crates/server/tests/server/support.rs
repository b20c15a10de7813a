//! What several of the server's test modules share.

use std::net::SocketAddr;
use std::path::Path;

use chatroom_server::store::DB_FILE;
use chatroom_testkit::{Raw, TestServer};
use serde_json::json;

/// Takes the database's write lock in `data_dir` as another process would:
/// the store's writer waits for it (SQLite's busy timeout), its batch in
/// hand, until the returned connection commits or rolls back.
pub fn hold_the_store(data_dir: &Path) -> rusqlite::Connection {
    let other = rusqlite::Connection::open(data_dir.join(DB_FILE)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
}

/// The password of every account the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// Logs in and reads up to its own pong, so no presence notices are pending.
pub async fn user(server: &TestServer, nick: &str) -> Raw {
    let mut c = Raw::login(server.addr, nick).await;
    c.assert_quiet_and_alive().await;
    c
}

/// Registers the account `nick` (with [`PASSWORD`]) over the JSON listener
/// at `addr`, then leaves, so that the nickname is free to log into.
pub async fn register_account(addr: SocketAddr, nick: &str) {
    let mut c = Raw::login_with(
        addr,
        json!({"type": "register", "nickname": nick, "password": PASSWORD}),
    )
    .await;
    c.recv_type("registered").await;
    c.send_json(json!({"type": "logout"})).await;
    c.until_closed().await;
}
