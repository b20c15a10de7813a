//! CPU time and memory of processes: the bench's own (getrusage) and
//! local servers' (`/proc/PID/stat` and `/proc/PID/status`, Linux).
//!
//! A load generator on the same machine as the server competes with it for
//! the CPU, so the report shows both sides' CPU time over the measured
//! window, and the server's resident memory before and after the clients
//! joined. Several processes can be measured side by side (the nodes of a
//! cluster and the Redis between them), each named by its `/proc/PID/comm`.

use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::{SysconfVar, sysconf};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::BenchError;

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuTime {
    /// Seconds spent in user space.
    pub user_s: f64,
    /// Seconds spent in the kernel on the process's behalf.
    pub sys_s: f64,
}

impl CpuTime {
    /// User plus system seconds.
    pub fn total_s(&self) -> f64 {
        self.user_s + self.sys_s
    }

    /// The CPU time spent between `earlier` and `self` (never negative).
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_s: (self.user_s - earlier.user_s).max(0.0),
            sys_s: (self.sys_s - earlier.sys_s).max(0.0),
        }
    }

    /// Cores kept busy on average over `wall` (1.0 = one core all the time).
    pub fn cores(&self, wall: Duration) -> f64 {
        let secs = wall.as_secs_f64();
        if secs > 0.0 {
            self.total_s() / secs
        } else {
            0.0
        }
    }
}

/// Reading a process's figures failed.
#[derive(Debug, Error)]
pub enum ProcError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being read.
        what: &'static str,
        /// The error.
        source: nix::Error,
    },
    /// A file under /proc could not be read (no such process, not Linux...).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A file under /proc did not have the expected format.
    #[error("cannot make sense of {path}")]
    Format {
        /// The file.
        path: String,
    },
}

/// This process's CPU time so far, all threads together.
pub fn self_cpu() -> Result<CpuTime, ProcError> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(|source| ProcError::Sys {
        what: "getrusage",
        source,
    })?;
    let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    Ok(CpuTime {
        user_s: secs(usage.user_time()),
        sys_s: secs(usage.system_time()),
    })
}

/// The CPU time of process `pid` so far, from `/proc/PID/stat`.
pub fn process_cpu(pid: u32) -> Result<CpuTime, ProcError> {
    let path = format!("/proc/{pid}/stat");
    let text = read(&path)?;
    let ticks = clock_ticks()?;
    parse_stat(&text, ticks).ok_or(ProcError::Format { path })
}

/// The resident set size of process `pid` in KiB, from `/proc/PID/status`.
pub fn process_rss_kib(pid: u32) -> Result<u64, ProcError> {
    status_kib(pid, "VmRSS")
}

/// The anonymous part of process `pid`'s resident set in KiB (`RssAnon`):
/// its own memory, without the pages of files it maps, which the
/// operating system can drop whenever it needs them.
pub fn process_anon_rss_kib(pid: u32) -> Result<u64, ProcError> {
    status_kib(pid, "RssAnon")
}

/// One figure of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> Result<u64, ProcError> {
    let path = format!("/proc/{pid}/status");
    let text = read(&path)?;
    parse_status_kib(&text, field).ok_or(ProcError::Format { path })
}

/// The command name of process `pid` (`/proc/PID/comm`: the executable's
/// name, at most 15 bytes, e.g. `chatroom` or `redis-server`).
pub fn process_name(pid: u32) -> Result<String, ProcError> {
    let path = format!("/proc/{pid}/comm");
    Ok(read(&path)?.trim_end_matches('\n').to_owned())
}

/// The peak resident set size of process `pid` in KiB (`VmHWM`).
pub fn process_peak_rss_kib(pid: u32) -> Result<u64, ProcError> {
    status_kib(pid, "VmHWM")
}

/// The CPU time of each thread of process `pid` so far, summed by thread
/// name (`/proc/PID/task/*/stat`), sorted by name.
pub fn threads_cpu(pid: u32) -> Result<Vec<(String, CpuTime)>, ProcError> {
    let dir = format!("/proc/{pid}/task");
    let ticks = clock_ticks()?;
    let entries = std::fs::read_dir(&dir).map_err(|source| ProcError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut by_name: std::collections::BTreeMap<String, CpuTime> = Default::default();
    for entry in entries.flatten() {
        let path = entry.path().join("stat");
        // A thread may end between the listing and the read.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = text
            .find('(')
            .zip(text.rfind(')'))
            .map(|(a, b)| text[a + 1..b].to_owned())
            .unwrap_or_default();
        if let Some(cpu) = parse_stat(&text, ticks) {
            let total = by_name.entry(name).or_default();
            total.user_s += cpu.user_s;
            total.sys_s += cpu.sys_s;
        }
    }
    Ok(by_name.into_iter().collect())
}

fn read(path: &str) -> Result<String, ProcError> {
    std::fs::read_to_string(path).map_err(|source| ProcError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Clock ticks per second, the unit of CPU times in `/proc`.
fn clock_ticks() -> Result<u64, ProcError> {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => Ok(ticks.unsigned_abs()),
        Ok(_) => Err(ProcError::Sys {
            what: "sysconf(CLK_TCK)",
            source: nix::Error::EINVAL,
        }),
        Err(source) => Err(ProcError::Sys {
            what: "sysconf(CLK_TCK)",
            source,
        }),
    }
}

/// User and system time from the text of `/proc/PID/stat`, whose times
/// are in clock ticks. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted from the last
/// `)`: utime and stime are fields 14 and 15.
pub fn parse_stat(text: &str, ticks_per_s: u64) -> Option<CpuTime> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = ticks_per_s as f64;
    Some(CpuTime {
        user_s: utime as f64 / ticks,
        sys_s: stime as f64 / ticks,
    })
}

/// The line `field` of `/proc/PID/status` (`VmRSS`, `VmHWM`...), in KiB.
pub fn parse_status_kib(text: &str, field: &str) -> Option<u64> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let mut words = line.split_ascii_whitespace();
    let kib = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(kib)
}

/// One process a [`ServerProbe`] measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// Its process id.
    pub pid: u32,
    /// Its command name when the probe started ([`process_name`]).
    pub name: String,
}

/// Reads the figures of the processes given with `--server-pid` (none,
/// one, or several: the nodes of a cluster and their Redis), each in turn,
/// in the order given.
#[derive(Debug, Clone, Default)]
pub struct ServerProbe {
    processes: Vec<Probed>,
}

impl ServerProbe {
    /// A probe of `pids`, whose names are read now: an error if one of
    /// them is not a running local process.
    pub fn new(pids: &[u32]) -> Result<Self, BenchError> {
        let processes = pids
            .iter()
            .map(|&pid| {
                process_name(pid)
                    .map(|name| Probed { pid, name })
                    .map_err(|source| BenchError::ServerStats { pid, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(ServerProbe { processes })
    }

    /// The processes probed, in order.
    pub fn processes(&self) -> &[Probed] {
        &self.processes
    }

    /// Each process's resident memory in KiB, in order.
    pub fn rss_kib(&self) -> Result<Vec<u64>, BenchError> {
        self.read(process_rss_kib)
    }

    /// Each process's CPU time so far, in order.
    pub fn cpu(&self) -> Result<Vec<CpuTime>, BenchError> {
        self.read(process_cpu)
    }

    fn read<T>(&self, what: fn(u32) -> Result<T, ProcError>) -> Result<Vec<T>, BenchError> {
        self.processes
            .iter()
            .map(|p| what(p.pid).map_err(|source| BenchError::ServerStats { pid: p.pid, source }))
            .collect()
    }
}

/// The bench's own CPU time so far, as a [`BenchError`] if unreadable.
pub fn own_cpu() -> Result<CpuTime, BenchError> {
    self_cpu().map_err(BenchError::OwnStats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let text = "4242 (chat room) srv) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    250 75 0 0 20 0 3 0 100 1000000 500 18446744073709551615\n";
        let cpu = parse_stat(text, 100).unwrap();
        assert_eq!(
            cpu,
            CpuTime {
                user_s: 2.5,
                sys_s: 0.75
            }
        );
        assert_eq!(parse_stat("12 (x) S 1 2", 100), None);
        assert_eq!(parse_stat("garbage", 100), None);
    }

    #[test]
    fn vm_rss_is_read_in_kib() {
        let text = "Name:\tchatroom\nVmPeak:\t  9999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_status_kib(text, "VmRSS"), Some(12345));
        assert_eq!(parse_status_kib(text, "VmPeak"), Some(9999));
        assert_eq!(parse_status_kib(text, "Vm"), None);
        assert_eq!(parse_status_kib("Name:\tx\n", "VmRSS"), None);
        assert_eq!(parse_status_kib("VmRSS:\t12 MB\n", "VmRSS"), None);
    }

    #[test]
    fn own_figures_are_readable() {
        let before = self_cpu().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = self_cpu().unwrap();
        assert!(after.total_s() >= before.total_s());
        let pid = std::process::id();
        assert!(process_rss_kib(pid).unwrap() > 0);
        assert!(process_cpu(pid).is_ok());
        let name = process_name(pid).unwrap();
        assert!(!name.is_empty() && !name.contains('\n'), "{name:?}");
    }

    #[test]
    fn a_probe_reads_every_process_in_order() {
        let me = std::process::id();
        let probe = ServerProbe::new(&[me, me]).unwrap();
        assert_eq!(probe.processes().len(), 2);
        assert_eq!(probe.processes()[1].pid, me);
        assert_eq!(probe.rss_kib().unwrap().len(), 2);
        assert_eq!(probe.cpu().unwrap().len(), 2);
        let none = ServerProbe::new(&[]).unwrap();
        assert!(none.rss_kib().unwrap().is_empty() && none.cpu().unwrap().is_empty());
        // Pid numbers stop well below this (pid_max is at most 2^22).
        let err = ServerProbe::new(&[me, u32::MAX]).unwrap_err().to_string();
        assert!(err.contains(&u32::MAX.to_string()), "{err}");
    }

    #[test]
    fn cpu_arithmetic() {
        let a = CpuTime {
            user_s: 1.0,
            sys_s: 0.5,
        };
        let b = CpuTime {
            user_s: 3.0,
            sys_s: 1.5,
        };
        assert_eq!(
            b.since(a),
            CpuTime {
                user_s: 2.0,
                sys_s: 1.0
            }
        );
        assert_eq!(b.since(a).cores(Duration::from_secs(2)), 1.5);
        assert_eq!(a.since(b).total_s(), 0.0);
    }
}
