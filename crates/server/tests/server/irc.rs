//! The IRC listener over real sockets: registration, every command, every
//! error numeric, the IRCv3 capabilities, and traffic across protocols.

use chatroom_proto::irc::Message;
use chatroom_testkit::{IrcRaw, Raw, TestServer, commands, last_param};
use serde_json::json;

#[tokio::test]
async fn registration_burst_and_automatic_lobby() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("NICK alice").await;
    c.send("USER al 0 * :Alice Liddell").await;
    let mut lines = Vec::new();
    loop {
        let m = c.recv().await;
        let done = m.command == "366";
        lines.push(m);
        if done {
            break;
        }
    }
    let got = commands(&lines);
    for expected in [
        "001", "002", "003", "004", "005", "251", "254", "255", "265", "266", "375", "372", "376",
        "JOIN", "353", "366",
    ] {
        assert!(got.contains(&expected), "missing {expected} in {got:?}");
    }
    assert!(!got.contains(&"252"), "no operators online: no 252");
    assert_eq!(lines[0].command, "001");
    assert_eq!(lines[0].params[0], "alice");
    assert!(
        last_param(&lines[0]).contains("alice!al@user-"),
        "{:?}",
        lines[0]
    );
    let isupport: Vec<&String> = lines
        .iter()
        .filter(|m| m.command == "005")
        .flat_map(|m| &m.params)
        .collect();
    for token in [
        "CASEMAPPING=rfc8265",
        "CHANTYPES=#",
        "NICKLEN=32",
        "CHANNELLEN=33",
        "UTF8ONLY",
    ] {
        assert!(
            isupport.iter().any(|t| *t == token),
            "005 lacks {token}: {isupport:?}"
        );
    }
    let join = lines.iter().find(|m| m.command == "JOIN").unwrap();
    assert_eq!(join.params, ["#lobby"]);
    assert_eq!(join.source.as_ref().unwrap().name, "alice");
    let names = lines.iter().find(|m| m.command == "353").unwrap();
    assert_eq!(names.params[1..3], ["=".to_owned(), "#lobby".to_owned()]);
    assert_eq!(last_param(names), "alice");
    server.stop().await;
}

#[tokio::test]
async fn cap_negotiation_holds_registration_until_end() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("CAP LS 302").await;
    let ls = c.recv().await;
    assert_eq!(ls.command, "CAP");
    assert_eq!(ls.params[1], "LS");
    for cap in [
        "server-time",
        "message-tags",
        "echo-message",
        "multi-prefix",
        "batch",
    ] {
        assert!(last_param(&ls).split(' ').any(|c| c == cap), "{ls:?}");
    }
    c.send("NICK capper").await;
    c.send("USER capper 0 * :Cap").await;
    c.send("CAP REQ :server-time bogus-cap").await;
    let nak = c.recv().await;
    assert_eq!(
        (nak.params[1].as_str(), last_param(&nak)),
        ("NAK", "server-time bogus-cap")
    );
    c.send("CAP REQ :server-time echo-message").await;
    let ack = c.recv().await;
    assert_eq!(
        (ack.params[1].as_str(), last_param(&ack)),
        ("ACK", "server-time echo-message")
    );
    c.send("CAP LIST").await;
    let list = c.recv().await;
    assert_eq!(list.params[1], "LIST");
    assert_eq!(last_param(&list), "echo-message server-time");
    c.send("CAP END").await;
    assert_eq!(
        c.recv().await.command,
        "001",
        "registration completes at CAP END"
    );
    c.send("CAP FLY").await;
    assert_eq!(c.until("410").await.params[1], "FLY");
    server.stop().await;
}

#[tokio::test]
async fn ping_pong_and_quit() {
    let server = TestServer::start().await;
    let mut watcher = Raw::login(server.addr, "watcher").await;
    let mut c = IrcRaw::register(server.irc_addr, "quitter", &[]).await;
    watcher.recv_type("presence").await;
    c.send("PING :token-123").await;
    let pong = c.recv().await;
    assert_eq!(pong.command, "PONG");
    assert_eq!(last_param(&pong), "token-123");
    c.send("PONG :whatever").await;
    c.send("QUIT :gone fishing").await;
    let lines = c.until_closed().await;
    let error = lines.last().unwrap();
    assert_eq!(error.command, "ERROR");
    assert!(
        last_param(error).contains("Quit: gone fishing"),
        "{error:?}"
    );
    let left = watcher.recv().await;
    assert_eq!(left["event"], "leave");
    assert_eq!(left["reason"], "Quit: gone fishing");
    server.stop().await;
}

#[tokio::test]
async fn join_part_names_and_their_errors() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "joiner", &[]).await;
    let mut other = IrcRaw::register(server.irc_addr, "other", &[]).await;
    other.send("JOIN #b").await;
    other.until("366").await;
    c.sync().await;
    c.send("JOIN #a,#b").await;
    let lines = c.sync().await;
    let joins: Vec<&str> = lines
        .iter()
        .filter(|m| m.command == "JOIN")
        .map(|m| m.params[0].as_str())
        .collect();
    assert_eq!(joins, ["#a", "#b"]);
    let names_b = lines
        .iter()
        .find(|m| m.command == "353" && m.params[2] == "#b")
        .unwrap();
    let mut nicks: Vec<&str> = last_param(names_b).split(' ').collect();
    nicks.sort();
    assert_eq!(nicks, ["@other", "joiner"], "its creator is its operator");
    // The other member of #b sees the join.
    let seen = other.sync().await;
    assert!(seen.iter().any(|m| m.command == "JOIN"
        && m.params[0] == "#b"
        && m.source.as_ref().unwrap().name == "joiner"));

    c.send("JOIN #a").await;
    assert!(
        c.sync().await.is_empty(),
        "joining a channel one is in is silent"
    );
    c.send("JOIN nohash,#bad!").await;
    let errors = c.sync().await;
    assert_eq!(commands(&errors), ["403", "403"]);

    c.send("NAMES #b").await;
    let names = c.sync().await;
    assert_eq!(commands(&names), ["353", "366"]);
    c.send("PART #b :see you").await;
    let part = c.recv().await;
    assert_eq!(
        (
            part.command.as_str(),
            part.params[0].as_str(),
            last_param(&part)
        ),
        ("PART", "#b", "see you")
    );
    let seen = other.sync().await;
    assert!(
        seen.iter()
            .any(|m| m.command == "PART" && last_param(m) == "see you")
    );
    c.send("PART #b").await;
    assert_eq!(c.recv().await.command, "442");
    c.send("JOIN 0").await;
    let parted = c.sync().await;
    let mut gone: Vec<&str> = parted
        .iter()
        .filter(|m| m.command == "PART")
        .map(|m| m.params[0].as_str())
        .collect();
    gone.sort();
    assert_eq!(gone, ["#a", "#lobby"]);
    server.stop().await;
}

#[tokio::test]
async fn topic_query_set_and_errors() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "topper", &[]).await;
    let mut json = Raw::login(server.addr, "jsonuser").await;
    json.join("t").await;
    // Its creator lets every member set the topic.
    json.send_json(json!({"type": "mode", "room": "t", "modes": "-t"}))
        .await;
    json.recv_type("done").await;
    c.send("JOIN #t").await;
    c.until("366").await;
    c.send("TOPIC #t").await;
    assert_eq!(c.recv().await.command, "331");
    c.send("TOPIC #t :Rust and IRC").await;
    let echo = c.recv().await;
    assert_eq!(
        (echo.command.as_str(), last_param(&echo)),
        ("TOPIC", "Rust and IRC")
    );
    let p = json.recv_type("presence").await;
    let p = if p["event"] == "join" {
        json.recv_type("presence").await
    } else {
        p
    };
    assert_eq!(p["event"], "topic");
    assert_eq!(p["topic"], "Rust and IRC");
    c.send("TOPIC #t").await;
    let lines = c.sync().await;
    assert_eq!(commands(&lines), ["332", "333"]);
    assert_eq!(last_param(&lines[0]), "Rust and IRC");
    assert_eq!(lines[1].params[2], "topper");
    c.send("TOPIC #nowhere :x").await;
    assert_eq!(c.recv().await.command, "442");
    c.send("TOPIC bad").await;
    assert_eq!(c.recv().await.command, "403");
    server.stop().await;
}

#[tokio::test]
async fn list_who_whois_and_lookups() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::register(server.irc_addr, "asker", &[]).await;
    let _json = Raw::login(server.addr, "jsonfriend").await;
    c.sync().await;
    c.send("LIST").await;
    let list = c.sync().await;
    assert_eq!(commands(&list), ["321", "322", "323"]);
    assert_eq!(list[1].params[1..3], ["#lobby".to_owned(), "2".to_owned()]);

    c.send("WHO #lobby").await;
    let who = c.sync().await;
    assert_eq!(commands(&who), ["352", "352", "315"]);
    let mut nicks: Vec<&str> = who[..2].iter().map(|m| m.params[5].as_str()).collect();
    nicks.sort();
    assert_eq!(nicks, ["asker", "jsonfriend"]);
    c.send("WHO jsonfriend").await;
    assert_eq!(commands(&c.sync().await), ["352", "315"]);

    c.send("WHOIS jsonfriend").await;
    let whois = c.sync().await;
    assert_eq!(commands(&whois), ["311", "319", "312", "317", "318"]);
    assert_eq!(whois[1].params[1], "jsonfriend");
    assert_eq!(last_param(&whois[1]), "#lobby");
    c.send("WHOIS nobody").await;
    assert_eq!(commands(&c.sync().await), ["401", "318"]);

    c.send("ISON jsonfriend nobody ASKER").await;
    assert_eq!(last_param(&c.recv().await), "jsonfriend asker");
    c.send("USERHOST jsonfriend").await;
    let uh = c.recv().await;
    assert_eq!(uh.command, "302");
    assert!(
        last_param(&uh).starts_with("jsonfriend=+jsonfriend@user-"),
        "{uh:?}"
    );
    c.send("VERSION").await;
    assert_eq!(c.recv().await.command, "351");
    c.send("TIME").await;
    assert_eq!(c.recv().await.command, "391");
    c.send("MOTD").await;
    assert_eq!(c.sync().await.first().unwrap().command, "375");
    c.send("LUSERS").await;
    let lusers = c.sync().await;
    assert_eq!(lusers[0].command, "251");
    assert!(
        last_param(&lusers[0]).contains("There are 2 users"),
        "{lusers:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn privmsg_and_notice_across_protocols() {
    let server = TestServer::start().await;
    let mut irc = IrcRaw::register(server.irc_addr, "ircer", &[]).await;
    let mut json = Raw::login(server.addr, "jsoner").await;
    irc.sync().await;
    // IRC to JSON, in a channel and directly.
    irc.send("PRIVMSG #lobby :hello json").await;
    irc.send("PRIVMSG jsoner :just you").await;
    irc.send("PRIVMSG #lobby :\u{1}ACTION waves\u{1}").await;
    let m = json.recv_type("message").await;
    assert_eq!(
        (
            m["room"].as_str(),
            m["message"].as_str(),
            m["sender_nickname"].as_str()
        ),
        (Some("lobby"), Some("hello json"), Some("ircer"))
    );
    let d = json.recv_type("direct").await;
    assert_eq!(d["message"], "just you");
    let a = json.recv_type("message").await;
    assert_eq!(
        (a["message"].as_str(), a["action"].as_bool()),
        (Some("waves"), Some(true))
    );
    // JSON to IRC.
    json.say("hello irc").await;
    json.send_json(json!({"type": "direct", "to": "IRCER", "message": "psst"}))
        .await;
    json.send_json(json!({"type": "broadcast", "message": "two\nlines"}))
        .await;
    json.send_json(json!({"type": "broadcast", "message": "dances", "action": true}))
        .await;
    let lines: Vec<Message> = {
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(irc.until("PRIVMSG").await);
        }
        got
    };
    let texts: Vec<(&str, &str)> = lines
        .iter()
        .map(|m| (m.params[0].as_str(), last_param(m)))
        .collect();
    assert_eq!(
        texts,
        [
            ("#lobby", "hello irc"),
            ("ircer", "psst"),
            ("#lobby", "two"),
            ("#lobby", "lines"),
            ("#lobby", "\u{1}ACTION dances\u{1}")
        ]
    );
    assert_eq!(lines[0].source.as_ref().unwrap().name, "jsoner");
    // Errors: no such nick, channel not joined; NOTICE errors are silent.
    irc.send("PRIVMSG nobody :hi").await;
    assert_eq!(irc.recv().await.command, "401");
    irc.send("PRIVMSG #elsewhere :hi").await;
    assert_eq!(irc.recv().await.command, "404");
    irc.send("NOTICE nobody :hi").await;
    irc.send("NOTICE #lobby :a notice").await;
    assert!(irc.sync().await.is_empty());
    assert_eq!(json.recv_type("message").await["message"], "a notice");
    server.stop().await;
}

#[tokio::test]
async fn away_nick_mode_and_kick() {
    let server = TestServer::start().await;
    let mut a = IrcRaw::register(server.irc_addr, "awayer", &[]).await;
    let mut b = IrcRaw::register(server.irc_addr, "bee", &[]).await;
    let mut json = Raw::login(server.addr, "observer").await;
    a.sync().await;
    b.sync().await;
    a.send("AWAY :lunch").await;

    assert_eq!(a.recv().await.command, "306");
    b.send("PRIVMSG awayer :you there?").await;
    let away = b.recv().await;
    assert_eq!((away.command.as_str(), last_param(&away)), ("301", "lunch"));
    b.send("WHOIS awayer").await;
    assert!(commands(&b.sync().await).contains(&"301"));
    a.send("AWAY").await;
    assert_eq!(a.until("305").await.command, "305");

    b.sync().await;
    a.send("NICK ayy").await;
    let echo = a.until("NICK").await;
    assert_eq!(
        (
            echo.source.as_ref().unwrap().name.as_str(),
            echo.params[0].as_str()
        ),
        ("awayer", "ayy")
    );
    assert_eq!(b.until("NICK").await.params[0], "ayy");
    // The JSON client in the lobby heard the IRC user go away and come
    // back (after the joins), then the new nickname.
    let mut p = json.recv_type("presence").await;
    while p["event"] == "join" {
        p = json.recv_type("presence").await;
    }
    assert_eq!(
        (
            p["event"].as_str(),
            p["nickname"].as_str(),
            p["away"].as_str()
        ),
        (Some("away"), Some("awayer"), Some("lunch"))
    );
    let p = json.recv_type("presence").await;
    assert_eq!(
        (p["event"].as_str(), p["nickname"].as_str()),
        (Some("back"), Some("awayer"))
    );
    let p = json.recv_type("presence").await;
    assert_eq!(
        (p["event"].as_str(), p["nickname"].as_str()),
        (Some("nick"), Some("ayy"))
    );
    a.send("NICK bee").await;
    assert_eq!(a.recv().await.command, "433");
    a.send("NICK bad!nick").await;
    assert_eq!(a.recv().await.command, "432");

    a.send("MODE #lobby").await;
    let mode = a.recv().await;
    assert_eq!(
        (mode.command.as_str(), mode.params[2].as_str()),
        ("324", "+n")
    );
    assert_eq!(a.recv().await.command, "329");
    a.send("MODE #lobby b").await;
    assert_eq!(a.recv().await.command, "368");
    a.send("MODE #lobby +o bee").await;
    assert_eq!(a.recv().await.command, "482");
    a.send("MODE ayy").await;
    assert_eq!(a.recv().await.command, "221");
    a.send("MODE ayy +i").await;
    let set = a.recv().await;
    assert_eq!((set.command.as_str(), last_param(&set)), ("MODE", "+i"));
    a.send("MODE ayy +z").await;
    assert_eq!(a.recv().await.command, "501");
    a.send("MODE bee").await;
    assert_eq!(a.recv().await.command, "502");
    a.send("KICK #lobby bee").await;
    assert_eq!(a.recv().await.command, "482");
    server.stop().await;
}

#[tokio::test]
async fn error_numerics() {
    let server = TestServer::start().await;
    let mut c = IrcRaw::connect(server.irc_addr).await;
    c.send("JOIN #early").await;
    assert_eq!(c.recv().await.command, "451");
    c.send("FROBNICATE").await;
    assert_eq!(c.recv().await.command, "421");
    c.send("NICK").await;
    assert_eq!(c.recv().await.command, "431");
    c.send("NICK bad,nick").await;
    assert_eq!(c.recv().await.command, "432");
    c.send("USER only").await;
    assert_eq!(c.recv().await.command, "461");
    let _taken = IrcRaw::register(server.irc_addr, "taken", &[]).await;
    c.send("NICK TAKEN").await;
    c.send("USER x 0 * :X").await;
    assert_eq!(c.recv().await.command, "433");
    c.send("NICK fresh").await;
    assert_eq!(c.until("001").await.params[0], "fresh");
    c.until("366").await;
    c.sync().await;
    c.send("USER again 0 * :Again").await;
    assert_eq!(c.recv().await.command, "462");
    c.send("PRIVMSG").await;
    assert_eq!(c.recv().await.command, "411");
    c.send("PRIVMSG #lobby").await;
    assert_eq!(c.recv().await.command, "412");
    c.send("JOIN").await;
    assert_eq!(c.recv().await.command, "461");
    c.send(&format!("PRIVMSG #lobby :{}", "x".repeat(600)))
        .await;
    assert_eq!(c.recv().await.command, "417");
    c.send_raw(b"PRIVMSG #lobby :\xff\xfe\r\n").await;
    let fail = c.recv().await;
    assert_eq!(
        (fail.command.as_str(), fail.params[1].as_str()),
        ("FAIL", "INVALID_UTF8")
    );
    // Still usable afterwards.
    assert!(c.sync().await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn ircv3_server_time_message_tags_and_echo() {
    let server = TestServer::start().await;
    let mut tagged = IrcRaw::register(
        server.irc_addr,
        "tagged",
        &["server-time", "message-tags", "echo-message"],
    )
    .await;
    let mut json = Raw::login(server.addr, "sender").await;
    tagged.sync().await;
    let msg_id = json.say_in("lobby", "stamped").await;
    let m = tagged.until("PRIVMSG").await;
    let time = m.tag("time").unwrap().unwrap();
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    assert_eq!(m.tag("msgid"), Some(Some(msg_id.to_string().as_str())));
    tagged.send("PRIVMSG #lobby :my own words").await;
    let echo = tagged.until("PRIVMSG").await;
    assert_eq!(
        (
            echo.source.as_ref().unwrap().name.as_str(),
            last_param(&echo)
        ),
        ("tagged", "my own words")
    );
    assert!(echo.tag("msgid").is_some());
    server.stop().await;
}

#[tokio::test]
async fn history_replay_on_join_with_and_without_capabilities() {
    let server = TestServer::start().await;
    let mut json = Raw::login(server.addr, "historian").await;
    json.join("past").await;
    let first = json.say_in("past", "first words").await;
    json.say_in("past", "second\nwith two lines").await;

    let mut batched = IrcRaw::register(server.irc_addr, "batched", &["batch", "server-time"]).await;
    batched.send("JOIN #past").await;
    batched.until("366").await;
    let start = batched.recv().await;
    assert_eq!(
        (
            start.command.as_str(),
            start.params[1].as_str(),
            start.params[2].as_str()
        ),
        ("BATCH", "chathistory", "#past")
    );
    let id = start.params[0].trim_start_matches('+').to_owned();
    let mut texts = Vec::new();
    loop {
        let m = batched.recv().await;
        if m.command == "BATCH" {
            assert_eq!(m.params[0], format!("-{id}"));
            break;
        }
        assert_eq!(m.tag("batch"), Some(Some(id.as_str())));
        assert!(m.tag("time").is_some());
        texts.push(last_param(&m).to_owned());
    }
    assert_eq!(texts, ["first words", "second", "with two lines"]);

    let mut plain = IrcRaw::register(server.irc_addr, "plain", &[]).await;
    plain.send("JOIN #past").await;
    plain.until("366").await;
    let replay = plain.sync().await;
    assert_eq!(replay.len(), 3);
    assert!(
        replay
            .iter()
            .all(|m| m.command == "PRIVMSG" && m.tags.is_empty())
    );
    assert!(
        last_param(&replay[0]).starts_with('[')
            && last_param(&replay[0]).ends_with("UTC] first words"),
        "{:?}",
        replay[0]
    );
    let _ = first;
    server.stop().await;
}

/// IRC users see why someone who stopped reading was cut off, in the words
/// IRC servers use.
#[tokio::test]
async fn a_slow_consumer_quits_with_sendq_exceeded() {
    let server = TestServer::start_with(chatroom_server::Config {
        outbox_bytes: 64 * 1024,
        ..chatroom_testkit::test_config()
    })
    .await;
    let mut irc = IrcRaw::register(server.irc_addr, "watcher", &[]).await;
    irc.sync().await;
    // A tiny receive buffer, and it never reads after its welcome.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (_slow_reader, mut slow_writer) = stream.into_split();
    use tokio::io::AsyncWriteExt;
    slow_writer
        .write_all(br#"{"type":"login","nickname":"slowpoke"}"#)
        .await
        .unwrap();
    irc.until("JOIN").await;
    let mut talker = Raw::login(server.addr, "talker").await;
    let text = "x".repeat(1000);
    // 20 KB a round, read by the watcher each round; at most 8 MB, far
    // past the slow client's 64 KiB budget and its socket buffers.
    let mut quit = None;
    for _ in 0..400 {
        for _ in 0..20 {
            talker.say(&text).await;
        }
        let lines = irc.sync().await;
        quit = lines.into_iter().find(|m| m.command == "QUIT");
        if quit.is_some() {
            break;
        }
    }
    let quit = quit.expect("the slow client was never cut off");
    assert!(
        quit.source
            .as_ref()
            .unwrap()
            .to_string()
            .starts_with("slowpoke!"),
        "{quit:?}"
    );
    assert_eq!(
        last_param(&quit),
        "SendQ exceeded (fell too far behind reading)"
    );
    drop(slow_writer);
    server.stop().await;
}

/// A PRIVMSG that filled the client's line arrives as one line, cut to
/// fit once the sender's `nick!user@host` is in front of it (as IRC servers
/// do), never as a second line the sender did not write; a JSON user gets
/// the same text.
#[tokio::test]
async fn a_full_line_from_irc_is_relayed_as_one_line_cut_to_fit() {
    let server = TestServer::start().await;
    let mut sender = IrcRaw::register(server.irc_addr, "sender", &["echo-message"]).await;
    let mut receiver = IrcRaw::register(server.irc_addr, "receiver", &[]).await;
    let text = "b".repeat(510 - "PRIVMSG #lobby :".len());
    sender.send(&format!("PRIVMSG #lobby :{text}")).await;
    let echo = sender.until("PRIVMSG").await;
    let relayed = receiver.until("PRIVMSG").await;
    for m in [&echo, &relayed] {
        let got = last_param(m);
        assert!(
            got.len() >= 400 && text.starts_with(got),
            "{} bytes",
            got.len()
        );
        assert!(m.encode().len() <= 512);
    }
    let rest = receiver.sync().await;
    assert!(
        !commands(&rest).contains(&"PRIVMSG"),
        "a second line: {rest:?}"
    );
    let rest = sender.sync().await;
    assert!(
        !commands(&rest).contains(&"PRIVMSG"),
        "a second echo: {rest:?}"
    );
    // Short texts are untouched.
    sender.send("PRIVMSG #lobby :short").await;
    assert_eq!(last_param(&receiver.until("PRIVMSG").await), "short");
    server.stop().await;
}
