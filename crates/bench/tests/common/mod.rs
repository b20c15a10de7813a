//! A minimal IRC server for the bench's tests, until the chat server has
//! its IRC listener: registration (with a PING cookie before `001`, as
//! InspIRCd does), `JOIN` answered with NAMES, `PRIVMSG` to a channel
//! relayed to its other members, `PING`s sent mid-run, `QUIT`. Relays can
//! be dropped on purpose to check that the bench sees the loss.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chatroom_bench::payload;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Which relayed copies the responder throws away.
#[derive(Debug, Clone, Copy)]
pub enum DropPolicy {
    /// None.
    Never,
    /// Every `n`th delivery (counted over all recipients).
    EveryNth(u64),
    /// Every copy of messages whose stamp has a sequence number of at least this.
    SeqFrom(u64),
}

/// What the responder counted.
#[derive(Debug, Default)]
pub struct Counts {
    /// PRIVMSGs received from clients.
    pub messages: AtomicU64,
    /// Copies sent to other members.
    pub relayed: AtomicU64,
    /// Copies thrown away.
    pub dropped: AtomicU64,
    /// PINGs sent after registration.
    pub live_pings: AtomicU64,
    /// PONGs received for them.
    pub live_pongs: AtomicU64,
    /// Registration cookies answered.
    pub cookies: AtomicU64,
}

/// Relays every `PING_EVERY`th message, the responder pings its sender.
const PING_EVERY: u64 = 10;

type Members = Arc<Mutex<HashMap<String, Vec<(u64, String, mpsc::UnboundedSender<Vec<u8>>)>>>>;

pub struct Responder {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
}

impl Responder {
    pub async fn start(policy: DropPolicy) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let members: Members = Arc::default();
        let state = (Arc::clone(&counts), members);
        tokio::spawn(async move {
            let mut next_id = 0;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                next_id += 1;
                tokio::spawn(client(
                    stream,
                    next_id,
                    policy,
                    Arc::clone(&state.0),
                    Arc::clone(&state.1),
                ));
            }
        });
        Responder { addr, counts }
    }
}

async fn client(
    stream: TcpStream,
    id: u64,
    policy: DropPolicy,
    counts: Arc<Counts>,
    members: Members,
) {
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if write.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    let send = |line: String| {
        let _ = tx.send(format!("{line}\r\n").into_bytes());
    };
    let mut lines = BufReader::new(read).lines();
    let mut nick = String::new();
    let mut registered = false;
    let mut channels: Vec<String> = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let (command, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match command {
            "NICK" => nick = rest.to_owned(),
            "USER" => send(format!("PING :cookie{id}")),
            "PONG" if rest == format!(":cookie{id}") && !registered => {
                counts.cookies.fetch_add(1, Ordering::Relaxed);
                registered = true;
                send(format!(":resp 001 {nick} :Welcome {nick}"));
                send(format!(":resp 422 {nick} :MOTD File is missing"));
            }
            "PONG" if rest.starts_with(":live") => {
                counts.live_pongs.fetch_add(1, Ordering::Relaxed);
            }
            "JOIN" if registered => {
                let channel = rest.to_owned();
                let mut all = members.lock().unwrap();
                let list = all.entry(channel.to_lowercase()).or_default();
                list.push((id, nick.clone(), tx.clone()));
                let names: Vec<&str> = list.iter().map(|(_, n, _)| n.as_str()).collect();
                send(format!(":{nick}!~{nick}@127.0.0.1 JOIN {channel}"));
                send(format!(":resp 353 {nick} = {channel} :{}", names.join(" ")));
                send(format!(":resp 366 {nick} {channel} :End of /NAMES list."));
                channels.push(channel.to_lowercase());
            }
            "PRIVMSG" if registered => {
                let (target, text) = rest.split_once(" :").unwrap();
                let seen = counts.messages.fetch_add(1, Ordering::Relaxed) + 1;
                let seq = payload::parse_after_marker(&text.as_bytes()[payload::MARKER_LEN..])
                    .unwrap()
                    .seq;
                let relay =
                    format!(":{nick}!~{nick}@127.0.0.1 PRIVMSG {target} :{text}\r\n").into_bytes();
                let all = members.lock().unwrap();
                for (other, _, out) in all.get(&target.to_lowercase()).into_iter().flatten() {
                    if *other == id {
                        continue;
                    }
                    let copy = counts.relayed.fetch_add(1, Ordering::Relaxed) + 1;
                    let drop = match policy {
                        DropPolicy::Never => false,
                        DropPolicy::EveryNth(n) => copy.is_multiple_of(n),
                        DropPolicy::SeqFrom(from) => seq >= from,
                    };
                    if drop {
                        counts.dropped.fetch_add(1, Ordering::Relaxed);
                    } else {
                        let _ = out.send(relay.clone());
                    }
                }
                drop(all);
                if seen.is_multiple_of(PING_EVERY) {
                    counts.live_pings.fetch_add(1, Ordering::Relaxed);
                    send(format!("PING :live{seen}"));
                }
            }
            "QUIT" => {
                send("ERROR :Closing link (bench done)".to_owned());
                break;
            }
            _ => {}
        }
    }
    {
        let mut all = members.lock().unwrap();
        for channel in &channels {
            if let Some(list) = all.get_mut(channel) {
                list.retain(|(other, _, _)| *other != id);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
