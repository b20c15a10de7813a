//! An IRC client for tests: it sends lines as a test writes them and reads
//! them back parsed, failing the test on a line that is not valid IRC; and
//! the two questions tests ask of those lines.

use std::net::{IpAddr, SocketAddr};

use chatroom_proto::irc::{Message, parse};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::WAIT;
use crate::socket::connect_from;

/// The longest line a server may send: 512 bytes plus 8191 of tags.
const MAX_LINE: usize = 512 + 8191;

/// A raw IRC client: sends lines, reads parsed messages (over TCP, or any
/// stream: TLS).
pub struct IrcRaw {
    reader: BufReader<Box<dyn AsyncRead + Unpin + Send>>,
    writer: Box<dyn AsyncWrite + Unpin + Send>,
    /// The nickname it registered with (empty before).
    pub nick: String,
}

impl IrcRaw {
    /// Connects without registering.
    pub async fn connect(addr: SocketAddr) -> IrcRaw {
        Self::from_stream(TcpStream::connect(addr).await.unwrap())
    }

    /// Connects from `source` (see [`connect_from`]) without registering.
    pub async fn connect_from(addr: SocketAddr, source: IpAddr) -> IrcRaw {
        Self::from_stream(connect_from(addr, source).await)
    }

    fn from_stream(stream: TcpStream) -> IrcRaw {
        stream.set_nodelay(true).unwrap();
        Self::over(stream)
    }

    /// A client over a connected stream (a TLS stream, say), without
    /// registering.
    pub fn over<S>(stream: S) -> IrcRaw
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (reader, writer) = tokio::io::split(stream);
        IrcRaw {
            reader: BufReader::new(Box::new(reader)),
            writer: Box::new(writer),
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

    /// Sends `line` with the CR-LF it lacks.
    pub async fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes()).await;
    }

    /// Sends these bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    /// The next line, parsed; panics at end of stream or after [`WAIT`].
    pub async fn recv(&mut self) -> Message {
        match self.try_recv().await {
            Some(m) => m,
            None => panic!("connection closed while waiting for a line"),
        }
    }

    /// The next line, parsed, or None at end of stream.
    pub async fn try_recv(&mut self) -> Option<Message> {
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
        assert!(line.len() <= MAX_LINE, "line too long: {}", line.len());
        let body = &line[..line.len() - 2];
        Some(parse(body).unwrap_or_else(|e| {
            panic!("unparsable line {:?}: {e}", String::from_utf8_lossy(&line))
        }))
    }

    /// Skips lines until one with this command (or numeric) arrives.
    pub async fn until(&mut self, command: &str) -> Message {
        loop {
            let m = self.recv().await;
            if m.command == command {
                return m;
            }
        }
    }

    /// Reads lines up to the PONG of a PING: everything queued before it.
    pub async fn sync(&mut self) -> Vec<Message> {
        self.send("PING :sync").await;
        let mut lines = Vec::new();
        loop {
            let m = self.recv().await;
            if m.command == "PONG" && last_param(&m) == "sync" {
                return lines;
            }
            lines.push(m);
        }
    }

    /// Reads until the server closes the connection.
    pub async fn until_closed(&mut self) -> Vec<Message> {
        let mut lines = Vec::new();
        while let Some(m) = self.try_recv().await {
            lines.push(m);
        }
        lines
    }
}

/// The last parameter of a line (the text of a PRIVMSG, the message of a
/// numeric), or "" when it has none.
pub fn last_param(m: &Message) -> &str {
    m.params.last().map(String::as_str).unwrap_or("")
}

/// The commands (or numerics) of `lines`, in order.
pub fn commands(lines: &[Message]) -> Vec<&str> {
    lines.iter().map(|m| m.command.as_str()).collect()
}
