//! TLS end to end with the real binary: `chatroom cert` writes a usable
//! pair, `chatroom serve` speaks JSON and IRC over TLS with it, and clients
//! that do not speak TLS (or never finish a handshake) are turned away
//! without harming anyone.
//!
//! The TLS client here is `openssl s_client`, checking the server's
//! certificate against the one `chatroom cert` wrote (`chatroom join --tls`
//! is tested in `tls_join`). Without openssl these tests say so and pass
//! without checking anything.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use chatroom_server::Protocol;
use chatroom_testkit::{Exit, WAIT};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::support::{run, tls_server};

/// Whether `openssl` can be run; if not, says why the test checks nothing.
fn have_openssl(test: &str) -> bool {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        assert_ne!(
            std::env::var("CHATROOM_E2E").as_deref(),
            Ok("require"),
            "{test}: openssl is required here (CHATROOM_E2E=require)"
        );
        eprintln!(
            "{test}: SKIPPED: openssl is not installed, and it is the TLS client of these tests"
        );
    }
    found
}

/// Runs `chatroom cert ARGS...`; returns the exit code and stderr.
async fn cert(args: &[&str]) -> (i32, String) {
    let (code, _, stderr) = run(&[&["cert"], args].concat(), "").await;
    (code, stderr)
}

/// A self-signed pair in `dir`.
async fn make_pair(dir: &Path) {
    let (code, stderr) = cert(&["--out-dir", dir.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{stderr}");
}

/// `openssl s_client` connected to `addr`, verifying the server's
/// certificate (for the name `localhost`) against `ca`.
struct TlsClient {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl TlsClient {
    async fn connect(addr: SocketAddr, ca: &Path) -> TlsClient {
        let mut child = Command::new("openssl")
            .args(["s_client", "-quiet", "-verify_return_error"])
            .args(["-verify_hostname", "localhost", "-connect"])
            .arg(addr.to_string())
            .arg("-CAfile")
            .arg(ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        TlsClient {
            child,
            stdin,
            lines,
        }
    }

    async fn send(&mut self, line: &str) {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    /// The next line from the server; None once the connection ended.
    async fn try_line(&mut self) -> Option<String> {
        tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("nothing arrived over TLS in time")
            .unwrap()
    }

    async fn recv(&mut self) -> Value {
        let line = self.try_line().await.expect("the TLS connection ended");
        serde_json::from_str(&line).unwrap()
    }

    /// Skips frames until one of type `ty`.
    async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await;
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// Logs in as `nick` over JSON; returns the welcome.
    async fn login(addr: SocketAddr, ca: &Path, nick: &str) -> (TlsClient, Value) {
        let mut c = TlsClient::connect(addr, ca).await;
        c.send(&json!({"type": "login", "nickname": nick}).to_string())
            .await;
        let welcome = c.recv().await;
        (c, welcome)
    }

    /// Waits for s_client to exit; returns its exit code.
    async fn exit_code(mut self) -> Option<i32> {
        drop(self.stdin);
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("openssl did not exit in time")
            .unwrap()
            .code()
    }
}

#[tokio::test]
async fn cert_writes_a_certificate_and_a_private_key_only_its_owner_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("new");
    make_pair(&out).await;
    let cert_pem = std::fs::read_to_string(out.join("cert.pem")).unwrap();
    let key_pem = std::fs::read_to_string(out.join("key.pem")).unwrap();
    assert!(
        cert_pem.starts_with("-----BEGIN CERTIFICATE-----"),
        "{cert_pem}"
    );
    assert!(key_pem.contains("PRIVATE KEY-----"));
    let mode = std::fs::metadata(out.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "key.pem mode {mode:o}");
    // A certificate is public: readable by all, as the docs say.
    let mode = std::fs::metadata(out.join("cert.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644, "cert.pem mode {mode:o}");

    // Existing files are kept unless --force.
    let (code, stderr) = cert(&["--out-dir", out.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("key.pem")).unwrap(),
        key_pem
    );
    // An old key left readable by others does not stay so when replaced.
    std::fs::set_permissions(out.join("key.pem"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = cert(&["--out-dir", out.to_str().unwrap(), "--force"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(
        std::fs::read_to_string(out.join("key.pem")).unwrap(),
        key_pem
    );
    let mode = std::fs::metadata(out.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "replaced key.pem mode {mode:o}");

    if have_openssl("cert names") {
        let text = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-text", "-in"])
            .arg(out.join("cert.pem"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        for name in [
            "DNS:localhost",
            "IP Address:127.0.0.1",
            "IP Address:0:0:0:0:0:0:0:1",
        ] {
            assert!(text.contains(name), "the certificate lacks {name}: {text}");
        }
    }
}

#[tokio::test]
async fn json_over_tls_end_to_end() {
    if !have_openssl("json_over_tls_end_to_end") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pair(dir.path()).await;
    let server = tls_server(dir.path(), &[]).await;
    assert_eq!(
        server.listeners().len(),
        2,
        "--listen off: no plaintext listener"
    );
    let addr = server.listener(Protocol::Json, true);
    let ca = dir.path().join("cert.pem");

    let (mut alice, welcome) = TlsClient::login(addr, &ca, "alice").await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let (mut bob, welcome) = TlsClient::login(addr, &ca, "bob").await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    alice
        .send(&json!({"type": "broadcast", "message": "over TLS", "ref": 1}).to_string())
        .await;
    alice.recv_type("ack").await;
    let m = bob.recv_type("message").await;
    assert_eq!(
        (m["sender_nickname"].as_str(), m["message"].as_str()),
        (Some("alice"), Some("over TLS"))
    );

    bob.send(&json!({"type": "logout"}).to_string()).await;
    assert_eq!(bob.recv_type("bye").await["message"], "goodbye");
    assert_eq!(bob.try_line().await, None, "the server closes after bye");
    assert_eq!(bob.exit_code().await, Some(0));
    let Exit { code, log } = server.stop().await;
    assert_eq!(code, Some(0), "{log}");
}

#[tokio::test]
async fn the_certificate_is_checked_by_the_client() {
    if !have_openssl("the_certificate_is_checked_by_the_client") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pair(dir.path()).await;
    let other = tempfile::tempdir().unwrap();
    make_pair(other.path()).await;
    let server = tls_server(dir.path(), &[]).await;
    // A client trusting another certificate refuses this server.
    let mut c = TlsClient::connect(
        server.listener(Protocol::Json, true),
        &other.path().join("cert.pem"),
    )
    .await;
    assert_eq!(
        c.try_line().await,
        None,
        "no frame through a failed verification"
    );
    assert_ne!(c.exit_code().await, Some(0));
    server.stop().await;
}

#[tokio::test]
async fn irc_over_tls_end_to_end_and_with_json_over_tls() {
    if !have_openssl("irc_over_tls_end_to_end_and_with_json_over_tls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pair(dir.path()).await;
    let server = tls_server(dir.path(), &[]).await;
    let ca = dir.path().join("cert.pem");
    let (mut json_user, _) =
        TlsClient::login(server.listener(Protocol::Json, true), &ca, "jsonuser").await;

    let mut irc = TlsClient::connect(server.listener(Protocol::Irc, true), &ca).await;
    irc.send("NICK ircuser\r\nUSER ircuser 0 * :IRC over TLS")
        .await;
    let mut welcomed = false;
    while let Some(line) = irc.try_line().await {
        let m = chatroom_proto::irc::parse(line.trim_end().as_bytes()).unwrap();
        if m.command == "001" {
            welcomed = true;
        }
        if m.command == "366" {
            break;
        }
    }
    assert!(welcomed, "no 001 over TLS");
    irc.send("PRIVMSG #lobby :from IRC over TLS").await;
    let m = json_user.recv_type("message").await;
    assert_eq!(
        (m["sender_nickname"].as_str(), m["message"].as_str()),
        (Some("ircuser"), Some("from IRC over TLS"))
    );
    json_user
        .send(&json!({"type": "broadcast", "message": "from JSON over TLS"}).to_string())
        .await;
    let said = loop {
        let line = irc.try_line().await.expect("the IRC connection ended");
        let m = chatroom_proto::irc::parse(line.trim_end().as_bytes()).unwrap();
        if m.command == "PRIVMSG" {
            break m;
        }
    };
    assert_eq!(said.source.as_ref().unwrap().name, "jsonuser");
    assert_eq!(said.params, ["#lobby", "from JSON over TLS"]);
    server.stop().await;
}

/// Reads whatever a raw TCP client gets until the server closes on it; a
/// reset counts as closed.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut got))
        .await
        .expect("the server never closed the connection");
    got
}

#[tokio::test]
async fn plaintext_on_the_tls_port_fails_cleanly_and_harms_nobody() {
    if !have_openssl("plaintext_on_the_tls_port_fails_cleanly_and_harms_nobody") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pair(dir.path()).await;
    let server = tls_server(dir.path(), &["--login-timeout", "1s"]).await;
    let ca = dir.path().join("cert.pem");
    let addr = server.listener(Protocol::Json, true);
    let (mut alice, _) = TlsClient::login(addr, &ca, "alice").await;
    let (mut bob, _) = TlsClient::login(addr, &ca, "bob").await;

    // JSON and IRC in the clear on the TLS ports.
    for (port, hello) in [
        (addr, &b"{\"type\":\"login\",\"nickname\":\"plain\"}\n"[..]),
        (
            server.listener(Protocol::Irc, true),
            &b"NICK plain\r\nUSER plain 0 * :plain\r\n"[..],
        ),
    ] {
        let mut plain = tokio::net::TcpStream::connect(port).await.unwrap();
        plain.write_all(hello).await.unwrap();
        let got = read_until_closed(&mut plain).await;
        let text = String::from_utf8_lossy(&got);
        assert!(
            !text.contains("welcome") && !text.contains(" 001 "),
            "{text}"
        );
    }
    // A client that connects and never starts the handshake is closed when
    // its time to log in is up.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());

    // Nobody else noticed.
    alice
        .send(&json!({"type": "broadcast", "message": "still fine"}).to_string())
        .await;
    assert_eq!(bob.recv_type("message").await["message"], "still fine");
    let (mut carol, welcome) = TlsClient::login(addr, &ca, "carol").await;
    assert_eq!(welcome["type"], "welcome");
    carol
        .send(&json!({"type": "ping", "ref": 1}).to_string())
        .await;
    assert_eq!(carol.recv().await, json!({"type": "pong", "ref": 1}));
    let Exit { code, log } = server.stop().await;
    assert_eq!(code, Some(0));
    assert!(!log.contains("panicked"), "{log}");
}

/// A client refused on a TLS port (here: too many connections from its
/// address) reads why over TLS, after the handshake, in its protocol.
#[tokio::test]
async fn a_refusal_on_a_tls_port_is_sent_over_tls() {
    if !have_openssl("a_refusal_on_a_tls_port_is_sent_over_tls") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pair(dir.path()).await;
    let server = tls_server(dir.path(), &["--max-connections-per-ip", "1"]).await;
    let ca = dir.path().join("cert.pem");
    let (_first, welcome) =
        TlsClient::login(server.listener(Protocol::Json, true), &ca, "first").await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");

    let mut refused = TlsClient::connect(server.listener(Protocol::Json, true), &ca).await;
    let e = refused.recv().await;
    assert_eq!(
        (&e["type"], &e["code"]),
        (&json!("error"), &json!("too_many_connections")),
        "{e}"
    );
    assert_eq!(refused.try_line().await, None, "then the server closes");

    let mut irc = TlsClient::connect(server.listener(Protocol::Irc, true), &ca).await;
    let line = irc.try_line().await.expect("an IRC ERROR line");
    assert!(
        line.starts_with("ERROR :Closing Link: too many connections"),
        "{line}"
    );
    let Exit { code, log } = server.stop().await;
    assert_eq!(code, Some(0), "{log}");
}
