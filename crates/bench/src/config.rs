//! The settings of a bench run, their defaults, and the checks that keep a
//! run meaningful and bounded.

use std::time::Duration;

use chatroom_proto::{DEFAULT_MAX_FRAME_BYTES, irc, room};

use crate::error::BenchError;
use crate::payload;
use crate::schedule::{self, MAX_SEND_LAG};
use crate::wire::Proto;

/// Time between the start signal and the first send, so every writer has
/// its schedule before slot 0 is due.
pub const START_LEAD: Duration = Duration::from_millis(50);

/// How long collecting the tasks' figures and closing the connections may
/// take, each.
pub const WIND_DOWN: Duration = Duration::from_secs(5);

/// The reader buffer of a client in a message run.
pub const RUN_READ_BUFFER: usize = 64 * 1024;

/// The reader buffer of an idle client (it only reads notices and pings).
pub const IDLE_READ_BUFFER: usize = 4 * 1024;

/// Bytes an IRC server's relayed line adds around the text: the source
/// `:nick!user@host ` (host names of up to 63 bytes), `PRIVMSG `, the
/// channel, ` :` and CRLF, within IRC's 512-byte line limit.
const IRC_LINE_OVERHEAD: usize = 1 + 9 + 1 + 10 + 1 + 63 + 1 + 8 + 1 + 2 + 2;

/// What to run, against what.
#[derive(Debug, Clone)]
pub struct Config {
    /// The servers, each as `HOST:PORT` (at least one). Client `i`
    /// connects to `servers[i % servers.len()]` ([`server_index`]), so
    /// clients and senders are spread evenly over them; every client joins
    /// the same room on its own server.
    pub servers: Vec<String>,
    /// The protocol the clients speak.
    pub proto: Proto,
    /// Clients to connect.
    pub clients: u32,
    /// How many of them send (the connected clients with the lowest indices).
    pub senders: u32,
    /// Messages per second each sender offers.
    pub rate: f64,
    /// How long senders send (message runs) or clients stay (idle runs).
    pub duration: Duration,
    /// Bytes of text in each message.
    pub size: usize,
    /// The room everyone joins.
    pub room: String,
    /// New connections per second while connecting.
    pub ramp: f64,
    /// How long one client may take to connect, log in and join.
    pub connect_timeout: Duration,
    /// After sending ends, stop waiting for late deliveries once none has
    /// arrived for this long...
    pub quiet: Duration,
    /// ...or after this long in any case.
    pub drain_cap: Duration,
    /// Local processes to measure (CPU time, resident memory), in the
    /// order given: the servers, and any other process worth watching
    /// during the run (e.g. `redis-server`).
    pub server_pids: Vec<u32>,
    /// Draw progress bars on stderr.
    pub progress: bool,
    /// Written in front of every progress bar: which part of a longer
    /// job the bars belong to (a `--find-max` step), or nothing.
    pub progress_label: String,
}

impl Config {
    /// The defaults against `server`: 100 clients, 10 senders at 10
    /// messages/s for 10 s, 64-byte messages in `lobby`, JSON, connecting
    /// 500 clients/s.
    pub fn new(server: impl Into<String>) -> Self {
        Config::with_servers(vec![server.into()])
    }

    /// The same defaults against several servers, the clients spread over
    /// them in turn.
    pub fn with_servers(servers: Vec<String>) -> Self {
        Config {
            servers,
            proto: Proto::Json,
            clients: 100,
            senders: 10,
            rate: 10.0,
            duration: Duration::from_secs(10),
            size: 64,
            room: room::LOBBY.to_owned(),
            ramp: 500.0,
            connect_timeout: Duration::from_secs(10),
            quiet: Duration::from_secs(1),
            drain_cap: Duration::from_secs(10),
            server_pids: Vec::new(),
            progress: false,
            progress_label: String::new(),
        }
    }

    /// The servers as one line for reports and titles: the addresses
    /// joined with `,` (just the address with one server).
    pub fn server_label(&self) -> String {
        self.servers.join(",")
    }

    /// The index in [`servers`](Config::servers) of the server client
    /// `index` connects to.
    pub fn server_of(&self, index: u32) -> usize {
        server_index(index, self.servers.len())
    }

    /// How many of the clients asked for connect to server `server`.
    pub fn clients_on(&self, server: usize) -> u32 {
        clients_on(self.clients, server, self.servers.len())
    }

    /// Deliveries per second these settings ask of the server when every
    /// client gets in: senders x rate x (clients - 1).
    pub fn planned_deliveries_per_s(&self) -> f64 {
        f64::from(self.senders) * self.rate * f64::from(self.clients.saturating_sub(1))
    }

    /// How long connecting every client takes at the ramp rate.
    pub fn ramp_time(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.clients) / self.ramp)
    }

    /// Messages each sender offers.
    pub fn offered_per_sender(&self) -> u64 {
        schedule::offered(self.rate, self.duration)
    }

    /// The latest a message run may end: connecting, sending, waiting for
    /// stragglers and winding down, each at its own limit, plus a margin.
    pub fn run_deadline(&self) -> Duration {
        self.ramp_time()
            + self.connect_timeout
            + START_LEAD
            + self.duration
            + MAX_SEND_LAG
            + self.drain_cap
            + 2 * WIND_DOWN
            + Duration::from_secs(5)
    }

    /// The latest an idle run may end.
    pub fn idle_deadline(&self) -> Duration {
        self.ramp_time()
            + self.connect_timeout
            + self.duration
            + 2 * WIND_DOWN
            + Duration::from_secs(5)
    }

    /// The largest message text the protocol carries in one line: over
    /// TCP and over a WebSocket alike, a JSON frame within the server's
    /// default frame limit (which is also its WebSocket message limit), an
    /// IRC line within 512 bytes.
    pub fn max_size(&self) -> usize {
        if self.proto.is_irc() {
            irc::MAX_LINE_BYTES.saturating_sub(IRC_LINE_OVERHEAD + self.room.len())
        } else {
            // The JSON framing of a broadcast around the text.
            DEFAULT_MAX_FRAME_BYTES - 256 - self.room.len()
        }
    }

    /// The smallest message text that holds every stamp of this run.
    pub fn min_size(&self) -> usize {
        let max_sent_us = u64::try_from(self.run_deadline().as_micros()).unwrap_or(u64::MAX);
        payload::min_size(
            self.clients.saturating_sub(1),
            self.offered_per_sender().saturating_sub(1),
            max_sent_us,
        )
    }

    /// Checks the settings shared by every kind of run.
    pub fn check_common(&self) -> Result<(), BenchError> {
        if self.servers.is_empty() {
            return Err(invalid("--server must be given at least once"));
        }
        if let Some(blank) = self.servers.iter().find(|s| s.trim().is_empty()) {
            return Err(invalid(format!("--server {blank:?} names no server")));
        }
        if self.clients == 0 {
            return Err(invalid("--clients must be at least 1"));
        }
        if (self.clients as usize) < self.servers.len() {
            return Err(invalid(format!(
                "--clients must be at least the number of --server addresses ({}), so that each gets one",
                self.servers.len()
            )));
        }
        if !(self.ramp.is_finite() && self.ramp > 0.0) {
            return Err(invalid(
                "--ramp must be a positive number of connections per second",
            ));
        }
        if self.duration.is_zero() {
            return Err(invalid("--duration must be longer than zero"));
        }
        if self.connect_timeout.is_zero() {
            return Err(invalid("--connect-timeout must be longer than zero"));
        }
        room::validate(&self.room).map_err(|e| invalid(format!("--room {:?}: {e}", self.room)))?;
        Ok(())
    }

    /// Checks the settings of a message run.
    pub fn check_messaging(&self) -> Result<(), BenchError> {
        self.check_common()?;
        if self.clients < 2 {
            return Err(invalid(
                "--clients must be at least 2: someone has to receive",
            ));
        }
        if self.senders == 0 || self.senders > self.clients {
            return Err(invalid(format!(
                "--senders must be between 1 and --clients ({})",
                self.clients
            )));
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(invalid(
                "--rate must be a positive number of messages per second",
            ));
        }
        if self.offered_per_sender() == 0 {
            return Err(invalid(format!(
                "--rate {} for {:?} offers no message: raise one of them",
                self.rate, self.duration
            )));
        }
        let (min, max) = (self.min_size(), self.max_size());
        if self.size < min {
            return Err(invalid(format!(
                "--size must be at least {min} bytes to carry each message's stamp with these settings"
            )));
        }
        if self.size > max {
            return Err(invalid(format!(
                "--size may be at most {max} bytes in {} (one line per message)",
                self.proto
            )));
        }
        if self.quiet.is_zero() || self.drain_cap.is_zero() {
            return Err(invalid("--quiet and --drain must be longer than zero"));
        }
        Ok(())
    }
}

/// The server client `index` connects to, of `servers` (taken in turn:
/// client 0 to the first, client 1 to the second, ...). With no server at
/// all, 0.
pub fn server_index(index: u32, servers: usize) -> usize {
    match servers {
        0 => 0,
        n => index as usize % n,
    }
}

/// How many of clients `0..clients` [`server_index`] gives to `server`.
pub fn clients_on(clients: u32, server: usize, servers: usize) -> u32 {
    if servers == 0 || server >= servers {
        return 0;
    }
    let (n, server) = (servers as u64, server as u64);
    let clients = u64::from(clients);
    // Whole rounds, plus one in the last, partial round.
    let share = clients / n + u64::from(server < clients % n);
    u32::try_from(share).unwrap_or(u32::MAX)
}

fn invalid(message: impl Into<String>) -> BenchError {
    BenchError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("127.0.0.1:8000")
    }

    #[test]
    fn planned_load_counts_every_receiver() {
        let mut c = config();
        c.clients = 1000;
        c.senders = 20;
        c.rate = 100.0;
        assert_eq!(c.planned_deliveries_per_s(), 1_998_000.0);
    }

    #[test]
    fn defaults_are_valid() {
        for proto in [Proto::Json, Proto::Irc, Proto::Ws, Proto::IrcWs] {
            let mut c = config();
            c.proto = proto;
            c.check_messaging().unwrap();
        }
    }

    #[test]
    fn a_websocket_carries_the_same_line_as_tcp() {
        let size = |proto| {
            let mut c = config();
            c.proto = proto;
            c.max_size()
        };
        assert_eq!(size(Proto::Ws), size(Proto::Json));
        assert_eq!(size(Proto::IrcWs), size(Proto::Irc));
        assert!(size(Proto::Ws) > 60_000 && size(Proto::IrcWs) < 512);
    }

    #[test]
    fn size_must_fit_the_stamp_and_the_line() {
        let mut c = config();
        c.size = 10;
        let err = c.check_messaging().unwrap_err().to_string();
        assert!(err.contains("--size must be at least"), "{err}");
        c.size = c.min_size();
        c.check_messaging().unwrap();
        c.proto = Proto::Irc;
        c.size = 1000;
        let err = c.check_messaging().unwrap_err().to_string();
        assert!(err.contains("at most"), "{err}");
        c.size = c.max_size();
        c.check_messaging().unwrap();
        assert!(c.max_size() >= 300, "{}", c.max_size());
    }

    #[test]
    fn nonsense_settings_are_refused() {
        type Spoil = fn(&mut Config);
        let cases: [(&str, Spoil); 9] = [
            ("--clients", |c| c.clients = 1),
            ("--senders", |c| c.senders = 0),
            ("--senders", |c| c.senders = 101),
            ("--rate", |c| c.rate = 0.0),
            ("--rate", |c| c.rate = f64::INFINITY),
            ("offers no message", |c| c.rate = 0.01),
            ("--ramp", |c| c.ramp = 0.0),
            ("--duration", |c| c.duration = Duration::ZERO),
            ("--room", |c| c.room = "two words".into()),
        ];
        for (expect, spoil) in cases {
            let mut c = config();
            spoil(&mut c);
            let err = c.check_messaging().unwrap_err().to_string();
            assert!(err.contains(expect), "{expect}: {err}");
        }
    }

    #[test]
    fn clients_take_the_servers_in_turn() {
        // One server: everyone on it, as before.
        assert!((0..10).all(|i| server_index(i, 1) == 0));
        // Two: even clients on the first, odd on the second.
        let two: Vec<usize> = (0..6).map(|i| server_index(i, 2)).collect();
        assert_eq!(two, [0, 1, 0, 1, 0, 1]);
        let three: Vec<usize> = (0..7).map(|i| server_index(i, 3)).collect();
        assert_eq!(three, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(server_index(5, 0), 0);

        // 1,000 clients over two nodes: 500 each, and 20 senders (the
        // lowest indices) 10 on each.
        let mut c = Config::with_servers(vec!["127.0.0.1:8000".into(), "127.0.0.1:8001".into()]);
        c.clients = 1000;
        assert_eq!(
            (c.clients_on(0), c.clients_on(1), c.clients_on(2)),
            (500, 500, 0)
        );
        let senders_on_b = (0..20).filter(|&i| c.server_of(i) == 1).count();
        assert_eq!(senders_on_b, 10);
        // Shares always add up, the first servers taking the remainder.
        for (clients, servers) in [(7, 3), (1, 1), (3, 3), (1001, 2), (10, 4)] {
            let shares: Vec<u32> = (0..servers)
                .map(|s| clients_on(clients, s, servers))
                .collect();
            assert_eq!(
                shares.iter().sum::<u32>(),
                clients,
                "{clients} over {servers}"
            );
            for (s, &share) in shares.iter().enumerate() {
                let counted = (0..clients)
                    .filter(|&i| server_index(i, servers) == s)
                    .count();
                assert_eq!(
                    share as usize, counted,
                    "{clients} over {servers}, server {s}"
                );
            }
        }
        assert_eq!(clients_on(10, 0, 0), 0);
    }

    #[test]
    fn one_server_reads_as_before() {
        let c = config();
        assert_eq!(c.servers, ["127.0.0.1:8000"]);
        assert_eq!(c.server_label(), "127.0.0.1:8000");
        assert_eq!(c.clients_on(0), c.clients);
        let two = Config::with_servers(vec!["a:1".into(), "b:2".into()]);
        assert_eq!(two.server_label(), "a:1,b:2");
    }

    #[test]
    fn servers_must_be_named_and_each_get_a_client() {
        let mut c = Config::with_servers(Vec::new());
        let err = c.check_messaging().unwrap_err().to_string();
        assert!(err.contains("--server must be given"), "{err}");
        c.servers = vec!["127.0.0.1:8000".into(), " ".into()];
        let err = c.check_messaging().unwrap_err().to_string();
        assert!(err.contains("names no server"), "{err}");
        c.servers = vec![
            "127.0.0.1:8000".into(),
            "127.0.0.1:8001".into(),
            "127.0.0.1:8002".into(),
        ];
        c.clients = 2;
        c.senders = 1;
        let err = c.check_common().unwrap_err().to_string();
        assert!(err.contains("at least the number of --server"), "{err}");
        c.clients = 3;
        c.check_messaging().unwrap();
    }

    #[test]
    fn deadline_covers_every_phase() {
        let mut c = config();
        c.clients = 10_000;
        c.ramp = 200.0;
        c.duration = Duration::from_secs(30);
        let deadline = c.run_deadline();
        assert!(
            deadline >= Duration::from_secs(50 + 30 + 10),
            "{deadline:?}"
        );
        assert!(
            c.idle_deadline() >= Duration::from_secs(50 + 30),
            "{:?}",
            c.idle_deadline()
        );
    }
}
