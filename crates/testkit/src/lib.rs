//! Test harness shared by the workspace's integration tests: a real server
//! on 127.0.0.1:0 ([`TestServer`]) and a raw JSON client ([`Raw`]) that
//! panics with a clear message when the server misbehaves. Only for tests:
//! every failure here is a test failure.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use chatroom_server::{Config, Listener, ServerError, run};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous: only a broken server takes this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// A server running in this process, with a JSON and an IRC listener.
pub struct TestServer {
    pub addr: SocketAddr,
    pub irc_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

/// The configuration test servers run with: the defaults, but no limits on
/// what one address may do (tests open many connections from 127.0.0.1,
/// send fast, and make rooms and accounts freely). Tests of those limits
/// set them explicitly.
pub fn test_config() -> Config {
    Config {
        max_connections_per_ip: 0,
        messages_per_second: 0.0,
        requests_per_second: 0.0,
        registrations_per_hour: 0,
        rooms_per_hour: 0,
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(test_config()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let json = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let irc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = json.local_addr().unwrap();
        let irc_addr = irc.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = vec![Listener::json(json), Listener::irc(irc)];
        let task = tokio::spawn(run(listeners, config, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            irc_addr,
            stop: Some(stop),
            task,
        }
    }

    /// Triggers graceful shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("server did not shut down in time")
            .unwrap()
            .unwrap();
    }
}

/// A server running as a separate process (the real binary), for tests of
/// signals, restarts and crashes.
pub struct SpawnedServer {
    pub addr: SocketAddr,
    /// The IRC listener's address, when `--irc-listen` was given.
    pub irc_addr: Option<SocketAddr>,
    pub child: tokio::process::Child,
    /// Collects the log the server writes after it started listening.
    log: JoinHandle<Vec<String>>,
}

impl SpawnedServer {
    /// Runs `BIN serve --listen 127.0.0.1:0 ARGS...` and waits until it
    /// logs the addresses it listens on (JSON, and IRC when asked for).
    pub async fn start(bin: &str, args: &[&str]) -> SpawnedServer {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let wants_irc = args.contains(&"--irc-listen");
        let (mut addr, mut irc_addr) = (None, None);
        while addr.is_none() || (wants_irc && irc_addr.is_none()) {
            let line = tokio::time::timeout(WAIT, stderr.next_line())
                .await
                .expect("the server did not start in time")
                .unwrap()
                .expect("the server exited before listening");
            if let Some(at) = line.find("addr=") {
                let found: SocketAddr = line[at + 5..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                if line.contains("protocol=\"irc\"") {
                    irc_addr = Some(found);
                } else {
                    addr = Some(found);
                }
            }
        }
        let addr = addr.unwrap();

        // Keep draining the log so the server never blocks on a full pipe.
        let log = tokio::spawn(async move {
            let mut lines = Vec::new();
            while let Ok(Some(line)) = stderr.next_line().await {
                lines.push(line);
            }
            lines
        });
        SpawnedServer {
            addr,
            irc_addr,
            child,
            log,
        }
    }

    /// Sends a signal (`TERM`, `KILL`, ...) to the server process.
    pub async fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let status = tokio::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits for the process to exit; returns its exit code (None if killed
    /// by a signal).
    pub async fn wait(self) -> Option<i32> {
        self.wait_with_log().await.0
    }

    /// Waits for the process to exit; returns its exit code and every line
    /// it logged after it started listening.
    pub async fn wait_with_log(mut self) -> (Option<i32>, Vec<String>) {
        let code = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server did not exit in time")
            .unwrap()
            .code();
        let log = tokio::time::timeout(WAIT, self.log)
            .await
            .expect("the server's log did not end")
            .unwrap();
        (code, log)
    }
}

/// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`, ...): what a
/// server process holds in memory.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// A connected socket with Nagle off, as a buffered reader and a writer.
fn halves(stream: tokio::net::TcpStream) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    stream.set_nodelay(true).unwrap();
    let (r, w) = stream.into_split();
    (BufReader::new(r), w)
}

/// A client that speaks raw bytes and reads newline-delimited JSON.
pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    pub id: u64,
    /// The `welcome` frame, once logged in (`Null` before).
    pub welcome: Value,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let (reader, writer) = halves(tokio::net::TcpStream::connect(addr).await.unwrap());
        Raw {
            reader,
            writer,
            id: 0,
            welcome: Value::Null,
        }
    }

    /// Connects and logs in; the welcome has been read.
    pub async fn login(addr: SocketAddr, nick: &str) -> Raw {
        let mut c = Raw::connect(addr).await;
        c.send_json(json!({"type": "login", "nickname": nick}))
            .await;
        let welcome = c.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        c.id = welcome["id"].as_u64().unwrap();
        c.welcome = welcome;
        c
    }

    /// The connection's buffered reader and its writer, for a test that
    /// drives the socket itself (and survives the server dying).
    pub fn into_halves(self) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
        (self.reader, self.writer)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send(value.to_string().as_bytes()).await;
    }

    pub async fn say(&mut self, text: &str) {
        self.send_json(json!({"type": "broadcast", "message": text}))
            .await;
    }

    /// Sends `text` to `room` and waits for its ack; returns the message id.
    pub async fn say_in(&mut self, room: &str, text: &str) -> u64 {
        self.send_json(json!({"type": "broadcast", "room": room, "message": text, "ref": "say"}))
            .await;
        let ack = self.recv_type("ack").await;
        ack["msg_id"].as_u64().unwrap()
    }

    /// Joins `room`; returns the `joined` frame and the replayed messages.
    pub async fn join(&mut self, room: &str) -> (Value, Vec<Value>) {
        self.send_json(json!({"type": "join", "room": room, "ref": "join"}))
            .await;
        let joined = self.recv_type("joined").await;
        let replay = self.until_history_end().await;
        (joined, replay)
    }

    /// Collects `message` frames marked as history up to `history_end`
    /// (other frames in between are skipped).
    pub async fn until_history_end(&mut self) -> Vec<Value> {
        self.until_history_end_frame().await.0
    }

    /// Like [`Raw::until_history_end`], also returning the `history_end` frame.
    pub async fn until_history_end_frame(&mut self) -> (Vec<Value>, Value) {
        let mut replay = Vec::new();
        loop {
            let v = self.recv().await;
            if v["type"] == "history_end" {
                assert_eq!(v["count"].as_u64().unwrap() as usize, replay.len(), "{v}");
                return (replay, v);
            }
            if v["type"] == "message" && v["history"] == true {
                replay.push(v);
            }
        }
    }

    /// The next frame; panics if none arrives in time or the line is not JSON.
    pub async fn recv(&mut self) -> Value {
        match self.try_recv().await {
            Some(v) => v,
            None => panic!("connection closed while waiting for a frame"),
        }
    }

    /// The next frame, or None at end of stream.
    pub async fn try_recv(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut line))
            .await
            .expect("no frame arrived in time")
            .unwrap();
        if n == 0 {
            return None;
        }
        assert!(
            line.ends_with('\n'),
            "frame not newline-terminated: {line:?}"
        );
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad frame {line:?}: {e}")))
    }

    /// Skips frames until one of type `ty` arrives.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// The next frame must be an error with `code`.
    pub async fn expect_error(&mut self, code: &str) -> Value {
        let v = self.recv().await;
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["code"], code, "{v}");
        v
    }

    /// Reads until the server closes the connection; returns what came before.
    pub async fn until_closed(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(v) = self.try_recv().await {
            frames.push(v);
        }
        frames
    }

    /// Proves the connection still works and nothing else is queued: a ping
    /// must be answered by the very next frame.
    pub async fn assert_quiet_and_alive(&mut self) {
        self.send_json(json!({"type": "ping", "ref": "alive?"}))
            .await;
        let v = self.recv().await;
        assert_eq!(v, json!({"type": "pong", "ref": "alive?"}));
    }

    /// Closes with a TCP reset instead of a FIN.
    pub fn reset(self) {
        let stream = self.reader.into_inner().reunite(self.writer).unwrap();
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(stream);
    }
}

/// A raw IRC client: sends lines, reads parsed messages.
pub struct IrcRaw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    pub nick: String,
}

impl IrcRaw {
    pub async fn connect(addr: SocketAddr) -> IrcRaw {
        Self::from_stream(tokio::net::TcpStream::connect(addr).await.unwrap())
    }

    /// Connects from `source` (see [`connect_from`]).
    pub async fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> IrcRaw {
        Self::from_stream(connect_from(addr, source).await)
    }

    fn from_stream(stream: tokio::net::TcpStream) -> IrcRaw {
        let (reader, writer) = halves(stream);
        IrcRaw {
            reader,
            writer,
            nick: String::new(),
        }
    }

    /// Connects, registers as `nick` (with the given capabilities, if any)
    /// and reads through the welcome burst and the automatic join of
    /// `#lobby` (up to its end of NAMES, and its history batch if any).
    pub async fn register(addr: SocketAddr, nick: &str, caps: &[&str]) -> IrcRaw {
        let mut c = IrcRaw::connect(addr).await;
        if !caps.is_empty() {
            c.send(&format!("CAP REQ :{}", caps.join(" "))).await;
        }
        c.send(&format!("NICK {nick}")).await;
        c.send(&format!("USER {nick} 0 * :Real {nick}")).await;
        if !caps.is_empty() {
            c.send("CAP END").await;
        }
        c.until("001").await;
        c.until("366").await;
        c.nick = nick.to_owned();
        c.sync().await;
        c
    }

    pub async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// The next line, parsed; panics at end of stream or after [`WAIT`].
    pub async fn recv(&mut self) -> chatroom_proto::irc::Message {
        match self.try_recv().await {
            Some(m) => m,
            None => panic!("connection closed while waiting for a line"),
        }
    }

    /// The next line, parsed, or None at end of stream.
    pub async fn try_recv(&mut self) -> Option<chatroom_proto::irc::Message> {
        let mut line = Vec::new();
        let n = tokio::time::timeout(WAIT, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("no line arrived in time")
            .unwrap();
        if n == 0 {
            return None;
        }
        assert!(
            line.ends_with(b"\r\n"),
            "line not CRLF-terminated: {line:?}"
        );
        assert!(line.len() <= 512 + 8191, "line too long: {}", line.len());
        let body = &line[..line.len() - 2];
        Some(chatroom_proto::irc::parse(body).unwrap_or_else(|e| {
            panic!("unparsable line {:?}: {e}", String::from_utf8_lossy(&line))
        }))
    }

    /// Skips lines until one with this command (or numeric) arrives.
    pub async fn until(&mut self, command: &str) -> chatroom_proto::irc::Message {
        loop {
            let m = self.recv().await;
            if m.command == command {
                return m;
            }
        }
    }

    /// Reads lines up to the PONG of a PING: everything queued before it.
    pub async fn sync(&mut self) -> Vec<chatroom_proto::irc::Message> {
        self.send("PING :sync").await;
        let mut lines = Vec::new();
        loop {
            let m = self.recv().await;
            if m.command == "PONG" && m.params.last().map(String::as_str) == Some("sync") {
                return lines;
            }
            lines.push(m);
        }
    }

    /// Reads until the server closes the connection.
    pub async fn until_closed(&mut self) -> Vec<chatroom_proto::irc::Message> {
        let mut lines = Vec::new();
        while let Some(m) = self.try_recv().await {
            lines.push(m);
        }
        lines
    }
}

/// A socket connected to `addr` from `source`, another loopback address
/// such as 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux), so a test
/// can have clients with different IP addresses for per-address limits and
/// IP bans.
pub async fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> tokio::net::TcpStream {
    let socket = match source {
        std::net::IpAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        std::net::IpAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Connecting from a chosen loopback address, and logging in with a request
/// of the test's own making (a password, a protocol version, `register`).
impl Raw {
    /// Connects from `source` (see [`connect_from`]).
    pub async fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Raw {
        let (reader, writer) = halves(connect_from(addr, source).await);
        Raw {
            reader,
            writer,
            id: 0,
            welcome: Value::Null,
        }
    }

    /// Connects and sends `request` (a `login` with a password or a protocol
    /// version, or a `register` that logs in); the welcome has been read.
    pub async fn login_with(addr: SocketAddr, request: Value) -> Raw {
        let mut c = Raw::connect(addr).await;
        c.send_json(request).await;
        let welcome = c.recv().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        c.id = welcome["id"].as_u64().unwrap();
        c.welcome = welcome;
        c
    }
}

/// One listener a [`LoggedServer`] announced in its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    pub addr: SocketAddr,
    /// `json` or `irc`.
    pub protocol: String,
    pub tls: bool,
}

/// The real binary run with exactly the arguments a test gives (no
/// `--listen` added, so `--listen off` and TLS-only servers work), its log
/// kept for the test to read: for tests of TLS, configuration files and of
/// what the server logs.
pub struct LoggedServer {
    pub child: tokio::process::Child,
    /// Every listener, in the order the server logged them.
    pub listeners: Vec<Listening>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    drain: JoinHandle<()>,
}

impl LoggedServer {
    /// Runs `BIN serve ARGS...` with `RUST_LOG=rust_log` and waits until it
    /// has logged `listeners` listening addresses.
    pub async fn start(bin: &str, args: &[&str], rust_log: &str, listeners: usize) -> LoggedServer {
        let mut child = tokio::process::Command::new(bin)
            .arg("serve")
            .args(args)
            .env("RUST_LOG", rust_log)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut found = Vec::new();
        while found.len() < listeners {
            let line = tokio::time::timeout(WAIT, stderr.next_line())
                .await
                .expect("the server did not start in time")
                .unwrap();
            let Some(line) = line else {
                panic!(
                    "the server exited before listening; its log:\n{}",
                    log.lock().unwrap()
                );
            };
            if let Some(listening) = parse_listening(&line) {
                found.push(listening);
            }
            let mut kept = log.lock().unwrap();
            kept.push_str(&line);
            kept.push('\n');
        }
        let kept = log.clone();
        // Keep reading so the server never blocks on a full pipe.
        let drain = tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        LoggedServer {
            child,
            listeners: found,
            log,
            drain,
        }
    }

    /// The address of the listener for `protocol` (`json` or `irc`), with or
    /// without TLS.
    pub fn addr(&self, protocol: &str, tls: bool) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.tls == tls)
            .unwrap_or_else(|| {
                panic!(
                    "no {protocol} listener with tls={tls}: {:?}",
                    self.listeners
                )
            })
            .addr
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops the server with SIGTERM; returns its exit code and its whole log.
    pub async fn stop(mut self) -> (Option<i32>, String) {
        let pid = self.child.id().unwrap().to_string();
        let status = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -TERM {pid} failed");
        let code = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server did not exit in time")
            .unwrap()
            .code();
        tokio::time::timeout(WAIT, &mut self.drain)
            .await
            .expect("the server's log did not end")
            .unwrap();
        (code, self.log())
    }
}

/// Reads `listening addr=ADDR protocol="json" tls=BOOL` from a log line.
fn parse_listening(line: &str) -> Option<Listening> {
    if !line.contains("listening") {
        return None;
    }
    let field = |name: &str| {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        line[at..]
            .split_whitespace()
            .next()
            .map(|v| v.trim_matches('"').to_owned())
    };
    Some(Listening {
        addr: field("addr")?.parse().ok()?,
        protocol: field("protocol")?,
        tls: field("tls")? == "true",
    })
}

/// Reading everything that is queued.
impl Raw {
    /// Reads up to the pong of a ping: returns every frame queued before it.
    pub async fn drain(&mut self) -> Vec<Value> {
        self.send_json(json!({"type": "ping", "ref": "drain"}))
            .await;
        let mut frames = Vec::new();
        loop {
            let v = self.recv().await;
            if v["type"] == "pong" && v["ref"] == "drain" {
                return frames;
            }
            frames.push(v);
        }
    }
}
