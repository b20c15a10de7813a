//! IRCv3 monitor and extended-monitor (MONITOR, `730`-`734`) and bot mode
//! (user mode `B`, `335`, the `bot` tag, the WHO flag).

use chatroom_testkit::{IrcRaw, TestServer, commands, last_param};

/// The 005 tokens of a fresh registration.
async fn isupport(server: &TestServer) -> Vec<String> {
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("NICK probe").await;
    c.send("USER probe 0 * :Probe").await;
    let mut tokens = Vec::new();
    loop {
        let m = c.recv().await;
        match m.command.as_str() {
            "005" => tokens.extend(m.params[1..m.params.len() - 1].iter().cloned()),
            "376" | "422" => return tokens,
            _ => {}
        }
    }
}

#[tokio::test]
async fn monitor_follows_nicknames_coming_and_going() {
    let server = TestServer::start().await;
    let tokens = isupport(&server).await;
    assert!(tokens.contains(&"MONITOR=100".to_owned()), "{tokens:?}");
    let mut watcher = IrcRaw::register(server.irc_addr, "watcher", &[]).await;
    let mut here = IrcRaw::register(server.irc_addr, "here", &[]).await;

    watcher.send("MONITOR + here,gone").await;
    let online = watcher.until("730").await;
    assert_eq!(online.params[0], "watcher");
    assert!(last_param(&online).starts_with("here!"), "{online:?}");
    assert_eq!(last_param(&watcher.until("731").await), "gone");

    // The nickname arrives: online; a change of case is the same name.
    let mut gone = IrcRaw::register(server.irc_addr, "gone", &[]).await;
    let arrived = watcher.until("730").await;
    assert_eq!(arrived.params[0], "*", "addressed to every watcher");
    assert!(last_param(&arrived).starts_with("gone!"), "{arrived:?}");
    gone.send("NICK GONE").await;
    gone.until("NICK").await;
    assert!(
        !commands(&watcher.sync().await).contains(&"731"),
        "no numerics for a change of case"
    );
    // Given up by a nickname change: offline, as last spelled.
    gone.send("NICK elsewhere").await;
    gone.until("NICK").await;
    assert_eq!(last_param(&watcher.until("731").await), "GONE");
    // Taken by a nickname change: online.
    gone.send("NICK gone").await;
    assert!(last_param(&watcher.until("730").await).starts_with("gone!"));
    // Leaving: offline.
    here.send("QUIT :bye").await;
    assert_eq!(last_param(&watcher.until("731").await), "here");

    watcher.send("MONITOR L").await;
    let list = watcher.until("732").await;
    assert_eq!(last_param(&list), "gone,here");
    watcher.until("733").await;
    watcher.send("MONITOR S").await;
    assert!(last_param(&watcher.until("730").await).starts_with("gone!"));
    assert_eq!(last_param(&watcher.until("731").await), "here");

    // Unwatched: nothing more about it.
    watcher.send("MONITOR - gone").await;
    gone.send("QUIT").await;
    watcher.send("MONITOR C").await;
    watcher.send("MONITOR L").await;
    let lines = watcher.sync().await;
    assert_eq!(commands(&lines), ["733"], "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn monitor_refuses_masks_full_lists_and_unknown_subcommands() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "carol", &[]).await;
    c.send("MONITOR + *!user@host").await;
    let bad = c.until("432").await;
    assert_eq!(bad.params[1], "*!user@host");
    c.send("MONITOR +").await;
    assert_eq!(c.until("461").await.params[1], "MONITOR");
    c.send("MONITOR X a").await;
    assert_eq!(c.until("400").await.params[1..3], ["MONITOR", "X"]);

    let many: Vec<String> = (0..105).map(|i| format!("n{i}")).collect();
    for chunk in many.chunks(35) {
        c.send(&format!("MONITOR + {}", chunk.join(","))).await;
    }
    let full = c.until("734").await;
    assert_eq!(full.params[1], "100");
    assert_eq!(full.params[2], "n100,n101,n102,n103,n104");
    c.send("MONITOR L").await;
    let mut listed = 0;
    loop {
        let m = c.recv().await;
        match m.command.as_str() {
            "732" => listed += last_param(&m).split(',').count(),
            "733" => break,
            _ => {}
        }
    }
    assert_eq!(listed, 100);
    server.stop().await;
}

#[tokio::test]
async fn extended_monitor_tells_watchers_who_asked_what_others_do() {
    let server = TestServer::start().await;
    let mut ext = IrcRaw::register(
        server.irc_addr,
        "ext",
        &["extended-monitor", "away-notify", "setname"],
    )
    .await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &["away-notify"]).await;
    let mut bot = IrcRaw::register(server.irc_addr, "target", &["setname"]).await;
    // Nobody shares a channel with the target.
    bot.send("PART #lobby").await;
    bot.until("PART").await;
    for w in [&mut ext, &mut plain] {
        w.send("MONITOR + target").await;
        w.until("730").await;
    }
    bot.send("AWAY :afk").await;
    bot.until("306").await;
    bot.send("SETNAME :New Name").await;
    bot.until("SETNAME").await;
    let away = ext.until("AWAY").await;
    assert_eq!(last_param(&away), "afk");
    assert_eq!(last_param(&ext.until("SETNAME").await), "New Name");
    let lines = plain.sync().await;
    assert!(
        !commands(&lines).contains(&"AWAY"),
        "extended-monitor not asked for: {lines:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bot_mode_marks_messages_whois_and_who() {
    let server = TestServer::start().await;
    let tokens = isupport(&server).await;
    assert!(tokens.contains(&"BOT=B".to_owned()), "{tokens:?}");
    let mut bot =
        IrcRaw::register(server.irc_addr, "botty", &["message-tags", "echo-message"]).await;
    let mut tagged = IrcRaw::register(server.irc_addr, "tagged", &["message-tags"]).await;
    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;

    bot.send("MODE botty +B").await;
    let mode = bot.until("MODE").await;
    assert_eq!(mode.params, ["botty", "+B"]);
    bot.send("MODE botty").await;
    assert!(last_param(&bot.until("221").await).contains('B'));

    bot.send("PRIVMSG #lobby :beep").await;
    assert_eq!(
        bot.until("PRIVMSG").await.tag("bot"),
        Some(None),
        "the echo too"
    );
    assert_eq!(tagged.until("PRIVMSG").await.tag("bot"), Some(None));
    assert_eq!(plain.until("PRIVMSG").await.tag("bot"), None);
    bot.send("PRIVMSG tagged :boop").await;
    assert_eq!(tagged.until("PRIVMSG").await.tag("bot"), Some(None));

    plain.send("WHOIS botty").await;
    let whois = plain.until("335").await;
    assert_eq!(whois.params[..2], ["plain", "botty"]);
    plain.send("WHO #lobby").await;
    let mut flags = None;
    loop {
        let m = plain.recv().await;
        match m.command.as_str() {
            "352" if m.params[5] == "botty" => flags = Some(m.params[6].clone()),
            "315" => break,
            _ => {}
        }
    }
    assert!(flags.is_some_and(|f| f.contains('B')));

    bot.send("MODE botty -B").await;
    bot.until("MODE").await;
    bot.send("PRIVMSG #lobby :human again").await;
    assert_eq!(tagged.until("PRIVMSG").await.tag("bot"), None);
    server.stop().await;
}
