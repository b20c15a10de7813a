//! A connection to a chatroom server: requests out, frames in.
//!
//! The reader trusts nothing: a line longer than the cap, invalid UTF-8 or a
//! line that is not a frame is reported as an error and skipped, never a
//! crash, and memory stays bounded whatever the server sends.

use std::io;

use chatroom_proto::json::{Ref, Request, ServerFrame, encode_request};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

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

/// Connects to `server` (`HOST:PORT`) with Nagle's algorithm off.
pub async fn connect(server: &str) -> io::Result<(FrameReader, FrameWriter)> {
    let stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    Ok((
        FrameReader {
            inner: BufReader::new(read),
            line: Vec::new(),
        },
        FrameWriter { inner: write },
    ))
}

/// The receiving half: one [`ServerFrame`] per line.
pub struct FrameReader {
    inner: BufReader<OwnedReadHalf>,
    line: Vec<u8>,
}

impl FrameReader {
    /// The next frame; `Ok(None)` when the server closed the connection.
    pub async fn next(&mut self) -> Result<Option<ServerFrame>, ReadError> {
        self.line.clear();
        let mut too_long = false;
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
            if !too_long && self.line.len() + used <= MAX_LINE_BYTES {
                self.line.extend_from_slice(chunk);
            } else {
                too_long = true;
                self.line.clear();
            }
            self.inner.consume(used);
            if done {
                break;
            }
        }
        if too_long {
            return Err(ReadError::TooLong);
        }
        serde_json::from_slice(&self.line)
            .map(Some)
            .map_err(|e| ReadError::NotAFrame(e.to_string()))
    }
}

/// The sending half.
pub struct FrameWriter {
    inner: OwnedWriteHalf,
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
