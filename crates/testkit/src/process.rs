//! The real server binary (`chatroom serve`) as a child process, for what
//! only a process shows: signals, exit codes, restarts and crashes on a data
//! directory, TLS and configuration files as the binary reads them, what it
//! logs and how much memory it holds.
//!
//! There is one way to start it, [`Serve`] ([`ServerProcess::start`] is its
//! short form): it reads the server's log until every listener it expects
//! has been announced, and keeps reading (and keeping) the log until the
//! process ends, so the server never blocks on a full pipe and the test can
//! read what it logged.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use chatroom_server::Protocol;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};
use tokio::task::JoinHandle;

use crate::WAIT;

/// The flags that each add a listener, unless their value is `off`.
const LISTENER_FLAGS: [&str; 6] = [
    "--listen",
    "--irc-listen",
    "--tls-listen",
    "--irc-tls-listen",
    "--http-listen",
    "--https-listen",
];

/// How to run `BIN serve`: its arguments, its log level, and how many
/// listeners to wait for.
///
/// Unless the arguments say `--listen` (or the listeners come from a
/// configuration file, see [`Serve::configured_listeners`]), the server
/// listens for JSON on 127.0.0.1:0, never on the default port; unless they
/// say `--http-listen`, it has no HTTP listener (whose default port many
/// tests at once could not share). The listeners to wait for are those the
/// listener flags ask for.
#[derive(Debug)]
pub struct Serve {
    bin: String,
    args: Vec<String>,
    rust_log: String,
    configured_listeners: Option<usize>,
}

impl Serve {
    /// `bin serve`, logging at `info`.
    pub fn new(bin: &str) -> Serve {
        Serve {
            bin: bin.to_owned(),
            args: Vec::new(),
            rust_log: "info".to_owned(),
            configured_listeners: None,
        }
    }

    /// Adds arguments after `serve`.
    pub fn args(mut self, args: &[&str]) -> Serve {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// The server's `RUST_LOG` (`info` unless set here).
    pub fn log_level(mut self, filter: &str) -> Serve {
        self.rust_log = filter.to_owned();
        self
    }

    /// The listeners come from a configuration file (`--config`), where the
    /// arguments do not show them: no `--listen` is added, and `count`
    /// listeners are waited for.
    pub fn configured_listeners(mut self, count: usize) -> Serve {
        self.configured_listeners = Some(count);
        self
    }

    /// Starts the server and waits until it has announced every listener
    /// it was asked for; panics, with what it logged, if it exits first.
    pub async fn start(self) -> ServerProcess {
        let mut args = self.args;
        let expected = match self.configured_listeners {
            Some(count) => count,
            None => {
                if !args.iter().any(|a| flag_value(a, "--listen").is_some()) {
                    args.splice(0..0, ["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
                }
                listeners_asked_for(&args)
            }
        };
        if !args
            .iter()
            .any(|a| flag_value(a, "--http-listen").is_some())
        {
            args.extend(["--http-listen".to_owned(), "off".to_owned()]);
        }
        let mut child = Command::new(&self.bin)
            .arg("serve")
            .args(&args)
            .env("RUST_LOG", &self.rust_log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin));
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(String::new()));
        let mut listeners = Vec::new();
        while listeners.len() < expected {
            let line = tokio::time::timeout(WAIT, stderr.next_line())
                .await
                .expect("the server did not start in time")
                .unwrap();
            let Some(line) = line else {
                panic!(
                    "the server exited before listening; its log:\n{}",
                    log.lock().unwrap()
                );
            };
            listeners.extend(parse_listening(&line));
            keep(&log, &line);
        }
        let reader = tokio::spawn(keep_reading(stderr, log.clone()));
        ServerProcess {
            child,
            listeners,
            log,
            reader,
        }
    }
}

/// The value of `--flag` in `arg` when `arg` is `--flag` (the value is the
/// next argument: `Some("")`) or `--flag=VALUE`.
fn flag_value<'a>(arg: &'a str, flag: &str) -> Option<&'a str> {
    let rest = arg.strip_prefix(flag)?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix('=')
    }
}

/// How many listeners these arguments ask for.
fn listeners_asked_for(args: &[String]) -> usize {
    let mut count = 0;
    for (i, arg) in args.iter().enumerate() {
        for flag in LISTENER_FLAGS {
            let value = match flag_value(arg, flag) {
                Some("") => args.get(i + 1).map_or("", String::as_str),
                Some(value) => value,
                None => continue,
            };
            if value != "off" {
                count += 1;
            }
        }
    }
    count
}

/// Appends `line` to the kept log.
fn keep(log: &Mutex<String>, line: &str) {
    let mut kept = log.lock().unwrap();
    kept.push_str(line);
    kept.push('\n');
}

/// Keeps the rest of the log until the process closes its end.
async fn keep_reading(
    mut stderr: tokio::io::Lines<BufReader<ChildStderr>>,
    log: Arc<Mutex<String>>,
) {
    while let Ok(Some(line)) = stderr.next_line().await {
        keep(&log, &line);
    }
}

/// One listener the server announced in its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What its clients speak.
    pub protocol: Protocol,
    /// Whether it is a TLS listener.
    pub tls: bool,
}

/// Reads `listening addr=ADDR protocol="json" tls=BOOL` from a log line.
fn parse_listening(line: &str) -> Option<Listening> {
    if !line.contains("listening") {
        return None;
    }
    let field = |name: &str| {
        let at = line.find(&format!(" {name}="))? + name.len() + 2;
        line[at..]
            .split_whitespace()
            .next()
            .map(|v| v.trim_matches('"'))
    };
    let protocol = match field("protocol")? {
        "json" => Protocol::Json,
        "irc" => Protocol::Irc,
        "http" => Protocol::Http,
        other => panic!("a listener for an unknown protocol {other:?}: {line}"),
    };
    Some(Listening {
        addr: field("addr")?.parse().ok()?,
        protocol,
        tls: field("tls")? == "true",
    })
}

/// How a server process ended.
#[derive(Debug)]
pub struct Exit {
    /// Its exit code; `None` when a signal killed it.
    pub code: Option<i32>,
    /// Everything it logged, from its start.
    pub log: String,
}

/// A running `chatroom serve`, killed if dropped while it runs.
pub struct ServerProcess {
    child: Child,
    listeners: Vec<Listening>,
    log: Arc<Mutex<String>>,
    reader: JoinHandle<()>,
}

impl ServerProcess {
    /// Runs `bin serve ARGS...` (see [`Serve`], of which this is the short
    /// form) and waits until it listens.
    pub async fn start(bin: &str, args: &[&str]) -> ServerProcess {
        Serve::new(bin).args(args).start().await
    }

    /// The address of the plaintext JSON listener.
    pub fn addr(&self) -> SocketAddr {
        self.listener(Protocol::Json, false)
    }

    /// The address of the plaintext IRC listener.
    pub fn irc_addr(&self) -> SocketAddr {
        self.listener(Protocol::Irc, false)
    }

    /// The address of the listener for `protocol`, with or without TLS;
    /// panics if the server has none.
    pub fn listener(&self, protocol: Protocol, tls: bool) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.protocol == protocol && l.tls == tls)
            .unwrap_or_else(|| {
                panic!(
                    "no {protocol:?} listener with tls={tls}: {:?}",
                    self.listeners
                )
            })
            .addr
    }

    /// Every listener, in the order the server announced them.
    pub fn listeners(&self) -> &[Listening] {
        &self.listeners
    }

    /// A field of the process's `/proc/PID/status` in KiB (`VmRSS`,
    /// `VmHWM`, ...): what the server holds in memory.
    pub fn status_kib(&self, field: &str) -> u64 {
        let pid = self.child.id().expect("the server has exited");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `KILL`, ...) to the server.
    pub async fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the server has exited").to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "kill -{name} {pid} failed");
    }

    /// Waits for the server to exit, and for the end of its log.
    pub async fn wait(mut self) -> Exit {
        let code = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the server did not exit in time")
            .unwrap()
            .code();
        tokio::time::timeout(WAIT, &mut self.reader)
            .await
            .expect("the server's log did not end")
            .unwrap();
        Exit {
            code,
            log: self.log(),
        }
    }

    /// Stops the server with SIGTERM (a graceful shutdown) and waits for it.
    pub async fn stop(self) -> Exit {
        self.signal("TERM").await;
        self.wait().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn listener_flags_are_counted_unless_off() {
        for (given, count) in [
            (&["--in-memory"][..], 0),
            (&["--listen", "127.0.0.1:0", "--irc-listen=[::1]:0"], 2),
            (&["--listen=off", "--tls-listen", "127.0.0.1:0"], 1),
            (&["--listen", "off", "--irc-tls-listen", "127.0.0.1:0"], 1),
        ] {
            assert_eq!(listeners_asked_for(&args(given)), count, "{given:?}");
        }
    }

    #[test]
    fn listening_lines_are_read_and_others_are_not() {
        let line = "2025-01-01T00:00:00Z  INFO chatroom_server::server: listening \
                    addr=127.0.0.1:4567 protocol=\"irc\" tls=true";
        assert_eq!(
            parse_listening(line),
            Some(Listening {
                addr: "127.0.0.1:4567".parse().unwrap(),
                protocol: Protocol::Irc,
                tls: true,
            })
        );
        assert_eq!(parse_listening("INFO chatroom: shut down"), None);
    }
}
