//! How a client's bytes travel: a TCP byte stream (newline-delimited JSON
//! frames, CRLF-terminated IRC lines) or a WebSocket (one frame or line per
//! text message, see [`websocket`](crate::websocket)).
//!
//! Everything above this works on whole lines in the TCP form: login
//! writes them and reads them back one at a time ([`Conn`]), the run's
//! writer writes batches of them ([`WriteHalf`]), and the goodbye is one.
//! Here they become writes to the socket or WebSocket frames.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::websocket::{self, WsConn, WsRead, WsWrite};
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
    /// A WebSocket (with what was read past the messages handed out).
    Ws(WsConn),
}

impl Conn {
    /// Connects to `addr` (`server` as given, for the WebSocket's URL and
    /// `Host`), over TCP or, for the WebSocket protocols, upgraded to a
    /// WebSocket.
    pub async fn connect(proto: Proto, server: &str, addr: SocketAddr) -> Result<Conn, LoginError> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        if proto.is_websocket() {
            let ws = websocket::handshake(stream, proto, server).await?;
            Ok(Conn::Ws(ws))
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
            Conn::Ws(ws) => ws.send_lines(bytes).await,
        }
    }

    /// The next non-empty line the server sent, without its line end.
    pub async fn line(&mut self) -> Result<Vec<u8>, LoginError> {
        match self {
            Conn::Tcp { stream, lines } => lines.next(stream).await,
            Conn::Ws(ws) => ws.next_line().await,
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
                let (read, write, leftover) = ws.split();
                (ReadHalf::Ws(read), WriteHalf::Ws(write), leftover)
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
            (ReadHalf::Ws(read), WriteHalf::Ws(write)) => {
                WsConn::reunite(read, write).map(Conn::Ws)
            }
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
            Conn::Ws(ws) => ws.close(goodbye).await,
        }
    }
}

/// The reading end of a connection during the run.
#[derive(Debug)]
pub enum ReadHalf {
    /// A TCP socket's.
    Tcp(OwnedReadHalf),
    /// A WebSocket's.
    Ws(WsRead),
}

/// The writing end of a connection during the run.
#[derive(Debug)]
pub enum WriteHalf {
    /// A TCP socket's.
    Tcp(OwnedWriteHalf),
    /// A WebSocket's.
    Ws(WsWrite),
}

impl WriteHalf {
    /// Writes whole lines in one write: over TCP as they are; over a
    /// WebSocket one text frame per line.
    pub async fn write_lines(&mut self, bytes: &[u8]) -> Result<(), String> {
        let written = match self {
            WriteHalf::Tcp(half) => half.write_all(bytes).await,
            WriteHalf::Ws(half) => half.write_lines(bytes).await,
        };
        written.map_err(|e| format!("write failed: {e}"))
    }

    /// Writes bytes as they are, already in the connection's form (a
    /// reader's pongs).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        let written = match self {
            WriteHalf::Tcp(half) => half.write_all(bytes).await,
            WriteHalf::Ws(half) => half.write_raw(bytes).await,
        };
        written.map_err(|e| format!("write failed: {e}"))
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
