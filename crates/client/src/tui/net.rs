//! The network task: keeps a connection to the server, reconnecting with
//! exponential backoff, and passes frames to the app and requests to the
//! server.
//!
//! The task knows nothing about logins or rooms; it reports
//! [`NetEvent`]s and the app decides what to send. Each connection has a
//! generation number, and a request meant for an older connection is
//! dropped, so nothing queued before a drop is sent before the new login.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use chatroom_proto::json::{Ref, Request, ServerFrame};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::event::{Event, NetEvent, Outgoing};
use crate::connection::{ConnectError, FrameReader, FrameWriter, ReadError, Target, connect};

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After this long without a frame, the task pings the server.
const PING_AFTER: Duration = Duration::from_secs(30);
/// After this long without a frame (the ping unanswered), the connection is
/// taken for dead.
const DEAD_AFTER: Duration = Duration::from_secs(75);
/// How long quitting waits for the server's goodbye.
const QUIT_GRACE: Duration = Duration::from_secs(2);

/// Delays between reconnection attempts: doubling from `initial` up to `max`,
/// each with random jitter so that many clients dropped at once do not come
/// back at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The delay before attempt `failures + 1`, with `jitter` in `[0, 1)`:
    /// between half and all of `initial * 2^(failures - 1)`, capped at `max`.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1 << doublings).min(self.max);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// A random number in `[0, 1)` from the standard library's per-process
/// random hash keys (good enough to spread reconnections).
fn jitter() -> f64 {
    let bits = RandomState::new().hash_one(Instant::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// What the app asks of the network task.
#[derive(Debug)]
enum Command {
    Send(Outgoing),
    Quit,
}

/// The handle of the running network task.
#[derive(Debug)]
pub struct Net {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
}

/// Starts the network task for `server`; its news goes to `events`.
pub fn spawn(server: Target, backoff: Backoff, events: mpsc::Sender<Event>) -> Net {
    let (commands, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(server, backoff, receiver, events));
    Net { commands, task }
}

impl Net {
    /// Queues a request (dropped if its connection is gone).
    pub fn send(&self, outgoing: Outgoing) {
        let _ = self.commands.send(Command::Send(outgoing));
    }

    /// Whether the task has ended (it only ends when asked to, or when the
    /// app is gone).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Logs out and closes the connection, waiting at most a few seconds.
    pub async fn quit(self) {
        let _ = self.commands.send(Command::Quit);
        let mut task = self.task;
        if tokio::time::timeout(QUIT_GRACE + Duration::from_secs(1), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// How one connection ended.
enum Ending {
    Quit,
    Lost { reason: String, welcomed: bool },
}

async fn run(
    server: Target,
    backoff: Backoff,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<Event>,
) {
    let mut failures: u32 = 0;
    let mut generation: u64 = 0;
    loop {
        let news = NetEvent::Connecting {
            attempt: failures + 1,
        };
        if events.send(Event::Net(news)).await.is_err() {
            return;
        }
        let reason = match tokio::time::timeout(CONNECT_TIMEOUT, connect(&server)).await {
            Ok(Ok((reader, writer))) => {
                generation += 1;
                let news = NetEvent::Connected { generation };
                if events.send(Event::Net(news)).await.is_err() {
                    return;
                }
                match session(reader, writer, generation, &mut commands, &events).await {
                    Ending::Quit => return,
                    Ending::Lost { reason, welcomed } => {
                        if welcomed {
                            failures = 0;
                        }
                        reason
                    }
                }
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => ConnectError::TimedOut.to_string(),
        };
        failures = failures.saturating_add(1);
        let retry_in = backoff.delay(failures, jitter());
        tracing::info!(%reason, ?retry_in, "connection lost");
        let news = NetEvent::Lost { reason, retry_in };
        if events.send(Event::Net(news)).await.is_err() {
            return;
        }
        let wake = tokio::time::sleep(retry_in);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                () = &mut wake => break,
                command = commands.recv() => match command {
                    None | Some(Command::Quit) => return,
                    // Not connected: requests for the old connection are void.
                    Some(Command::Send(_)) => {}
                },
            }
        }
    }
}

/// Runs one connection until it fails or the app quits.
async fn session(
    mut reader: FrameReader,
    mut writer: FrameWriter,
    generation: u64,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    events: &mpsc::Sender<Event>,
) -> Ending {
    let mut welcomed = false;
    let mut last_heard = Instant::now();
    let mut pinged = false;
    let mut keepalive = tokio::time::interval(PING_AFTER / 3);
    let lost = |reason: String, welcomed: bool| Ending::Lost { reason, welcomed };
    loop {
        tokio::select! {
            frame = reader.next() => match frame {
                Ok(Some(ServerFrame::Ping(ping))) => {
                    last_heard = Instant::now();
                    pinged = false;
                    if let Err(e) = writer.send(&Request::Pong, ping.reference.as_ref()).await {
                        return lost(format!("connection failed: {e}"), welcomed);
                    }
                }
                Ok(Some(frame)) => {
                    last_heard = Instant::now();
                    pinged = false;
                    welcomed |= matches!(frame, ServerFrame::Welcome(_));
                    if events.send(Event::Net(NetEvent::Frame(Box::new(frame)))).await.is_err() {
                        return Ending::Quit;
                    }
                }
                Ok(None) => return lost("the server closed the connection".into(), welcomed),
                Err(ReadError::Io(e)) => return lost(format!("connection failed: {e}"), welcomed),
                Err(e) => {
                    tracing::warn!(error = %e, "skipped a line from the server");
                    if events.send(Event::Net(NetEvent::Garbled(e.to_string()))).await.is_err() {
                        return Ending::Quit;
                    }
                }
            },
            command = commands.recv() => match command {
                None => return Ending::Quit,
                Some(Command::Quit) => {
                    goodbye(&mut reader, &mut writer).await;
                    return Ending::Quit;
                }
                Some(Command::Send(out)) if out.generation != generation => {
                    tracing::debug!(kind = out.request.kind(), "dropped a request for an old connection");
                }
                Some(Command::Send(out)) => {
                    if let Err(e) = writer.send(&out.request, Some(&out.reference)).await {
                        return lost(format!("connection failed: {e}"), welcomed);
                    }
                }
            },
            _ = keepalive.tick() => {
                let silent = last_heard.elapsed();
                if silent >= DEAD_AFTER {
                    return lost("the server stopped answering".into(), welcomed);
                }
                if silent >= PING_AFTER && !pinged {
                    pinged = true;
                    let reference = Ref::Text("keepalive".into());
                    if let Err(e) = writer.send(&Request::Ping, Some(&reference)).await {
                        return lost(format!("connection failed: {e}"), welcomed);
                    }
                }
            }
        }
    }
}

/// Logs out and waits (briefly) for the server to close the connection.
async fn goodbye(reader: &mut FrameReader, writer: &mut FrameWriter) {
    if writer.send(&Request::Logout, None).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(QUIT_GRACE, async {
        while let Ok(Some(_)) = reader.next().await {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_below_it() {
        let backoff = Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        };
        let top: Vec<Duration> = (1..=9).map(|n| backoff.delay(n, 1.0)).collect();
        assert_eq!(
            top.iter().map(Duration::as_millis).collect::<Vec<_>>(),
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff.delay(3, 0.0), Duration::from_millis(1000));
        assert_eq!(backoff.delay(u32::MAX, 0.5), Duration::from_millis(22_500));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
