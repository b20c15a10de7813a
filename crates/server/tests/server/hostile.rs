//! The hostile-input corpus (issue 6), replayed at a real server on both of
//! its listeners while two normal users keep chatting.
//!
//! Every test starts a server and a [`Conversation`]: `alice` (JSON) and
//! `bob` (IRC) in the lobby, exchanging numbered messages both ways in the
//! background, each checking that every message of the other arrives, in
//! order. The test then replays hostile input (truncated and invalid
//! UTF-8, deep nesting, huge numbers, NUL bytes, 10 MB lines, control
//! characters and escape sequences, garbage, stalled and half-closed
//! connections, floods of braces and of tiny frames, unknown rooms and
//! users, over-long IRC lines) and checks the documented answer to each
//! (`docs/protocol.md`, `docs/irc.md`): an error frame or numeric and an
//! open connection, or `frame_too_large` and a close. After each case it
//! waits for the conversation to make progress; at the end it checks that
//! no task panicked and that the server shuts down cleanly.
//!
//! Everything is on loopback, bounded in size and count, and waits for
//! events with generous timeouts (no sleeps).

use std::cell::Cell;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Once;
use std::time::Duration;

use chatroom_proto::irc::{Message, parse};
use chatroom_testkit::{IrcRaw, Raw, TestServer, WAIT, commands, last_param};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Messages each side sends per round of the conversation.
const BURST: usize = 3;

/// The conversation stops by itself after this many rounds.
const MAX_ROUNDS: u64 = 20_000;

/// Pause between rounds, so the conversation runs throughout a test
/// without hogging the two cores.
const PACE: Duration = Duration::from_millis(5);

/// Ten megabytes: the "huge line" of the corpus.
const HUGE: usize = 10 * 1024 * 1024;

/// The longest line RFC 1459 allows, CR-LF included, not counting tags.
const MAX_IRC_LINE: usize = 512;

/// Error codes a JSON request may get (`docs/protocol.md`, Errors).
const REQUEST_ERRORS: [&str; 7] = [
    "malformed_json",
    "invalid_utf8",
    "unknown_type",
    "missing_field",
    "invalid_field",
    "empty_message",
    "not_logged_in",
];

thread_local! {
    /// Panics on this thread. Each test runs its server on its own
    /// single-threaded runtime, so a panicking connection task counts here.
    static PANICS: Cell<usize> = const { Cell::new(0) };
}

/// Counts panics per thread from now on (the default report still prints).
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            report(info);
        }));
    });
}

/// Two normal users chatting across the protocols for as long as a test runs.
pub(crate) struct Conversation {
    stop: watch::Sender<bool>,
    rounds: watch::Receiver<u64>,
    task: JoinHandle<u64>,
}

impl Conversation {
    async fn start(server: &TestServer) -> Conversation {
        let mut alice = Raw::login(server.addr, "alice").await;
        let mut bob = IrcRaw::register(server.irc_addr, "bob", &[]).await;
        let (stop, stopped) = watch::channel(false);
        let (count, rounds) = watch::channel(0);
        let task = tokio::spawn(async move {
            let mut pace = tokio::time::interval(PACE);
            let mut round = 0;
            while !*stopped.borrow() && round < MAX_ROUNDS {
                pace.tick().await;
                for i in 0..BURST {
                    alice.say(&format!("a{round}.{i}")).await;
                    bob.send(&format!("PRIVMSG #lobby :b{round}.{i}")).await;
                }
                for i in 0..BURST {
                    assert_eq!(from_alice(&mut bob).await, format!("a{round}.{i}"));
                }
                for i in 0..BURST {
                    assert_eq!(from_bob(&mut alice).await, format!("b{round}.{i}"));
                }
                round += 1;
                count.send_replace(round);
            }
            round
        });
        Conversation { stop, rounds, task }
    }

    /// Waits until a whole round has gone through after this call.
    pub(crate) async fn goes_on(&mut self) {
        let now = *self.rounds.borrow_and_update();
        let progressed = tokio::time::timeout(WAIT, self.rounds.wait_for(|&r| r >= now + 2)).await;
        assert!(
            matches!(progressed, Ok(Ok(_))),
            "the conversation between alice and bob stopped"
        );
    }

    /// Ends the conversation; returns how many rounds it had.
    async fn finish(self) -> u64 {
        self.stop.send_replace(true);
        let rounds = tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the conversation did not end")
            .expect("the conversation failed");
        assert!(rounds > 0);
        rounds
    }
}

/// bob's next message from alice; everything bob reads is one valid line.
async fn from_alice(bob: &mut IrcRaw) -> String {
    loop {
        let m = bob.recv().await;
        assert!(m.body_len() <= MAX_IRC_LINE, "bob got {m:?}");
        if m.command == "PRIVMSG" && m.source.as_ref().is_some_and(|s| s.name == "alice") {
            assert_eq!(m.params[0], "#lobby");
            return m.params[1].clone();
        }
    }
}

/// alice's next message from bob.
async fn from_bob(alice: &mut Raw) -> String {
    loop {
        let v = alice.recv().await;
        if v["type"] == "message" && v["sender_nickname"] == "bob" {
            assert_eq!(v["room"], "lobby");
            return v["message"].as_str().unwrap().to_owned();
        }
    }
}

/// A server, its conversation, and the checks every test ends with.
pub(crate) struct Scene {
    pub(crate) server: TestServer,
    pub(crate) chat: Conversation,
}

impl Scene {
    pub(crate) async fn start() -> Scene {
        count_panics();
        let server = TestServer::start().await;
        let chat = Conversation::start(&server).await;
        Scene { server, chat }
    }

    fn json(&self) -> SocketAddr {
        self.server.addr
    }

    fn irc(&self) -> SocketAddr {
        self.server.irc_addr
    }

    /// The conversation went on unharmed, nothing panicked, and the server
    /// shuts down cleanly.
    pub(crate) async fn finish(self) {
        self.chat.finish().await;
        assert_eq!(PANICS.with(Cell::get), 0, "a task panicked");
        self.server.stop().await;
    }
}

/// A hostile client: raw bytes out; frames or lines in. A connection reset
/// reads as the end of the stream.
struct Peer {
    inbox: Inbox,
    writer: OwnedWriteHalf,
}

/// The reading half of a [`Peer`].
struct Inbox {
    reader: BufReader<OwnedReadHalf>,
}

impl Peer {
    async fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (reader, writer) = stream.into_split();
        Peer {
            inbox: Inbox {
                reader: BufReader::new(reader),
            },
            writer,
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Connects and logs in to the JSON listener, then leaves the lobby
    /// (so that the conversation there does not reach this peer).
    async fn login(addr: SocketAddr, nick: &str) -> Peer {
        let mut p = Peer::connect(addr).await;
        p.send(
            json!({"type": "login", "nickname": nick})
                .to_string()
                .as_bytes(),
        )
        .await;
        assert_eq!(p.inbox.frame().await["type"], "welcome");
        p.leave_lobby().await;
        p
    }

    /// JSON: leaves the lobby; everything said there before is skipped.
    async fn leave_lobby(&mut self) {
        self.send(br#"{"type":"part","room":"lobby"}"#).await;
        self.inbox.frame_of("parted").await;
    }

    /// Connects and registers with the IRC listener, then leaves `#lobby`
    /// (so that the conversation there does not reach this peer).
    async fn register(addr: SocketAddr, nick: &str) -> Peer {
        let mut p = Peer::connect(addr).await;
        p.send(format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n").as_bytes())
            .await;
        p.inbox.until("001").await;
        p.inbox.until("366").await;
        p.part_lobby().await;
        p
    }

    /// IRC: leaves `#lobby`; everything said there before is skipped.
    async fn part_lobby(&mut self) {
        self.send(b"PART #lobby\r\n").await;
        self.inbox.until("PART").await;
        self.sync().await;
    }

    /// JSON: sends `bytes`; the next frame must be the error `code`.
    async fn refused(&mut self, bytes: &[u8], code: &str) -> Value {
        self.send(bytes).await;
        self.inbox.error(code).await
    }

    /// JSON: a ping must be answered by the very next frame.
    async fn alive(&mut self) {
        self.send(br#"{"type":"ping","ref":"alive?"}"#).await;
        assert_eq!(
            self.inbox.frame().await,
            json!({"type": "pong", "ref": "alive?"})
        );
    }

    /// IRC: sends `line`; the next line must have the command `numeric`.
    async fn numeric(&mut self, line: &[u8], numeric: &str) -> Message {
        self.send(line).await;
        let m = self.inbox.irc().await.expect("closed instead of answering");
        assert_eq!(
            m.command,
            numeric,
            "{:?}: {m:?}",
            String::from_utf8_lossy(line)
        );
        m
    }

    /// IRC: reads everything queued before the answer to a PING.
    async fn sync(&mut self) -> Vec<Message> {
        self.send(b"PING :sync\r\n").await;
        let mut lines = Vec::new();
        loop {
            let m = self.inbox.irc().await.expect("closed during sync");
            if m.command == "PONG" && last_param(&m) == "sync" {
                return lines;
            }
            lines.push(m);
        }
    }

    /// Closes the sending side only (a half-open connection).
    async fn half_close(&mut self) {
        let _ = self.writer.shutdown().await;
    }
}

impl Inbox {
    /// The next line, terminator included; `None` at the end of the stream.
    async fn line(&mut self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        let read = tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("nothing arrived in time");
        match read {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with(b"\n"), "unterminated line {line:?}");
                Some(line)
            }
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                None
            }
            Err(e) => panic!("read failed: {e}"),
        }
    }

    /// JSON: the next frame, or `None` at the end of the stream.
    async fn try_frame(&mut self) -> Option<Value> {
        let line = self.line().await?;
        Some(
            serde_json::from_slice(&line)
                .unwrap_or_else(|e| panic!("bad frame {:?}: {e}", String::from_utf8_lossy(&line))),
        )
    }

    async fn frame(&mut self) -> Value {
        self.try_frame().await.expect("closed instead of answering")
    }

    /// JSON: the next frame must be the error `code`.
    async fn error(&mut self, code: &str) -> Value {
        let v = self.frame().await;
        assert_eq!(
            (v["type"].as_str(), v["code"].as_str()),
            (Some("error"), Some(code)),
            "{v}"
        );
        v
    }

    /// JSON: the next frame of type `ty`, skipping others.
    async fn frame_of(&mut self, ty: &str) -> Value {
        loop {
            let v = self.frame().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// JSON: every frame up to the end of the stream.
    async fn frames_until_closed(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(v) = self.try_frame().await {
            frames.push(v);
        }
        frames
    }

    /// IRC: the next line, parsed and checked (CR-LF, at most 512 bytes
    /// without tags), or `None` at the end of the stream.
    async fn irc(&mut self) -> Option<Message> {
        self.irc_up_to(MAX_IRC_LINE).await
    }

    /// IRC: like [`Inbox::irc`], with another length limit.
    async fn irc_up_to(&mut self, max_len: usize) -> Option<Message> {
        let line = self.line().await?;
        let Some(body) = line.strip_suffix(b"\r\n") else {
            panic!("line not CRLF-terminated: {line:?}");
        };
        let m = parse(body).unwrap_or_else(|e| {
            panic!("unparsable line {:?}: {e}", String::from_utf8_lossy(&line))
        });
        assert!(
            m.body_len() <= max_len,
            "a {}-byte line: {:?}",
            m.body_len(),
            String::from_utf8_lossy(&line)
        );
        Some(m)
    }

    /// IRC: skips lines until one with `command`.
    async fn until(&mut self, command: &str) -> Message {
        loop {
            let m = self.irc().await.expect("closed while waiting");
            if m.command == command {
                return m;
            }
        }
    }

    /// IRC: every line up to the end of the stream, each at most `max_len`
    /// bytes long without tags.
    async fn lines_until_closed(&mut self, max_len: usize) -> Vec<Message> {
        let mut lines = Vec::new();
        while let Some(m) = self.irc_up_to(max_len).await {
            lines.push(m);
        }
        lines
    }
}

/// `len` bytes of deterministic noise (xorshift), different per `seed`.
pub(crate) fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Nesting `depth` deep: arrays, or objects with the key `a`.
pub(crate) fn nesting(depth: usize, arrays: bool) -> String {
    if arrays {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    } else {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    }
}

#[tokio::test]
async fn json_corpus_gets_the_documented_errors() {
    let mut scene = Scene::start().await;
    let mut p = Peer::connect(scene.json()).await;

    // Truncated and invalid UTF-8, inside objects and outside.
    p.refused(
        b"{\"type\":\"login\",\"nickname\":\"\xe4\xbd\"}",
        "invalid_utf8",
    )
    .await;
    p.refused(
        b"{\"type\":\"ping\",\"x\":\"\xed\xa0\x80\xc0\xaf\"}",
        "invalid_utf8",
    )
    .await;
    p.refused(b"\xff\xfe\xfd\xe4\xbd\n", "malformed_json").await;
    scene.chat.goes_on().await;

    // NUL bytes: outside objects skipped with one error, raw inside a
    // string not JSON, escaped a character no nickname may hold.
    p.refused(b"\0\0\0\0\n", "malformed_json").await;
    p.refused(
        b"{\"type\":\"login\",\"nickname\":\"a\0b\"}",
        "malformed_json",
    )
    .await;
    p.refused(
        br#"{"type":"login","nickname":"a\u0000b"}"#,
        "invalid_nickname",
    )
    .await;
    scene.chat.goes_on().await;

    // Deep nesting, up to the frame cap: ignored where no field is read,
    // the wrong type where one is.
    let deep = format!(
        r#"{{"type":"ping","ref":"deep","x":{}}}"#,
        nesting(30_000, true)
    );
    p.send(deep.as_bytes()).await;
    assert_eq!(
        p.inbox.frame().await,
        json!({"type": "pong", "ref": "deep"})
    );
    let deep = format!(
        r#"{{"type":"login","nickname":{}}}"#,
        nesting(10_000, false)
    );
    p.refused(deep.as_bytes(), "invalid_field").await;
    scene.chat.goes_on().await;

    // Huge numbers.
    p.refused(br#"{"type":"ping","ref":1e999999}"#, "invalid_field")
        .await;
    p.refused(
        br#"{"type":"history","room":"lobby","before":123456789012345678901234567890}"#,
        "invalid_field",
    )
    .await;
    p.refused(
        br#"{"type":"history","room":"lobby","limit":-1e400}"#,
        "invalid_field",
    )
    .await;
    p.send(br#"{"type":"ping","ref":123456789012345678901234567890}"#)
        .await;
    assert_eq!(p.inbox.frame().await["type"], "pong");
    let long_number = format!(r#"{{"type":"ping","ref":1,"x":{}}}"#, "9".repeat(60_000));
    p.send(long_number.as_bytes()).await;
    assert_eq!(p.inbox.frame().await, json!({"type": "pong", "ref": 1}));
    scene.chat.goes_on().await;

    // Control characters and escape sequences in nicknames.
    for nick in [
        "\u{1b}[31mred",
        "bell\u{7}",
        "evil\u{202e}",
        "zero\u{200b}width",
        "line\r\nQUIT",
        "\u{1b}]0;title\u{7}",
    ] {
        let login = json!({"type": "login", "nickname": nick}).to_string();
        p.refused(login.as_bytes(), "invalid_nickname").await;
    }
    scene.chat.goes_on().await;

    // Garbage, brace-less floods and wrong shapes: one error each.
    p.refused(b"hello, world\n", "malformed_json").await;
    p.refused(b"[1,2,3]\n", "malformed_json").await;
    p.refused(b"\"\"\"\"\n", "malformed_json").await;
    for flood in [b"}", b"]", b"\"", b":"] {
        let mut bytes = flood.repeat(200_000);
        bytes.push(b'\n');
        p.refused(&bytes, "malformed_json").await;
    }
    p.refused(br#"{"type":"ping",}"#, "malformed_json").await;
    p.refused(br#"{"type":7}"#, "invalid_field").await;
    p.refused(br#"{"type":"ping","type":"ping"}"#, "invalid_field")
        .await;
    p.refused(br#"{"type":"teleport"}"#, "unknown_type").await;
    p.refused(br#"{"type":"join","room":"lobby"}"#, "not_logged_in")
        .await;
    // A truncated object followed by a good one: the decoder resynchronises.
    p.send(br#"{"type":"broadcast","message":"cut"{"type":"ping","ref":"r"}"#)
        .await;
    p.inbox.error("malformed_json").await;
    assert_eq!(p.inbox.frame().await, json!({"type": "pong", "ref": "r"}));
    p.alive().await;
    scene.chat.goes_on().await;

    // Very many tiny frames in one write: every one is answered, in order.
    p.send(&b"{}".repeat(2_000)).await;
    for _ in 0..2_000 {
        p.inbox.error("missing_field").await;
    }
    let pings: String = (0..5_000)
        .map(|i| format!(r#"{{"type":"ping","ref":{i}}}"#))
        .collect();
    p.send(pings.as_bytes()).await;
    for i in 0..5_000 {
        assert_eq!(p.inbox.frame().await, json!({"type": "pong", "ref": i}));
    }
    scene.chat.goes_on().await;

    // Requests for rooms and users that do not exist.
    p.send(br#"{"type":"login","nickname":"mallory"}"#).await;
    assert_eq!(p.inbox.frame().await["type"], "welcome");
    p.leave_lobby().await;
    for (request, code) in [
        (json!({"type": "who", "room": "nowhere"}), "no_such_room"),
        (json!({"type": "topic", "room": "nowhere"}), "no_such_room"),
        (
            json!({"type": "direct", "to": "nobody", "message": "hi"}),
            "no_such_user",
        ),
        (
            json!({"type": "broadcast", "room": "nowhere", "message": "hi"}),
            "not_in_room",
        ),
        (json!({"type": "part", "room": "nowhere"}), "not_in_room"),
        (json!({"type": "history", "room": "nowhere"}), "not_in_room"),
        (
            json!({"type": "topic", "room": "nowhere", "topic": "x"}),
            "not_in_room",
        ),
        (json!({"type": "join", "room": "#bad"}), "invalid_room_name"),
        (
            json!({"type": "join", "room": "\u{1b}[2J"}),
            "invalid_room_name",
        ),
        (
            json!({"type": "join", "room": "x".repeat(33)}),
            "invalid_room_name",
        ),
        (
            json!({"type": "nick", "nickname": "\u{1b}[5mblink"}),
            "invalid_nickname",
        ),
        (
            json!({"type": "topic", "room": "lobby", "topic": "t".repeat(301)}),
            "invalid_field",
        ),
        (json!({"type": "broadcast", "message": ""}), "empty_message"),
        (
            json!({"type": "login", "nickname": "again"}),
            "already_logged_in",
        ),
        // Read markers: no target, both, bad names, bad times.
        (json!({"type": "mark_read", "ts": 1}), "missing_field"),
        (
            json!({"type": "mark_read", "room": "lobby"}),
            "missing_field",
        ),
        (
            json!({"type": "mark_read", "room": "lobby", "with": "bob", "ts": 1}),
            "invalid_field",
        ),
        (
            json!({"type": "mark_read", "room": "lobby", "ts": -1}),
            "invalid_field",
        ),
        (
            json!({"type": "mark_read", "room": "lobby", "ts": "yesterday"}),
            "invalid_field",
        ),
        (
            json!({"type": "mark_read", "room": "lobby", "ts": 1e300}),
            "invalid_field",
        ),
        (
            json!({"type": "mark_read", "room": "x".repeat(5000), "ts": 1}),
            "invalid_field",
        ),
        (
            json!({"type": "mark_read", "with": "\u{1b}[5mblink", "ts": 1}),
            "invalid_field",
        ),
    ] {
        let e = p.refused(request.to_string().as_bytes(), code).await;
        assert!(e.get("ref").is_none(), "{e}");
    }
    p.alive().await;
    scene.chat.goes_on().await;
    drop(p);
    scene.finish().await;
}

#[tokio::test]
async fn irc_corpus_gets_the_documented_numerics() {
    let mut scene = Scene::start().await;
    let mut p = Peer::connect(scene.irc()).await;

    // Before registration.
    p.numeric(b"JOIN #early\r\n", "451").await;
    p.numeric(b"PRIVMSG #lobby :a\0b\r\n", "421").await;
    p.numeric(b"FROBNICATE\r\n", "421").await;
    p.numeric(b"12 x\r\n", "421").await;
    p.numeric(b": NICK x\r\n", "421").await;
    p.numeric(b"@a=b\r\n", "421").await;
    let fail = p.numeric(b"NICK \xc3\x28\r\n", "FAIL").await;
    assert_eq!(fail.params[..2], ["NICK", "INVALID_UTF8"]);
    let fail = p.numeric(b"NICK \xe4\xbd\r\n", "FAIL").await;
    assert_eq!(fail.params[..2], ["NICK", "INVALID_UTF8"]);
    for nick in ["\u{1b}[31mred", "bell\u{7}", "evil\u{202e}", "#chan", "a,b"] {
        p.numeric(format!("NICK {nick}\r\n").as_bytes(), "432")
            .await;
    }
    p.numeric(b"NICK\r\n", "431").await;
    p.numeric(b"USER only\r\n", "461").await;
    // Empty lines and lines of spaces are ignored without a reply.
    p.send(b"\r\n\n\r   \r\n").await;
    assert!(p.sync().await.is_empty());
    scene.chat.goes_on().await;

    // Register, then ask about rooms and users that do not exist.
    p.send(b"NICK trudy\r\nUSER trudy 0 * :Trudy\r\n").await;
    p.inbox.until("001").await;
    p.inbox.until("366").await;
    p.part_lobby().await;
    p.numeric(b"PRIVMSG nobody :hi\r\n", "401").await;
    p.numeric(b"PRIVMSG #nowhere :hi\r\n", "404").await;
    p.numeric(b"PRIVMSG &other :hi\r\n", "401").await;
    p.numeric(b"PART #nowhere\r\n", "442").await;
    p.numeric(b"TOPIC #nowhere\r\n", "403").await;
    p.numeric(b"JOIN &other\r\n", "403").await;
    p.numeric(b"JOIN #\r\n", "403").await;
    p.numeric(b"JOIN #a:b\r\n", "403").await;
    p.numeric(b"JOIN #\x1b[2J\r\n", "403").await;
    p.numeric(b"NAMES #nowhere\r\n", "366").await;
    p.numeric(b"WHO #nowhere\r\n", "315").await;
    p.numeric(b"WHOIS nobody\r\n", "401").await;
    assert_eq!(p.inbox.irc().await.unwrap().command, "318");
    p.numeric(b"NICK \x1b[5mblink\r\n", "432").await;
    p.numeric(b"USER again 0 * :Again\r\n", "462").await;
    p.numeric(b"PRIVMSG\r\n", "411").await;
    p.numeric(b"PRIVMSG #lobby\r\n", "412").await;
    // Errors about NOTICE are never answered.
    p.send(b"NOTICE nobody :hi\r\nNOTICE\r\n").await;
    assert!(p.sync().await.is_empty());
    scene.chat.goes_on().await;

    // NUL and invalid UTF-8 once registered.
    p.numeric(b"PRIVMSG #lobby :a\0b\r\n", "421").await;
    let fail = p.numeric(b"privmsg #lobby :caf\xe9\r\n", "FAIL").await;
    assert_eq!(fail.params[..2], ["PRIVMSG", "INVALID_UTF8"]);
    let fail = p
        .numeric(b"@t=\xff :n\xff!u@h NOTICE x y\r\n", "FAIL")
        .await;
    assert_eq!(fail.params[..2], ["NOTICE", "INVALID_UTF8"]);
    scene.chat.goes_on().await;

    // Channel modes, tags and batches, abused.
    p.numeric(
        b"MODE #lobby +o
",
        "461",
    )
    .await;
    p.numeric(
        b"MODE #lobby +z
",
        "472",
    )
    .await;
    p.numeric(
        b"MODE #nowhere +m
",
        "403",
    )
    .await;
    p.numeric(
        b"MODE #lobby +b *!*@*
",
        "482",
    )
    .await;
    p.numeric(
        b"TAGMSG
", "461",
    )
    .await;
    p.numeric(
        b"@+x=1 TAGMSG #nowhere
",
        "404",
    )
    .await;
    let huge_tags = format!(
        "@+a={} TAGMSG #lobby
",
        "x".repeat(5000)
    );
    p.numeric(huge_tags.as_bytes(), "417").await;
    p.numeric(b"MONITOR + *!*@*\r\n", "432").await;
    p.numeric(b"MONITOR ?? x\r\n", "400").await;
    let many_nicks = format!(
        "MONITOR + {}\r\n",
        (0..200)
            .map(|i| format!("m{i}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    p.numeric(many_nicks.as_bytes(), "417").await;
    // Batches: only multiline ones, and only with their capability.
    p.numeric(b"BATCH +outer chathistory\r\n", "FAIL").await;
    p.numeric(b"BATCH +ml draft/multiline #lobby\r\n", "FAIL")
        .await;
    p.numeric(b"BATCH -never\r\n", "FAIL").await;
    p.numeric(b"BATCH\r\n", "461").await;
    p.numeric(b"CHGHOST someone\r\n", "461").await;
    p.numeric(b"CHGHOST someone *!*@*\r\n", "481").await;
    p.numeric(
        b"CAP REQ :nonsense server-time
",
        "CAP",
    )
    .await;
    scene.chat.goes_on().await;

    // Read markers: missing parameters, bad times and targets.
    let markread_fails = [
        ("MARKREAD\r\n".to_owned(), "NEED_MORE_PARAMS"),
        ("MARKREAD :\r\n".to_owned(), "NEED_MORE_PARAMS"),
        ("MARKREAD #lobby *\r\n".to_owned(), "INVALID_PARAMS"),
        (
            "MARKREAD #lobby timestamp=\r\n".to_owned(),
            "INVALID_PARAMS",
        ),
        (
            "MARKREAD #lobby timestamp=2019-02-30T00:00:00.000Z\r\n".to_owned(),
            "INVALID_PARAMS",
        ),
        (
            "MARKREAD #lobby timestamp=-0001-01-01T00:00:00.000Z\r\n".to_owned(),
            "INVALID_PARAMS",
        ),
        (
            "MARKREAD #lobby timestamp=99999-01-01T00:00:00.000Z\r\n".to_owned(),
            "INVALID_PARAMS",
        ),
        (
            format!(
                "MARKREAD #{} timestamp=2019-01-01T00:00:00Z\r\n",
                "x".repeat(400)
            ),
            "INVALID_PARAMS",
        ),
        ("MARKREAD &other\r\n".to_owned(), "INVALID_PARAMS"),
        ("MARKREAD \x1b[5mblink\r\n".to_owned(), "INVALID_PARAMS"),
    ];
    for (line, code) in markread_fails {
        let fail = p.numeric(line.as_bytes(), "FAIL").await;
        assert_eq!(fail.params[..2], ["MARKREAD", code], "{line:?}");
    }
    scene.chat.goes_on().await;

    // Very many tiny lines in one write: every PING is answered, in order.
    let pings: String = (0..5_000).map(|i| format!("PING :{i}\r\n")).collect();
    p.send(pings.as_bytes()).await;
    for i in 0..5_000 {
        let m = p.inbox.irc().await.unwrap();
        assert_eq!(
            (m.command.as_str(), m.params[1].as_str()),
            ("PONG", i.to_string().as_str())
        );
    }
    assert!(p.sync().await.is_empty());
    scene.chat.goes_on().await;
    drop(p);
    scene.finish().await;
}

/// Control characters and escape sequences in messages are defused (see
/// `chat_text::sanitize`: U+FFFD for each, overrides closed) for JSON and
/// IRC users alike, and reach IRC users as lines that cannot smuggle in a
/// command.
#[tokio::test]
async fn control_characters_in_messages_are_relayed_as_text() {
    let mut scene = Scene::start().await;
    let mut mallory = Peer::login(scene.json(), "mallory").await;
    let mut eve = Peer::login(scene.json(), "eve").await;
    let mut trudy = Peer::register(scene.irc(), "trudy").await;
    for p in [&mut mallory, &mut eve] {
        p.send(br#"{"type":"join","room":"den"}"#).await;
        p.inbox.frame_of("history_end").await;
    }
    trudy.send(b"JOIN #den\r\n").await;
    trudy.inbox.until("366").await;

    let text = "\u{1b}[2J\u{1b}]0;pwned\u{7} hi\r\nQUIT :injected\u{0} \u{202e}\u{1} end";
    let say = json!({"type": "broadcast", "room": "den", "message": text, "ref": 1});
    mallory.send(say.to_string().as_bytes()).await;
    assert_eq!(mallory.inbox.frame_of("ack").await["ref"], 1);
    let m = eve.inbox.frame_of("message").await;
    let defused = chatroom_proto::chat_text::sanitize(text);
    assert_ne!(defused, text);
    assert_eq!(
        (m["sender_nickname"].as_str(), m["message"].as_str()),
        (Some("mallory"), Some(defused.as_ref()))
    );
    let mut relayed = Vec::new();
    for m in trudy.sync().await {
        if m.source.as_ref().is_some_and(|s| s.name == "mallory") {
            assert_eq!(
                (m.command.as_str(), m.params[0].as_str()),
                ("PRIVMSG", "#den"),
                "{m:?}"
            );
            relayed.push(m.params[1].clone());
        }
    }
    let relayed = relayed.join("\n");
    assert!(
        relayed.contains("\u{FFFD}[2J\u{FFFD}]0;pwned\u{FFFD} hi"),
        "{relayed:?}"
    );
    assert!(relayed.contains("QUIT :injected"), "{relayed:?}");

    let line = "\u{1b}[31mred\u{7}\u{7f} \u{202e}tail";
    trudy
        .send(format!("PRIVMSG #den :{line}\r\n").as_bytes())
        .await;
    for p in [&mut mallory, &mut eve] {
        let m = p.inbox.frame_of("message").await;
        assert_eq!(
            (m["sender_nickname"].as_str(), m["message"].as_str()),
            (
                Some("trudy"),
                Some(chatroom_proto::chat_text::sanitize(line).as_ref())
            )
        );
    }
    scene.chat.goes_on().await;
    drop((mallory, eve, trudy));
    scene.finish().await;
}

/// 10 MB lines, brace floods and lines just over the limits: JSON closes
/// with `frame_too_large` (and only for an object past the cap), IRC skips
/// the line with `417` and stays open.
#[tokio::test]
async fn oversized_input_is_refused_as_documented() {
    let mut scene = Scene::start().await;
    let cap = chatroom_proto::DEFAULT_MAX_FRAME_BYTES;

    // A 10 MB object: an error, then the server closes the connection.
    let mut big = Peer::login(scene.json(), "big").await;
    let mut object = br#"{"type":"broadcast","message":""#.to_vec();
    object.resize(HUGE, b'x');
    object.extend_from_slice(b"\"}\n");
    let (_, frames) = tokio::join!(
        big.writer.write_all(&object),
        big.inbox.frames_until_closed()
    );
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "frame_too_large");
    scene.chat.goes_on().await;

    // A 10 MB line of garbage outside any object is skipped with one error:
    // nothing of it is buffered, so the connection stays open.
    let mut p = Peer::connect(scene.json()).await;
    let mut garbage = vec![b'x'; HUGE];
    garbage.push(b'\n');
    p.send(&garbage).await;
    p.inbox.error("malformed_json").await;
    p.alive().await;
    scene.chat.goes_on().await;

    // An object of exactly the cap is fine; one byte more is too large.
    let padding = cap - r#"{"type":"ping","ref":"cap","x":""}"#.len();
    let exact = format!(
        r#"{{"type":"ping","ref":"cap","x":"{}"}}"#,
        "p".repeat(padding)
    );
    assert_eq!(exact.len(), cap);
    p.send(exact.as_bytes()).await;
    assert_eq!(p.inbox.frame().await, json!({"type": "pong", "ref": "cap"}));
    let over = format!(
        r#"{{"type":"ping","ref":"cap","x":"{}"}}"#,
        "p".repeat(padding + 1)
    );
    p.send(over.as_bytes()).await;
    let frames = p.inbox.frames_until_closed().await;
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "frame_too_large");
    scene.chat.goes_on().await;

    // A flood of `{`: one object nesting deeper and deeper, past the cap.
    let mut p = Peer::connect(scene.json()).await;
    let flood = b"{".repeat(1024 * 1024);
    let (_, frames) = tokio::join!(p.writer.write_all(&flood), p.inbox.frames_until_closed());
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "frame_too_large");
    scene.chat.goes_on().await;

    // IRC: 10 MB lines with and without tags, each answered by one 417.
    let mut p = Peer::register(scene.irc(), "longline").await;
    let mut line = b"PRIVMSG #lobby :".to_vec();
    line.resize(HUGE, b'y');
    line.extend_from_slice(b"\r\n");
    p.numeric(&line, "417").await;
    assert!(p.sync().await.is_empty());
    let mut line = b"@".to_vec();
    line.resize(HUGE, b't');
    line.extend_from_slice(b" PRIVMSG #lobby :hi\r\n");
    p.numeric(&line, "417").await;
    assert!(p.sync().await.is_empty());
    scene.chat.goes_on().await;

    // IRC: exactly at both limits is accepted; one byte over either is not.
    let tags = |extra: usize| format!("@a={} ", "v".repeat(4096 - 4 + extra));
    let body = |extra: usize| {
        let head = "PRIVMSG nobody :";
        format!("{head}{}", "z".repeat(510 - head.len() + extra))
    };
    assert_eq!(tags(0).len(), 4096);
    assert_eq!(body(0).len(), 510);
    p.numeric(format!("{}{}\r\n", tags(0), body(0)).as_bytes(), "401")
        .await;
    p.numeric(format!("{}{}\r\n", tags(1), body(0)).as_bytes(), "417")
        .await;
    p.numeric(format!("{}{}\r\n", tags(0), body(1)).as_bytes(), "417")
        .await;
    p.numeric(format!("{}\r\n", body(1)).as_bytes(), "417")
        .await;
    assert!(p.sync().await.is_empty());
    scene.chat.goes_on().await;
    drop((big, p));
    scene.finish().await;
}

/// Connections that send part of a frame and stall, or stall and close
/// their sending side, block nobody: the conversation goes on and new users
/// log in while they hang.
#[tokio::test]
async fn stalled_and_half_closed_connections_harm_no_one() {
    let mut scene = Scene::start().await;
    let (mut stalled_json, mut stalled_irc) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let mut p = Peer::connect(scene.json()).await;
        p.send(format!(r#"{{"type":"login","nickname":"jstall{i}"#).as_bytes())
            .await;
        stalled_json.push(p);
        let mut p = Peer::connect(scene.irc()).await;
        p.send(format!("NICK istall{i}\r\nUSER stall 0 * :stal").as_bytes())
            .await;
        stalled_irc.push(p);
    }
    // A logged-in user stalling in the middle of a request.
    let mut midway = Peer::login(scene.json(), "midway").await;
    midway.send(br#"{"type":"ping","ref":"mid"#).await;
    scene.chat.goes_on().await;

    // New users get in, on both listeners, and are served at once.
    let mut late = Peer::login(scene.json(), "late").await;
    late.alive().await;
    let mut late_irc = Peer::register(scene.irc(), "lateirc").await;
    assert!(late_irc.sync().await.is_empty());
    scene.chat.goes_on().await;

    // Half-closed after a partial frame: the server ends the connection
    // without a word, on both listeners.
    for _ in 0..5 {
        let mut p = Peer::connect(scene.json()).await;
        p.send(br#"{"type":"login","nickname":"ha"#).await;
        p.half_close().await;
        assert_eq!(p.inbox.frames_until_closed().await, Vec::<Value>::new());
        let mut p = Peer::connect(scene.irc()).await;
        p.send(b"NICK half\r\nUSER half 0 * :Ha").await;
        p.half_close().await;
        assert!(p.inbox.lines_until_closed(MAX_IRC_LINE).await.is_empty());
    }
    scene.chat.goes_on().await;

    // The stalled connections kept their partial frames: finishing them
    // now completes the requests.
    for p in &mut stalled_json {
        p.send(b"\"}").await;
        assert_eq!(p.inbox.frame().await["type"], "welcome");
    }
    for p in &mut stalled_irc {
        p.send(b"l\r\n").await;
        p.inbox.until("001").await;
    }
    midway.send(br#"way"}"#).await;
    assert_eq!(
        midway.inbox.frame().await,
        json!({"type": "pong", "ref": "midway"})
    );
    late.alive().await;
    scene.chat.goes_on().await;
    drop((stalled_json, stalled_irc, midway, late, late_irc));
    scene.finish().await;
}

/// Random binary garbage on both listeners: every answer is a documented
/// error, and the connection ends only as documented.
#[tokio::test]
async fn garbage_binary_is_answered_as_documented() {
    let mut scene = Scene::start().await;
    for seed in 1..=3u64 {
        let mut p = Peer::connect(scene.json()).await;
        let bytes = noise(seed, 256 * 1024);
        let (_, frames) = tokio::join!(
            async {
                let _ = p.writer.write_all(&bytes).await;
                let _ = p.writer.shutdown().await;
            },
            p.inbox.frames_until_closed()
        );
        assert!(!frames.is_empty());
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f["type"], "error", "{f}");
            let code = f["code"].as_str().unwrap();
            let last = i + 1 == frames.len();
            assert!(
                REQUEST_ERRORS.contains(&code) || (code == "frame_too_large" && last),
                "{f}"
            );
        }
        scene.chat.goes_on().await;

        let mut p = Peer::connect(scene.irc()).await;
        // `421` replies to garbage can be longer than a line may be (see
        // `replies_echoing_client_input_fit_in_a_line`): not checked here.
        let mut bytes = noise(seed + 100, 256 * 1024);
        bytes.extend_from_slice(b"\r\nQUIT :done\r\n");
        let (_, lines) = tokio::join!(
            p.writer.write_all(&bytes),
            p.inbox.lines_until_closed(usize::MAX)
        );
        let (last, answers) = lines.split_last().unwrap();
        assert_eq!(last.command, "ERROR");
        assert!(!answers.is_empty());
        for m in answers {
            assert!(
                ["421", "417", "FAIL", "451", "431", "432", "461"].contains(&m.command.as_str()),
                "{m:?}"
            );
        }
        scene.chat.goes_on().await;
    }
    scene.finish().await;
}

/// A burst of tiny invalid frames in one write is answered frame by frame
/// (`docs/protocol.md`: `missing_field` leaves the connection open); a
/// client that reads its answers is not a slow consumer.
#[tokio::test]

async fn a_burst_of_tiny_bad_frames_is_answered_not_dropped() {
    let mut scene = Scene::start().await;
    let mut p = Peer::connect(scene.json()).await;
    let count = 40_000;
    let frames = b"{}".repeat(count);
    let lines = b"X\n".repeat(count);
    let (_, answered) = tokio::join!(p.writer.write_all(&frames), async {
        let mut answered = 0;
        while answered < count {
            let v = p.inbox.frame().await;
            assert_eq!(v["code"], "missing_field", "after {answered} answers: {v}");
            answered += 1;
        }
        answered
    });
    assert_eq!(answered, count);
    p.alive().await;

    let mut p = Peer::connect(scene.irc()).await;
    let (_, answered) = tokio::join!(p.writer.write_all(&lines), async {
        let mut answered = 0;
        while answered < count {
            let m = p.inbox.irc().await.expect("closed");
            assert_eq!(m.command, "421", "after {answered} answers: {m:?}");
            answered += 1;
        }
        answered
    });
    assert_eq!(answered, count);
    scene.chat.goes_on().await;
    scene.finish().await;
}

/// RFC 1459 section 2.3: a message is at most 512 bytes, CR-LF included.
/// Replies that echo what a client sent must still fit.
#[tokio::test]

async fn replies_echoing_client_input_fit_in_a_line() {
    let scene = Scene::start().await;
    let mut p = Peer::register(scene.irc(), "echo").await;
    let long = "w".repeat(490);
    for (line, numeric) in [
        (format!("PING :{long}"), "PONG"),
        (long.to_uppercase(), "421"),
        (format!("PRIVMSG {long} :hi"), "401"),
        (format!("1{long}"), "421"),
    ] {
        p.numeric(format!("{line}\r\n").as_bytes(), numeric).await;
    }
    scene.finish().await;
}

/// IRCv3 multiline batches abused: nested, mismatched, never closed,
/// overlong, too many lines, to a channel one is not in. Each gets its
/// `FAIL BATCH` (or the channel's refusal), nothing is relayed, and the
/// conversation around goes on.
#[tokio::test]
async fn multiline_batch_abuse_is_refused_and_harms_nobody() {
    let mut scene = Scene::start().await;
    let mut p = Peer::register(scene.irc(), "batcher").await;
    p.numeric(b"CAP REQ :batch message-tags draft/multiline\r\n", "CAP")
        .await;
    p.send(b"JOIN #b\r\n").await;
    p.inbox.until("366").await;

    let fails = |lines: &[Message]| -> Vec<String> {
        lines
            .iter()
            .filter(|m| m.command == "FAIL")
            .map(|m| m.params[1].clone())
            .collect()
    };
    // Nested: the second opening refuses both.
    p.send(
        b"BATCH +a draft/multiline #b\r\nBATCH +b draft/multiline #b\r\n@batch=b PRIVMSG #b :x\r\n",
    )
    .await;
    let answers = p.sync().await;
    assert_eq!(
        fails(&answers),
        ["MULTILINE_INVALID", "MULTILINE_INVALID"],
        "{answers:?}"
    );
    // A closing line for nothing, an empty reference, a reference far too
    // long for any line it could tag.
    p.numeric(b"BATCH -never\r\n", "FAIL").await;
    p.numeric(b"BATCH + draft/multiline #b\r\n", "FAIL").await;
    let long = format!("BATCH +{} draft/multiline #b\r\n", "r".repeat(400));
    p.send(long.as_bytes()).await;
    p.send(format!("BATCH -{}\r\n", "r".repeat(400)).as_bytes())
        .await;
    let answers = p.sync().await;
    assert_eq!(
        fails(&answers),
        ["MULTILINE_INVALID"],
        "an empty batch: {answers:?}"
    );
    // Too many lines: one refusal, the rest dropped quietly.
    let mut flood = b"BATCH +f draft/multiline #b\r\n".to_vec();
    for _ in 0..120 {
        flood.extend_from_slice(b"@batch=f PRIVMSG #b :x\r\n");
    }
    flood.extend_from_slice(b"BATCH -f\r\n");
    p.send(&flood).await;
    let answers = p.sync().await;
    assert_eq!(fails(&answers), ["MULTILINE_MAX_LINES"], "{answers:?}");
    // To a channel one is not in: the channel's own refusal.
    p.send(b"BATCH +o draft/multiline #nowhere\r\n@batch=o PRIVMSG #nowhere :x\r\nBATCH -o\r\n")
        .await;
    let answers = p.sync().await;
    assert_eq!(commands(&answers), ["404"], "{answers:?}");
    // Never closed, then gone: nothing is left behind.
    p.send(b"BATCH +open draft/multiline #b\r\n@batch=open PRIVMSG #b :x\r\nQUIT\r\n")
        .await;
    scene.chat.goes_on().await;
    scene.finish().await;
}
