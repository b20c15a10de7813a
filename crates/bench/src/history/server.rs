//! The real server, as a child process on a data directory: started with
//! the limits a load test must lift, timed until it answers a login, and
//! measured (memory, CPU by thread) from `/proc`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::client::{Client, failed};
use crate::error::BenchError;
use crate::procstat::{self, CpuTime};

/// The longest a start (opening and, after an upgrade, indexing the
/// database) may take.
const START_TIMEOUT: Duration = Duration::from_secs(600);

/// The longest a graceful stop may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// Log lines kept for an error message.
const KEPT_LINES: usize = 20;

/// A running server.
pub struct Server {
    child: Child,
    /// Its process id.
    pub pid: u32,
    /// Its JSON listener.
    pub json: SocketAddr,
    /// Its IRC listener.
    pub irc: SocketAddr,
    /// From the spawn to the first `welcome`.
    pub start: Duration,
    /// Its last log lines.
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// Starts `bin serve` on `dir` on loopback with the per-connection and
    /// per-address limits off, plus `extra` flags, and waits until it
    /// answers a login.
    pub async fn start(bin: &Path, dir: &Path, extra: &[String]) -> Result<Server, BenchError> {
        let spawned = Instant::now();
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--irc-listen",
                "127.0.0.1:0",
                "--messages-per-second",
                "0",
                "--requests-per-second",
                "0",
                "--max-connections-per-ip",
                "0",
                "--max-connections",
                "20000",
                "--rooms-per-hour",
                "0",
            ])
            .args(extra)
            .env("RUST_LOG", "warn,chatroom_server::server=info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(&format!("start {}", bin.display()), e))?;
        let pid = child.id().ok_or_else(|| failed("start", "no process id"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| failed("start", "no stderr"))?;
        let mut lines = BufReader::new(stderr).lines();
        let (mut json, mut irc) = (None, None);
        while json.is_none() || irc.is_none() {
            let line = tokio::time::timeout(START_TIMEOUT, lines.next_line())
                .await
                .map_err(|_| failed("start", "the server did not listen in time"))?
                .map_err(|e| failed("start", e))?
                .ok_or_else(|| failed("start", "the server exited before listening"))?;
            if let Some(at) = line.find("addr=") {
                let addr: SocketAddr = line[at + 5..]
                    .split_whitespace()
                    .next()
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| failed("start", &line))?;
                if line.contains("irc") {
                    irc = Some(addr);
                } else {
                    json = Some(addr);
                }
            }
        }
        // Keep reading the log, so the server never blocks writing it.
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut kept) = kept.lock() {
                    if kept.len() == KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(line);
                }
            }
        });
        let (json, irc) = match (json, irc) {
            (Some(json), Some(irc)) => (json, irc),
            _ => return Err(failed("start", "no listener addresses")),
        };
        let mut probe = Client::guest(json, "hstart").await?;
        let start = spawned.elapsed();
        probe.send(&serde_json::json!({"type": "logout"})).await?;
        Ok(Server {
            child,
            pid,
            json,
            irc,
            start,
            log,
        })
    }

    /// Resident memory now and at its peak, KiB.
    pub fn rss_kib(&self) -> Result<(u64, u64), BenchError> {
        let stats = |e| BenchError::ServerStats {
            pid: self.pid,
            source: e,
        };
        Ok((
            procstat::process_rss_kib(self.pid).map_err(stats)?,
            procstat::process_peak_rss_kib(self.pid).map_err(stats)?,
        ))
    }

    /// The anonymous part of its resident memory now, KiB: without the
    /// pages of the database files its readers map.
    pub fn anon_rss_kib(&self) -> Result<u64, BenchError> {
        procstat::process_anon_rss_kib(self.pid).map_err(|e| BenchError::ServerStats {
            pid: self.pid,
            source: e,
        })
    }

    /// CPU time of the whole process.
    pub fn cpu(&self) -> Result<CpuTime, BenchError> {
        procstat::process_cpu(self.pid).map_err(|e| BenchError::ServerStats {
            pid: self.pid,
            source: e,
        })
    }

    /// CPU time by thread name.
    pub fn threads(&self) -> Result<Vec<(String, CpuTime)>, BenchError> {
        procstat::threads_cpu(self.pid).map_err(|e| BenchError::ServerStats {
            pid: self.pid,
            source: e,
        })
    }

    /// Stops it gracefully (SIGTERM) and waits for it.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid).unwrap_or(i32::MAX));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
            .map_err(|e| failed("stop", e))?;
        let status = tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .map_err(|_| failed("stop", "the server did not stop in time"))?
            .map_err(|e| failed("stop", e))?;
        if status.success() {
            Ok(())
        } else {
            let log: Vec<String> = self
                .log
                .lock()
                .map(|l| l.iter().cloned().collect())
                .unwrap_or_default();
            Err(failed(
                "stop",
                format!("the server exited with {status}; its last lines: {log:?}"),
            ))
        }
    }
}
