//! `netassist tcp-client HOST:PORT`: one connection, input lines and the
//! payload schedule go out, everything received is shown.
//!
//! The run ends when the user quits, or when input is over and the `--wait`
//! period has passed, or when the peer closes. A peer that closes while we
//! still had input to send (lines waiting, an unfinished `--count`, queued
//! data it never took) is reported with exit code 5; one that resets the
//! connection before anything was exchanged has refused us (exit code 3).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinError;
use tokio::time::Instant;

use crate::address::HostPort;
use crate::command::{Line, help};
use crate::conn::{Closed, Conn, Outbox};
use crate::duration::format_duration;
use crate::error::{Error, Outcome};
use crate::options::{Tls, Wait};
use crate::session::{Incoming, Input, Session};
use crate::stats::Counters;
use crate::tls::describe;

/// Resolves `target` and connects to the first address that accepts,
/// within `timeout` overall.
pub async fn connect(target: &HostPort, timeout: Duration) -> Result<TcpStream, Error> {
    let addrs = target.resolve().await?;
    let target = target.to_string();
    let attempt = async {
        let mut last = io::Error::other("no address tried");
        for addr in &addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Err(Error::TimedOut(target, format_duration(timeout))),
        Ok(Ok(stream)) => Ok(stream),
        // A reset while connecting: accepted and turned away at once.
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            ) =>
        {
            Err(Error::Refused(target))
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => {
            Err(Error::TimedOut(target, format_duration(timeout)))
        }
        Ok(Err(e)) => Err(Error::Io(io::Error::new(
            e.kind(),
            format!("cannot connect to {target}: {e}"),
        ))),
    }
}

/// Runs a client session on an established connection until it ends.
pub async fn run(
    session: Arc<Session>,
    stream: TcpStream,
    mut input: Input,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, Error> {
    session.options.validate()?;
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        // Reset between connecting and starting: turned away at once.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {
            session
                .console
                .status("the connection was reset before anything was exchanged");
            return Ok(Outcome::Refused);
        }
        Err(e) => return Err(e.into()),
    };
    let label = format!("[{peer}]");
    session.console.status(&format!("connected to {peer}"));
    let conn = match &session.options.tls {
        Some(Tls::Client(tls)) => {
            let stream = tls.connect(stream, peer).await?;
            session
                .console
                .status(&format!("TLS: {}", describe(stream.get_ref().1)));
            Conn::spawn(session.clone(), stream, label)
        }
        _ => Conn::spawn(session.clone(), stream, label),
    };
    let Conn {
        outbox,
        stats,
        mut reader,
        writer,
    } = conn;

    let mut schedule = session.options.schedule.clone().map(|schedule| {
        let (session, outbox) = (session.clone(), outbox.clone());
        tokio::spawn(async move {
            session
                .run_schedule(&schedule, |bytes| {
                    let outbox = outbox.clone();
                    async move { outbox.send(bytes).await }
                })
                .await;
        })
    });
    let finite_schedule = session
        .options
        .schedule
        .as_ref()
        .is_some_and(|s| s.count.is_some());
    let mut peer_closed = false;
    let mut input_open = input.exists();
    let mut reader_done = false;
    let options = &session.options;
    // Raw, like ncat: after the half-close, wait for the peer to close.
    let wait = match options.wait {
        None if options.raw => Wait::Forever,
        _ => options.effective_wait(false),
    };
    // The end of input half-closes in raw mode, unless we still answer.
    let half_close = options.raw && !options.responds();
    // Set once input and payload are done and written: when to stop
    // (`Some(None)`: never by ourselves).
    let mut deadline: Option<Option<Instant>> = None;
    tokio::pin!(shutdown);

    let outcome = loop {
        if deadline.is_none() && !input_open && schedule.is_none() {
            tokio::select! {
                () = outbox.flush() => {}
                () = &mut shutdown => break Outcome::Stopped,
            }
            if half_close {
                outbox.close_write().await;
            }
            deadline = Some(match wait {
                Wait::Forever => None,
                Wait::For(d) => Some(Instant::now() + d),
            });
        }
        let sleep_until = deadline.flatten();
        tokio::select! {
            closed = &mut reader => {
                reader_done = true;
                if refused(&closed, &stats, &outbox) {
                    session.console.status(&format!("{peer} reset the connection at once"));
                    break Outcome::Refused;
                }
                report_close(&session, peer, closed);
                peer_closed = true;
                // Nothing is pending once input and payload are done and
                // flushed (the deadline is set); before that, only lines
                // already waiting or an unfinished --count are.
                let schedule_running = finite_schedule
                    && schedule.as_ref().is_some_and(|h| !h.is_finished());
                let pending = deadline.is_none()
                    && (schedule_running || input.has_waiting());
                break if pending { Outcome::PeerClosed } else { Outcome::Done };
            }
            item = input.next(), if input_open => match item {
                Some(Incoming::Line(line)) => {
                    if handle_line(&session, &outbox, &stats, &line).await {
                        break Outcome::Done;
                    }
                }
                Some(Incoming::Raw(bytes)) => {
                    outbox.send(bytes).await;
                }
                None if input.interactive => break Outcome::Done,
                None => input_open = false,
            },
            _ = async { if let Some(h) = schedule.as_mut() { let _ = h.await; } }, if schedule.is_some() => {
                schedule = None;
            }
            () = async { if let Some(t) = sleep_until { tokio::time::sleep_until(t).await } }, if sleep_until.is_some() => {
                break Outcome::Done;
            }
            () = &mut shutdown => break Outcome::Stopped,
        }
    };

    if let Some(h) = schedule {
        h.abort();
    }
    if !reader_done {
        // Anything already read has been shown: the reader prints before it
        // next awaits, and abort only takes effect at an await.
        reader.abort();
        let _ = reader.await;
    }
    drop(outbox);
    if outcome == Outcome::Stopped {
        writer.abort();
        return Ok(outcome);
    }
    match tokio::time::timeout(Duration::from_secs(10), writer).await {
        Err(_) => session
            .console
            .warn("gave up writing queued data after 10s: the peer is not reading"),
        // The peer closed and what we had queued could not be written.
        Ok(Ok(Err(_))) if peer_closed => return Ok(Outcome::PeerClosed),
        Ok(_) => {}
    }
    Ok(outcome)
}

/// Whether the reader's end means the peer refused us: it reset the
/// connection before either side sent anything.
fn refused(closed: &Result<Closed, JoinError>, stats: &Counters, outbox: &Outbox) -> bool {
    let reset =
        matches!(closed, Ok(Closed::Error(e)) if e.kind() == io::ErrorKind::ConnectionReset);
    let snapshot = stats.snapshot();
    reset && snapshot.rx_bytes == 0 && snapshot.tx_bytes == 0 && !outbox.used()
}

/// Acts on one input line; returns `true` to quit.
async fn handle_line(session: &Session, outbox: &Outbox, stats: &Counters, line: &str) -> bool {
    match session.parse_line(line) {
        Err(e) => session.line_error(&e),
        Ok(Line::Send(data)) => match session.data_bytes(&data) {
            Ok(bytes) => {
                outbox.send(bytes).await;
            }
            Err(e) => session.send_failed(&e),
        },
        Ok(Line::Stats) => session.console.info(&stats.snapshot().to_string()),
        Ok(Line::Set(setting)) => session.change(setting),
        Ok(Line::Settings) => session.console.info(&session.settings().to_string()),
        Ok(Line::Reset) => {
            stats.reset();
            session.reset_totals();
        }
        Ok(Line::Help) => session.console.info(&help(false, false)),
        Ok(Line::Quit) => return true,
        Ok(Line::SendTo(..) | Line::List | Line::Kick(_)) => session
            .console
            .warn("/to, /list and /kick are for tcp-server and udp modes"),
    }
    false
}

fn report_close(session: &Session, peer: SocketAddr, closed: Result<Closed, JoinError>) {
    let message = match closed {
        Ok(Closed::Eof) => format!("{peer} closed the connection"),
        Ok(Closed::Error(e)) => format!("connection to {peer} lost: {e}"),
        Err(e) => format!("reader for {peer} stopped: {e}"),
    };
    session.console.status(&message);
}
