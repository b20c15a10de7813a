//! The server's side of a WebSocket: each protocol frame (each line of
//! what the outbox holds) as one WebSocket message, with the control
//! frames (keepalive pings, pongs, the close frame) written among them.
//!
//! The frames are encoded here ([`super::frame`]) into the connection
//! driver's per-thread gather buffer, as many as fit, and written in one
//! system call, as the byte stream does for TCP. Only what the socket does
//! not take at once is kept, in a buffer of the connection's own that is
//! given back as soon as it is written; an idle connection holds none.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::AsyncWrite;

use super::frame::{self, MAX_HEADER};
use super::{Shared, code};
use crate::conn::Outbound;
use crate::conn::transport::{GATHER_BYTES, with_gather};

/// The write half of a WebSocket connection.
pub(super) struct Outgoing<W> {
    io: W,
    /// The opcode of a protocol frame: text, or binary for
    /// `binary.ircv3.net`.
    opcode: u8,
    state: Arc<Shared>,
    /// Frames encoded but not yet taken by the socket.
    unsent: Vec<u8>,
    /// The close frame is on its way.
    close_sent: bool,
}

impl<W: AsyncWrite + Unpin + Send> Outgoing<W> {
    /// The writer of the connection whose write half is `io`.
    pub(super) fn new(io: W, binary: bool, state: Arc<Shared>) -> Self {
        Outgoing {
            io,
            opcode: if binary { frame::BINARY } else { frame::TEXT },
            state,
            unsent: Vec::new(),
            close_sent: false,
        }
    }

    /// Appends the control frames that are due to `out`: the answer to the
    /// peer's latest ping, and a keepalive ping of ours.
    fn push_control(&mut self, out: &mut Vec<u8>) {
        if self.close_sent {
            return;
        }
        if let Some(payload) = self.state.pong.lock().take() {
            frame::push(out, frame::PONG, &payload);
        }
        if self.state.ping_wanted.swap(false, Ordering::Relaxed) {
            frame::push(out, frame::PING, b"");
        }
    }

    /// Writes what the socket did not take before; ready once all of it
    /// is out.
    fn poll_unsent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.unsent.is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.unsent))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unsent.drain(..n);
        }
        if self.unsent.capacity() > 0 {
            self.unsent = Vec::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Writes `encoded` as far as the socket takes it now and keeps the
    /// rest for later.
    fn write_encoded(&mut self, cx: &mut Context<'_>, encoded: &[u8]) -> io::Result<()> {
        let mut at = 0;
        while at < encoded.len() {
            match Pin::new(&mut self.io).poll_write(cx, &encoded[at..]) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => at += n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => break,
            }
        }
        self.unsent.extend_from_slice(&encoded[at..]);
        Ok(())
    }

    /// Writes the control frames that are due, if any.
    fn poll_control(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_unsent(cx))?;
        let mut control = Vec::new();
        self.push_control(&mut control);
        if !control.is_empty() {
            self.write_encoded(cx, &control)?;
            ready!(self.poll_unsent(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin + Send> Outbound for Outgoing<W> {
    /// Each line of the queued frames as one message, as many as fit the
    /// gather buffer, in one write; counts the bytes of the lines encoded,
    /// line ends included (what the socket did not take yet is kept and
    /// written first next time). A queued frame that is messages already
    /// (an event, framed once for all its receivers: `Event::framed`) is
    /// copied as it is, whole, as the byte stream copies its frames.
    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        writing: &VecDeque<Bytes>,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_unsent(cx))?;
        with_gather(|buf| {
            self.push_control(buf);
            let mut consumed = 0;
            'frames: for queued in writing {
                if frame::is_messages(queued) {
                    if consumed > 0 && buf.len() + queued.len() > GATHER_BYTES {
                        break;
                    }
                    buf.extend_from_slice(queued);
                    consumed += queued.len();
                    continue;
                }
                let mut start = 0;
                while start < queued.len() {
                    let (text, end) = frame::line_at(queued, start);
                    if consumed > 0 && buf.len() + MAX_HEADER + text.len() > GATHER_BYTES {
                        break 'frames;
                    }
                    if !text.is_empty() {
                        frame::push(buf, self.opcode, text);
                    }
                    consumed += end - start;
                    start = end;
                }
            }
            self.write_encoded(cx, buf)?;
            Poll::Ready(Ok(consumed))
        })
    }

    /// Writes what is left and the control frames that are due, then
    /// flushes.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_control(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Sends the close frame (the reason's code; the peer's own code back
    /// when the peer closed first) and flushes. The socket itself is closed
    /// when the connection is dropped, after the peer had time to close.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_control(cx))?;
        if !self.close_sent {
            let code = match self.state.peer_close_code.load(Ordering::Relaxed) {
                0 => self.state.close_code.load(Ordering::Relaxed),
                peer => peer,
            };
            let mut close = Vec::with_capacity(4);
            frame::push_close(&mut close, if code == 0 { code::NORMAL } else { code });
            self.close_sent = true;
            self.write_encoded(cx, &close)?;
            ready!(self.poll_unsent(cx))?;
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::future::poll_fn;
    use std::io::Cursor;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, DuplexStream, duplex};
    use tokio_tungstenite::tungstenite::protocol::frame::FrameSocket;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

    use super::*;

    /// Reads from `peer` until `count` frames arrived; returns them.
    async fn frames(peer: &mut DuplexStream, count: usize) -> Vec<(OpCode, Vec<u8>)> {
        let mut bytes = Vec::new();
        loop {
            let mut socket = FrameSocket::new(Cursor::new(bytes.clone()));
            let mut read = Vec::new();
            while let Ok(Some(frame)) = socket.read(None) {
                read.push((frame.header().opcode, frame.into_payload().to_vec()));
            }
            if read.len() >= count {
                return read;
            }
            let mut chunk = vec![0u8; 1 << 16];
            let n = tokio::time::timeout(Duration::from_secs(20), peer.read(&mut chunk))
                .await
                .expect("frames in time")
                .unwrap();
            assert!(n > 0, "closed after {} frames", read.len());
            bytes.extend_from_slice(&chunk[..n]);
        }
    }

    fn text(payload: &[u8]) -> (OpCode, Vec<u8>) {
        (OpCode::Data(Data::Text), payload.to_vec())
    }

    #[tokio::test]
    async fn each_queued_line_is_one_message_in_one_write() {
        let (ours, mut peer) = duplex(1 << 16);
        let mut writer = Outgoing::new(ours, false, Arc::new(Shared::default()));
        let writing: VecDeque<Bytes> = [
            Bytes::from_static(b"{\"type\":\"pong\"}\n"),
            Bytes::from_static(b":s 001 a :hi\r\n:s 002 a :there\r\n"),
        ]
        .into();
        let sent = poll_fn(|cx| writer.poll_write(cx, &writing)).await.unwrap();
        assert_eq!(sent, writing.iter().map(Bytes::len).sum::<usize>());
        assert_eq!(
            frames(&mut peer, 3).await,
            [
                text(b"{\"type\":\"pong\"}"),
                text(b":s 001 a :hi"),
                text(b":s 002 a :there")
            ]
        );
    }

    #[tokio::test]
    async fn what_a_full_socket_did_not_take_goes_out_whole_later() {
        // A pipe that holds 100 bytes: most of each write waits.
        let lines: Vec<Vec<u8>> = (0..50)
            .map(|i| format!("PRIVMSG #r :message {i} {}\r\n", "x".repeat(i * 7)).into_bytes())
            .collect();
        let expected: Vec<(OpCode, Vec<u8>)> = lines
            .iter()
            .map(|l| (OpCode::Data(Data::Binary), frame::line_at(l, 0).0.to_vec()))
            .collect();
        let queued = lines.iter().cloned().map(Bytes::from);
        let (read, writer) = write_through(100, true, queued, 50).await;
        assert_eq!(read, expected);
        assert_eq!(writer.unsent.capacity(), 0, "the buffer is given back");
    }

    /// Writes `queued` through a writer (binary messages or text) into a
    /// pipe that holds `pipe` bytes, as the connection driver does (what
    /// a write consumed comes off the front, then a flush), while the peer
    /// reads `count` frames; returns them and the writer.
    async fn write_through(
        pipe: usize,
        binary: bool,
        queued: impl IntoIterator<Item = Bytes>,
        count: usize,
    ) -> (Vec<(OpCode, Vec<u8>)>, Outgoing<DuplexStream>) {
        let (ours, mut peer) = duplex(pipe);
        let mut writer = Outgoing::new(ours, binary, Arc::new(Shared::default()));
        let mut writing: VecDeque<Bytes> = queued.into_iter().collect();
        let reader = tokio::spawn(async move { frames(&mut peer, count).await });
        while !writing.is_empty() {
            let mut n = poll_fn(|cx| writer.poll_write(cx, &writing)).await.unwrap();
            while n > 0 {
                let front = writing.front_mut().unwrap();
                if front.len() <= n {
                    n -= front.len();
                    writing.pop_front();
                } else {
                    bytes::Buf::advance(front, n);
                    n = 0;
                }
            }
        }
        poll_fn(|cx| writer.poll_flush(cx)).await.unwrap();
        (reader.await.unwrap(), writer)
    }

    #[tokio::test]
    async fn lines_of_every_header_size_and_ending_are_one_message_each() {
        // Around the lengths where the header grows (125/126 and
        // 65,535/65,536 bytes), with either line end, alone or with
        // another line in the same frame, and empty lines (not sent).
        let mut queued = Vec::new();
        let mut expected = Vec::new();
        for len in [
            0, 1, 123, 124, 125, 126, 127, 128, 65_533, 65_534, 65_535, 65_536, 65_537,
        ] {
            for end in ["\n", "\r\n"] {
                let line = "y".repeat(len);
                queued.push(format!("{line}{end}"));
                queued.push(format!("{line}{end}second{end}"));
                for sent in [vec![line.clone()], vec![line.clone(), "second".into()]] {
                    expected.extend(sent.into_iter().filter(|l| !l.is_empty()));
                }
            }
        }
        let expected: Vec<_> = expected.iter().map(|l| text(l.as_bytes())).collect();
        let queued = queued.into_iter().map(Bytes::from);
        let (read, _) = write_through(1 << 16, false, queued, expected.len()).await;
        assert_eq!(read, expected);
    }

    #[tokio::test]
    async fn framed_events_go_out_as_they_are_among_lines() {
        // Events framed once for all their receivers (`Event::framed`),
        // small and larger than the gather buffer, between answers
        // queued as lines, through a pipe that takes a little at a time:
        // every message once, in order, none cut.
        let mut queued = Vec::new();
        let mut expected = Vec::new();
        for i in 0..300 {
            let big = "z".repeat(if i % 100 == 7 { 70_000 } else { i });
            let event = format!(":a PRIVMSG #r :{i} {big}\r\n:a PRIVMSG #r :{i} more\r\n");
            queued.push(frame::messages(frame::TEXT, event.as_bytes()));
            expected.push(format!(":a PRIVMSG #r :{i} {big}"));
            expected.push(format!(":a PRIVMSG #r :{i} more"));
            if i % 3 == 0 {
                queued.push(Bytes::from(format!(":s NOTICE a :answer {i}\r\n")));
                expected.push(format!(":s NOTICE a :answer {i}"));
            }
        }
        let expected: Vec<_> = expected.iter().map(|l| text(l.as_bytes())).collect();
        let (read, _) = write_through(4096, false, queued, expected.len()).await;
        assert_eq!(read, expected);
    }

    #[tokio::test]
    async fn pings_pongs_and_the_close_code() {
        let (ours, mut peer) = duplex(1 << 16);
        let state = Arc::new(Shared::default());
        let mut writer = Outgoing::new(ours, false, state.clone());
        *state.pong.lock() = Some(Bytes::from_static(b"hello"));
        state.ping_wanted.store(true, Ordering::Relaxed);
        poll_fn(|cx| writer.poll_flush(cx)).await.unwrap();
        state.close_with(code::TOO_BIG);
        poll_fn(|cx| writer.poll_shutdown(cx)).await.unwrap();
        assert_eq!(
            frames(&mut peer, 3).await,
            [
                (OpCode::Control(Control::Pong), b"hello".to_vec()),
                (OpCode::Control(Control::Ping), vec![]),
                (
                    OpCode::Control(Control::Close),
                    1009u16.to_be_bytes().to_vec()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_peer_that_closed_hears_its_own_code_back() {
        let (ours, mut peer) = duplex(1 << 16);
        let state = Arc::new(Shared::default());
        let mut writer = Outgoing::new(ours, false, state.clone());
        state.peer_close_code.store(1001, Ordering::Relaxed);
        state.close_with(code::POLICY);
        poll_fn(|cx| writer.poll_shutdown(cx)).await.unwrap();
        assert_eq!(
            frames(&mut peer, 1).await,
            [(
                OpCode::Control(Control::Close),
                1001u16.to_be_bytes().to_vec()
            )]
        );
    }
}
