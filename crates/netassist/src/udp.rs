//! `netassist udp [--bind ADDR:PORT] [--to HOST:PORT]`: datagrams in both
//! directions. Each received datagram is shown with its source, labelled with
//! a peer id (`#1 127.0.0.1:5555`) that `/to` accepts. Plain input lines go to
//! `--to`, or else to the peer that sent last.
//!
//! A datagram is a whole message, so each one is decoded on its own (a
//! character cannot continue into the next datagram) and its hex view starts
//! at offset 0. The peer table is
//! bounded: spoofed sources cannot make it grow without limit.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::address::{HostPort, Port};
use crate::command::{Line, help};
use crate::console::Direction;
use crate::encoding::{decode_whole, encode_text};
use crate::error::{Error, Outcome};
use crate::options::{Payload, Wait};
use crate::session::{Incoming, Input, Session};
use crate::stats::Counters;

/// Most peers remembered; the oldest is forgotten beyond this.
pub const MAX_PEERS: usize = 4096;
/// Largest datagram we can receive (the UDP maximum).
const MAX_DATAGRAM: usize = 65_536;

/// The most payload one datagram can carry over IPv4: 65,535 bytes less the
/// IP (20) and UDP (8) headers.
pub const MAX_IPV4_PAYLOAD: usize = 65_507;
/// The same over IPv6, whose header is not counted in its payload length.
pub const MAX_IPV6_PAYLOAD: usize = 65_527;

/// The most payload one datagram can carry to `to`.
pub fn max_payload(to: SocketAddr) -> usize {
    if to.is_ipv4() {
        MAX_IPV4_PAYLOAD
    } else {
        MAX_IPV6_PAYLOAD
    }
}

fn too_long(len: usize, to: SocketAddr) -> String {
    format!(
        "{len} bytes is too long for one UDP datagram (at most {} bytes to {})",
        max_payload(to),
        if to.is_ipv4() {
            "an IPv4 address"
        } else {
            "an IPv6 address"
        }
    )
}

/// Binds the socket: `bind`, or an ephemeral port of `to`'s address family.
pub async fn bind(bind: Option<&HostPort>, to: Option<SocketAddr>) -> Result<UdpSocket, Error> {
    let addr = match (bind, to) {
        (Some(spec), _) => spec.resolve_first().await?,
        (None, Some(to)) if to.is_ipv6() => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        (None, Some(_)) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        (None, None) => {
            return Err(Error::Usage(
                "udp needs --bind ADDR:PORT (to receive) and/or --to HOST:PORT (to send)".into(),
            ));
        }
    };
    UdpSocket::bind(addr)
        .await
        .map_err(|e| Error::Bind(addr, e))
}

struct Peer {
    addr: SocketAddr,
    stats: Counters,
    last_seen: Instant,
}

/// Peers seen so far, with stable ids.
#[derive(Default)]
struct Peers {
    by_id: BTreeMap<u64, Peer>,
    by_addr: HashMap<SocketAddr, u64>,
    next_id: u64,
    last: Option<SocketAddr>,
}

impl Peers {
    /// The id of `addr`, registering it (and evicting the oldest) if new.
    fn id_of(&mut self, addr: SocketAddr) -> u64 {
        if let Some(id) = self.by_addr.get(&addr) {
            return *id;
        }
        if self.by_id.len() >= MAX_PEERS
            && let Some((_, old)) = self.by_id.pop_first()
        {
            self.by_addr.remove(&old.addr);
        }
        self.next_id += 1;
        self.by_addr.insert(addr, self.next_id);
        self.by_id.insert(
            self.next_id,
            Peer {
                addr,
                stats: Counters::default(),
                last_seen: Instant::now(),
            },
        );
        self.next_id
    }
}

struct Udp {
    session: Arc<Session>,
    socket: UdpSocket,
    peers: Mutex<Peers>,
    to: Option<SocketAddr>,
}

impl Udp {
    /// Sends one datagram and shows it; a failure is reported and counted
    /// (see [`Session::send_failed`]), not fatal.
    async fn send(&self, bytes: &Bytes, to: SocketAddr) -> bool {
        if bytes.len() > max_payload(to) {
            self.session.send_failed(&too_long(bytes.len(), to));
            return false;
        }
        match self.socket.send_to(bytes, to).await {
            Ok(n) => {
                let label = {
                    let mut peers = self.peers.lock();
                    let id = peers.id_of(to);
                    if let Some(peer) = peers.by_id.get(&id) {
                        peer.stats.record_tx(n);
                    }
                    format!("#{id} {to}")
                };
                self.session.totals.record_tx(n);
                let text = decode_whole(bytes, self.session.settings().encoding);
                self.session
                    .console
                    .data(Direction::Tx, &label, bytes, &text, 0);
                true
            }
            Err(e) => {
                self.session.send_failed(&format!(
                    "sending {} bytes to {to} failed: {e}",
                    bytes.len()
                ));
                false
            }
        }
    }

    async fn receive_loop(&self) -> io::Error {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf).await {
                Ok(v) => v,
                // ICMP errors for earlier sends surface here; they concern one
                // peer, not the socket.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    self.session.console.status(&format!("ICMP error: {e}"));
                    continue;
                }
                Err(e) => return e,
            };
            let bytes = &buf[..n];
            let label = {
                let mut peers = self.peers.lock();
                peers.last = Some(from);
                let id = peers.id_of(from);
                if let Some(peer) = peers.by_id.get_mut(&id) {
                    peer.stats.record_rx(n);
                    peer.last_seen = Instant::now();
                }
                format!("#{id} {from}")
            };
            self.session.totals.record_rx(n);
            let text = decode_whole(bytes, self.session.settings().encoding);
            self.session
                .console
                .data(Direction::Rx, &label, bytes, &text, 0);
            for reply in self.session.responses(bytes, &text) {
                self.send(&reply, from).await;
            }
        }
    }

    /// Where plain input goes: `--to`, or else the peer that sent last
    /// (warns if there is none yet).
    fn default_target(&self) -> Option<SocketAddr> {
        let to = self.to.or(self.peers.lock().last);
        if to.is_none() {
            self.session
                .console
                .warn("no peer yet: give --to, wait for a datagram, or use /to HOST:PORT TEXT");
        }
        to
    }

    /// Resolves a `/to` target: a peer id (`2`, `#2`) or `HOST:PORT`.
    async fn target(&self, target: &str) -> Option<SocketAddr> {
        if let Ok(id) = target.strip_prefix('#').unwrap_or(target).parse::<u64>() {
            let addr = self.peers.lock().by_id.get(&id).map(|p| p.addr);
            if addr.is_none() {
                self.session
                    .console
                    .warn(&format!("no peer #{id} (see /list)"));
            }
            return addr;
        }
        let resolved = match HostPort::parse(target, Port::NonZero) {
            Ok(target) => target.resolve_first().await,
            Err(e) => Err(Error::Usage(e)),
        };
        match resolved {
            Ok(addr) => Some(addr),
            Err(e) => {
                self.session.console.warn(&e.to_string());
                None
            }
        }
    }

    /// Acts on one input line; returns `true` to quit.
    async fn handle_line(&self, line: &str) -> bool {
        let session = &self.session;
        let console = &session.console;
        let (to, data) = match session.parse_line(line) {
            Err(e) => {
                session.line_error(&e);
                return false;
            }
            Ok(Line::Send(data)) => (self.default_target(), data),
            Ok(Line::SendTo(target, data)) => (self.target(&target).await, data),
            Ok(Line::List) => {
                let now = Instant::now();
                let peers = self.peers.lock();
                let listing: Vec<String> = peers
                    .by_id
                    .iter()
                    .map(|(id, p)| {
                        format!(
                            "#{id} {}  last seen {}s ago  {}",
                            p.addr,
                            now.duration_since(p.last_seen).as_secs(),
                            p.stats.snapshot()
                        )
                    })
                    .collect();
                console.info(&if listing.is_empty() {
                    "no peers yet".to_owned()
                } else {
                    listing.join("\n")
                });
                return false;
            }
            Ok(Line::Kick(_)) => {
                console.warn("/kick is for tcp-server mode (UDP has no connections)");
                return false;
            }
            Ok(Line::Stats) => {
                console.info(&session.totals.snapshot().to_string());
                return false;
            }
            Ok(Line::Set(setting)) => {
                session.change(setting);
                return false;
            }
            Ok(Line::Settings) => {
                console.info(&session.settings().to_string());
                return false;
            }
            Ok(Line::Reset) => {
                for peer in self.peers.lock().by_id.values() {
                    peer.stats.reset();
                }
                session.reset_totals();
                return false;
            }
            Ok(Line::Help) => {
                console.info(&help(false, true));
                return false;
            }
            Ok(Line::Quit) => return true,
        };
        if let Some(to) = to {
            match session.data_bytes(&data) {
                Ok(bytes) => {
                    self.send(&bytes, to).await;
                }
                Err(e) => session.send_failed(&e),
            }
        }
        false
    }
}

/// Runs a UDP session on `socket`. With `to`, plain input and the payload
/// schedule go there and the run behaves like a client (ends after input and
/// `--wait`); without it, like a server (runs until stopped).
pub async fn run(
    session: Arc<Session>,
    socket: UdpSocket,
    to: Option<SocketAddr>,
    mut input: Input,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, Error> {
    session.options.validate()?;
    if session.options.schedule.is_some() && to.is_none() {
        return Err(Error::Usage(
            "udp: --send/--hex/--file need --to HOST:PORT".into(),
        ));
    }
    if let (Some(schedule), Some(to)) = (&session.options.schedule, to) {
        // The text is known to encode (validate); its length with --eol is
        // what goes out, give or take what macros add.
        let len = match &schedule.payload {
            Payload::Bytes(bytes) => bytes.len(),
            Payload::Text(text) => {
                encode_text(text, session.options.encoding, session.options.escapes)
                    .map_or(0, |b| b.len())
                    + session.options.eol.bytes().len()
            }
        };
        if len > max_payload(to) {
            let flag = match schedule.payload {
                Payload::Bytes(_) => "--hex/--file",
                Payload::Text(_) => "--send",
            };
            return Err(Error::Usage(format!("{flag}: {}", too_long(len, to))));
        }
    }
    let local = socket.local_addr()?;
    session.console.status(&match to {
        Some(to) => format!("UDP socket {local}, sending to {to}"),
        None => format!("listening on {local} (UDP)"),
    });
    let udp = Udp {
        session: session.clone(),
        socket,
        peers: Mutex::new(Peers::default()),
        to,
    };
    let receiver = udp.receive_loop();
    tokio::pin!(receiver);
    let schedule = async {
        if let (Some(schedule), Some(to)) = (session.options.schedule.as_ref(), to) {
            session
                .run_schedule(schedule, |bytes| {
                    let udp = &udp;
                    async move { udp.send(&bytes, to).await }
                })
                .await;
        }
    };
    tokio::pin!(schedule);
    let mut schedule_done = session.options.schedule.is_none();
    let mut input_open = input.exists();
    let wait = session.options.effective_wait(to.is_none());
    let mut deadline: Option<Option<Instant>> = None;
    tokio::pin!(shutdown);

    let outcome = loop {
        if deadline.is_none() && !input_open && schedule_done {
            deadline = Some(match wait {
                Wait::Forever => None,
                Wait::For(d) => Some(Instant::now() + d),
            });
        }
        let sleep_until = deadline.flatten();
        tokio::select! {
            e = &mut receiver => return Err(Error::Io(io::Error::new(e.kind(), format!("UDP receive failed: {e}")))),
            item = input.next(), if input_open => match item {
                Some(Incoming::Line(line)) => {
                    if udp.handle_line(&line).await {
                        break Outcome::Done;
                    }
                }
                Some(Incoming::Raw(bytes)) => {
                    if let Some(to) = udp.default_target() {
                        udp.send(&bytes, to).await;
                    }
                }
                None if input.interactive => break Outcome::Done,
                None => input_open = false,
            },
            () = &mut schedule, if !schedule_done => schedule_done = true,
            () = async { if let Some(t) = sleep_until { tokio::time::sleep_until(t).await } }, if sleep_until.is_some() => {
                break Outcome::Done;
            }
            () = &mut shutdown => break Outcome::Stopped,
        }
    };
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_table_is_bounded_and_ids_are_stable() {
        let mut peers = Peers::default();
        let a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        assert_eq!(peers.id_of(a), 1);
        assert_eq!(peers.id_of(a), 1);
        for port in 2..(MAX_PEERS as u16 + 10) {
            peers.id_of(SocketAddr::from(([127, 0, 0, 1], port)));
        }
        assert_eq!(peers.by_id.len(), MAX_PEERS);
        assert_eq!(peers.by_addr.len(), MAX_PEERS);
        // The oldest was evicted and comes back with a new id.
        assert!(peers.id_of(a) > MAX_PEERS as u64);
    }
}
