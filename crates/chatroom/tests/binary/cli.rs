//! The real `chatroom` binary: scripted joins, exit codes, output format, and
//! graceful shutdown of `chatroom serve` on SIGTERM.

use chatroom_testkit::{Exit, Raw, ServerProcess, TestServer, WAIT};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{BIN, chatroom, finish};

/// `printf 'login bob\nsend hi\n' | chatroom join` delivers the message and
/// exits 0 once it is acknowledged.
#[tokio::test]
async fn piped_login_and_send_delivers_then_exits_cleanly() {
    let server = TestServer::start().await;
    let mut listener = Raw::login(server.addr, "listener").await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all("login bob\nsend hi\nplain line 你好\n".as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("* logged in as bob"), "{stdout}");
    assert!(stdout.contains("[bob("), "own messages are shown: {stdout}");

    let joined = listener.recv().await;
    assert_eq!(joined["event"], "join");
    let m = listener.recv().await;
    assert_eq!(
        (m["sender_nickname"].as_str(), m["message"].as_str()),
        (Some("bob"), Some("hi"))
    );
    let m = listener.recv().await;
    assert_eq!(m["message"], "plain line 你好");
    let left = listener.recv().await;
    assert_eq!(left["event"], "leave");
    assert_eq!(left["reason"], "logout");
    server.stop().await;
}

/// Lines show as `HH:MM #room [nick(id)] text`.
#[tokio::test]
async fn incoming_lines_are_shown_as_time_room_nick_id_text() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr, "--nick", "carol"])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first
            .as_deref()
            .map(|l| l.starts_with("* logged in as carol")),
        Some(true)
    );

    let mut dave = Raw::login(server.addr, "dave").await;
    let joined = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        joined.ends_with(&format!("[System(0)] dave({}) joined", dave.id)),
        "{joined}"
    );
    dave.say("hello carol\x1b[2J").await;
    let line = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (clock, rest) = line.split_at(5);
    assert!(
        clock.chars().filter(|c| c.is_ascii_digit()).count() == 4 && &clock[2..3] == ":",
        "{line}"
    );
    // The escape sequence is not passed to the terminal: the server
    // already replaced the ESC with U+FFFD.
    assert_eq!(
        rest,
        format!(" #lobby [dave({})] hello carol\u{FFFD}[2J", dave.id)
    );

    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"/quit\n")
        .await
        .unwrap();
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    server.stop().await;
}

/// `--password-env VAR` with VAR unset or empty is refused before any
/// connection (exit code 2), rather than logging in without the password.
#[tokio::test]
async fn a_missing_password_variable_is_an_error() {
    for value in [None, Some("")] {
        let mut cmd = chatroom(&[
            "join",
            "--plain",
            "--server",
            "127.0.0.1:9",
            "--nick",
            "alice",
            "--password-env",
            "CHATROOM_TEST_PASSWORD",
        ]);
        match value {
            Some(v) => cmd.env("CHATROOM_TEST_PASSWORD", v),
            None => cmd.env_remove("CHATROOM_TEST_PASSWORD"),
        };
        let (code, _, stderr) = finish(cmd.spawn().unwrap()).await;
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("CHATROOM_TEST_PASSWORD"), "{stderr}");
    }
}

#[tokio::test]
async fn unreachable_server_exits_3_with_a_clear_message() {
    // Bind then drop a listener: nothing listens on that port now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, 3);
    assert!(stderr.contains("cannot reach 127.0.0.1"), "{stderr}");
}

#[tokio::test]
async fn server_going_away_exits_4() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr, "--nick", "erin"])
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .unwrap()
        .unwrap();
    server.stop().await;
    let mut rest = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, stdout.next_line())
        .await
        .expect("the client did not exit when the server went away")
        .unwrap()
    {
        rest.push(line);
    }
    assert!(rest.iter().any(|l| l.contains("shutting down")), "{rest:?}");
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("connection to the server was lost"),
        "{stderr}"
    );
}

#[tokio::test]
async fn refused_nick_exits_5() {
    let server = TestServer::start().await;
    let _frank = Raw::login(server.addr, "frank").await;
    let addr = server.addr.to_string();
    let child = chatroom(&["join", "--server", &addr, "--nick", "FRANK"])
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, 5);
    assert!(stderr.contains("nickname_taken"), "{stderr}");
    server.stop().await;
}

/// `chatroom serve` stops accepting, says goodbye and exits 0 on SIGTERM,
/// having closed its history store in order (no connection left holding
/// the hub).
#[tokio::test]
async fn serve_shuts_down_gracefully_on_sigterm() {
    let server = ServerProcess::start(BIN, &["--in-memory"]).await;
    let mut client = Raw::login(server.addr(), "grace").await;
    server.signal("TERM").await;
    let frames = client.until_closed().await;
    assert_eq!(frames.last().unwrap()["type"], "bye");
    let Exit { code, log } = server.wait().await;
    assert_eq!(code, Some(0));
    assert!(log.contains("shut down"), "{log}");
    assert!(!log.contains("without closing the store"), "{log}");
}

/// The moderation commands of line mode through the real binary: a key
/// refused and given, an invite, operator and voice given and taken, modes
/// set and shown, a ban listed and lifted, a kick; each change reads as a
/// sentence in the room.
#[tokio::test]
async fn line_mode_moderation_commands() {
    let server = TestServer::start().await;
    let mut bob = Raw::login(server.addr, "bob").await;
    bob.join("vault").await;
    bob.send_json(
        serde_json::json!({"type": "mode", "room": "vault", "modes": "+k", "args": ["sesame"]}),
    )
    .await;
    bob.recv_type("done").await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"login ann\n/join vault\n/join vault sesame\n/join den\n/invite bob\n")
        .await
        .unwrap();
    // bob goes in once invited (and so needs no key for it).
    loop {
        let v = bob.recv().await;
        if v["event"] == "invite" {
            assert_eq!((&v["room"], &v["nickname"]), (&"den".into(), &"ann".into()));
            break;
        }
    }
    bob.join("den").await;
    stdin
        .write_all(
            b"/op bob\n/voice bob\n/mode +m\n/mode\n/ban troll\n/ban\n/unban troll\n\
              /deop bob\n/kick bob enough\n/who\n",
        )
        .await
        .unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    for expected in [
        "* joined #vault; 2 here: @bob, ann",
        "* joined #den; 1 here: @ann",
        "* bob is invited into #den",
        "#den [System(0)] ann gives operator status to bob",
        "#den [System(0)] ann gives voice to bob",
        "#den [System(0)] ann sets +m (moderated)",
        "* modes of #den: +mnt",
        "#den [System(0)] ann bans troll!*@*",
        "* 1 bans in #den:\n    troll!*@* (by ann at ",
        "#den [System(0)] ann lifts the ban on troll!*@*",
        "#den [System(0)] ann takes operator status from bob",
        ") left (kicked by ann: enough)",
        "* 1 in #den: @ann(",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(
        stderr.contains("! bad_room_key:") && stderr.contains("(give its key: /join ROOM KEY)"),
        "{stderr}"
    );
    assert_eq!(
        code, 6,
        "the refused join ends in 6\nstdout: {stdout}\nstderr: {stderr}"
    );
    let mut kicked = false;
    while !kicked {
        let v = bob.recv().await;
        kicked = v["event"] == "leave" && v["room"] == "den";
    }
    server.stop().await;
}

/// The room commands of line mode, scripted through the real binary: each
/// reaches the server, and every line shows its room.
#[tokio::test]
async fn line_mode_room_commands() {
    let server = TestServer::start().await;
    let mut bob = Raw::login(server.addr, "bob").await;
    bob.join("rust").await;
    bob.say_in("rust", "earlier message").await;
    // Its creator lets every member set the topic.
    bob.send_json(serde_json::json!({"type": "mode", "room": "rust", "modes": "-t"}))
        .await;
    bob.recv_type("done").await;
    bob.assert_quiet_and_alive().await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let script = "login ann\n/join rust\nhello rust\n/me waves\n/msg bob just for you\n\
                  /topic Rust 2024\n/topic\n/rooms\n/who\n/history 5\n/nick annie\n/part\n\
                  back in the lobby\n/msg nobody hi\n";
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).await.unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    for expected in [
        "* joined #rust; 2 here: @bob, ann",
        "#rust [bob(",
        "] earlier message",
        "* 1 message(s) of history in #rust",
        "#rust [ann(",
        "] hello rust",
        "#rust * ann(",
        ") waves",
        "(direct to bob) [ann(",
        "* topic of #rust: Rust 2024 (set by ann at ",
        "* 2 room(s):\n    #lobby (2)\n    #rust (2) - Rust 2024",
        "* 2 in #rust: @bob(",
        "* you are now known as annie",
        "* left #rust; now talking in #lobby",
        "#lobby [annie(",
        "] back in the lobby",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    assert!(stderr.contains("! no_such_user:"), "{stderr}");
    assert_eq!(
        code, 6,
        "a refused message ends in 6\nstdout: {stdout}\nstderr: {stderr}"
    );

    let mut seen = Vec::new();
    loop {
        let v = bob.recv().await;
        let done = v["type"] == "presence" && v["event"] == "leave" && v.get("room").is_none();
        seen.push(v);
        if done {
            break;
        }
    }
    let texts: Vec<String> = seen
        .iter()
        .filter(|v| v["type"] == "message" || v["type"] == "direct")
        .map(|v| {
            format!(
                "{} {} {}",
                v["type"].as_str().unwrap(),
                v["room"],
                v["message"]
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            r#"message "rust" "hello rust""#,
            r#"message "rust" "waves""#,
            r#"direct null "just for you""#,
            r#"message "lobby" "back in the lobby""#,
        ]
    );
    assert!(
        seen.iter()
            .any(|v| v["event"] == "topic" && v["topic"] == "Rust 2024")
    );
    assert!(
        seen.iter()
            .any(|v| v["event"] == "nick" && v["nickname"] == "annie")
    );
    server.stop().await;
}

/// A scripted login the server refuses ends line mode with 5 at once:
/// nothing after it is sent (no `not_logged_in` for the lines that follow).
#[tokio::test]
async fn a_refused_scripted_login_exits_5() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"login System\nsend hi\n").await.unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, 5, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("invalid_nickname"), "{stderr}");
    assert!(!stderr.contains("not_logged_in"), "{stderr}");
    server.stop().await;
}

/// Messages the server refuses (too fast, to nobody) end in 6 once the
/// script is done; the messages that were delivered still are.
#[tokio::test]
async fn refused_messages_exit_6() {
    let config = chatroom_server::Config {
        messages_per_second: 1.0,
        message_burst: 1,
        ..chatroom_testkit::test_config()
    };
    let server = TestServer::start_with(config).await;
    let addr = server.addr.to_string();
    for script in [
        "login ann\n/msg nobody hi\n",
        "login bea\none\ntwo\nthree\n",
    ] {
        let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(script.as_bytes()).await.unwrap();
        drop(stdin);
        let (code, stdout, stderr) = finish(child).await;
        assert_eq!(code, 6, "{script:?}\nstdout: {stdout}\nstderr: {stderr}");
        assert!(
            stderr.contains("no_such_user") || stderr.contains("rate_limited"),
            "{stderr}"
        );
    }
    server.stop().await;
}

/// A line the client cannot make sense of is a usage error (2), reported
/// when the script ends.
#[tokio::test]
async fn a_script_line_that_is_not_a_command_exits_2() {
    let server = TestServer::start().await;
    let addr = server.addr.to_string();
    let mut child = chatroom(&["join", "--server", &addr]).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"login cy\n/dance\nstill sent\n")
        .await
        .unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("unknown command /dance"), "{stderr}");
    assert!(stdout.contains("] still sent"), "{stdout}");
    server.stop().await;
}

/// `--server` must be HOST:PORT: anything else is bad usage (2), found
/// before any connection is tried.
#[tokio::test]
async fn a_server_that_is_not_host_port_is_a_usage_error() {
    for server in ["nonsense", "host:", ":8000", "host:port", "host:70000"] {
        let child = chatroom(&["join", "--plain", "--server", server])
            .spawn()
            .unwrap();
        let (code, _, stderr) = finish(child).await;
        assert_eq!(code, 2, "{server}: {stderr}");
        assert!(stderr.contains("HOST:PORT"), "{server}: {stderr}");
    }
}

/// `chatroom join` with no flags takes the server and the nickname from
/// the XDG configuration file; a bad file is a usage error (2) naming it.
#[tokio::test]
async fn join_without_flags_uses_the_configuration_file() {
    let server = TestServer::start().await;
    let mut listener = Raw::login(server.addr, "listener").await;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("chatroom");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("client.toml"),
        format!("server = \"{}\"\nnick = \"configured\"\n", server.addr),
    )
    .unwrap();
    let mut child = chatroom(&["join"])
        .env("XDG_CONFIG_HOME", home.path())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from the file\n").await.unwrap();
    drop(stdin);
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("* logged in as configured"), "{stdout}");
    let said = listener.recv_type("message").await;
    assert_eq!(said["message"], "hello from the file");

    std::fs::write(dir.join("client.toml"), "nik = \"typo\"\n").unwrap();
    let child = chatroom(&["join"])
        .env("XDG_CONFIG_HOME", home.path())
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("client.toml") && stderr.contains("nik"),
        "{stderr}"
    );
    server.stop().await;
}
