//! The client's side of a WebSocket: its messages as protocol frames, read
//! by tungstenite (masking, fragments, size limits, UTF-8), and the faults
//! it finds turned into the close codes RFC 6455 gives them: a message over
//! the size limit closes with 1009, text that is not UTF-8 with 1007, a
//! broken frame with 1002, binary on the JSON protocol with 1003.
//!
//! tungstenite would answer pings and close frames by writing to the
//! socket itself; it gets a read-only view of it ([`ReadOnly`]), and the
//! answers are left to the writer ([`super::outgoing`]), which owns the
//! socket's write half.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::warn;

use super::{Shared, code};
use crate::server::Wire;

/// The read half of a socket, as a stream tungstenite may also "write" to:
/// what it writes (its own answers to pings and to a close) is dropped,
/// since the writer sends them.
pub(super) struct ReadOnly<R>(pub R);

impl<R: AsyncRead + Unpin> AsyncRead for ReadOnly<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadOnly<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The incoming messages as protocol frames.
pub(super) struct Incoming<R> {
    stream: WebSocketStream<ReadOnly<R>>,
    wire: Wire,
    peer: SocketAddr,
    state: Arc<Shared>,
    /// The peer broke a rule: what it still sends is read and dropped.
    faulted: bool,
}

impl<R: AsyncRead + Unpin> Incoming<R> {
    /// The messages `stream` brings from `peer`, speaking `wire`.
    pub(super) fn new(
        stream: WebSocketStream<ReadOnly<R>>,
        wire: Wire,
        peer: SocketAddr,
        state: Arc<Shared>,
    ) -> Self {
        Incoming {
            stream,
            wire,
            peer,
            state,
            faulted: false,
        }
    }

    /// Ends the input because of a fault of the peer's, closing with `code`.
    fn fault(&mut self, code: u16, what: &str) -> Poll<Option<io::Result<Bytes>>> {
        warn!(peer = %self.peer, code, "{what}; closing the WebSocket");
        self.state.close_with(code);
        self.faulted = true;
        Poll::Ready(None)
    }

    /// After a fault, while the connection closes: reads and drops what
    /// the peer is still sending (the rest of a message over the limit),
    /// one empty frame per read, so that it can finish sending and read
    /// our close frame instead of being reset for unread input. The
    /// closing connection bounds how long.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let mut scratch = [0u8; 8192];
        let mut buf = ReadBuf::new(&mut scratch);
        match ready!(Pin::new(&mut self.stream.get_mut().0).poll_read(cx, &mut buf)) {
            Ok(()) if buf.filled().is_empty() => Poll::Ready(None),
            Ok(()) => Poll::Ready(Some(Ok(Bytes::new()))),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }
}

impl<R: AsyncRead + Unpin> Stream for Incoming<R> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.faulted {
            return self.poll_drain(cx);
        }
        let message = ready!(self.stream.poll_next_unpin(cx));
        match message {
            None => Poll::Ready(None),
            Some(Ok(Message::Text(text))) => Poll::Ready(Some(Ok(Bytes::from(text)))),
            Some(Ok(Message::Binary(data))) => match self.wire {
                Wire::Irc => Poll::Ready(Some(Ok(data))),
                Wire::Json => self.fault(
                    code::UNSUPPORTED,
                    "binary message on the JSON protocol (it takes text)",
                ),
            },
            // The writer answers the latest ping. Both show the peer is
            // there, like any input (an empty frame is skipped).
            Some(Ok(Message::Ping(payload))) => {
                *self.state.pong.lock() = Some(payload);
                Poll::Ready(Some(Ok(Bytes::new())))
            }
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => Poll::Ready(Some(Ok(Bytes::new()))),
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map_or(code::NORMAL, |f| u16::from(f.code));
                self.state.peer_close_code.store(code, Ordering::Relaxed);
                Poll::Ready(None)
            }
            Some(Err(e)) => match e {
                tungstenite::Error::Capacity(_) => {
                    self.fault(code::TOO_BIG, "WebSocket message over the size limit")
                }
                tungstenite::Error::Utf8(_) => {
                    self.fault(code::INVALID_DATA, "WebSocket text that is not UTF-8")
                }
                tungstenite::Error::Protocol(e) => {
                    let what = format!("WebSocket protocol error ({e})");
                    self.fault(code::PROTOCOL, &what)
                }
                tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                    Poll::Ready(None)
                }
                tungstenite::Error::Io(e) => Poll::Ready(Some(Err(e))),
                other => Poll::Ready(Some(Err(io::Error::other(other)))),
            },
        }
    }
}
