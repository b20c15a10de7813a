//! A real `redis-server` (Debian's, 7.0) as a child process on loopback, for
//! the tests of what the server does with Redis: a broker the tests can stop,
//! hold down and bring back, and look inside. A fake would only show what
//! its author thought Redis does.
//!
//! Each [`RedisServer`] has its own temporary directory and port, and keeps
//! its data in an append-only file written on every command, so that a
//! restart (on the same port and directory) finds every key again, as a
//! Redis restarted in production would.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::WAIT;

/// The server binary, as Debian's `redis-server` package installs it
/// (`scripts/install-test-deps.sh`).
const BIN: &str = "redis-server";

/// How long to wait before probing again a server not yet answering.
const BACKOFF: Duration = Duration::from_millis(20);

/// How long one probe waits for `PONG` once connected: Redis answers at
/// once (if only `-LOADING`), so a silent peer is not Redis.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How many ports [`RedisServer::start`] tries, should another process
/// take the free port it picked before the server binds it.
const PORT_ATTEMPTS: usize = 5;

/// A running `redis-server` on 127.0.0.1, with its data in a temporary
/// directory. Dropping it kills the server and removes the directory.
pub struct RedisServer {
    // Declared before `dir`, so that the server is gone before its
    // directory is removed.
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

/// Why a server did not come up.
enum NotReady {
    /// It exited before answering.
    Exited(ExitStatus),
    /// Another process answered on its port.
    Impostor,
}

impl RedisServer {
    /// Starts a server on a free port of 127.0.0.1 with a new, empty
    /// directory, and waits until it answers `PING`; panics, with its log,
    /// if it does not.
    pub async fn start() -> RedisServer {
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir: tempfile::tempdir().unwrap(),
        };
        for attempt in 1..=PORT_ATTEMPTS {
            server.port = free_port();
            match server.launch().await {
                Ok(()) => return server,
                // Most likely the port was taken after it was picked.
                Err(_) if attempt < PORT_ATTEMPTS => {}
                Err(why) => server.fail(why),
            }
        }
        unreachable!()
    }

    /// `redis://127.0.0.1:PORT/`, for a Redis client.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on, the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server ([`stop`](Self::stop)) and starts it again on the
    /// same port and directory ([`resume`](Self::resume)): it keeps its data.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.resume().await;
    }

    /// Shuts the server down with the `SHUTDOWN` command, which leaves the
    /// append-only file complete, and waits for it to exit: afterwards
    /// nothing listens on its port until [`resume`](Self::resume).
    pub async fn stop(&mut self) {
        let mut child = self.child.take().expect("redis-server is not running");
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .await
            .unwrap();
        stream.write_all(b"SHUTDOWN\r\n").await.unwrap();
        // On success the server answers nothing and closes the connection.
        let mut reply = String::new();
        let _ = tokio::time::timeout(WAIT, stream.read_to_string(&mut reply)).await;
        let status = tokio::time::timeout(WAIT, child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "redis-server did not exit after SHUTDOWN (it said {reply:?}); its log:\n{}",
                    self.log()
                )
            })
            .unwrap();
        assert!(
            status.success(),
            "redis-server exited with {status} on SHUTDOWN; its log:\n{}",
            self.log()
        );
    }

    /// Starts the stopped server again on the same port and directory,
    /// reloading its append-only file, and waits until it answers; panics,
    /// with its log, if it does not (as when another process took the port
    /// meanwhile).
    pub async fn resume(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        if let Err(why) = self.launch().await {
            self.fail(why);
        }
    }

    /// Sends one command and returns the reply exactly as Redis sent it,
    /// `\r\n`s included: `+OK\r\n`, `:5\r\n`, `$1\r\nv\r\n`, `$-1\r\n`,
    /// `-ERR ...\r\n`, or an array of these. For tests that look inside
    /// Redis (e.g. `DBSIZE`). Each call is a new connection.
    pub async fn command(&self, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))
            .await
            .unwrap();
        let mut stream = BufReader::new(stream);
        stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::timeout(WAIT, read_reply(&mut stream))
            .await
            .unwrap_or_else(|_| panic!("no reply from redis-server to {args:?}"))
    }

    /// Everything the server logged (at `warning` and above) since it was
    /// first started.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Runs `redis-server` on `self.port` and `self.dir` and waits until
    /// it, and not another process, answers there.
    async fn launch(&mut self) -> Result<(), NotReady> {
        let dir = self.dir.path();
        let child = Command::new(BIN)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--save", ""])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--protected-mode", "yes"])
            .args(["--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--logfile")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {BIN} (scripts/install-test-deps.sh): {e}"));
        let pid = child.id().unwrap();
        let child = self.child.insert(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Err(NotReady::Exited(status));
            }
            if pongs(self.port).await {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} in time; its log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(BACKOFF).await;
        }
        let info = self.command(&["INFO", "server"]).await;
        if !info.contains(&format!("\r\nprocess_id:{pid}\r\n")) {
            let mut child = self.child.take().unwrap();
            child.kill().await.unwrap();
            return Err(NotReady::Impostor);
        }
        Ok(())
    }

    /// Panics, with the server's log, on why it did not come up.
    fn fail(&self, why: NotReady) -> ! {
        match why {
            NotReady::Exited(status) => panic!(
                "redis-server exited ({status}) before answering on port {}; its log:\n{}",
                self.port,
                self.log()
            ),
            NotReady::Impostor => panic!(
                "another process answers on port {}, where redis-server should",
                self.port
            ),
        }
    }
}

impl Drop for RedisServer {
    /// Kills the server and reaps it (for at most a second), so that it no
    /// longer writes in the directory removed after.
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
            let deadline = Instant::now() + Duration::from_secs(1);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// A port of 127.0.0.1 that nothing listened on a moment ago.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether a server on `port` answers `PING` with `PONG` (not, for one,
/// with `-LOADING` while it reads its append-only file).
async fn pongs(port: u16) -> bool {
    let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await else {
        return false;
    };
    let mut stream = BufReader::new(stream);
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut line = String::new();
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, stream.read_line(&mut line)).await,
        Ok(Ok(_))
    ) && line == "+PONG\r\n"
}

/// Reads one RESP2 reply, arrays included, and returns it as sent.
async fn read_reply(stream: &mut BufReader<TcpStream>) -> String {
    let mut reply = String::new();
    // How many replies (the elements of arrays, and the reply itself) are
    // still to read.
    let mut pending = 1;
    while pending > 0 {
        pending -= 1;
        let start = reply.len();
        let read = stream.read_line(&mut reply).await.unwrap();
        assert!(read > 0, "redis-server closed the connection: {reply:?}");
        let line = reply[start..].trim_end();
        // The length of a bulk string or an array; -1 for none (a nil).
        let count = line[1..]
            .parse::<i64>()
            .ok()
            .and_then(|n| usize::try_from(n).ok());
        match (line.as_bytes()[0], count) {
            (b'$', Some(len)) => {
                let mut bulk = vec![0; len + 2];
                stream.read_exact(&mut bulk).await.unwrap();
                reply.push_str(&String::from_utf8(bulk).unwrap());
            }
            (b'*', Some(len)) => pending += len,
            _ => {}
        }
    }
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn data_survives_a_restart_and_a_stop() {
        let mut redis = RedisServer::start().await;
        let port = redis.port();
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
        assert_eq!(redis.command(&["SET", "k", "v"]).await, "+OK\r\n");
        assert_eq!(redis.command(&["RPUSH", "l", "a", "bc"]).await, ":2\r\n");

        redis.restart().await;
        assert_eq!(redis.port(), port);
        assert_eq!(redis.command(&["GET", "k"]).await, "$1\r\nv\r\n");

        redis.stop().await;
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_err(),
            "something still listens on the stopped server's port"
        );
        redis.resume().await;
        assert_eq!(redis.command(&["GET", "k"]).await, "$1\r\nv\r\n");
        assert_eq!(redis.command(&["GET", "none"]).await, "$-1\r\n");
        assert_eq!(
            redis.command(&["LRANGE", "l", "0", "-1"]).await,
            "*2\r\n$1\r\na\r\n$2\r\nbc\r\n"
        );
        assert_eq!(redis.command(&["DBSIZE"]).await, ":2\r\n");
    }

    #[tokio::test]
    async fn dropping_it_kills_the_server_and_removes_its_directory() {
        let redis = RedisServer::start().await;
        let port = redis.port();
        let dir = redis.dir.path().to_owned();
        drop(redis);
        assert!(!dir.exists(), "{} is still there", dir.display());
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                .await
                .is_err(),
            "the dropped server still listens"
        );
    }
}
