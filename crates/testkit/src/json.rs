//! A client of the JSON protocol (`docs/protocol.md`) for tests: it writes
//! whatever bytes a test gives it and reads newline-delimited frames,
//! failing the test on anything that is not one.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::WAIT;
use crate::socket::{connect_from, halves};

/// A client that speaks raw bytes and reads newline-delimited JSON.
pub struct Raw {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// The user id the server gave, once logged in (0 before).
    pub id: u64,
    /// The `welcome` frame, once logged in (`Null` before).
    pub welcome: Value,
}

/// Connecting and logging in.
impl Raw {
    /// Connects without logging in.
    pub async fn connect(addr: SocketAddr) -> Raw {
        Self::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    /// Connects from `source` (see [`connect_from`]) without logging in.
    pub async fn connect_from(addr: SocketAddr, source: IpAddr) -> Raw {
        Self::from_stream(connect_from(addr, source).await)
    }

    fn from_stream(stream: TcpStream) -> Raw {
        let (reader, writer) = halves(stream);
        Raw {
            reader,
            writer,
            id: 0,
            welcome: Value::Null,
        }
    }

    /// Connects and logs in as `nick`; the welcome has been read.
    pub async fn login(addr: SocketAddr, nick: &str) -> Raw {
        Self::login_with(addr, json!({"type": "login", "nickname": nick})).await
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

    /// The connection's buffered reader and its writer, for a test that
    /// drives the socket itself (and survives the server dying).
    pub fn into_halves(self) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
        (self.reader, self.writer)
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

/// Sending.
impl Raw {
    /// Sends these bytes as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Sends one frame (serialised without a newline, as the server accepts
    /// back-to-back objects).
    pub async fn send_json(&mut self, value: Value) {
        self.send(value.to_string().as_bytes()).await;
    }

    /// Says `text` in the lobby, without waiting for anything.
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
}

/// Receiving.
impl Raw {
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

    /// Reads until the server closes the connection; returns what came before.
    pub async fn until_closed(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        while let Some(v) = self.try_recv().await {
            frames.push(v);
        }
        frames
    }

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

    /// Proves the connection still works and nothing else is queued: a ping
    /// must be answered by the very next frame.
    pub async fn assert_quiet_and_alive(&mut self) {
        self.send_json(json!({"type": "ping", "ref": "alive?"}))
            .await;
        let v = self.recv().await;
        assert_eq!(v, json!({"type": "pong", "ref": "alive?"}));
    }
}
