//! A connection to a chatroom server: requests out, frames in.
//!
//! The reader trusts nothing: a line longer than the cap, invalid UTF-8 or a
//! line that is not a frame is reported as an error and skipped, never a
//! crash, and memory stays bounded whatever the server sends.

use std::io;

use chatroom_proto::json::{Ref, Request, ServerFrame, encode_request};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::tls::{TlsClient, server_name};

/// Either half of a plaintext or TLS connection.
type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Where to connect and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// `HOST:PORT`.
    pub address: String,
    /// TLS, or plaintext when `None`.
    pub tls: Option<TlsClient>,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tls {
            None => f.write_str(&self.address),
            Some(_) => write!(f, "{} (TLS)", self.address),
        }
    }
}

impl Target {
    /// A plaintext connection to `address`.
    pub fn plain(address: impl Into<String>) -> Target {
        Target {
            address: address.into(),
            tls: None,
        }
    }
}

/// Checks that `address` is `HOST:PORT` (an IPv6 host in brackets) with a
/// port from 1 to 65535, as `--server` takes it; returns it unchanged. A
/// name that does not resolve is found only when connecting.
pub fn parse_address(address: &str) -> Result<String, String> {
    let bad =
        || format!("expected HOST:PORT, e.g. 127.0.0.1:8000 or chat.example:8000, got {address:?}");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6
            .strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => !host.is_empty() && !host.contains(':') && !host.contains(char::is_whitespace),
    };
    match port.parse::<u16>() {
        Ok(port) if port > 0 && host_ok => Ok(address.to_owned()),
        _ => Err(bad()),
    }
}

/// Longest server line accepted: a maximal message with every character
/// escaped fits comfortably.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Something wrong with what the server sent.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("connection failed: {0}")]
    Io(#[from] io::Error),
    /// A line passed [`MAX_LINE_BYTES`]; it was skipped.
    #[error("the server sent a line longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// A line was not a JSON frame; it was skipped.
    #[error("the server sent something that is not a frame: {0}")]
    NotAFrame(String),
}

/// Why a connection could not be made, in the terms a person needs to fix
/// it: the name, the port, the network or TLS.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The host name did not resolve to an address.
    #[error("name not resolved: {host} ({source})")]
    NameNotResolved {
        /// The host name.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// Nothing listens on that port (or a firewall said no).
    #[error("connection refused")]
    Refused,
    /// No answer in time.
    #[error("timed out")]
    TimedOut,
    /// The TCP connection was made but TLS failed (a certificate not
    /// trusted, a server that does not speak TLS...).
    #[error("TLS error: {0}")]
    Tls(io::Error),
    /// Anything else (no route to the host, network down...).
    #[error("{0}")]
    Other(io::Error),
}

impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ConnectError::Refused,
            io::ErrorKind::TimedOut => ConnectError::TimedOut,
            _ => ConnectError::Other(e),
        }
    }
}

/// Connects to the target (with Nagle's algorithm off), with the TLS
/// handshake first when it has TLS. Each of the host's addresses is tried
/// in turn.
pub async fn connect(target: &Target) -> Result<(FrameReader, FrameWriter), ConnectError> {
    let host = target
        .address
        .rsplit_once(':')
        .map_or(target.address.as_str(), |(host, _)| host);
    let not_resolved = |source| ConnectError::NameNotResolved {
        host: host.to_owned(),
        source,
    };
    let addresses: Vec<_> = tokio::net::lookup_host(&target.address)
        .await
        .map_err(not_resolved)?
        .collect();
    let mut last = not_resolved(io::Error::new(
        io::ErrorKind::NotFound,
        "no address for the name",
    ));
    let mut connected = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => {
                connected = Some(stream);
                break;
            }
            Err(e) => last = e.into(),
        }
    }
    let stream = connected.ok_or(last)?;
    stream.set_nodelay(true)?;
    let (read, write): (ReadHalf, WriteHalf) = match &target.tls {
        None => {
            let (read, write) = stream.into_split();
            (Box::new(read), Box::new(write))
        }
        Some(tls) => {
            let name = server_name(&target.address).map_err(ConnectError::Tls)?;
            let stream = tls
                .connector()
                .connect(name, stream)
                .await
                .map_err(ConnectError::Tls)?;
            let (read, write) = tokio::io::split(stream);
            (Box::new(read), Box::new(write))
        }
    };
    Ok((
        FrameReader {
            inner: BufReader::new(read),
            line: Vec::new(),
            too_long: false,
        },
        FrameWriter { inner: write },
    ))
}

/// The receiving half: one [`ServerFrame`] per line.
///
/// [`FrameReader::next`] is cancel-safe: a partly read line is kept in the
/// reader, so it can be used in `tokio::select!` next to other work.
pub struct FrameReader {
    inner: BufReader<ReadHalf>,
    /// The line read so far (empty once a line has been handed out).
    line: Vec<u8>,
    /// The line in progress passed [`MAX_LINE_BYTES`] and is being skipped.
    too_long: bool,
}

impl FrameReader {
    /// The next frame; `Ok(None)` when the server closed the connection.
    pub async fn next(&mut self) -> Result<Option<ServerFrame>, ReadError> {
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let used = chunk.len();
            if !self.too_long && self.line.len() + used <= MAX_LINE_BYTES {
                self.line.extend_from_slice(chunk);
            } else {
                self.too_long = true;
                self.line.clear();
            }
            // Everything up to here is kept in `self`, so a cancellation at
            // the next await loses nothing.
            self.inner.consume(used);
            if done {
                break;
            }
        }
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.too_long) {
            return Err(ReadError::TooLong);
        }
        serde_json::from_slice(&line)
            .map(Some)
            .map_err(|e| ReadError::NotAFrame(e.to_string()))
    }
}

/// The sending half.
pub struct FrameWriter {
    inner: WriteHalf,
}

impl FrameWriter {
    /// Sends one request, with an optional correlation `ref`.
    pub async fn send(&mut self, request: &Request, reference: Option<&Ref>) -> io::Result<()> {
        self.inner
            .write_all(&encode_request(request, reference))
            .await
    }

    /// Closes the sending direction (the server sees end of stream).
    pub async fn close(&mut self) -> io::Result<()> {
        self.inner.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A line that arrives in pieces survives `next` being cancelled between
    /// them (as `tokio::select!` does when another branch wins).
    #[tokio::test]
    async fn next_is_cancel_safe() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let target = Target::plain(addr.clone());
        let (client, accepted) = tokio::join!(connect(&target), listener.accept());
        let (mut reader, _writer) = client.unwrap();
        let (mut server, _) = accepted.unwrap();
        server.write_all(br#"{"type":"pong","#).await.unwrap();
        // The half line is read, then the read is cancelled.
        let cancelled = tokio::time::timeout(Duration::from_millis(200), reader.next()).await;
        assert!(cancelled.is_err(), "a half line is not a frame");
        server.write_all(b"\"ref\":\"x\"}\n").await.unwrap();
        let frame = tokio::time::timeout(Duration::from_secs(20), reader.next())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(frame, Some(ServerFrame::Pong(_))), "{frame:?}");
    }

    /// Issue 19, bug 6: a failed connection says why.
    #[tokio::test]
    async fn a_failed_connection_says_why() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = connect(&Target::plain(format!("127.0.0.1:{port}"))).await;
        assert!(
            matches!(refused, Err(ConnectError::Refused)),
            "{:?}",
            refused.err()
        );
        // A server that does not speak TLS.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            socket.write_all(b"{\"type\":\"hello\"}\n").await.unwrap();
        });
        let tls = crate::tls::TlsClient::new(&crate::tls::Trust::Insecure, None).unwrap();
        let target = Target {
            address,
            tls: Some(tls),
        };
        let error = connect(&target).await.err().unwrap();
        assert!(matches!(error, ConnectError::Tls(_)), "{error:?}");
        assert!(error.to_string().starts_with("TLS error: "), "{error}");
        // How the other reasons read (no resolver is asked: tests send no
        // traffic off this machine).
        let unresolved = ConnectError::NameNotResolved {
            host: "chat.example".into(),
            source: io::Error::other("Name or service not known"),
        };
        assert_eq!(
            unresolved.to_string(),
            "name not resolved: chat.example (Name or service not known)"
        );
        let timed_out = ConnectError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(timed_out.to_string(), "timed out");
    }

    #[test]
    fn addresses_are_host_and_port() {
        for good in [
            "127.0.0.1:8000",
            "localhost:1",
            "chat.example:65535",
            "[::1]:8000",
            "聊天.example:80",
        ] {
            assert_eq!(parse_address(good).as_deref(), Ok(good));
        }
        for bad in [
            "nonsense",
            "host:",
            ":8000",
            "host:port",
            "host:0",
            "host:70000",
            "::1:8000",
            "[::1:8000",
            "a b:1",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn overlong_and_garbage_lines_are_skipped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let target = Target::plain(addr.clone());
        let (client, accepted) = tokio::join!(connect(&target), listener.accept());
        let (mut reader, _writer) = client.unwrap();
        let (mut server, _) = accepted.unwrap();
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let writer = tokio::spawn(async move {
            server.write_all(&long).await.unwrap();
            server
                .write_all(b"\nnot json\n{\"type\":\"pong\"}\n")
                .await
                .unwrap();
            server
        });
        assert!(matches!(reader.next().await, Err(ReadError::TooLong)));
        assert!(matches!(reader.next().await, Err(ReadError::NotAFrame(_))));
        assert!(matches!(
            reader.next().await,
            Ok(Some(ServerFrame::Pong(_)))
        ));
        drop(writer.await.unwrap());
        assert!(matches!(reader.next().await, Ok(None)));
    }
}
