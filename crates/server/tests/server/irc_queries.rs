//! IRC's query and information commands, one test each: WHOWAS, INFO,
//! ADMIN, LINKS, LIST with names and ELIST filters, LUSERS, WHO (masks,
//! flags, WHOX, invisible users), WHOIS, a bare INVITE, KICK of several
//! users, and NICK to the very same nickname. IRC users
//! start in no channel here, as IRC clients (and irctest) expect.

use chatroom_proto::irc::Message;
use chatroom_server::Config;
use chatroom_server::accounts::OperCredentials;
use chatroom_testkit::{IrcRaw, TestServer, commands, last_param, test_config};

use crate::support::PASSWORD;

/// The hash of [`PASSWORD`], made once.
static OPER_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| chatroom_server::accounts::hash_password(PASSWORD).unwrap());

/// A server whose IRC users start in no channel, with the operator `ircop`.
async fn server() -> TestServer {
    TestServer::start_with(Config {
        irc_autojoin: vec![],
        opers: vec![OperCredentials {
            name: "ircop".to_owned(),
            hash: OPER_HASH.clone(),
        }],
        ..test_config()
    })
    .await
}

/// Registers `nick` (user name `u<nick>`, real name `Real <nick>`) and
/// reads through the welcome burst.
async fn user(server: &TestServer, nick: &str) -> IrcRaw {
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER u{nick} 0 * :Real {nick}")).await;
    c.until("376").await;
    c.sync().await;
    c
}

/// Sends `line` and returns every reply up to a PING's PONG.
async fn ask(c: &mut IrcRaw, line: &str) -> Vec<Message> {
    c.send(line).await;
    c.sync().await
}

/// The `n`th parameter of every line with this numeric.
fn column(lines: &[Message], numeric: &str, n: usize) -> Vec<String> {
    lines
        .iter()
        .filter(|m| m.command == numeric)
        .map(|m| m.params[n].clone())
        .collect()
}

#[tokio::test]
async fn whowas_remembers_who_left_or_changed_nickname() {
    let server = server().await;
    let mut asker = user(&server, "asker").await;
    let mut gone = user(&server, "gone").await;
    gone.send("QUIT :bye").await;
    gone.until_closed().await;
    let mut again = user(&server, "gone").await;
    ask(&mut again, "NICK renamed").await;

    let lines = ask(&mut asker, "WHOWAS Gone").await;
    assert_eq!(
        commands(&lines),
        ["314", "312", "314", "312", "369"],
        "{lines:?}"
    );
    assert_eq!(
        lines[0].params[1..],
        ["gone", "ugone", &lines[0].params[3], "*", "Real gone"]
    );
    assert_eq!(lines[1].params[1], "gone");
    assert_ne!(
        lines[0].params[3], lines[2].params[3],
        "two users, newest first"
    );
    assert_eq!(lines[4].params[1], "Gone");

    let lines = ask(&mut asker, "WHOWAS gone 1").await;
    assert_eq!(commands(&lines), ["314", "312", "369"]);
    for count in ["0", "-1"] {
        let lines = ask(&mut asker, &format!("WHOWAS gone {count}")).await;
        assert_eq!(column(&lines, "314", 1).len(), 2, "count {count}: all");
    }
    let lines = ask(&mut asker, "WHOWAS nobody").await;
    assert_eq!(commands(&lines), ["406", "369"]);
    assert_eq!(lines[0].params[1], "nobody");
    let lines = ask(&mut asker, "WHOWAS").await;
    assert_eq!(commands(&lines), ["461"]);
    server.stop().await;
}

#[tokio::test]
async fn info_describes_the_server() {
    let server = server().await;
    let mut c = user(&server, "curious").await;
    let lines = ask(&mut c, "INFO").await;
    let (last, info) = lines.split_last().unwrap();
    assert_eq!(last.command, "374");
    assert!(!info.is_empty());
    assert!(info.iter().all(|m| m.command == "371"), "{lines:?}");
    assert!(last_param(&info[0]).starts_with("chatroom-"));
    server.stop().await;
}

#[tokio::test]
async fn admin_and_links_describe_the_server_as_configured() {
    let server = TestServer::start_with(Config {
        irc_autojoin: vec![],
        server_name: "irc.example".to_owned(),
        server_description: "Example chat".to_owned(),
        admin_contact: Some("ops@example.org".to_owned()),
        ..test_config()
    })
    .await;
    let mut c = user(&server, "curious").await;
    let lines = ask(&mut c, "ADMIN").await;
    assert_eq!(commands(&lines), ["256", "257", "258", "259"]);
    assert_eq!(lines[0].params[1], "irc.example");
    assert_eq!(last_param(&lines[3]), "ops@example.org");
    let lines = ask(&mut c, "LINKS").await;
    assert_eq!(commands(&lines), ["364", "365"]);
    assert_eq!(
        lines[0].params[1..],
        ["irc.example", "irc.example", "0 Example chat"]
    );
    let lines = ask(&mut c, "WHOIS curious").await;
    assert_eq!(column(&lines, "312", 3), ["Example chat"]);
    server.stop().await;
}

#[tokio::test]
async fn a_bare_invite_lists_the_channels_one_is_invited_to() {
    let server = server().await;
    let mut host = user(&server, "host").await;
    let mut guest = user(&server, "guest").await;
    for channel in ["#b", "#a"] {
        ask(&mut host, &format!("JOIN {channel}")).await;
        ask(&mut host, &format!("INVITE guest {channel}")).await;
    }
    let lines = ask(&mut guest, "INVITE").await;
    assert_eq!(commands(&lines), ["INVITE", "INVITE", "336", "336", "337"]);
    assert_eq!(column(&lines, "336", 1), ["#a", "#b"]);
    ask(&mut guest, "JOIN #a").await;
    let lines = ask(&mut guest, "INVITE").await;
    assert_eq!(
        column(&lines, "336", 1),
        ["#b"],
        "joined: no longer pending"
    );
    let lines = ask(&mut guest, "INVITE host").await;
    assert_eq!(commands(&lines), ["461"]);
    server.stop().await;
}

#[tokio::test]
async fn kick_takes_several_users_or_channel_user_pairs() {
    let server = server().await;
    let mut op = user(&server, "op").await;
    let mut users = Vec::new();
    for nick in ["bar", "baz", "qux"] {
        users.push(user(&server, nick).await);
    }
    ask(&mut op, "JOIN #chan").await;
    ask(&mut op, "JOIN #other").await;
    for c in &mut users {
        ask(c, "JOIN #chan,#other").await;
    }
    let lines = ask(&mut op, "KICK #chan bar,baz :bye").await;
    let kicked: Vec<(String, String)> = lines
        .iter()
        .filter(|m| m.command == "KICK")
        .map(|m| (m.params[1].clone(), last_param(m).to_owned()))
        .collect();
    assert_eq!(
        kicked,
        [("bar".into(), "bye".into()), ("baz".into(), "bye".into())]
    );
    let lines = ask(&mut op, "KICK #chan,#other qux,bar").await;
    let pairs: Vec<(String, String)> = lines
        .iter()
        .filter(|m| m.command == "KICK")
        .map(|m| (m.params[0].clone(), m.params[1].clone()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("#chan".into(), "qux".into()),
            ("#other".into(), "bar".into())
        ]
    );
    let lines = ask(&mut op, "KICK #chan,#other baz").await;
    assert_eq!(commands(&lines), ["461"], "two channels, one user");
    server.stop().await;
}

#[tokio::test]
async fn list_takes_names_masks_and_elist_filters() {
    let server = server().await;
    let mut a = user(&server, "lister").await;
    let mut b = user(&server, "other").await;
    let welcome = ask(&mut a, "VERSION").await;
    assert!(welcome.iter().all(|m| m.command != "005"));
    for line in [
        "JOIN #one",
        "JOIN #two",
        "JOIN #hideout",
        "MODE #hideout +s",
    ] {
        ask(&mut a, line).await;
    }
    ask(&mut b, "JOIN #two").await;
    ask(&mut a, "TOPIC #one :the first").await;
    let listed = |lines: &[Message]| column(lines, "322", 1);

    // The empty lobby is no channel, not even by name; the secret one only
    // for its members.
    assert_eq!(listed(&ask(&mut b, "LIST").await), ["#one", "#two"]);
    assert_eq!(
        listed(&ask(&mut a, "LIST").await),
        ["#hideout", "#one", "#two"]
    );
    let lines = ask(&mut b, "LIST #lobby").await;
    assert_eq!(commands(&lines), ["321", "323"]);
    // Names, masks, negated masks.
    assert_eq!(listed(&ask(&mut b, "LIST #TWO,#nothing").await), ["#two"]);
    assert_eq!(listed(&ask(&mut b, "LIST *o").await), ["#two"]);
    assert_eq!(listed(&ask(&mut b, "LIST !*o").await), ["#one"]);
    // Users, creation time, topic time.
    assert_eq!(listed(&ask(&mut b, "LIST >1").await), ["#two"]);
    assert_eq!(listed(&ask(&mut b, "LIST <2").await), ["#one"]);
    assert_eq!(listed(&ask(&mut b, "LIST C<5").await), ["#one", "#two"]);
    assert!(listed(&ask(&mut b, "LIST C>5").await).is_empty());
    assert_eq!(listed(&ask(&mut b, "LIST T<5").await), ["#one"]);
    assert!(listed(&ask(&mut b, "LIST T>5,#one").await).is_empty());
    let lines = ask(&mut b, "LIST #two").await;
    assert_eq!(lines[1].params[2..], ["2", ""]);
    server.stop().await;
}

#[tokio::test]
async fn lusers_counts_users_invisible_operators_channels_and_the_peak() {
    let server = server().await;
    let mut a = user(&server, "counter").await;
    let mut b = user(&server, "hider").await;
    ask(&mut b, "MODE hider +i").await;
    ask(&mut a, "JOIN #room").await;
    let lines = ask(&mut a, "LUSERS").await;
    assert_eq!(
        commands(&lines),
        ["251", "254", "255", "265", "266"],
        "no 252 without operators: {lines:?}"
    );
    assert_eq!(
        last_param(&lines[0]),
        "There are 1 users and 1 invisible on 1 servers"
    );
    assert_eq!(lines[1].params[1], "1", "one channel with members");
    assert_eq!(last_param(&lines[2]), "I have 2 clients and 0 servers");
    assert_eq!(lines[3].params[1..3], ["2", "2"]);
    assert_eq!(lines[4].params[1..3], ["2", "2"]);

    b.send("QUIT").await;
    b.until_closed().await;
    ask(&mut a, &format!("OPER ircop :{PASSWORD}")).await;
    let lines = ask(&mut a, "LUSERS").await;
    assert_eq!(commands(&lines), ["251", "252", "254", "255", "265", "266"]);
    assert_eq!(lines[1].params[1], "1", "one operator");
    assert_eq!(lines[4].params[1..3], ["1", "2"], "the peak stays");
    server.stop().await;
}

#[tokio::test]
async fn who_answers_for_channels_nicknames_and_masks_with_flags_and_whox() {
    let server = server().await;
    let mut me = user(&server, "asker").await;
    let mut cool = user(&server, "coolNick").await;
    ask(&mut cool, "JOIN #chan").await;
    ask(&mut me, "JOIN #chan").await;
    ask(&mut cool, "AWAY :brb").await;
    ask(&mut cool, &format!("OPER ircop :{PASSWORD}")).await;

    // A channel: everyone in it, with prefixes after H/G and *.
    let lines = ask(&mut me, "WHO #CHAN").await;
    assert_eq!(commands(&lines), ["352", "352", "315"]);
    assert_eq!(column(&lines, "352", 5), ["asker", "coolNick"]);
    assert_eq!(column(&lines, "352", 6), ["H", "G*@"]);
    assert_eq!(lines[1].params[1..3], ["#chan", "ucoolNick"]);
    assert_eq!(last_param(&lines[1]), "0 Real coolNick");
    assert_eq!(lines[2].params[1], "#CHAN", "the mask as given");
    // A nickname, and masks (`*` is everyone).
    let lines = ask(&mut me, "WHO coolnick").await;
    assert_eq!(commands(&lines), ["352", "315"]);
    assert_eq!(lines[0].params[1], "*");
    assert_eq!(lines[0].params[6], "G*");
    assert_eq!(
        column(&ask(&mut me, "WHO cool*").await, "352", 5),
        ["coolNick"]
    );
    assert_eq!(
        column(&ask(&mut me, "WHO *").await, "352", 5),
        ["asker", "coolNick"]
    );
    assert_eq!(
        column(&ask(&mut me, "WHO * o").await, "352", 5),
        ["coolNick"]
    );
    assert_eq!(commands(&ask(&mut me, "WHO nobody").await), ["315"]);
    // WHOX: the fields asked for, in WHOX's order, with the token.
    let lines = ask(&mut me, "WHO coolNick %nat,123").await;
    assert_eq!(commands(&lines), ["354", "315"]);
    assert_eq!(lines[0].params[1..], ["123", "coolNick", "0"]);
    let lines = ask(&mut me, "WHO coolNick %tcuihsnfdlaor,7").await;
    let p = &lines[0].params;
    assert_eq!(p.len(), 14, "{p:?}");
    assert_eq!(p[1..4], ["7", "*", "ucoolNick"]);
    assert_eq!(p[7..9], ["coolNick", "G*"]);
    assert_eq!(p[13], "Real coolNick");

    // Invisible users hide from masks unless they share a channel; never
    // from their own nickname.
    let mut evan = user(&server, "evan").await;
    ask(&mut evan, "MODE evan +i").await;
    assert_eq!(commands(&ask(&mut me, "WHO eva*").await), ["315"]);
    assert_eq!(commands(&ask(&mut me, "WHO evan").await), ["352", "315"]);
    ask(&mut evan, "JOIN #chan").await;
    me.until("JOIN").await;
    assert_eq!(commands(&ask(&mut me, "WHO eva*").await), ["352", "315"]);
    let mut outsider = user(&server, "outsider").await;
    let lines = ask(&mut outsider, "WHO #chan").await;
    assert_eq!(column(&lines, "352", 5), ["asker", "coolNick"], "not evan");
    server.stop().await;
}

#[tokio::test]
async fn whois_shows_channels_with_prefixes_operator_account_away_and_idle() {
    let server = server().await;
    let mut me = user(&server, "asker").await;
    let mut target = user(&server, "target").await;
    for line in [
        "JOIN #open",
        "JOIN #hideout",
        "MODE #hideout +s",
        "AWAY :out",
    ] {
        ask(&mut target, line).await;
    }
    let registered = ask(&mut target, &format!("REGISTER * * :{PASSWORD}")).await;
    assert_eq!(commands(&registered), ["REGISTER"], "{registered:?}");
    ask(&mut target, &format!("OPER ircop :{PASSWORD}")).await;
    ask(&mut me, "JOIN #open").await;

    let lines = ask(&mut me, "WHOIS target").await;
    assert_eq!(
        commands(&lines),
        ["311", "319", "312", "313", "301", "330", "317", "318"],
        "{lines:?}"
    );
    assert_eq!(
        lines[0].params[1..],
        ["target", "utarget", &lines[0].params[3], "*", "Real target"]
    );
    assert_eq!(last_param(&lines[1]), "@#open", "not the secret channel");
    assert_eq!(last_param(&lines[4]), "out");
    assert_eq!(lines[5].params[2], "target");
    let idle = &lines[6].params;
    assert!(idle[2].parse::<u64>().is_ok() && idle[3].parse::<u64>().unwrap() > 0);
    // Its own member sees the secret channel.
    target.until("JOIN").await;
    let lines = ask(&mut target, "WHOIS target").await;
    let channels = last_param(&lines[1]);
    assert!(channels.contains("@#hideout") && channels.contains("@#open"));
    // Invisible: only shared channels show.
    ask(&mut target, "MODE target +i").await;
    ask(&mut me, "PART #open").await;
    let lines = ask(&mut me, "WHOIS target").await;
    assert!(!commands(&lines).contains(&"319"), "{lines:?}");
    // Nobody by that name.
    let lines = ask(&mut me, "WHOIS nobody").await;
    assert_eq!(commands(&lines), ["401", "318"]);
    server.stop().await;
}

#[tokio::test]
async fn nick_to_the_very_same_nickname_is_ignored_but_a_case_change_is_not() {
    let server = server().await;
    let mut c = user(&server, "Alice").await;
    assert!(ask(&mut c, "NICK Alice").await.is_empty());
    let lines = ask(&mut c, "NICK alice").await;
    assert_eq!(commands(&lines), ["NICK"]);
    assert_eq!(lines[0].params[0], "alice");
    server.stop().await;
}
