//! Helpers: an in-process shop on 127.0.0.1:0 and a customer that speaks the line protocol.

use std::io::{BufRead, BufReader as StdBufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use snackshop::{Catalog, Good, Money, Shop, ShopConfig, ShopError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Generous bound for anything a test waits for, so a loaded machine never flakes.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The built `snackshop` binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_snackshop");

/// A shop running in this process.
pub struct TestShop {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ShopError>>,
}

impl TestShop {
    pub async fn start(config: ShopConfig) -> TestShop {
        let shop = Shop::bind("127.0.0.1:0".parse().expect("addr"), config)
            .await
            .expect("shop opens");
        let addr = shop.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(shop.run(async {
            let _ = stopped.await;
        }));
        TestShop {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Asks the shop to close and waits until it has, checking it closed cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = timeout(TIMEOUT, &mut self.task)
            .await
            .expect("shop closes in time");
        result
            .expect("shop task did not panic")
            .expect("shop closed cleanly");
    }
}

/// A catalog from `(zh, en, price, stock)`.
pub fn catalog(goods: &[(&str, &str, &str, u32)]) -> Catalog {
    Catalog::new(
        goods
            .iter()
            .map(|&(zh, en, price, stock)| Good {
                zh: zh.into(),
                en: en.into(),
                price: price.parse().expect("price"),
                stock,
            })
            .collect(),
    )
    .expect("valid catalog")
}

/// A config with the given catalog and starting balance (in yuan), in-memory books.
pub fn config(goods: &[(&str, &str, &str, u32)], balance: &str) -> ShopConfig {
    ShopConfig {
        catalog: catalog(goods),
        start_balance: balance.parse::<Money>().expect("balance"),
        ..ShopConfig::default()
    }
}

/// One customer's connection.
pub struct Customer {
    reader: BufReader<OwnedReadHalf>,
    writer: Option<OwnedWriteHalf>,
}

impl Customer {
    pub async fn connect(addr: SocketAddr) -> Customer {
        let stream = timeout(TIMEOUT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        let (rd, wr) = stream.into_split();
        Customer::from_halves(rd, Some(wr))
    }

    /// A customer from the halves of a connection; the sending half may be busy elsewhere.
    pub fn from_halves(rd: OwnedReadHalf, wr: Option<OwnedWriteHalf>) -> Customer {
        Customer {
            reader: BufReader::new(rd),
            writer: wr,
        }
    }

    /// Gives back the sending half.
    pub fn set_writer(&mut self, wr: OwnedWriteHalf) {
        self.writer = Some(wr);
    }

    fn writer(&mut self) -> &mut OwnedWriteHalf {
        self.writer
            .as_mut()
            .expect("this customer's sending half is elsewhere")
    }

    /// Connects and returns the customer with the shop's greeting.
    pub async fn enter(addr: SocketAddr) -> (Customer, String) {
        let mut customer = Customer::connect(addr).await;
        let greeting = customer.line().await;
        (customer, greeting)
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer().write_all(bytes).await.expect("send");
    }

    pub async fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes()).await;
    }

    /// The next line from the shop, without its CRLF. Fails the test on EOF or timeout.
    pub async fn line(&mut self) -> String {
        self.next_line()
            .await
            .expect("the shop closed the connection unexpectedly")
    }

    /// The next line, or `None` if the shop closed the connection.
    pub async fn next_line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        let n = timeout(TIMEOUT, self.reader.read_until(b'\n', &mut buf))
            .await
            .expect("the shop answers in time")
            .expect("read");
        if n == 0 {
            return None;
        }
        let text = String::from_utf8(buf).expect("the shop sends UTF-8");
        assert!(text.ends_with("\r\n"), "lines end in CRLF: {text:?}");
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    }

    /// The next line from the shop as bytes, with its CRLF.
    pub async fn raw_line(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        timeout(TIMEOUT, self.reader.read_until(b'\n', &mut buf))
            .await
            .expect("the shop answers in time")
            .expect("read");
        assert!(buf.ends_with(b"\r\n"), "lines end in CRLF: {buf:?}");
        buf
    }

    /// Sends a line and returns the one-line answer.
    pub async fn ask(&mut self, line: &str) -> String {
        self.send(line).await;
        self.line().await
    }

    /// Checks that the shop has closed the connection.
    pub async fn expect_closed(&mut self) {
        if let Some(line) = self.next_line().await {
            panic!("expected the shop to close, got {line:?}");
        }
    }

    /// Closes our sending side, as `nc` does at the end of its input.
    pub async fn finish_sending(&mut self) {
        self.writer().shutdown().await.expect("shutdown");
    }
}

/// A `snackshop serve` process on 127.0.0.1:0.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
}

impl Server {
    pub async fn start(db: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start snackshop serve");
        let stdout = child.stdout.take().expect("stdout");
        // The server prints "snackshop listening on ADDR" once it accepts customers.
        let first = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            StdBufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = timeout(TIMEOUT, first)
            .await
            .expect("server starts in time")
            .expect("join");
        let line = line.expect("read stdout");
        let addr = line
            .trim()
            .strip_prefix("snackshop listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Server {
            child: Some(child),
            addr,
        }
    }

    /// Sends SIGTERM and returns the exit status.
    pub async fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let waited = tokio::task::spawn_blocking(move || child.wait());
        timeout(TIMEOUT, waited)
            .await
            .expect("exits in time")
            .expect("join")
            .expect("wait")
    }

    /// Kills the server with SIGKILL: no chance to flush or say goodbye.
    pub async fn crash(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill");
        let waited = tokio::task::spawn_blocking(move || child.wait());
        timeout(TIMEOUT, waited)
            .await
            .expect("dies in time")
            .expect("join")
            .expect("wait");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
