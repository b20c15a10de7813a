//! IRCv3 notifications a client asks for: away-notify, account-notify,
//! invite-notify and setname; clients that did not ask see none of them.

use base64::Engine;
use chatroom_testkit::{IrcRaw, TestServer, commands, last_param};

const CAPS: [&str; 4] = ["away-notify", "account-notify", "invite-notify", "setname"];

#[tokio::test]
async fn notifications_reach_those_who_asked() {
    let server = TestServer::start().await;
    let mut watcher = IrcRaw::register(server.irc_addr, "watcher", &CAPS).await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    let mut actor = IrcRaw::register(server.irc_addr, "actor", &["setname"]).await;
    watcher.sync().await;
    plain.sync().await;

    actor.send("AWAY :lunch").await;
    let away = watcher.until("AWAY").await;
    assert_eq!(
        (
            away.source.as_ref().unwrap().name.as_str(),
            last_param(&away)
        ),
        ("actor", "lunch")
    );
    // Joining a channel while away says so too.
    watcher.send("JOIN #awaiting").await;
    watcher.until("366").await;
    actor.send("JOIN #awaiting").await;
    watcher.until("JOIN").await;
    let still = watcher.until("AWAY").await;
    assert_eq!(last_param(&still), "lunch");
    actor.send("AWAY").await;
    let back = watcher.until("AWAY").await;
    assert!(back.params.is_empty(), "{back:?}");

    actor.send("SETNAME :A. Ctor").await;
    let echo = actor.until("SETNAME").await;
    assert_eq!(last_param(&echo), "A. Ctor", "the sender gets it back");
    let seen = watcher.until("SETNAME").await;
    assert_eq!(last_param(&seen), "A. Ctor");
    actor.send(&format!("SETNAME :{}", "x".repeat(300))).await;
    let fail = actor.until("FAIL").await;
    assert_eq!(fail.params[..2], ["SETNAME", "INVALID_REALNAME"]);

    actor.send("REGISTER * * :a long enough password").await;
    actor.until("REGISTER").await;
    let account = watcher.until("ACCOUNT").await;
    assert_eq!(account.params, ["actor"]);

    watcher.send("JOIN #club").await;
    watcher.until("366").await;
    plain.send("JOIN #club").await;
    plain.until("366").await;
    actor.send("JOIN #club").await;
    actor.until("366").await;
    watcher.send("INVITE someone #club").await;
    let mut someone = IrcRaw::register(server.irc_addr, "someone", &[]).await;
    someone.sync().await;
    actor.send("INVITE someone #club").await;
    assert_eq!(someone.until("INVITE").await.params, ["someone", "#club"]);
    let told = watcher.until("INVITE").await;
    assert_eq!(
        (
            told.source.as_ref().unwrap().name.as_str(),
            told.params.as_slice()
        ),
        ("actor", ["someone", "#club"].map(String::from).as_slice())
    );

    // The one who asked for nothing saw none of it.
    let lines = plain.sync().await;
    let seen = commands(&lines);
    for command in ["AWAY", "SETNAME", "ACCOUNT", "INVITE"] {
        assert!(!seen.contains(&command), "{command} in {lines:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn account_tag_and_extended_join_show_accounts_to_those_who_asked() {
    let server = TestServer::start().await;
    let mut watcher = IrcRaw::register(
        server.irc_addr,
        "watcher",
        &["account-tag", "extended-join"],
    )
    .await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    let mut member = IrcRaw::register(server.irc_addr, "member", &[]).await;
    let mut guest = IrcRaw::register(server.irc_addr, "guest", &[]).await;
    member.send("REGISTER * * :a long enough password").await;
    member.until("REGISTER").await;
    // The others joining the lobby, seen before anything else.
    watcher.sync().await;
    plain.sync().await;

    watcher.send("JOIN #acct").await;
    let own = watcher.until("JOIN").await;
    assert_eq!(own.params, ["#acct", "*", "Real watcher"], "{own:?}");
    assert_eq!(own.tag("account"), None, "no account, no tag");
    watcher.until("366").await;
    plain.send("JOIN #acct").await;
    plain.until("366").await;
    let join = watcher.until("JOIN").await;
    assert_eq!(join.params, ["#acct", "*", "Real plain"]);

    member.send("JOIN #acct").await;
    let join = watcher.until("JOIN").await;
    assert_eq!(join.params, ["#acct", "member", "Real member"]);
    assert_eq!(join.tag("account"), Some(Some("member")));
    let plain_join = plain.until("JOIN").await;
    assert_eq!(plain_join.params, ["#acct"]);
    assert!(plain_join.tags.is_empty(), "{plain_join:?}");
    // A member's own JOIN shows its account when it asked.
    member.until("366").await;

    member.send("PRIVMSG #acct :hello").await;
    let said = watcher.until("PRIVMSG").await;
    assert_eq!(said.tag("account"), Some(Some("member")));
    assert_eq!(said.tag("time"), None, "account-tag alone adds no time");
    let plain_said = plain.until("PRIVMSG").await;
    assert!(plain_said.tags.is_empty(), "{plain_said:?}");

    guest.send("JOIN #acct").await;
    let join = watcher.until("JOIN").await;
    assert_eq!(join.params, ["#acct", "*", "Real guest"]);
    assert_eq!(join.tag("account"), None);
    guest.until("366").await;
    guest.send("PRIVMSG #acct :hi").await;
    let said = watcher.until("PRIVMSG").await;
    assert_eq!(said.tag("account"), None);
    server.stop().await;
}

#[tokio::test]
async fn own_join_carries_ones_account() {
    let server = TestServer::start().await;
    let mut ann = IrcRaw::register(server.irc_addr, "ann", &["account-tag", "extended-join"]).await;
    ann.send("REGISTER * * :a long enough password").await;
    ann.until("REGISTER").await;
    ann.send("JOIN #mine").await;
    let own = ann.until("JOIN").await;
    assert_eq!(own.params, ["#mine", "ann", "Real ann"]);
    assert_eq!(own.tag("account"), Some(Some("ann")));
    server.stop().await;
}

#[tokio::test]
async fn accounts_are_shown_as_registered_not_folded() {
    let server = TestServer::start().await;
    let mut watcher = IrcRaw::register(
        server.irc_addr,
        "watcher",
        &["account-notify", "account-tag"],
    )
    .await;
    let mut alice = IrcRaw::register(server.irc_addr, "Alice", &[]).await;
    watcher.sync().await;
    alice.send("REGISTER * * :a long enough password").await;
    alice.until("REGISTER").await;
    let account = watcher.until("ACCOUNT").await;
    assert_eq!(account.params, ["Alice"]);
    watcher.send("WHO Alice %na").await;
    let who = watcher.until("354").await;
    assert_eq!(who.params[1..], ["Alice", "Alice"]);
    watcher.send("WHOIS Alice").await;
    let whois = watcher.until("330").await;
    assert_eq!(whois.params[2], "Alice");
    alice.send("PRIVMSG #lobby :hi").await;
    let said = watcher.until("PRIVMSG").await;
    assert_eq!(said.tag("account"), Some(Some("Alice")));

    // SASL's 900 names it the same way.
    let mut other = IrcRaw::register(server.irc_addr, "other", &["sasl"]).await;
    other.send("AUTHENTICATE PLAIN").await;
    other.until("AUTHENTICATE").await;
    let payload =
        base64::engine::general_purpose::STANDARD.encode("alice\0alice\0a long enough password");
    other.send(&format!("AUTHENTICATE {payload}")).await;
    let logged_in = other.until("900").await;
    assert_eq!(logged_in.params[2], "Alice", "{logged_in:?}");
    server.stop().await;
}

#[tokio::test]
async fn ones_own_account_change_comes_as_the_answer_not_as_account() {
    let server = TestServer::start().await;
    let mut alice = IrcRaw::register(server.irc_addr, "alice", &["account-notify"]).await;
    alice.sync().await;
    alice.send("REGISTER * * :a long enough password").await;
    let lines = alice.sync().await;
    let seen = commands(&lines);
    assert!(seen.contains(&"REGISTER"), "{lines:?}");
    assert!(!seen.contains(&"ACCOUNT"), "{lines:?}");
    server.stop().await;
}
