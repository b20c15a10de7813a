//! The slow-consumer policy against a real server process: one client stops
//! reading while 50 others chat as fast as they can. The others get every
//! message, the server's memory stays within the outbox budget instead of
//! growing with what the slow client missed, and the slow client is
//! disconnected with reason `slow_consumer` (docs/architecture.md).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chatroom_testkit::ServerProcess;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::BIN;

const CHATTERS: usize = 50;
const MESSAGES_EACH: usize = 400;
/// Bytes of text per message: 50 x 400 x 1000 = 20 MB offered to every
/// member, the slow one included.
const TEXT_BYTES: usize = 1000;
/// The server's per-client budget (the default). Far below the 20 MB the
/// slow client is offered, and enough that a chatter whose reading this
/// test process starves for a moment (when the machine is busy with other
/// tests) is not cut off for it: with less, one was, and the others then
/// waited for its messages in vain.
const OUTBOX_BYTES: usize = 1024 * 1024;
/// Generous: the whole exchange takes a few seconds even in a debug build.
const PATIENCE: Duration = Duration::from_secs(120);

/// Logs in on `stream` and reads the welcome line; returns both halves,
/// the reading one buffered.
async fn login(stream: TcpStream, nick: &str) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let request = json!({"type": "login", "nickname": nick}).to_string();
    write.write_all(request.as_bytes()).await.unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).await.unwrap();
    let welcome: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    (reader, write)
}

/// What a chatter has read so far.
#[derive(Default)]
struct Seen {
    /// Messages from the others.
    messages: usize,
    /// The notice that the slow client left.
    slow_left: Option<Value>,
}

impl Seen {
    /// Reads one line and counts it; returns whether it was an ack.
    async fn read(&mut self, reader: &mut BufReader<OwnedReadHalf>) -> Result<bool, String> {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => return Err(format!("closed after {} messages", self.messages)),
            Ok(_) => {}
            Err(e) => return Err(format!("{e} after {} messages", self.messages)),
        }
        if line.starts_with(br#"{"type":"message""#) {
            self.messages += 1;
        } else if line.starts_with(br#"{"type":"presence""#) {
            let notice: Value = serde_json::from_slice(&line).unwrap();
            if notice["nickname"] == "slowpoke" && notice["event"] == "leave" {
                self.slow_left = Some(notice);
            }
        }
        Ok(line.starts_with(br#"{"type":"ack""#))
    }
}

/// How far one chatter got, for the report when one does not finish.
#[derive(Default, Clone, Copy)]
struct Progress {
    /// Messages sent and acknowledged.
    sent: usize,
    /// Messages from the others received.
    received: usize,
    /// Whether the slow client's leave notice arrived.
    slow_left: bool,
}

/// Sends [`MESSAGES_EACH`] messages as fast as the server takes them (each
/// as soon as the previous one is acknowledged; no rate limit), then reads
/// until every message from the others and the slow client's leave notice
/// arrived. Returns the notice and the writing half (kept open until all
/// chatters are done).
async fn chat(
    mut reader: BufReader<OwnedReadHalf>,
    mut write: OwnedWriteHalf,
    text: String,
    progress: Arc<Mutex<Progress>>,
) -> Result<(Value, OwnedWriteHalf), String> {
    let request = json!({"type": "broadcast", "message": text, "ref": 1}).to_string();
    let mut seen = Seen::default();
    let report = |seen: &Seen, sent: usize| {
        if let Ok(mut p) = progress.lock() {
            *p = Progress {
                sent,
                received: seen.messages,
                slow_left: seen.slow_left.is_some(),
            };
        }
    };
    for sent in 1..=MESSAGES_EACH {
        write
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("sending: {e}"))?;
        while !seen.read(&mut reader).await? {}
        report(&seen, sent);
    }
    let expected = (CHATTERS - 1) * MESSAGES_EACH;
    while seen.messages < expected || seen.slow_left.is_none() {
        seen.read(&mut reader).await?;
        report(&seen, MESSAGES_EACH);
    }
    assert_eq!(seen.messages, expected, "more messages than were sent");
    Ok((seen.slow_left.unwrap_or_default(), write))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_and_nobody_else_notices() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = OUTBOX_BYTES.to_string();
    let server = ServerProcess::start(
        BIN,
        &[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
            // The store's page cache would grow with the 20 MB written here
            // (by up to 64 MiB with the default); keep it small so that the
            // memory measured below is the outboxes'.
            "--history-cache-mib",
            "1",
            "--messages-per-second",
            "0",
            "--max-connections-per-ip",
            "0",
            "--outbox-bytes",
            &outbox,
            // Far beyond the test's patience: a slow client must be cut for
            // what it failed to read, not when a keepalive ping times out.
            "--ping-interval",
            "1h",
        ],
    )
    .await;
    let addr = server.addr();

    // The slow client: a tiny receive buffer, so the kernel cannot hide its
    // backlog, and after the welcome it never reads again.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let slow = login(socket.connect(addr).await.unwrap(), "slowpoke").await;

    let mut chatters = Vec::new();
    for i in 0..CHATTERS {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        chatters.push(login(stream, &format!("chatter{i}")).await);
    }
    let baseline_kib = server.status_kib("VmRSS");

    // Everyone chats at full speed and reads everything from the others.
    let text = "x".repeat(TEXT_BYTES);
    let progress: Vec<_> = (0..CHATTERS)
        .map(|_| Arc::new(Mutex::new(Progress::default())))
        .collect();
    let tasks: Vec<_> = chatters
        .into_iter()
        .zip(&progress)
        .map(|((reader, write), p)| tokio::spawn(chat(reader, write, text.clone(), p.clone())))
        .collect();
    // Keep the writing halves open until every chatter is done.
    let mut writers = Vec::new();
    for task in tasks {
        let Ok(outcome) = tokio::time::timeout(PATIENCE, task).await else {
            let report: Vec<String> = progress
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, *p.lock().ok()?)))
                .map(|(i, p)| {
                    format!(
                        "chatter{i}: sent {}, received {}, saw slowpoke leave: {}",
                        p.sent, p.received, p.slow_left
                    )
                })
                .collect();
            panic!(
                "a chatter did not receive everything in time:\n{}\nthe server's log:\n{}",
                report.join("\n"),
                server.log()
            );
        };
        let outcome = outcome.unwrap();
        let (leave, write) = outcome.unwrap_or_else(|e| {
            panic!("a chatter failed: {e}; the server's log:\n{}", server.log())
        });
        assert_eq!(leave["reason"], "slow_consumer", "{leave}");
        writers.push(write);
    }

    // The server never held the slow client's 20 MB backlog: its peak
    // memory grew by less than half of it (the budget is 1 MiB; the rest
    // is SQLite's page cache of 2 MiB, allocator and runtime noise).
    let peak_kib = server.status_kib("VmHWM");
    let offered_kib = (CHATTERS * MESSAGES_EACH * TEXT_BYTES / 1024) as u64;
    assert!(
        peak_kib.saturating_sub(baseline_kib) < offered_kib / 2,
        "server memory grew from {baseline_kib} KiB to a peak of {peak_kib} KiB"
    );

    // The slow client's connection was closed: reading it reaches the end.
    let (mut slow_reader, _slow_write) = slow;
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, slow_reader.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow client's connection is still open");
    let log = server.log();
    assert_eq!(
        log.matches("slow consumer, disconnecting").count(),
        1,
        "exactly one client was cut off:\n{log}"
    );
    drop(writers);
}
