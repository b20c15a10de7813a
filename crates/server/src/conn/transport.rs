//! How a connection's bytes move: a byte stream (TCP, TLS) or discrete
//! messages (WebSocket, where one protocol frame is one message).
//!
//! The driver reads through an [`Inbound`] and writes through an
//! [`Outbound`], so it neither knows nor cares which. The byte stream
//! reads into a per-thread scratch buffer (an idle connection holds no read
//! buffer of its own) and gathers many queued frames into one write; the
//! message transport sends each protocol frame (each line of what the
//! outbox holds) as one message and flushes once for all of them, so a
//! sink that buffers still turns many messages into one system call.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Size of the per-thread read buffer.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Size of the per-thread buffer frames are gathered into for one write.
pub(crate) const GATHER_BYTES: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_BYTES]);
    static GATHER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(GATHER_BYTES));
}

/// Runs `gather` with this thread's gather buffer, empty: a transport that
/// encodes its frames (WebSocket) gathers them there for one write, as the
/// byte stream does. A buffer grown past four times its size for a large
/// frame is given back after.
pub(crate) fn with_gather<R>(gather: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    GATHER.with_borrow_mut(|buf| {
        buf.clear();
        let result = gather(buf);
        if buf.capacity() > 4 * GATHER_BYTES {
            *buf = Vec::with_capacity(GATHER_BYTES);
        }
        result
    })
}

/// Where a connection's input comes from.
pub trait Inbound: Unpin + Send {
    /// Reads what has arrived and hands it to `consume` (perhaps in several
    /// pieces); the count is 0 at the end of the input.
    fn poll_read<F: FnMut(&[u8])>(
        &mut self,
        cx: &mut Context<'_>,
        consume: F,
    ) -> Poll<io::Result<usize>>;
}

/// Where a connection's output goes.
pub trait Outbound: Unpin + Send {
    /// Writes frames from the front of `writing` (never empty); returns how
    /// many of their bytes went out (0 only if nothing can ever go out).
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        writing: &VecDeque<Bytes>,
    ) -> Poll<io::Result<usize>>;

    /// Pushes out whatever was written but is still buffered.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ends the output (TCP: sends FIN; WebSocket: a close message).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// The read half of a byte stream.
pub struct ByteStream<R>(pub R);

/// The write half of a byte stream.
pub struct ByteSink<W>(pub W);

impl<R: AsyncRead + Unpin + Send> Inbound for ByteStream<R> {
    /// One read into the thread's scratch buffer.
    fn poll_read<F: FnMut(&[u8])>(
        &mut self,
        cx: &mut Context<'_>,
        mut consume: F,
    ) -> Poll<io::Result<usize>> {
        SCRATCH.with_borrow_mut(|buf| {
            let mut read = ReadBuf::new(buf);
            match Pin::new(&mut self.0).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) => {
                    let bytes = read.filled();
                    if !bytes.is_empty() {
                        consume(bytes);
                    }
                    Poll::Ready(Ok(bytes.len()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    }
}

impl<W: AsyncWrite + Unpin + Send> Outbound for ByteSink<W> {
    /// One system call: a large first frame as it is, otherwise as many
    /// frames as fit gathered into the thread's buffer (one contiguous copy
    /// costs the kernel far less than many small pieces).
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        writing: &VecDeque<Bytes>,
    ) -> Poll<io::Result<usize>> {
        let first = writing.front().map_or(0, Bytes::len);
        if writing.len() == 1 || first >= GATHER_BYTES {
            return match writing.front() {
                Some(frame) => Pin::new(&mut self.0).poll_write(cx, frame),
                None => Poll::Ready(Ok(0)),
            };
        }
        GATHER.with_borrow_mut(|buf| {
            buf.clear();
            for frame in writing {
                if buf.len() + frame.len() > GATHER_BYTES {
                    break;
                }
                buf.extend_from_slice(frame);
            }
            Pin::new(&mut self.0).poll_write(cx, buf)
        })
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A stream of incoming messages, each one protocol frame.
pub struct MessageStream<S>(pub S);

impl<S, M, E> Inbound for MessageStream<S>
where
    S: Stream<Item = Result<M, E>> + Unpin + Send,
    M: AsRef<[u8]>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// One message, then a line end: the sessions' framers cut frames at
    /// line ends (IRC) or between objects (JSON), and a message's frame
    /// needs no line end of its own.
    fn poll_read<F: FnMut(&[u8])>(
        &mut self,
        cx: &mut Context<'_>,
        mut consume: F,
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.0).poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => {
                let bytes = message.as_ref();
                consume(bytes);
                consume(b"\n");
                Poll::Ready(Ok(bytes.len() + 1))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Err(io::Error::other(e))),
            Poll::Ready(None) => Poll::Ready(Ok(0)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::poll_fn;
    use std::sync::Arc;
    use std::time::Duration;

    use futures_sink::Sink;
    use serde_json::Value;
    use tokio::io::{AsyncBufReadExt, BufReader, duplex};
    use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::conn::{DriverLimits, DriverSettings, drive};
    use crate::json::{JsonSession, JsonSettings};
    use crate::outbox::Outbox;

    /// Length-delimited frames over an in-memory pipe stand in for
    /// WebSocket messages coming in; what goes out is read as lines.
    type Reads = FramedRead<tokio::io::ReadHalf<tokio::io::DuplexStream>, LengthDelimitedCodec>;
    type Writes = FramedWrite<tokio::io::WriteHalf<tokio::io::DuplexStream>, LengthDelimitedCodec>;

    /// The other end: what it reads, what it writes.
    type Peer = (
        BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
        Writes,
    );

    /// Our halves (messages in, bytes out), and the other end.
    fn pair() -> (
        MessageStream<Reads>,
        ByteSink<tokio::io::WriteHalf<tokio::io::DuplexStream>>,
        Peer,
    ) {
        let (ours, theirs) = duplex(1 << 16);
        let (our_read, our_write) = tokio::io::split(ours);
        let (their_read, their_write) = tokio::io::split(theirs);
        let codec = LengthDelimitedCodec::new;
        (
            MessageStream(FramedRead::new(our_read, codec())),
            ByteSink(our_write),
            (
                BufReader::new(their_read),
                FramedWrite::new(their_write, codec()),
            ),
        )
    }

    /// The next line the other end reads, without its line end.
    async fn next_message(reader: &mut Peer) -> Vec<u8> {
        let mut line = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(20),
            reader.0.read_until(b'\n', &mut line),
        )
        .await
        .expect("a line in time")
        .unwrap();
        line.pop();
        line
    }

    #[tokio::test]
    async fn a_json_session_runs_over_messages() {
        let (stream, sink, mut peer) = pair();
        let hub = Arc::new(crate::testing::hub(0));
        let outbox = Arc::new(Outbox::new(1 << 20));
        let session = JsonSession::new(
            hub,
            outbox.clone(),
            "127.0.0.1:1".parse().unwrap(),
            Arc::new(JsonSettings {
                max_frame: 1 << 16,
                history_replay: 50,
                limits: Default::default(),
            }),
        );
        let settings = Arc::new(DriverSettings {
            backlog: None,
            shutdown: CancellationToken::new(),
            limits: DriverLimits {
                login_timeout: Duration::from_secs(60),
                ping_interval: Duration::from_secs(60),
                ping_timeout: Duration::from_secs(60),
                rate: None,
                requests: None,
                shutdown_grace: Duration::from_secs(1),
                write_linger: Duration::from_millis(10),
            },
            metrics: crate::metrics::DriverMetrics::new(),
        });
        let driver = tokio::spawn(drive(stream, sink, outbox, session, settings, ()));
        // A frame per message, with no line end of its own; two in a row.
        for message in [
            &br#"{"type":"login","nickname":"ws"}"#[..],
            br#"{"type":"ping","ref":1}"#,
        ] {
            futures_sink_send(&mut peer, message).await;
        }
        let welcome: Value = serde_json::from_slice(&next_message(&mut peer).await).unwrap();
        assert_eq!(welcome["type"], "welcome");
        let pong = next_message(&mut peer).await;
        assert_eq!(pong, br#"{"type":"pong","ref":1}"#);
        futures_sink_send(&mut peer, br#"{"type":"logout"}"#).await;
        let bye: Value = serde_json::from_slice(&next_message(&mut peer).await).unwrap();
        assert_eq!(bye["type"], "bye");
        tokio::time::timeout(Duration::from_secs(20), driver)
            .await
            .unwrap()
            .unwrap();
    }

    /// Sends one message from the other end.
    async fn futures_sink_send(peer: &mut Peer, message: &[u8]) {
        let sink = &mut peer.1;
        poll_fn(|cx| Sink::<Bytes>::poll_ready(Pin::new(&mut *sink), cx))
            .await
            .unwrap();
        Sink::<Bytes>::start_send(Pin::new(&mut *sink), Bytes::copy_from_slice(message)).unwrap();
        poll_fn(|cx| Sink::<Bytes>::poll_flush(Pin::new(&mut *sink), cx))
            .await
            .unwrap();
    }
}
