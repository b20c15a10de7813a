//! `netassist tcp-client HOST:PORT`: one connection, input lines and the
//! payload schedule go out, everything received is shown.
//!
//! The run ends when the user quits, or when input is over and the `--wait`
//! period has passed, or when the peer closes. A peer that closes while we
//! still had input to send is reported with exit code 5.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::address::HostPort;
use crate::command::{Line, help, parse_line};
use crate::conn::{Closed, Conn, Out, flush};
use crate::duration::format_duration;
use crate::error::{Error, Outcome};
use crate::options::Wait;
use crate::session::{Input, Session};
use crate::stats::Counters;

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
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => Err(Error::Refused(target)),
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
    let peer = stream.peer_addr()?;
    let label = format!("[{peer}]");
    session.console.status(&format!("connected to {peer}"));
    let conn = Conn::spawn(session.clone(), stream, label);
    let Conn {
        tx,
        stats,
        mut reader,
        writer,
    } = conn;

    let mut schedule = session.options.schedule.clone().map(|schedule| {
        let (session, tx) = (session.clone(), tx.clone());
        tokio::spawn(async move {
            session
                .run_schedule(&schedule, |bytes| {
                    let tx = tx.clone();
                    async move { tx.send(Out::Data(bytes)).await.is_ok() }
                })
                .await;
        })
    });
    let mut input_open = input.lines.is_some();
    let mut reader_done = false;
    let wait = session.options.effective_wait(false);
    // Set once input and payload are done and written: when to stop
    // (`Some(None)`: never by ourselves).
    let mut deadline: Option<Option<Instant>> = None;
    tokio::pin!(shutdown);

    let outcome = loop {
        if deadline.is_none() && !input_open && schedule.is_none() {
            tokio::select! {
                () = flush(&tx) => {}
                () = &mut shutdown => break Outcome::Stopped,
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
                report_close(&session, peer, closed);
                let finished = deadline.is_some()
                    || (schedule.is_none() && !input.interactive && input_ended(&mut input));
                break if finished { Outcome::Done } else { Outcome::PeerClosed };
            }
            line = recv_line(&mut input), if input_open => match line {
                Some(line) => {
                    if handle_line(&session, &tx, &stats, &line).await {
                        break Outcome::Done;
                    }
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
    drop(tx);
    if outcome == Outcome::Stopped {
        writer.abort();
    } else if tokio::time::timeout(Duration::from_secs(10), writer)
        .await
        .is_err()
    {
        session
            .console
            .warn("gave up writing queued data after 10s: the peer is not reading");
    }
    Ok(outcome)
}

/// Whether piped input has ended with every line already taken, i.e. the
/// peer closing raced only with our noticing the end of input.
fn input_ended(input: &mut Input) -> bool {
    match input.lines.as_mut() {
        None => true,
        Some(rx) => matches!(
            rx.try_recv(),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected)
        ),
    }
}

async fn recv_line(input: &mut Input) -> Option<String> {
    match input.lines.as_mut() {
        Some(rx) => rx.recv().await,
        None => None,
    }
}

/// Acts on one input line; returns `true` to quit.
async fn handle_line(
    session: &Session,
    tx: &mpsc::Sender<Out>,
    stats: &Counters,
    line: &str,
) -> bool {
    let parsed = parse_line(line, session.options.input_mode, session.options.commands);
    match parsed {
        Err(e) => session.line_error(&e),
        Ok(Line::Send(data)) => match session.data_bytes(&data) {
            Ok(bytes) => {
                let _ = tx.send(Out::Data(bytes)).await;
            }
            Err(e) => session.send_failed(&e),
        },
        Ok(Line::Stats) => session.console.info(&stats.snapshot().to_string()),
        Ok(Line::Help) => session.console.info(&help(false, false)),
        Ok(Line::Quit) => return true,
        Ok(Line::SendTo(..) | Line::List | Line::Kick(_)) => session
            .console
            .warn("/to, /list and /kick are for tcp-server and udp modes"),
    }
    false
}

fn report_close(
    session: &Session,
    peer: SocketAddr,
    closed: Result<Closed, tokio::task::JoinError>,
) {
    let message = match closed {
        Ok(Closed::Eof) => format!("{peer} closed the connection"),
        Ok(Closed::Error(e)) => format!("connection to {peer} lost: {e}"),
        Err(e) => format!("reader for {peer} stopped: {e}"),
    };
    session.console.status(&message);
}
