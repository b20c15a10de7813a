//! Test harness shared by the workspace's integration tests: a real server
//! on 127.0.0.1:0 ([`TestServer`]) and a raw JSON client ([`Raw`]) that
//! panics with a clear message when the server misbehaves. Only for tests:
//! every failure here is a test failure.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use chatroom_server::{Config, run};
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
    task: JoinHandle<std::io::Result<()>>,
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
