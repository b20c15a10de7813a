//! Test harness shared by the workspace's integration tests: a real server
//! on 127.0.0.1:0 ([`TestServer`]) and a raw JSON client ([`Raw`]) that
//! panics with a clear message when the server misbehaves. Only for tests:
//! every failure here is a test failure.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use chatroom_server::{Config, ServerError, run};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous: only a broken server takes this long.
pub const WAIT: Duration = Duration::from_secs(20);

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
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
    pub child: tokio::process::Child,
}

impl SpawnedServer {
    /// Runs `BIN serve --listen 127.0.0.1:0 ARGS...` and waits until it
    /// logs the address it listens on.
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
        let addr = loop {
            let line = tokio::time::timeout(WAIT, stderr.next_line())
                .await
                .expect("the server did not start in time")
                .unwrap()
                .expect("the server exited before listening");
            if let Some(at) = line.find("addr=") {
                break line[at + 5..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
        SpawnedServer { addr, child }
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
    pub async fn wait(mut self) -> Option<i32> {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server did not exit in time")
            .unwrap()
            .code()
    }
}

/// A client that speaks raw bytes and reads newline-delimited JSON.
pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    pub id: u64,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Raw {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (r, w) = stream.into_split();
        Raw {
            reader: BufReader::new(r),
            writer: w,
            id: 0,
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
        c
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
