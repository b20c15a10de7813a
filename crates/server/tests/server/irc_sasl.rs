//! IRCv3 SASL PLAIN against the server's accounts, before and after
//! registration, and its refusals.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chatroom_testkit::{IrcRaw, TestServer, commands, last_param};

use crate::support::{PASSWORD, register_account};

fn payload(authcid: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{authcid}\0{password}"))
}

#[tokio::test]
async fn sasl_plain_logs_into_an_account_before_registration() {
    let server = TestServer::start().await;
    register_account(server.addr, "saslbob").await;
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("CAP LS 302").await;
    let ls = c.until("CAP").await;
    assert!(
        last_param(&ls)
            .split(' ')
            .any(|c| c == "sasl=PLAIN,EXTERNAL"),
        "{ls:?}"
    );
    c.send("CAP REQ sasl").await;
    c.until("CAP").await;
    c.send("NICK saslbob").await;
    c.send("USER b 0 * :b").await;
    c.send("AUTHENTICATE PLAIN").await;
    assert_eq!(c.recv().await.params, ["+"]);
    c.send(&format!("AUTHENTICATE {}", payload("saslbob", PASSWORD)))
        .await;
    let lines = [c.recv().await, c.recv().await];
    assert_eq!(commands(&lines), ["900", "903"]);
    assert_eq!(lines[0].params[2], "saslbob");
    c.send("CAP END").await;
    c.until("001").await;
    c.send("WHOIS saslbob").await;
    let lines = c.sync().await;
    assert!(
        lines
            .iter()
            .any(|m| m.command == "330" && m.params[2] == "saslbob")
            || lines.iter().any(|m| m.command == "311"),
        "{lines:?}"
    );
    // Someone else cannot take the registered nickname without it.
    let mut other = IrcRaw::connect(server.irc_addr).await;
    other.send("NICK saslbob2").await;
    other.send("USER x 0 * :x").await;
    other.until("001").await;
    other.sync().await;
    other.send("NICK saslbob").await;
    assert_eq!(commands(&other.sync().await), ["433"]);
    server.stop().await;
}

#[tokio::test]
async fn sasl_refusals_say_why() {
    let server = TestServer::start().await;
    register_account(server.addr, "sasla").await;
    let mut c = IrcRaw::connect(server.irc_addr).await;
    // Without the capability.
    c.send("AUTHENTICATE PLAIN").await;
    assert_eq!(c.recv().await.command, "904");
    c.send("CAP REQ :sasl").await;
    c.until("CAP").await;
    // An unknown mechanism: the list, then failure.
    c.send("AUTHENTICATE SCRAM-SHA-256").await;
    let lines = [c.recv().await, c.recv().await];
    assert_eq!(commands(&lines), ["908", "904"]);
    assert_eq!(lines[0].params[1], "PLAIN,EXTERNAL");
    // A wrong password, an unknown account, garbage.
    for data in [
        payload("sasla", "wrong password"),
        payload("nobody", PASSWORD),
        "!!!not-base64".to_owned(),
    ] {
        c.send("AUTHENTICATE PLAIN").await;
        c.recv().await;
        c.send(&format!("AUTHENTICATE {data}")).await;
        assert_eq!(c.recv().await.command, "904", "{data}");
    }
    // Aborted, and too long.
    c.send("AUTHENTICATE PLAIN").await;
    c.recv().await;
    c.send("AUTHENTICATE *").await;
    assert_eq!(c.recv().await.command, "906");
    c.send("AUTHENTICATE PLAIN").await;
    c.recv().await;
    for _ in 0..4 {
        c.send(&format!("AUTHENTICATE {}", "A".repeat(400))).await;
    }
    c.send("AUTHENTICATE AAAA").await;
    assert_eq!(c.recv().await.command, "904", "more than credentials need");
    c.send("AUTHENTICATE PLAIN").await;
    c.recv().await;
    c.send(&format!("AUTHENTICATE {}", "A".repeat(401))).await;
    assert_eq!(c.recv().await.command, "905", "a line over 400 bytes");
    // After registration it still logs in; a second time is refused.
    c.send("CAP END").await;
    c.send("NICK sasla").await;
    c.send("USER a 0 * :a").await;
    // The registered nickname needs the account first (PASS or SASL).
    assert_eq!(c.until("464").await.command, "464");
    c.send("NICK guest").await;
    c.until("001").await;
    c.sync().await;
    c.send("AUTHENTICATE PLAIN").await;
    c.recv().await;
    c.send(&format!("AUTHENTICATE {}", payload("sasla", PASSWORD)))
        .await;
    let lines = [c.recv().await, c.recv().await];
    assert_eq!(commands(&lines), ["900", "903"]);
    c.send("AUTHENTICATE PLAIN").await;
    assert_eq!(c.recv().await.command, "907");
    c.send("NICK sasla").await;
    let renamed = c.until("NICK").await;
    assert_eq!(renamed.params, ["sasla"], "now theirs to use");
    server.stop().await;
}
