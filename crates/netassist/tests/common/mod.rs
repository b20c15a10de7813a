//! Helpers shared by the integration tests: sessions whose output lands in
//! capture buffers, and bounded waits on real loopback sockets.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use netassist::console::{Capture, Console, DisplayOptions};
use netassist::options::Options;
use netassist::session::{Input, Session};
use netassist::transcript::Transcript;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Generous bound for anything a test waits for, so a loaded CI machine never flakes.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// A session plus the buffers its console writes to.
pub struct Harness {
    pub session: Arc<Session>,
    pub out: Capture,
    pub err: Capture,
}

pub fn harness(options: Options) -> Harness {
    harness_with_log(options, None)
}

pub fn harness_with_log(options: Options, log: Option<Transcript>) -> Harness {
    let (out, err) = (Capture::new(), Capture::new());
    let display = DisplayOptions {
        view: options.view,
        timestamps: options.timestamps,
        quiet: options.quiet,
        raw: options.raw,
    };
    let console = Console::new(display, out.sink(), err.sink(), log);
    Harness {
        session: Session::new(options, console),
        out,
        err,
    }
}

/// Input fed by the test, plus the sender to feed it.
pub fn input() -> (mpsc::Sender<String>, Input) {
    let (tx, rx) = mpsc::channel(16);
    (tx, Input::channel(rx))
}

/// A shutdown future and the switch that resolves it.
pub fn shutdown() -> (oneshot::Sender<()>, impl Future<Output = ()>) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

/// Waits for `needle` in `cap`, failing the test with the captured text.
pub async fn expect(cap: &Capture, needle: &str) {
    assert!(
        cap.wait_for(needle, TIMEOUT).await,
        "timed out waiting for {needle:?}; captured:\n{}",
        cap.text()
    );
}

/// Waits until `cap` holds at least `len` bytes, failing the test otherwise.
pub async fn expect_len(cap: &Capture, len: usize) {
    assert!(
        cap.wait_until(|b| b.len() >= len, TIMEOUT).await,
        "timed out waiting for {len} bytes; captured {}",
        cap.bytes().len()
    );
}

/// Bytes that look random (xorshift), the same every run.
pub fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Reads exactly `n` bytes from `stream`.
pub async fn read_exact(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut buf))
        .await
        .expect("read timed out")
        .expect("read failed");
    buf
}

/// Reads until the peer closes.
pub async fn read_to_end(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut buf))
        .await
        .expect("read timed out")
        .expect("read failed");
    buf
}

/// Runs `fut` with the standard bound.
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(TIMEOUT, fut).await.expect("timed out")
}
