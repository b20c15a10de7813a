//! What a run reports: plain structs that serialise to JSON for scripts
//! (`--json`), read back from it (to draw charts of recorded runs), and
//! print as an aligned table for people.
//!
//! Field names are part of the tool's interface; `docs/bench.md` documents
//! each one. Durations are seconds (`_s`) or microseconds (`_us`), memory is
//! KiB (`_kib`) or bytes (`_bytes`), rates are per second (`_per_s`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::latency::LatencySummary;
use crate::procstat::CpuTime;
use crate::tally::Drained;
use crate::timeline::Timeline;
use crate::wire::Proto;

/// The result of one message run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// The protocol spoken.
    pub proto: Proto,
    /// The server as given; with several `--server`s, all of them joined
    /// with `,`.
    pub server: String,
    /// Each server's share of the run, in the order given (one entry with
    /// one server; empty in reports written before the bench kept them).
    #[serde(default)]
    pub servers: Vec<ServerShare>,
    /// The room.
    pub room: String,
    /// Clients asked for.
    pub clients: u32,
    /// Clients that connected, logged in and joined: the room's members.
    pub connected: u64,
    /// Clients that could not.
    pub failed: u64,
    /// The first failure's error.
    pub first_failure: Option<String>,
    /// Seconds from the first connection attempt until every client was in or had failed.
    pub connect_s: f64,
    /// Clients that sent.
    pub senders: u32,
    /// Messages per second each sender offered.
    pub rate: f64,
    /// Seconds the senders sent for.
    pub duration_s: f64,
    /// Bytes of text per message.
    pub size: usize,
    /// Messages the schedule offered: senders x floor(rate x duration).
    pub offered: u64,
    /// Deliveries per second the offered load asks of the server:
    /// senders x rate x (connected - 1).
    pub offered_deliveries_per_s: f64,
    /// Messages actually written to the server.
    pub sent: u64,
    /// `offered - sent`: slots a sender gave up because it fell more than
    /// 100 ms behind (or its connection failed).
    pub shortfall: u64,
    /// How late, at worst, a message was written after its slot (microseconds).
    pub send_lag_max_us: u64,
    /// How late messages were written on average (microseconds).
    pub send_lag_mean_us: f64,
    /// Deliveries due: sent x (connected - 1).
    pub expected: u64,
    /// Deliveries seen by the receivers (not counting echoes).
    pub delivered: u64,
    /// `expected - delivered` (0 if more arrived).
    pub lost: u64,
    /// `lost` as a percentage of `expected`.
    pub loss_pct: f64,
    /// Deliveries beyond the expected (duplicates): `delivered - expected`.
    pub extra: u64,
    /// Messages the server sent back to their own sender (not deliveries).
    pub echoes: u64,
    /// Reads that returned data, all clients together, from login to the
    /// end of the run: what the bench's CPU time mostly depends on.
    pub reads: u64,
    /// Bytes those reads returned.
    pub read_bytes: u64,
    /// Deliveries per second, from the first slot to the last delivery.
    pub delivered_per_s: f64,
    /// Latency from write to receipt, per delivery (HdrHistogram).
    pub latency: LatencySummary,
    /// Deliveries and latency second by second from the first slot (empty
    /// in reports written before the bench kept one).
    #[serde(default)]
    pub timeline: Timeline,
    /// Clients whose connection ended during the run.
    pub dropped: u64,
    /// Why the first of them ended.
    pub first_drop: Option<String>,
    /// Why the wait for late deliveries ended: `complete`, `quiet` or `capped`.
    pub drained: DrainedAs,
    /// Seconds spent waiting for late deliveries after the last slot.
    pub drain_s: f64,
    /// Seconds of the measured window: first slot to the end of the drain.
    pub window_s: f64,
    /// The bench's own CPU time over the window.
    pub bench_cpu: CpuTime,
    /// The bench's CPU as cores kept busy over the window.
    pub bench_cores: f64,
    /// The first `--server-pid`'s figures (the first of
    /// `server_processes`), as reports always had them.
    pub server_process: Option<ServerStats>,
    /// Every `--server-pid`'s figures, in the order given (empty without
    /// one, and in reports written before the bench kept them).
    #[serde(default)]
    pub server_processes: Vec<ServerStats>,
}

/// [`Drained`] as the report spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainedAs {
    /// Every expected delivery arrived.
    Complete,
    /// Nothing arrived for the quiet period.
    Quiet,
    /// The cap on waiting was reached.
    Capped,
}

impl From<Drained> for DrainedAs {
    fn from(d: Drained) -> Self {
        match d {
            Drained::Complete => DrainedAs::Complete,
            Drained::Quiet => DrainedAs::Quiet,
            Drained::Capped => DrainedAs::Capped,
        }
    }
}

/// One server's share of a run with its clients spread over several
/// (client `i` on server `i % servers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerShare {
    /// The server, as given.
    pub server: String,
    /// Clients sent to it.
    pub clients: u32,
    /// Of those, clients that got in.
    pub connected: u64,
    /// Of those, clients that could not.
    pub failed: u64,
    /// Senders among its clients (0 in idle runs).
    pub senders: u32,
    /// Messages its clients wrote (0 in idle runs).
    pub sent: u64,
    /// Deliveries its clients received, from senders on any server (0 in
    /// idle runs).
    pub delivered: u64,
}

/// A local process's CPU and memory, read from /proc.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerStats {
    /// The process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`, e.g. `chatroom` or
    /// `redis-server`; empty in reports written before the bench kept it).
    #[serde(default)]
    pub name: String,
    /// CPU time over the measured window (the run's, or the idle hold).
    pub cpu: CpuTime,
    /// That CPU time as cores kept busy.
    pub cores: f64,
    /// Resident memory before any client connected.
    pub rss_before_kib: u64,
    /// Resident memory once every client was in.
    pub rss_joined_kib: u64,
    /// Resident memory at the end of the window.
    pub rss_end_kib: u64,
    /// `(rss_joined - rss_before) / connected`, in bytes (every connected
    /// client of the run, whichever server it was on).
    pub rss_per_client_bytes: f64,
}

/// The result of an idle run (`--idle`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdleReport {
    /// The protocol spoken.
    pub proto: Proto,
    /// The server as given; with several `--server`s, all of them joined
    /// with `,`.
    pub server: String,
    /// Each server's share of the clients, in the order given.
    #[serde(default)]
    pub servers: Vec<ServerShare>,
    /// The room.
    pub room: String,
    /// Clients asked for.
    pub clients: u32,
    /// Clients that got in.
    pub connected: u64,
    /// Clients that could not.
    pub failed: u64,
    /// The first failure's error.
    pub first_failure: Option<String>,
    /// Seconds spent connecting.
    pub connect_s: f64,
    /// Seconds the clients were held.
    pub held_s: f64,
    /// Clients whose connection ended while held.
    pub dropped: u64,
    /// Why the first of them ended.
    pub first_drop: Option<String>,
    /// The bench's CPU time while holding.
    pub bench_cpu: CpuTime,
    /// The first `--server-pid`'s figures; `rss_per_client_bytes` is the
    /// memory each idle logged-in connection costs.
    pub server_process: Option<ServerStats>,
    /// Every `--server-pid`'s figures, in the order given.
    #[serde(default)]
    pub server_processes: Vec<ServerStats>,
}

/// One step of `--find-max`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Messages per second per sender tried.
    pub rate: f64,
    /// Whether the step was clean, and if not why.
    pub verdict: Verdict,
    /// The step's full report.
    pub report: Report,
}

/// Whether a step met the bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// No loss, nobody dropped, everything offered was sent, p99 within the limit.
    Clean,
    /// Not every client got in.
    ConnectFailed {
        /// How many did not.
        failed: u64,
    },
    /// The bench could not send all it offered (it or the server fell behind).
    Shortfall {
        /// Messages not sent.
        missing: u64,
    },
    /// Deliveries were lost.
    Loss {
        /// How many.
        lost: u64,
    },
    /// Clients were disconnected.
    Dropped {
        /// How many.
        clients: u64,
    },
    /// p99 latency passed the limit.
    SlowP99 {
        /// The p99, microseconds.
        p99_us: u64,
    },
}

/// The result of `--find-max`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FindMaxReport {
    /// The p99 latency a clean step stays within, microseconds.
    pub max_p99_us: u64,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
    /// The highest clean rate per sender found, if any step was clean.
    pub best_rate: Option<f64>,
    /// The offered deliveries per second at that rate.
    pub best_offered_deliveries_per_s: Option<f64>,
    /// The deliveries per second measured at that rate.
    pub best_delivered_per_s: Option<f64>,
}

/// Any report as pretty-printed JSON, for `--json`.
pub fn to_json<T: Serialize>(report: &T) -> String {
    // The report structs hold only strings, numbers, booleans and options
    // (serde_json writes a non-finite float as null), so this cannot fail;
    // should it ever, the output still is a JSON object saying why.
    serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}

/// A count with thousands separators: 1234567 -> "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate in human units: 950, 12.3k, 4.00M.
pub(crate) fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e4 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

/// Microseconds in human units: 850 µs, 12.3 ms, 1.25 s.
pub(crate) fn micros(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// Bytes in human units.
fn kib(k: u64) -> String {
    if k >= 10 * 1024 {
        format!("{:.1} MiB", k as f64 / 1024.0)
    } else {
        format!("{k} KiB")
    }
}

fn cpu_line(f: &mut fmt::Formatter<'_>, label: &str, cpu: &CpuTime, cores: f64) -> fmt::Result {
    writeln!(
        f,
        "{label:<14} user {:.2} s, sys {:.2} s ({cores:.2} cores)",
        cpu.user_s, cpu.sys_s
    )
}

fn connected_line(
    f: &mut fmt::Formatter<'_>,
    connected: u64,
    clients: u32,
    connect_s: f64,
    failed: u64,
    first_failure: &Option<String>,
) -> fmt::Result {
    writeln!(
        f,
        "{:<14} {} of {} in {connect_s:.2} s, {} failed",
        "connected",
        grouped(connected),
        grouped(clients.into()),
        grouped(failed)
    )?;
    if let Some(first) = first_failure {
        writeln!(f, "{:<14} {first}", "first failure")?;
    }
    Ok(())
}

fn dropped_line(f: &mut fmt::Formatter<'_>, dropped: u64, first: &Option<String>) -> fmt::Result {
    if dropped > 0 {
        writeln!(f, "{:<14} {}", "dropped", grouped(dropped))?;
        if let Some(first) = first {
            writeln!(f, "{:<14} {first}", "first drop")?;
        }
    }
    Ok(())
}

/// The process figures: as `server cpu` and `server rss` for one process,
/// and a block per process, named, for several.
fn server_lines(f: &mut fmt::Formatter<'_>, processes: &[ServerStats]) -> fmt::Result {
    let rss_line = |f: &mut fmt::Formatter<'_>, label: &str, s: &ServerStats| {
        writeln!(
            f,
            "{label:<14} {} before, {} joined, {} at end ({:.0} bytes per client)",
            kib(s.rss_before_kib),
            kib(s.rss_joined_kib),
            kib(s.rss_end_kib),
            s.rss_per_client_bytes
        )
    };
    match processes {
        [] => Ok(()),
        [s] => {
            cpu_line(f, "server cpu", &s.cpu, s.cores)?;
            rss_line(f, "server rss", s)
        }
        several => {
            for s in several {
                writeln!(f, "{:<14} {} (pid {})", "process", s.name, s.pid)?;
                cpu_line(f, "  cpu", &s.cpu, s.cores)?;
                rss_line(f, "  rss", s)?;
            }
            Ok(())
        }
    }
}

/// Every process measured: `server_processes`, or `server_process` alone
/// in a report read back from before the bench kept the list.
fn processes<'a>(first: &'a Option<ServerStats>, all: &'a [ServerStats]) -> &'a [ServerStats] {
    if all.is_empty() {
        first.as_slice()
    } else {
        all
    }
}

/// A line per server when there are several (nothing for one: the
/// totals say it all).
fn share_lines(f: &mut fmt::Formatter<'_>, shares: &[ServerShare], messages: bool) -> fmt::Result {
    if shares.len() < 2 {
        return Ok(());
    }
    for (i, s) in shares.iter().enumerate() {
        write!(
            f,
            "{:<14} {}: {} of {} connected, {} failed",
            format!("server {}", i + 1),
            s.server,
            grouped(s.connected),
            grouped(s.clients.into()),
            grouped(s.failed)
        )?;
        if messages {
            write!(
                f,
                "; {} senders, {} sent, {} delivered",
                grouped(s.senders.into()),
                grouped(s.sent),
                grouped(s.delivered)
            )?;
        }
        writeln!(f)?;
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chatroom bench: {} {} room {}: {} clients, {} senders x {} msg/s, {} bytes, {} s",
            self.proto,
            self.server,
            self.room,
            grouped(self.clients.into()),
            grouped(self.senders.into()),
            self.rate,
            self.size,
            self.duration_s
        )?;
        connected_line(
            f,
            self.connected,
            self.clients,
            self.connect_s,
            self.failed,
            &self.first_failure,
        )?;
        share_lines(f, &self.servers, true)?;
        writeln!(
            f,
            "{:<14} {} messages, {} deliveries/s",
            "offered",
            grouped(self.offered),
            rate(self.offered_deliveries_per_s)
        )?;
        writeln!(
            f,
            "{:<14} {} (shortfall {}; send lag mean {}, max {})",
            "sent",
            grouped(self.sent),
            grouped(self.shortfall),
            micros(self.send_lag_mean_us),
            micros(self.send_lag_max_us as f64)
        )?;
        writeln!(f, "{:<14} {}", "expected", grouped(self.expected))?;
        writeln!(
            f,
            "{:<14} {} ({}/s)",
            "delivered",
            grouped(self.delivered),
            rate(self.delivered_per_s)
        )?;
        writeln!(
            f,
            "{:<14} {} ({:.3} %){}",
            "lost",
            grouped(self.lost),
            self.loss_pct,
            if self.extra > 0 {
                format!(", {} extra", grouped(self.extra))
            } else {
                String::new()
            }
        )?;
        let l = &self.latency;
        writeln!(
            f,
            "{:<14} p50 {}, p90 {}, p99 {}, p99.9 {}, max {}",
            "latency",
            micros(l.p50_us as f64),
            micros(l.p90_us as f64),
            micros(l.p99_us as f64),
            micros(l.p999_us as f64),
            micros(l.max_us as f64)
        )?;
        dropped_line(f, self.dropped, &self.first_drop)?;
        if self.echoes > 0 {
            writeln!(f, "{:<14} {}", "echoes", grouped(self.echoes))?;
        }
        writeln!(
            f,
            "{:<14} {:.2} s ({:?}), window {:.2} s",
            "drain", self.drain_s, self.drained, self.window_s
        )?;
        cpu_line(f, "bench cpu", &self.bench_cpu, self.bench_cores)?;
        writeln!(
            f,
            "{:<14} {} reads, {:.0} bytes and {:.1} deliveries per read",
            "bench reads",
            grouped(self.reads),
            ratio(self.read_bytes, self.reads),
            ratio(self.delivered, self.reads)
        )?;
        server_lines(f, processes(&self.server_process, &self.server_processes))
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl fmt::Display for IdleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chatroom bench --idle: {} {} room {}: {} clients held {:.1} s",
            self.proto,
            self.server,
            self.room,
            grouped(self.clients.into()),
            self.held_s
        )?;
        connected_line(
            f,
            self.connected,
            self.clients,
            self.connect_s,
            self.failed,
            &self.first_failure,
        )?;
        share_lines(f, &self.servers, false)?;
        dropped_line(f, self.dropped, &self.first_drop)?;
        let held = std::time::Duration::from_secs_f64(self.held_s);
        cpu_line(f, "bench cpu", &self.bench_cpu, self.bench_cpu.cores(held))?;
        server_lines(f, processes(&self.server_process, &self.server_processes))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Clean => write!(f, "clean"),
            Verdict::ConnectFailed { failed } => write!(f, "{failed} clients failed to connect"),
            Verdict::Shortfall { missing } => write!(f, "{missing} messages not sent"),
            Verdict::Loss { lost } => write!(f, "{lost} deliveries lost"),
            Verdict::Dropped { clients } => write!(f, "{clients} clients dropped"),
            Verdict::SlowP99 { p99_us } => write!(f, "p99 {}", micros(*p99_us as f64)),
        }
    }
}

impl fmt::Display for FindMaxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "chatroom bench --find-max: clean = no loss, no drop, no shortfall, p99 <= {}",
            micros(self.max_p99_us as f64)
        )?;
        writeln!(
            f,
            "{:>10} {:>12} {:>12} {:>10} {:>10}  verdict",
            "rate", "offered/s", "delivered/s", "p99", "lost"
        )?;
        for step in &self.steps {
            let r = &step.report;
            writeln!(
                f,
                "{:>10.2} {:>12} {:>12} {:>10} {:>10}  {}",
                step.rate,
                rate(r.offered_deliveries_per_s),
                rate(r.delivered_per_s),
                micros(r.latency.p99_us as f64),
                grouped(r.lost),
                step.verdict
            )?;
        }
        match (self.best_rate, self.best_offered_deliveries_per_s) {
            (Some(best), Some(offered)) => writeln!(
                f,
                "highest clean rate: {best:.2} msg/s per sender ({} deliveries/s offered, {}/s delivered)",
                rate(offered),
                rate(self.best_delivered_per_s.unwrap_or_default())
            ),
            _ => writeln!(f, "no step was clean"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_easily() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(rate(950.4), "950");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(rate(4_000_000.0), "4.00M");
        assert_eq!(micros(850.0), "850 µs");
        assert_eq!(micros(12_345.0), "12.3 ms");
        assert_eq!(micros(1_250_000.0), "1.25 s");
        assert_eq!(kib(512), "512 KiB");
        assert_eq!(kib(20 * 1024), "20.0 MiB");
    }

    #[test]
    fn verdicts_serialise_with_their_kind() {
        let v = serde_json::to_value(Verdict::Loss { lost: 3 }).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "loss", "lost": 3}));
        let v = serde_json::to_value(Verdict::Clean).unwrap();
        assert_eq!(v, serde_json::json!({"kind": "clean"}));
    }
}
