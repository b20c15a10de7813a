//! The IRC listener's own options: the channels users start in
//! (`irc_autojoin`) and the server password (`irc_password`).

use chatroom_server::Config;
use chatroom_testkit::{IrcRaw, TestServer, commands, test_config};

/// Registers `nick` on a server whose users may start in no channel: reads
/// up to the end of the MOTD, then syncs.
async fn register_bare(server: &TestServer, nick: &str) -> (IrcRaw, Vec<String>) {
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {nick} 0 * :{nick}")).await;
    c.until("376").await;
    let lines = c.sync().await;
    let joined = lines
        .iter()
        .filter(|m| m.command == "JOIN")
        .map(|m| m.params[0].clone())
        .collect();
    (c, joined)
}

#[tokio::test]
async fn irc_users_start_in_the_configured_channels_or_none() {
    let server = TestServer::start_with(Config {
        irc_autojoin: vec![],
        ..test_config()
    })
    .await;
    let (mut c, joined) = register_bare(&server, "bare").await;
    assert!(joined.is_empty(), "no channel: {joined:?}");
    c.send("LIST").await;
    let lines = c.sync().await;
    assert!(
        lines
            .iter()
            .all(|m| m.command != "322" || m.params[2] == "0"),
        "the lobby is empty: {lines:?}"
    );
    server.stop().await;

    let server = TestServer::start_with(Config {
        irc_autojoin: vec!["rust".into(), "help".into()],
        ..test_config()
    })
    .await;
    let (_c, joined) = register_bare(&server, "starter").await;
    assert_eq!(joined, ["#rust", "#help"]);
    server.stop().await;
}

#[tokio::test]
async fn a_server_password_is_needed_before_registration() {
    let server = TestServer::start_with(Config {
        irc_password: Some("letmein".into()),
        ..test_config()
    })
    .await;
    // None: refused and closed.
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("NICK nopass").await;
    c.send("USER nopass 0 * :x").await;
    let lines = c.until_closed().await;
    assert_eq!(commands(&lines)[..2], ["464", "ERROR"], "{lines:?}");
    // A wrong one: the same.
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("PASS wrong").await;
    c.send("NICK wrongpass").await;
    c.send("USER wrongpass 0 * :x").await;
    let lines = c.until_closed().await;
    assert_eq!(commands(&lines)[0], "464");
    // The right one registers.
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("PASS letmein").await;
    c.send("NICK rightpass").await;
    c.send("USER rightpass 0 * :x").await;
    c.until("001").await;
    server.stop().await;
}
