//! The connection driver: one task per connection moving bytes between the
//! socket and a protocol session.
//!
//! Reading goes through a per-thread scratch buffer, so an idle connection
//! holds no read buffer of its own; the session keeps only the bytes of an
//! unfinished frame. Writing drains everything queued in the member's
//! [`Outbox`] and hands it to the kernel in as few vectored writes as it
//! can. When the connection ends, the session gets to say its last words,
//! they are flushed within a deadline, and the socket is closed gracefully.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;

use crate::outbox::{CloseReason, Outbox};

/// Size of the per-thread read buffer.
const SCRATCH_BYTES: usize = 64 * 1024;

/// Most buffers handed to one vectored write.
const MAX_IOVECS: usize = 128;

/// How long a closing connection may take to flush its last frames when the
/// peer is still there but not reading.
const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// How long, at most, to keep reading (and discarding) after our last frame,
/// so the kernel does not answer unread input with a reset that destroys it.
const LINGER: Duration = Duration::from_secs(1);

/// The linger ends early once the peer has sent nothing for this long.
const LINGER_QUIET: Duration = Duration::from_millis(100);

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_BYTES]);
}

/// Whether to keep a connection after handling one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// Close the connection for this reason.
    Close(CloseReason),
}

/// One wire protocol's side of a connection.
pub trait Session: Send {
    /// One decoded unit of input (a request, or a decoding problem).
    type Input: Send;

    /// Decodes freshly read bytes into inputs; keeps any unfinished frame.
    fn decode(&mut self, bytes: &[u8], inputs: &mut Vec<Self::Input>);

    /// Acts on one input.
    fn handle(&mut self, input: Self::Input) -> impl Future<Output = Flow> + Send;

    /// The connection is ending for `reason`: leave the hub and return the
    /// frame to send last, if any. Called exactly once.
    fn finish(&mut self, reason: CloseReason) -> Option<Bytes>;
}

/// Runs a connection until it ends, then closes it.
pub async fn drive<S: Session>(
    stream: TcpStream,
    outbox: Arc<Outbox>,
    mut session: S,
    shutdown: CancellationToken,
    shutdown_grace: Duration,
) {
    let mut writing: VecDeque<Bytes> = VecDeque::new();
    let reason = run(&stream, &outbox, &mut session, &mut writing, &shutdown).await;
    let last_words = session.finish(reason);
    if reason == CloseReason::Reset {
        return;
    }
    outbox.take(&mut writing);
    writing.extend(last_words);
    let flush_for = if reason == CloseReason::Shutdown {
        shutdown_grace
    } else {
        CLOSE_FLUSH
    };
    close_gracefully(stream, &outbox, &mut writing, Instant::now() + flush_for).await;
}

/// The main loop; returns why the connection ends.
async fn run<S: Session>(
    stream: &TcpStream,
    outbox: &Outbox,
    session: &mut S,
    writing: &mut VecDeque<Bytes>,
    shutdown: &CancellationToken,
) -> CloseReason {
    let mut inputs = Vec::new();
    loop {
        if write_ready(stream, outbox, writing).is_err() {
            return CloseReason::Reset;
        }
        if let Some(reason) = outbox.close_reason() {
            return reason;
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return CloseReason::Shutdown,
            () = outbox.wait(), if writing.is_empty() => {}
            ready = stream.writable(), if !writing.is_empty() => {
                if ready.is_err() {
                    return CloseReason::Reset;
                }
            }
            ready = stream.readable() => {
                if ready.is_err() {
                    return CloseReason::Reset;
                }
                match read_scratch(stream, |bytes| session.decode(bytes, &mut inputs)) {
                    Ok(0) => return CloseReason::Closed,
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(_) => return CloseReason::Reset,
                }
                for input in inputs.drain(..) {
                    if let Flow::Close(reason) = session.handle(input).await {
                        return reason;
                    }
                }
            }
        }
    }
}

/// Reads once into the thread's scratch buffer and passes what arrived to
/// `consume`; returns the byte count (0 at end of stream).
fn read_scratch(stream: &TcpStream, consume: impl FnOnce(&[u8])) -> io::Result<usize> {
    SCRATCH.with_borrow_mut(|buf| {
        let n = stream.try_read(buf)?;
        if n > 0 {
            consume(&buf[..n]);
        }
        Ok(n)
    })
}

/// Writes queued frames until everything is written or the socket is full.
fn write_ready(
    stream: &TcpStream,
    outbox: &Outbox,
    writing: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    loop {
        if writing.is_empty() {
            outbox.take(writing);
            if writing.is_empty() {
                return Ok(());
            }
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let mut count = 0;
        for (slot, frame) in slices.iter_mut().zip(writing.iter()) {
            *slot = IoSlice::new(frame);
            count += 1;
        }
        match stream.try_write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                outbox.written(n);
                consume(writing, n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Drops the first `n` written bytes from the front of `writing`.
fn consume(writing: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = writing.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            writing.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
    if writing.is_empty() {
        // Nothing in flight: release the memory of an idle connection.
        *writing = VecDeque::new();
    }
}

/// Flushes the last frames before `deadline`, sends FIN, and reads until the
/// peer closes too (or a short while passes) before dropping the socket.
async fn close_gracefully(
    mut stream: TcpStream,
    outbox: &Outbox,
    writing: &mut VecDeque<Bytes>,
    deadline: Instant,
) {
    let flushed = timeout_at(deadline, async {
        loop {
            write_ready(&stream, outbox, writing)?;
            if writing.is_empty() {
                return Ok::<(), io::Error>(());
            }
            stream.writable().await?;
        }
    })
    .await;
    if !matches!(flushed, Ok(Ok(()))) {
        return;
    }
    if stream.shutdown().await.is_err() {
        return;
    }
    let _ = timeout_at(Instant::now() + LINGER, async {
        loop {
            match tokio::time::timeout(LINGER_QUIET, stream.readable()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
            match read_scratch(&stream, |_| {}) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_handles_partial_writes() {
        let mut w: VecDeque<Bytes> = [Bytes::from_static(b"abc"), Bytes::from_static(b"de")].into();
        consume(&mut w, 2);
        assert_eq!(w, [Bytes::from_static(b"c"), Bytes::from_static(b"de")]);
        consume(&mut w, 2);
        assert_eq!(w, [Bytes::from_static(b"e")]);
        consume(&mut w, 1);
        assert!(w.is_empty());
        assert_eq!(w.capacity(), 0);
    }
}
