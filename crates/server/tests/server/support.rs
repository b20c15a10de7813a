//! What several of the server's test modules share.

use chatroom_testkit::{Raw, TestServer};

/// The password of every account the tests register.
pub const PASSWORD: &str = "correct horse battery";

/// Logs in and reads up to its own pong, so no presence notices are pending.
pub async fn user(server: &TestServer, nick: &str) -> Raw {
    let mut c = Raw::login(server.addr, nick).await;
    c.assert_quiet_and_alive().await;
    c
}
