//! How a client's bytes travel: a TCP byte stream (newline-delimited JSON
//! frames, CRLF-terminated IRC lines) or a WebSocket (one frame or line per
//! text message, see [`websocket`](crate::websocket)).
//!
//! Everything above this works on whole lines in the TCP form: login
//! writes them and reads them back one at a time ([`Conn`]), the run's
//! writer writes batches of them ([`WriteHalf`]), and the goodbye is one.
//! Here they become writes to the socket or WebSocket messages.

use std::net::SocketAddr;

use futures_util::StreamExt;
use futures_util::stream::{SplitSink, SplitStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::Message;

use crate::websocket::{self, WsStream};
use crate::wire::{LoginError, MAX_LOGIN_LINE, Proto};

/// A client's connection while it logs in, and again while it logs out.
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection, with what was read past the lines handed out.
    Tcp {
        /// The socket.
        stream: TcpStream,
        /// Read but not yet handed out.
        lines: Lines,
    },
    /// A WebSocket (its own buffer holds what was read ahead).
    Ws(Box<WsStream>),
}

impl Conn {
    /// Connects to `addr` (`server` as given, for the WebSocket's URL and
    /// `Host`), over TCP or, for the WebSocket protocols, upgraded to a
    /// WebSocket whose reads use a buffer of `read_buffer` bytes.
    pub async fn connect(
        proto: Proto,
        server: &str,
        addr: SocketAddr,
        read_buffer: usize,
    ) -> Result<Conn, LoginError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        if proto.is_websocket() {
            let ws = websocket::handshake(stream, proto, server, read_buffer).await?;
            Ok(Conn::Ws(Box::new(ws)))
        } else {
            Ok(Conn::Tcp {
                stream,
                lines: Lines::default(),
            })
        }
    }

    /// Sends whole lines (each with its line end).
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), LoginError> {
        match self {
            Conn::Tcp { stream, .. } => Ok(stream.write_all(bytes).await?),
            Conn::Ws(ws) => websocket::send_lines(ws.as_mut(), bytes)
                .await
                .map_err(LoginError::WebSocket),
        }
    }

    /// The next non-empty line the server sent, without its line end.
    pub async fn line(&mut self) -> Result<Vec<u8>, LoginError> {
        match self {
            Conn::Tcp { stream, lines } => lines.next(stream).await,
            Conn::Ws(ws) => websocket::next_line(ws).await,
        }
    }

    /// The two halves for the run's reader and writer tasks, and the bytes
    /// read past the last line handed out (which belong to the run).
    pub fn split(self) -> (ReadHalf, WriteHalf, Vec<u8>) {
        match self {
            Conn::Tcp { stream, lines } => {
                let (read, write) = stream.into_split();
                (ReadHalf::Tcp(read), WriteHalf::Tcp(write), lines.buf)
            }
            Conn::Ws(ws) => {
                let (write, read) = ws.split();
                (ReadHalf::Ws(read), WriteHalf::Ws(write), Vec::new())
            }
        }
    }

    /// The connection of two halves that [`Conn::split`] made of one.
    pub fn reunite(read: ReadHalf, write: WriteHalf) -> Option<Conn> {
        match (read, write) {
            (ReadHalf::Tcp(read), WriteHalf::Tcp(write)) => {
                read.reunite(write).ok().map(|stream| Conn::Tcp {
                    stream,
                    lines: Lines::default(),
                })
            }
            (ReadHalf::Ws(read), WriteHalf::Ws(write)) => read.reunite(write).ok().map(Conn::Ws),
            _ => None,
        }
    }

    /// Sends `goodbye`, says it is done writing (TCP: shutdown; WebSocket:
    /// a close frame) and reads until the server closes. True when the
    /// server closed cleanly.
    pub async fn close(self, goodbye: &[u8]) -> bool {
        match self {
            Conn::Tcp { mut stream, .. } => {
                if stream.write_all(goodbye).await.is_err() {
                    return false;
                }
                let _ = stream.shutdown().await;
                let mut sink = [0u8; 4096];
                loop {
                    match stream.read(&mut sink).await {
                        Ok(0) => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            }
            Conn::Ws(mut ws) => {
                if websocket::send_lines(ws.as_mut(), goodbye).await.is_err() {
                    return false;
                }
                // The server may close first, after the goodbye: then this
                // close is its answer, and fails harmlessly.
                let _ = ws.as_mut().close(None).await;
                loop {
                    match ws.next().await {
                        None => return true,
                        Some(Ok(_)) => {}
                        Some(Err(_)) => return false,
                    }
                }
            }
        }
    }
}

/// The reading end of a connection during the run.
#[derive(Debug)]
pub enum ReadHalf {
    /// A TCP socket's.
    Tcp(OwnedReadHalf),
    /// A WebSocket's incoming messages.
    Ws(SplitStream<Box<WsStream>>),
}

/// The writing end of a connection during the run.
#[derive(Debug)]
pub enum WriteHalf {
    /// A TCP socket's.
    Tcp(OwnedWriteHalf),
    /// A WebSocket's outgoing messages.
    Ws(SplitSink<Box<WsStream>, Message>),
}

impl WriteHalf {
    /// Writes whole lines: over TCP as they are, in one write; over a
    /// WebSocket one message per line, flushed together.
    pub async fn write_lines(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self {
            WriteHalf::Tcp(half) => half
                .write_all(bytes)
                .await
                .map_err(|e| format!("write failed: {e}")),
            WriteHalf::Ws(sink) => websocket::send_lines(sink, bytes).await,
        }
    }
}

/// Splits what a server sends over TCP during login into lines
/// (LF-terminated, a CR before the LF dropped), keeping whatever follows
/// the last line asked for.
#[derive(Debug, Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    /// The next non-empty line from `stream`.
    async fn next(&mut self, stream: &mut TcpStream) -> Result<Vec<u8>, LoginError> {
        let mut searched = 0;
        loop {
            if let Some(line) = self.take_line(&mut searched) {
                return Ok(line);
            }
            if self.buf.len() > MAX_LOGIN_LINE {
                return Err(LoginError::LineTooLong);
            }
            self.buf.reserve(16 * 1024);
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(LoginError::Closed);
            }
        }
    }

    /// Takes the first non-empty line off the buffer, if a whole one is
    /// there; `searched` is how much of the buffer is known to hold no line
    /// end (kept between calls while waiting for more).
    fn take_line(&mut self, searched: &mut usize) -> Option<Vec<u8>> {
        loop {
            let Some(at) = memchr::memchr(b'\n', &self.buf[*searched..]) else {
                *searched = self.buf.len();
                return None;
            };
            let end = *searched + at;
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            *searched = 0;
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !line.is_empty() {
                return Some(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_taken_whole_and_the_rest_is_kept() {
        let mut lines = Lines {
            buf: b"001 a\r\n\r\n\n{\"type\":\"welcome\"}\n~part".to_vec(),
        };
        let mut searched = 0;
        assert_eq!(lines.take_line(&mut searched).unwrap(), b"001 a");
        assert_eq!(
            lines.take_line(&mut searched).unwrap(),
            b"{\"type\":\"welcome\"}"
        );
        assert_eq!(lines.take_line(&mut searched), None);
        assert_eq!(searched, 5);
        assert_eq!(lines.buf, b"~part");
        lines.buf.extend_from_slice(b"ial\r\n");
        assert_eq!(lines.take_line(&mut searched).unwrap(), b"~partial");
        assert!(lines.buf.is_empty());
    }
}
