//! The hardening work through the real binary, where only the binary can
//! show it: what `chatroom serve` logs (never a password), accounts and bans
//! across a restart of the process, and what `chatroom join` prints when
//! other users send terminal control sequences (nothing that reaches the
//! terminal as one).

use chatroom_proto::irc::parse;
use chatroom_testkit::{Exit, Raw, Serve, ServerProcess, TestServer, WAIT};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::support::{BIN, chatroom, run};

/// Sends IRC lines and reads until the server has answered them all (the
/// PONG of a final PING) or closed the connection.
async fn irc_exchange(addr: std::net::SocketAddr, lines: &[&str]) -> Vec<String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (reader, mut writer) = stream.into_split();
    let mut text: String = lines.iter().map(|l| format!("{l}\r\n")).collect();
    text.push_str("PING :done\r\n");
    writer.write_all(text.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(reader).lines();
    let mut got = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, reader.next_line())
        .await
        .expect("the IRC server did not answer in time")
        .unwrap()
    {
        let m = parse(line.as_bytes()).unwrap();
        if m.command == "PONG" && m.params.last().map(String::as_str) == Some("done") {
            break;
        }
        got.push(line);
    }
    got
}

/// Sends one JSON request on a fresh connection; returns the first reply.
async fn json_exchange(addr: std::net::SocketAddr, request: Value) -> Value {
    let mut c = Raw::connect(addr).await;
    c.send_json(request).await;
    c.recv().await
}

#[tokio::test]
async fn passwords_never_appear_in_the_servers_log() {
    // Every password used below, right or wrong, accepted or refused.
    let secrets = [
        "first-Secret-1",
        "wrong-Secret-2",
        "later-Secret-3",
        "irc-Secret-4",
        "irc-wrong-Secret-5",
        "short-6",
        "bad-nick-Secret-7",
        "unfinished-Secret-8",
        "73914025",
    ];
    let server = Serve::new(BIN)
        .args(&["--irc-listen", "127.0.0.1:0", "--in-memory"])
        .log_level("trace")
        .start()
        .await;
    let (json_addr, irc_addr) = (server.addr(), server.irc_addr());

    // Registering before login, logging in with the password, a wrong one.
    let mut alice = Raw::connect(json_addr).await;
    alice
        .send_json(json!({"type": "register", "nickname": "alice", "password": secrets[0]}))
        .await;
    alice.recv_type("registered").await;
    let reply = json_exchange(
        json_addr,
        json!({"type": "login", "nickname": "alice", "password": secrets[1]}),
    )
    .await;
    assert_eq!(reply["code"], "wrong_password");
    alice.send_json(json!({"type": "logout"})).await;
    alice.until_closed().await;
    let reply = json_exchange(
        json_addr,
        json!({"type": "login", "nickname": "alice", "password": secrets[0]}),
    )
    .await;
    assert_eq!(reply["type"], "welcome");
    // Registering after login; a password too short; a bad nickname.
    let mut bob = Raw::login(json_addr, "bob").await;
    bob.send_json(json!({"type": "register", "password": secrets[2]}))
        .await;
    bob.recv_type("registered").await;
    let reply = json_exchange(
        json_addr,
        json!({"type": "register", "nickname": "carol", "password": secrets[5]}),
    )
    .await;
    assert_eq!(reply["code"], "invalid_field");
    let reply = json_exchange(
        json_addr,
        json!({"type": "login", "nickname": "bad nick", "password": secrets[6]}),
    )
    .await;
    assert_eq!(reply["type"], "error");
    // A password of the wrong type (a number).
    let reply = json_exchange(
        json_addr,
        json!({"type": "login", "nickname": "alice", "password": 73_914_025_u64}),
    )
    .await;
    assert_eq!(reply["code"], "invalid_field");
    // A frame cut short (malformed) with a password in it.
    let mut broken = Raw::connect(json_addr).await;
    broken
        .send(
            format!(
                "{{\"type\":\"login\",\"nickname\":\"x\",\"password\":\"{}\n{{\"type\":\"ping\"}}",
                secrets[7]
            )
            .as_bytes(),
        )
        .await;
    broken.expect_error("malformed_json").await;

    // IRC: REGISTER, PASS, a wrong PASS.
    let register = format!("REGISTER * * :{}", secrets[3]);
    let pass = format!("PASS :{}", secrets[3]);
    let wrong_pass = format!("PASS :{}", secrets[4]);
    for (sent, numeric) in [
        (
            &[
                "NICK dave",
                register.as_str(),
                "USER dave 0 * :Dave",
                "QUIT",
            ][..],
            " 001 ",
        ),
        (
            &[pass.as_str(), "NICK dave", "USER dave 0 * :Dave", "QUIT"],
            " 001 ",
        ),
        (
            &[wrong_pass.as_str(), "NICK dave", "USER dave 0 * :Dave"],
            " 464 ",
        ),
    ] {
        let lines = irc_exchange(irc_addr, sent).await;
        assert!(lines.iter().any(|l| l.contains(numeric)), "{lines:?}");
    }

    let Exit { code, log } = server.stop().await;
    assert_eq!(code, Some(0));
    // The log is there, and says what happened...
    for expected in [
        "account registered",
        "nick=alice",
        "nick=dave",
        "refused client input",
    ] {
        assert!(log.contains(expected), "the log lacks {expected:?}:\n{log}");
    }
    // ...without a single password.
    for secret in secrets {
        assert!(
            !log.contains(secret),
            "the log shows the password {secret:?}:\n{log}"
        );
    }
}

async fn restartable(dir: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--data-dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    ServerProcess::start(BIN, &args).await
}

#[tokio::test]
async fn accounts_and_bans_survive_a_restart_of_the_process() {
    let dir = tempfile::tempdir().unwrap();
    // First run: an operator by credentials; `admin` registers an account.
    let server = restartable(dir.path(), &["--oper", "root:root-password"]).await;
    let mut admin = Raw::connect(server.addr()).await;
    admin
        .send_json(json!({"type": "register", "nickname": "admin", "password": "admin-password"}))
        .await;
    admin.recv_type("registered").await;
    admin
        .send_json(json!({"type": "oper", "name": "root", "password": "root-password"}))
        .await;
    admin.recv_type("done").await;
    let reply = json_exchange(
        server.addr(),
        json!({"type": "register", "nickname": "alice", "password": "alice-password"}),
    )
    .await;
    assert_eq!(reply["type"], "welcome");
    admin
        .send_json(json!({"type": "ban", "nickname": "mallory", "reason": "spam"}))
        .await;
    admin.recv_type("done").await;
    assert_eq!(server.stop().await.code, Some(0));

    // Second run: the registered account `admin` is named an operator.
    let server = restartable(dir.path(), &["--operator", "admin"]).await;
    let login = |nick: &str, password: Option<&str>| {
        let mut request = json!({"type": "login", "nickname": nick});
        if let Some(p) = password {
            request["password"] = json!(p);
        }
        json_exchange(server.addr(), request)
    };
    assert_eq!(login("alice", None).await["code"], "account_required");
    assert_eq!(
        login("alice", Some("not-her-password")).await["code"],
        "wrong_password"
    );
    assert_eq!(
        login("alice", Some("alice-password")).await["type"],
        "welcome"
    );
    assert_eq!(login("mallory", None).await["code"], "banned");
    // An operator: the configuration names the account.
    let mut admin = Raw::connect(server.addr()).await;
    admin
        .send_json(json!({"type": "login", "nickname": "admin", "password": "admin-password"}))
        .await;
    admin.recv_type("welcome").await;
    admin
        .send_json(json!({"type": "unban", "nickname": "mallory", "ref": 1}))
        .await;
    assert_eq!(admin.recv_type("done").await["ref"], 1);
    assert_eq!(login("mallory", None).await["type"], "welcome");
    assert_eq!(server.stop().await.code, Some(0));
}

/// An operator account must be registered before the server starts with
/// it: otherwise whoever registered the name first would be an operator.
#[tokio::test]
async fn the_server_refuses_to_start_with_an_unregistered_operator_account() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--operator",
            "ghost",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("\"ghost\" is not registered"), "{stderr}");
}

/// What other users send to get at a terminal: screen clearing, cursor
/// moves, window titles, hyperlinks, 8-bit CSI, bells, backspaces, carriage
/// returns, bidirectional overrides. Each carries a visible word the client
/// must still show.
const HOSTILE: [&str; 8] = [
    "\x1b[2J\x1b[Hclear-screen",
    "\x1b]0;pwned\x07window-title",
    "\u{9b}31mc1-csi",
    "\x1b]8;;http://evil.example/\x1b\\hyperlink\x1b]8;;\x1b\\",
    "bell\x07\x08\x08backspace",
    "carriage\roverwrite",
    "\u{202e}exe.txt-bidi",
    "two\nlines\x1b[1Acursor-up",
];

/// Bytes that must never reach the terminal: C0 controls but newline and
/// tab, DEL, C1 controls (UTF-8 C2 80-9F), bidirectional overrides.
fn forbidden(output: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(output);
    text.char_indices()
        .filter(|(_, c)| {
            (c.is_control() && *c != '\n' && *c != '\t')
                || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .map(|(i, c)| {
            let from = text[..i].char_indices().rev().nth(20).map_or(0, |(j, _)| j);
            format!("{:?} in {:?}", c, &text[from..i])
        })
        .collect()
}

#[tokio::test]
async fn the_client_strips_terminal_control_sequences_from_what_it_shows() {
    let server = TestServer::start().await;
    let mut mallory = Raw::login(server.addr, "mallory").await;
    // A room whose topic is hostile, for the viewer to join.
    mallory.join("den").await;
    mallory
        .send_json(json!({"type": "topic", "room": "den", "topic": "den-topic \x1b]2;retitled\x07\x1b[5m"}))
        .await;
    mallory.recv_type("topic").await;

    let mut viewer = chatroom(&[
        "join",
        "--plain",
        "--server",
        &server.addr.to_string(),
        "--nick",
        "viewer",
    ])
    .spawn()
    .unwrap();
    let mut stdin = viewer.stdin.take().unwrap();
    let mut stdout = BufReader::new(viewer.stdout.take().unwrap());
    let mut shown = Vec::new();
    // Reads the viewer's output up to a line containing `marker`.
    async fn read_past(
        stdout: &mut BufReader<tokio::process::ChildStdout>,
        shown: &mut Vec<u8>,
        marker: &str,
    ) {
        loop {
            let mut line = Vec::new();
            let n = tokio::time::timeout(WAIT, stdout.read_until(b'\n', &mut line))
                .await
                .expect("the client showed nothing in time")
                .unwrap();
            assert!(
                n > 0,
                "the client exited; it showed:\n{}",
                String::from_utf8_lossy(shown)
            );
            shown.extend_from_slice(&line);
            if String::from_utf8_lossy(&line).contains(marker) {
                return;
            }
        }
    }
    read_past(&mut stdout, &mut shown, "logged in as viewer").await;
    stdin.write_all(b"/join den\n").await.unwrap();
    read_past(&mut stdout, &mut shown, "den-topic").await;

    // Into the lobby, the room, privately, and as the lobby's topic.
    for text in HOSTILE {
        mallory.say(text).await;
        mallory
            .send_json(json!({"type": "broadcast", "room": "den", "message": text}))
            .await;
        mallory
            .send_json(json!({"type": "direct", "to": "viewer", "message": text}))
            .await;
    }
    mallory
        .send_json(
            json!({"type": "topic", "room": "lobby", "topic": "lobby-topic \x1b[2J\x1b]0;x\x07"}),
        )
        .await;
    mallory.say("END-OF-TEST").await;
    read_past(&mut stdout, &mut shown, "END-OF-TEST").await;
    drop(stdin);
    let status = tokio::time::timeout(WAIT, viewer.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    let text = String::from_utf8_lossy(&shown);
    let bad = forbidden(&shown);
    assert!(
        bad.is_empty(),
        "control characters reached the terminal: {bad:#?}\n{text}"
    );
    for word in [
        "clear-screen",
        "window-title",
        "c1-csi",
        "hyperlink",
        "backspace",
        "overwrite",
        "exe.txt-bidi",
        "cursor-up",
        "lobby-topic",
    ] {
        assert_eq!(
            text.matches(word).count(),
            if word == "lobby-topic" { 1 } else { 3 },
            "{word} should be shown once per place it was sent to:\n{text}"
        );
    }
    server.stop().await;
}

/// `chatroom passwd` hashes a password for an `[[opers]]` entry, and the
/// server started with that entry makes whoever gives the password an
/// operator.
#[tokio::test]
async fn passwd_makes_the_hash_an_opers_entry_takes() {
    let (code, stdout, stderr) = run(&["passwd"], "opers secret 1\n").await;
    assert_eq!(code, 0, "{stderr}");
    let hash = stdout.trim().to_owned();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("opers secret"), "{hash}");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("chatroom.toml");
    std::fs::write(
        &config,
        format!("[[opers]]\nname = \"chief\"\npassword_hash = \"{hash}\"\n"),
    )
    .unwrap();
    let server =
        ServerProcess::start(BIN, &["--in-memory", "--config", config.to_str().unwrap()]).await;
    let mut c = Raw::login(server.addr(), "someone").await;
    c.send_json(json!({"type": "oper", "name": "chief", "password": "opers secret 1"}))
        .await;
    assert_eq!(c.recv_type("done").await["request"], "oper");
    assert_eq!(server.stop().await.code, Some(0));
}
