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
    /// The server, as `HOST:PORT`.
    pub server: String,
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
    /// A local server process to measure (CPU time, resident memory).
    pub server_pid: Option<u32>,
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
        Config {
            server: server.into(),
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
            server_pid: None,
            progress: false,
            progress_label: String::new(),
        }
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
        if self.clients == 0 {
            return Err(invalid("--clients must be at least 1"));
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
