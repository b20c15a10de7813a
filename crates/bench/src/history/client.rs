//! A small JSON-protocol client for the history benchmark: one request at
//! a time, answers read as lines and parsed (this is not the fan-out hot
//! path; the ingest senders have their own reader).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::error::BenchError;

/// How long one answer may take before the run fails.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A logged-in connection.
pub struct Client {
    lines: tokio::io::Lines<BufReader<OwnedReadHalf>>,
    writer: OwnedWriteHalf,
}

/// A failure talking to the server, as the run's error.
pub fn failed(what: &str, detail: impl std::fmt::Display) -> BenchError {
    BenchError::History(format!("{what}: {detail}"))
}

impl Client {
    /// Connects and logs in with `login` (a `login` or `register` request),
    /// waiting for `welcome`.
    pub async fn login(addr: SocketAddr, login: Value) -> Result<Client, BenchError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| failed("connect", e))?;
        stream.set_nodelay(true).map_err(|e| failed("connect", e))?;
        let (reader, writer) = stream.into_split();
        let mut client = Client {
            lines: BufReader::new(reader).lines(),
            writer,
        };
        client.send(&login).await?;
        client.until("welcome").await?;
        Ok(client)
    }

    /// The connection's halves, for a reader and a writer of their own.
    pub fn into_parts(self) -> (tokio::io::Lines<BufReader<OwnedReadHalf>>, OwnedWriteHalf) {
        (self.lines, self.writer)
    }

    /// Logs in as `nick` without an account.
    pub async fn guest(addr: SocketAddr, nick: &str) -> Result<Client, BenchError> {
        Client::login(addr, json!({"type": "login", "nickname": nick})).await
    }

    /// Sends one request.
    pub async fn send(&mut self, request: &Value) -> Result<(), BenchError> {
        let mut line = request.to_string();
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .await
            .map_err(|e| failed("send", e))
    }

    /// The next frame.
    pub async fn next(&mut self) -> Result<Value, BenchError> {
        let line = tokio::time::timeout(ANSWER_TIMEOUT, self.lines.next_line())
            .await
            .map_err(|_| failed("wait", "no answer within 30 s"))?
            .map_err(|e| failed("read", e))?
            .ok_or_else(|| failed("read", "the server closed the connection"))?;
        serde_json::from_str(&line).map_err(|e| failed("parse", e))
    }

    /// Reads frames until one of type `kind` (which it returns); an
    /// `error` frame fails the run.
    pub async fn until(&mut self, kind: &str) -> Result<Value, BenchError> {
        loop {
            let frame = self.next().await?;
            match frame["type"].as_str() {
                Some(k) if k == kind => return Ok(frame),
                Some("error") => return Err(failed(kind, frame)),
                _ => {}
            }
        }
    }

    /// Joins `room` and reads its replay; returns how many messages it had.
    pub async fn join(&mut self, room: &str) -> Result<u64, BenchError> {
        self.send(&json!({"type": "join", "room": room})).await?;
        let end = self.until("history_end").await?;
        Ok(end["count"].as_u64().unwrap_or(0))
    }

    /// Leaves `room`.
    pub async fn part(&mut self, room: &str) -> Result<(), BenchError> {
        self.send(&json!({"type": "part", "room": room})).await?;
        self.until("parted").await.map(drop)
    }
}
