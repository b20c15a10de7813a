//! `netassist tcp-server [ADDR:]PORT`: many clients at once, each with an id
//! (`#1`, `#2`, ...). Plain input lines go to every client; `/to ID` picks
//! one; `/list` and `/kick ID` manage them. The payload schedule runs once per
//! client, starting when it connects (a greeting, or a periodic feed).
//!
//! Input lines are handled by their own task, so that while a line waits
//! for a slow client (backpressure: piped input is never dropped for a
//! client that reads) the server still accepts clients and can be stopped.
//! A client that reads nothing for `--stall-timeout` is skipped until it
//! reads again.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::address::HostPort;
use crate::command::{Data, Line, help};
use crate::conn::{Closed, Conn, Delivery, Outbox, Stream};
use crate::duration::format_duration;
use crate::error::{Error, Outcome};
use crate::options::{Tls, Wait};
use crate::session::{Incoming, Input, Session};
use crate::stats::Counters;
use crate::tls::describe;

/// Resolves where to listen and binds a listener on the first address.
pub async fn bind(spec: &HostPort) -> Result<TcpListener, Error> {
    let addr = spec.resolve_first().await?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Bind(addr, e))
}

/// One connected client.
struct Client {
    peer: SocketAddr,
    outbox: Outbox,
    stats: Arc<Counters>,
    since: Instant,
    reader: AbortHandle,
    writer: JoinHandle<std::io::Result<()>>,
    schedule: Option<AbortHandle>,
    watcher: Option<AbortHandle>,
}

type Clients = Arc<Mutex<BTreeMap<u64, Client>>>;

/// Serves `listener` until the user quits, input ends and `--wait` passes
/// (by default it never does), or `shutdown` resolves.
pub async fn run(
    session: Arc<Session>,
    listener: TcpListener,
    input: Input,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, Error> {
    session.options.validate()?;
    let local = listener.local_addr()?;
    let tls = match &session.options.tls {
        Some(Tls::Server(tls)) => Some(tls.clone()),
        _ => None,
    };
    session.console.status(&match &tls {
        Some(tls) => format!("listening on {local} (TCP, TLS with {})", tls.origin),
        None => format!("listening on {local} (TCP)"),
    });
    // Clients whose TLS handshake is under way count towards --max-clients.
    let handshaking = Arc::new(AtomicUsize::new(0));
    let clients: Clients = Arc::new(Mutex::new(BTreeMap::new()));
    let mut next_id = 0u64;
    let mut pump = input
        .exists()
        .then(|| tokio::spawn(pump_input(session.clone(), clients.clone(), input)));
    // --raw: the end of input half-closes every client, like ncat -l, unless
    // we still answer; clients that come later are half-closed once their
    // payload is sent.
    let half_close = session.options.raw && !session.options.responds();
    let mut input_ended = pump.is_none();
    let mut deadline: Option<Option<Instant>> = None;
    tokio::pin!(shutdown);

    let outcome = loop {
        if deadline.is_none() && pump.is_none() {
            deadline = Some(match session.options.effective_wait(true) {
                Wait::Forever => None,
                Wait::For(d) => Some(Instant::now() + d),
            });
        }
        let sleep_until = deadline.flatten();
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connected = clients.lock().len() + handshaking.load(Ordering::Relaxed);
                    if connected >= session.options.max_clients {
                        session.console.warn(&format!(
                            "refusing {peer}: {} clients already connected (--max-clients)",
                            session.options.max_clients
                        ));
                        // Reset rather than close: the client learns at
                        // once that it was turned away, not served.
                        if let Err(e) = stream.set_zero_linger() {
                            tracing::debug!("cannot set SO_LINGER for {peer}: {e}");
                        }
                        continue;
                    }
                    next_id += 1;
                    let half_close = half_close && input_ended;
                    match &tls {
                        None => admit(&session, &clients, next_id, stream, peer, half_close),
                        Some(tls) => {
                            // The handshake runs on its own, so a slow
                            // client does not hold up the others.
                            handshaking.fetch_add(1, Ordering::Relaxed);
                            let (tls, session, clients, handshaking, id) =
                                (tls.clone(), session.clone(), clients.clone(), handshaking.clone(), next_id);
                            tokio::spawn(async move {
                                let shaken = tls.accept(stream).await;
                                match shaken {
                                    Ok(stream) => {
                                        let agreed = describe(stream.get_ref().1);
                                        session.console.status(&format!("#{id} {peer} TLS: {agreed}"));
                                        admit(&session, &clients, id, stream, peer, half_close);
                                    }
                                    Err(e) => session.console.warn(&format!("#{id} {peer}: {e}")),
                                }
                                handshaking.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                    }
                }
                Err(e) => {
                    // E.g. out of file descriptors: say so, and back off
                    // briefly instead of spinning on the same error.
                    session.console.warn(&format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            end = async { if let Some(p) = pump.as_mut() { p.await } else { std::future::pending().await } }, if pump.is_some() => {
                pump = None;
                match end {
                    Ok(InputEnd::Quit) => break Outcome::Done,
                    Ok(InputEnd::Ended) => {
                        input_ended = true;
                        if half_close {
                            for client in clients.lock().values() {
                                let outbox = client.outbox.clone();
                                tokio::spawn(async move { outbox.close_write().await });
                            }
                        }
                    }
                    Err(e) => session.console.warn(&format!("reading input stopped: {e}")),
                }
            }
            () = async { if let Some(t) = sleep_until { tokio::time::sleep_until(t).await } }, if sleep_until.is_some() => {
                break Outcome::Done;
            }
            () = &mut shutdown => break Outcome::Stopped,
        }
    };

    if let Some(p) = pump {
        p.abort();
    }
    drop(listener);
    let remaining: Vec<Client> = std::mem::take(&mut *clients.lock()).into_values().collect();
    let mut writers = Vec::new();
    for client in remaining {
        if let Some(w) = &client.watcher {
            w.abort();
        }
        if let Some(s) = &client.schedule {
            s.abort();
        }
        client.reader.abort();
        writers.push(client.writer);
    }
    if outcome == Outcome::Stopped {
        writers.iter().for_each(JoinHandle::abort);
    } else {
        let drain = async {
            for w in writers {
                let _ = w.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            session
                .console
                .warn("gave up writing queued data after 10s: a client is not reading");
        }
    }
    Ok(outcome)
}

/// Registers a new client and starts its tasks; with `half_close`, our
/// sending side is closed once its payload (if any) is sent.
fn admit(
    session: &Arc<Session>,
    clients: &Clients,
    id: u64,
    stream: impl Stream,
    peer: SocketAddr,
    half_close: bool,
) {
    let label = format!("#{id} {peer}");
    let (conn, release) = Conn::spawn_held(session.clone(), stream, label.clone());
    let schedule = session.options.schedule.clone().map(|schedule| {
        let (session, outbox) = (session.clone(), conn.outbox.clone());
        tokio::spawn(async move {
            session
                .run_schedule(&schedule, |bytes| {
                    let outbox = outbox.clone();
                    async move { outbox.send(bytes).await }
                })
                .await;
            if half_close {
                outbox.close_write().await;
            }
        })
        .abort_handle()
    });
    if half_close && schedule.is_none() {
        let outbox = conn.outbox.clone();
        tokio::spawn(async move { outbox.close_write().await });
    }
    let Conn {
        outbox,
        stats,
        reader,
        writer,
    } = conn;
    clients.lock().insert(
        id,
        Client {
            peer,
            outbox,
            stats,
            since: Instant::now(),
            reader: reader.abort_handle(),
            writer,
            schedule,
            watcher: None,
        },
    );
    let watcher = tokio::spawn({
        let (session, clients, label) = (session.clone(), clients.clone(), label.clone());
        async move {
            let closed = reader.await;
            if let Some(client) = clients.lock().remove(&id)
                && let Some(s) = client.schedule
            {
                s.abort();
            }
            let how = match closed {
                Ok(Closed::Eof) => "disconnected".to_owned(),
                Ok(Closed::Error(e)) => format!("connection lost: {e}"),
                Err(_) => "kicked".to_owned(),
            };
            session.console.status(&format!("{label} {how}"));
        }
    });
    if let Some(client) = clients.lock().get_mut(&id) {
        client.watcher = Some(watcher.abort_handle());
    }
    // Registered: from now on broadcasts reach it. Announce it, then show
    // what it sends.
    session.console.status(&format!("{label} connected"));
    let _ = release.send(());
}

/// How the input task ended.
enum InputEnd {
    /// `/quit`, or the end of typed input (Ctrl-D): the run ends now.
    Quit,
    /// Piped input ended: the run goes on for `--wait`.
    Ended,
}

/// Acts on input lines one by one, each to its end (a broadcast waits for
/// the clients it goes to), until input ends or the user quits.
async fn pump_input(session: Arc<Session>, clients: Clients, mut input: Input) -> InputEnd {
    while let Some(item) = input.next().await {
        match item {
            Incoming::Line(line) => {
                if handle_line(&session, &clients, &line).await {
                    return InputEnd::Quit;
                }
            }
            Incoming::Raw(bytes) => {
                let targets = all_clients(&clients);
                if targets.is_empty() {
                    session.console.warn("no clients connected: nothing sent");
                }
                broadcast(&session, targets, &bytes).await;
            }
        }
    }
    if input.interactive {
        InputEnd::Quit
    } else {
        InputEnd::Ended
    }
}

/// Acts on one input line; returns `true` to quit.
async fn handle_line(session: &Arc<Session>, clients: &Clients, line: &str) -> bool {
    let console = &session.console;
    match session.parse_line(line) {
        Err(e) => session.line_error(&e),
        Ok(Line::Send(data)) => {
            if let Some(bytes) = encode(session, &data) {
                let targets = all_clients(clients);
                if targets.is_empty() {
                    console.warn("no clients connected: nothing sent");
                }
                broadcast(session, targets, &bytes).await;
            }
        }
        Ok(Line::SendTo(target, data)) => match client_id(&target) {
            None => console.warn(&format!("{target:?} is not a client id (see /list)")),
            Some(id) => {
                let outbox = clients.lock().get(&id).map(|c| c.outbox.clone());
                match outbox {
                    None => console.warn(&format!("no client #{id} (see /list)")),
                    Some(outbox) => {
                        if let Some(bytes) = encode(session, &data) {
                            broadcast(session, vec![(id, outbox)], &bytes).await;
                        }
                    }
                }
            }
        },
        Ok(Line::List) => {
            let now = Instant::now();
            let listing: Vec<String> = clients
                .lock()
                .iter()
                .map(|(id, c)| {
                    format!(
                        "#{id} {}  connected {}s  {}",
                        c.peer,
                        now.duration_since(c.since).as_secs(),
                        c.stats.snapshot()
                    )
                })
                .collect();
            if listing.is_empty() {
                console.info("no clients connected");
            } else {
                console.info(&listing.join("\n"));
            }
        }
        Ok(Line::Kick(target)) => {
            let removed = client_id(&target).and_then(|id| clients.lock().remove(&id));
            match removed {
                None => console.warn(&format!("no client {target} (see /list)")),
                Some(client) => {
                    if let Some(s) = client.schedule {
                        s.abort();
                    }
                    // The watcher reports "kicked"; dropping the sender lets
                    // the writer finish what is queued, then close.
                    client.reader.abort();
                }
            }
        }
        Ok(Line::Stats) => console.info(&format!(
            "{} clients connected; {}",
            clients.lock().len(),
            session.totals.snapshot()
        )),
        Ok(Line::Set(setting)) => session.change(setting),
        Ok(Line::Settings) => console.info(&session.settings().to_string()),
        Ok(Line::Reset) => {
            for client in clients.lock().values() {
                client.stats.reset();
            }
            session.reset_totals();
        }
        Ok(Line::Help) => console.info(&help(true, false)),
        Ok(Line::Quit) => return true,
    }
    false
}

fn encode(session: &Session, data: &Data) -> Option<Bytes> {
    session
        .data_bytes(data)
        .map_err(|e| session.send_failed(&e))
        .ok()
}

/// Every connected client, to send to.
fn all_clients(clients: &Clients) -> Vec<(u64, Outbox)> {
    clients
        .lock()
        .iter()
        .map(|(id, c)| (*id, c.outbox.clone()))
        .collect()
}

/// Queues `bytes` for every target, waiting for those whose queue is full
/// (see [`Outbox::deliver`]) all at once, each for at most the stall
/// timeout: however many clients stall, a line waits one timeout at most.
async fn broadcast(session: &Arc<Session>, targets: Vec<(u64, Outbox)>, bytes: &Bytes) {
    let deadline = Instant::now() + session.options.stall_timeout;
    let mut waiting = Vec::new();
    for (id, outbox) in targets {
        match outbox.try_deliver(bytes.clone()) {
            Ok(delivery) => report(session, id, delivery),
            Err(bytes) => waiting.push((id, outbox, bytes)),
        }
    }
    match waiting.len() {
        0 => {}
        1 => {
            for (id, outbox, bytes) in waiting {
                report(session, id, outbox.deliver(bytes, deadline).await);
            }
        }
        _ => {
            let mut set = JoinSet::new();
            for (id, outbox, bytes) in waiting {
                let session = session.clone();
                set.spawn(async move {
                    let delivery = outbox.deliver(bytes, deadline).await;
                    report(&session, id, delivery);
                });
            }
            while set.join_next().await.is_some() {}
        }
    }
}

/// Says when a client stalls and when it reads again.
fn report(session: &Session, id: u64, delivery: Delivery) {
    match delivery {
        Delivery::Stalled => session.console.warn(&format!(
            "#{id} has not read anything for {}: dropping messages for it until it reads again",
            format_duration(session.options.stall_timeout)
        )),
        Delivery::Resumed { dropped } => session.console.warn(&format!(
            "#{id} is reading again; {dropped} messages were dropped for it"
        )),
        Delivery::Queued | Delivery::Dropped | Delivery::Closed => {}
    }
}

/// Parses `3` or `#3`.
fn client_id(target: &str) -> Option<u64> {
    target.strip_prefix('#').unwrap_or(target).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_parse_with_or_without_hash() {
        assert_eq!(client_id("3"), Some(3));
        assert_eq!(client_id("#12"), Some(12));
        assert_eq!(client_id("x"), None);
        assert_eq!(client_id("#"), None);
    }
}
