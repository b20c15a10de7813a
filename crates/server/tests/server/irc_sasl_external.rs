//! TLS client certificates: the chat listeners take clients with and
//! without one, accounts list fingerprints (`CERT` over IRC, `cert_add`,
//! `cert_del`, `cert_list` over JSON), and `AUTHENTICATE EXTERNAL` logs
//! into the account listing the connection's certificate, as a JSON `login`
//! without a password does. A server on
//! 127.0.0.1:0 with IRC and JSON over TLS (a generated certificate), and
//! rustls clients with generated self-signed certificates of their own.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chatroom_proto::irc::Message;
use chatroom_server::accounts::OperCredentials;
use chatroom_server::certfp::Fingerprint;
use chatroom_server::tls::{ClientCerts, acceptor};
use chatroom_server::{Config, Listener, ServerError, run};
use chatroom_testkit::{IrcRaw, Raw, WAIT, commands, last_param, test_config};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::support::{PASSWORD, register_account};

/// A server with a plain JSON listener and IRC and JSON over TLS.
struct TlsServer {
    json: SocketAddr,
    irc_tls: SocketAddr,
    json_tls: SocketAddr,
    /// What clients trust: the server's own certificate.
    server_cert: CertificateDer<'static>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServerError>>,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    async fn start() -> TlsServer {
        TlsServer::start_with(test_config()).await
    }

    /// A server with `base`'s settings (and an operator, `certop`).
    async fn start_with(base: Config) -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        let tls = acceptor(&cert, &key, ClientCerts::Requested).unwrap();
        let bind = || TcpListener::bind("127.0.0.1:0");
        let (json, irc_tls, json_tls) = (
            bind().await.unwrap(),
            bind().await.unwrap(),
            bind().await.unwrap(),
        );
        let addrs = [&json, &irc_tls, &json_tls].map(|l| l.local_addr().unwrap());
        let listeners = vec![
            Listener::json(json),
            Listener::irc(irc_tls).with_tls(tls.clone()),
            Listener::json(json_tls).with_tls(tls),
        ];
        let (stop, stopped) = oneshot::channel::<()>();
        // An operator, who may see others' fingerprints.
        let config = Config {
            opers: vec![OperCredentials {
                name: "certop".to_owned(),
                hash: chatroom_server::accounts::hash_password(PASSWORD).unwrap(),
            }],
            ..base
        };
        let task = tokio::spawn(run(listeners, config, async {
            let _ = stopped.await;
        }));
        TlsServer {
            json: addrs[0],
            irc_tls: addrs[1],
            json_tls: addrs[2],
            server_cert: certified.cert.der().clone(),
            stop,
            task,
            _dir: dir,
        }
    }

    /// A TLS connection to `addr`, presenting `cert` if given.
    async fn connect(&self, addr: SocketAddr, cert: Option<&ClientCert>) -> TlsStream<TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.server_cert.clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = match cert {
            Some(cert) => builder
                .with_client_auth_cert(vec![cert.der.clone()], cert.key.clone_key())
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        tokio::time::timeout(
            WAIT,
            TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .expect("no TLS handshake in time")
        .unwrap()
    }

    /// An IRC client over TLS, not registered yet.
    async fn irc(&self, cert: Option<&ClientCert>) -> IrcRaw {
        IrcRaw::over(self.connect(self.irc_tls, cert).await)
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server did not shut down in time")
            .unwrap()
            .unwrap();
    }
}

/// A client's self-signed certificate, its key and its fingerprint.
struct ClientCert {
    der: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    fingerprint: String,
}

impl ClientCert {
    fn new(name: &str) -> ClientCert {
        let certified = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let der = certified.cert.der().clone();
        let key = PrivateKeyDer::from_pem_slice(certified.signing_key.serialize_pem().as_bytes())
            .unwrap();
        ClientCert {
            fingerprint: Fingerprint::of_certificate(&der).to_string(),
            der,
            key,
        }
    }
}

/// A JSON session logged into the account `nick` (plain TCP: it presents
/// no certificate).
async fn logged_in(server: &TlsServer, nick: &str) -> Raw {
    Raw::login_with(
        server.json,
        json!({"type": "login", "nickname": nick, "password": PASSWORD}),
    )
    .await
}

/// Asks for `sasl`, then `AUTHENTICATE EXTERNAL` with `payload` (`+`: no
/// authorization identity); the numerics that answer.
async fn external(c: &mut IrcRaw, payload: &str) -> Vec<Message> {
    c.send("CAP REQ sasl").await;
    assert_eq!(c.until("CAP").await.params[1], "ACK");
    c.send("AUTHENTICATE EXTERNAL").await;
    let go_on = c.recv().await;
    assert_eq!(
        (go_on.command.as_str(), &go_on.params[..]),
        ("AUTHENTICATE", &["+".to_owned()][..])
    );
    c.send(&format!("AUTHENTICATE {payload}")).await;
    let first = c.recv().await;
    if first.command == "900" {
        vec![first, c.recv().await]
    } else {
        vec![first]
    }
}

/// Registers `nick` on a connection that negotiated capabilities.
async fn finish_registration(c: &mut IrcRaw, nick: &str) {
    c.send(&format!("NICK {nick}")).await;
    c.send(&format!("USER {nick} 0 * :{nick}")).await;
    c.send("CAP END").await;
    c.until("001").await;
    c.until("366").await;
    c.nick = nick.to_owned();
    c.sync().await;
}

/// The `276` lines of a WHOIS of `nick`.
async fn whois_certfp(c: &mut IrcRaw, nick: &str) -> Vec<String> {
    c.send(&format!("WHOIS {nick}")).await;
    let lines = c.sync().await;
    assert!(lines.iter().any(|m| m.command == "318"), "{lines:?}");
    lines
        .iter()
        .filter(|m| m.command == "276")
        .map(|m| last_param(m).to_owned())
        .collect()
}

#[tokio::test]
async fn sasl_external_logs_into_the_account_listing_the_certificate() {
    let server = TlsServer::start().await;
    register_account(server.json, "certann").await;
    let cert = ClientCert::new("certann");

    // Logged in by password, ann lists the certificate of her connection.
    let mut c = server.irc(Some(&cert)).await;
    c.send("CAP LS 302").await;
    let ls = c.until("CAP").await;
    assert!(
        last_param(&ls)
            .split(' ')
            .any(|c| c == "sasl=PLAIN,EXTERNAL"),
        "{ls:?}"
    );
    c.send(&format!("PASS :{PASSWORD}")).await;
    finish_registration(&mut c, "certann").await;
    c.send("CERT ADD").await;
    let added = c.recv().await;
    assert_eq!(added.command, "NOTE");
    assert_eq!(
        added.params[..3],
        ["CERT", "ADDED", cert.fingerprint.as_str()]
    );
    c.send("CERT LIST").await;
    let listed = c.sync().await;
    assert_eq!(commands(&listed), ["NOTE", "NOTE"]);
    assert_eq!(
        listed[0].params[..3],
        ["CERT", "LISTED", cert.fingerprint.as_str()]
    );
    assert_eq!(listed[1].params[..2], ["CERT", "END"]);
    // WHOIS shows her own fingerprint to her.
    assert_eq!(
        whois_certfp(&mut c, "certann").await,
        [format!(
            "has client certificate fingerprint {}",
            cert.fingerprint
        )]
    );
    c.send("QUIT").await;
    c.until_closed().await;

    // With the certificate, EXTERNAL logs in before registration, and the
    // account's nickname is hers to use.
    let mut c = server.irc(Some(&cert)).await;
    let lines = external(&mut c, "+").await;
    assert_eq!(commands(&lines), ["900", "903"], "{lines:?}");
    assert_eq!(lines[0].params[2], "certann");
    finish_registration(&mut c, "certann").await;
    c.send("WHOIS certann").await;
    let lines = c.sync().await;
    assert!(
        lines
            .iter()
            .any(|m| m.command == "330" && m.params[2] == "certann"),
        "{lines:?}"
    );
    // Someone else does not see the fingerprint: it would follow her
    // across networks.
    let mut other = server.irc(None).await;
    finish_registration(&mut other, "certwatcher").await;
    assert_eq!(
        whois_certfp(&mut other, "certann").await,
        Vec::<String>::new()
    );
    // A server operator does.
    other.send(&format!("OPER certop :{PASSWORD}")).await;
    other.until("381").await;
    assert_eq!(whois_certfp(&mut other, "certann").await.len(), 1);

    // The authorization identity, if given, must be the account.
    let mut c = server.irc(Some(&cert)).await;
    let lines = external(&mut c, &STANDARD.encode("certann")).await;
    assert_eq!(commands(&lines), ["900", "903"], "{lines:?}");
    let mut c = server.irc(Some(&cert)).await;
    let lines = external(&mut c, &STANDARD.encode("someoneelse")).await;
    assert_eq!(commands(&lines), ["904"], "{lines:?}");
    server.stop().await;
}

#[tokio::test]
async fn sasl_external_fails_without_a_listed_certificate() {
    let server = TlsServer::start().await;
    register_account(server.json, "certbea").await;
    let mut ann = logged_in(&server, "certbea").await;
    let cert = ClientCert::new("certbea");

    // No certificate: the client connects over TLS as ever, but EXTERNAL
    // has nothing to go on.
    let mut c = server.irc(None).await;
    let lines = external(&mut c, "+").await;
    assert_eq!(commands(&lines), ["904"], "{lines:?}");
    finish_registration(&mut c, "nocert").await;
    assert_eq!(whois_certfp(&mut c, "nocert").await, Vec::<String>::new());
    c.send("CERT ADD").await;
    assert_eq!(c.recv().await.params[..2], ["CERT", "ACCOUNT_REQUIRED"]);

    // A certificate no account lists.
    let mut c = server.irc(Some(&cert)).await;
    let lines = external(&mut c, "+").await;
    assert_eq!(commands(&lines), ["904"], "{lines:?}");
    finish_registration(&mut c, "unlisted").await;
    // WHOIS shows it to its holder even without an account.
    assert_eq!(whois_certfp(&mut c, "unlisted").await.len(), 1);

    // Listed, then taken off again (over JSON, naming it).
    ann.send_json(json!({"type": "cert_add", "fingerprint": cert.fingerprint.to_uppercase()}))
        .await;
    let certs = ann.recv_type("certs").await;
    assert_eq!(certs["fingerprints"], json!([cert.fingerprint]));
    let mut c = server.irc(Some(&cert)).await;
    assert_eq!(commands(&external(&mut c, "+").await), ["900", "903"]);
    ann.send_json(json!({"type": "cert_del", "fingerprint": cert.fingerprint}))
        .await;
    assert_eq!(ann.recv_type("certs").await["fingerprints"], json!([]));
    let mut c = server.irc(Some(&cert)).await;
    assert_eq!(commands(&external(&mut c, "+").await), ["904"]);
    server.stop().await;
}

#[tokio::test]
async fn a_certificate_belongs_to_one_account_and_an_account_lists_a_few() {
    let server = TlsServer::start().await;
    register_account(server.json, "certcat").await;
    register_account(server.json, "certdan").await;
    let mut ann = logged_in(&server, "certcat").await;
    let mut bob = logged_in(&server, "certdan").await;
    let cert = ClientCert::new("certcat");
    ann.send_json(json!({"type": "cert_add", "fingerprint": cert.fingerprint, "ref": 1}))
        .await;
    let certs = ann.recv_type("certs").await;
    assert_eq!(certs["ref"], 1);
    assert_eq!(
        certs.get("current"),
        None,
        "no certificate on this connection"
    );
    // Someone else's: refused over JSON and over IRC.
    bob.send_json(json!({"type": "cert_add", "fingerprint": cert.fingerprint}))
        .await;
    bob.expect_error("certificate_taken").await;
    bob.send_json(json!({"type": "logout"})).await;
    bob.until_closed().await;
    let mut c = server.irc(None).await;
    c.send(&format!("PASS :{PASSWORD}")).await;
    finish_registration(&mut c, "certdan").await;
    c.send(&format!("CERT ADD {}", cert.fingerprint)).await;
    let refused = c.recv().await;
    assert_eq!(refused.command, "FAIL");
    assert_eq!(refused.params[..3], ["CERT", "FINGERPRINT_TAKEN", "ADD"]);
    c.send(&format!("CERT DEL {}", cert.fingerprint)).await;
    assert_eq!(
        c.recv().await.params[1],
        "UNKNOWN_FINGERPRINT",
        "not his to remove"
    );
    c.send("CERT ADD nonsense").await;
    assert_eq!(c.recv().await.params[1], "INVALID_FINGERPRINT");
    c.send("CERT ADD").await;
    assert_eq!(c.recv().await.params[1], "NO_CERTIFICATE");
    // A few per account.
    for n in 1..5u8 {
        let fingerprint = format!("{n:02x}").repeat(32);
        ann.send_json(json!({"type": "cert_add", "fingerprint": fingerprint}))
            .await;
        ann.recv_type("certs").await;
    }
    ann.send_json(json!({"type": "cert_add", "fingerprint": "ff".repeat(32)}))
        .await;
    ann.expect_error("list_full").await;
    ann.send_json(json!({"type": "cert_list"})).await;
    let listed = ann.recv_type("certs").await;
    assert_eq!(listed["fingerprints"].as_array().unwrap().len(), 5);
    // JSON's other refusals.
    ann.send_json(json!({"type": "cert_add"})).await;
    ann.expect_error("no_certificate").await;
    ann.send_json(json!({"type": "cert_del", "fingerprint": "ab:cd"}))
        .await;
    ann.expect_error("invalid_field").await;
    ann.send_json(json!({"type": "cert_del", "fingerprint": "ee".repeat(32)}))
        .await;
    ann.expect_error("unknown_certificate").await;
    let mut guest = Raw::login(server.json, "certguest").await;
    guest.send_json(json!({"type": "cert_list"})).await;
    guest.expect_error("no_account").await;
    // Deleting an account frees its certificates.
    ann.send_json(json!({"type": "unregister", "password": PASSWORD}))
        .await;
    ann.recv_type("done").await;
    c.send(&format!("CERT ADD {}", cert.fingerprint)).await;
    let added = c.until("NOTE").await;
    assert_eq!(
        added.params[..3],
        ["CERT", "ADDED", cert.fingerprint.as_str()]
    );
    server.stop().await;
}

/// A JSON client over TLS.
struct JsonTls {
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<TlsStream<TcpStream>>>>,
    writer: tokio::io::WriteHalf<TlsStream<TcpStream>>,
}

impl JsonTls {
    /// Connects to the server's JSON-over-TLS listener, presenting `cert`.
    async fn connect(server: &TlsServer, cert: Option<&ClientCert>) -> JsonTls {
        let (reader, writer) = tokio::io::split(server.connect(server.json_tls, cert).await);
        JsonTls {
            lines: BufReader::new(reader).lines(),
            writer,
        }
    }

    async fn send(&mut self, request: Value) {
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        self.writer.write_all(&line).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    /// Reads until the server closes the connection.
    async fn until_closed(&mut self) {
        while tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("the connection stayed open")
            .is_ok_and(|line| line.is_some())
        {}
    }

    /// The next frame of type `ty` (others are skipped).
    async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let line = tokio::time::timeout(WAIT, self.lines.next_line())
                .await
                .expect("nothing arrived in time")
                .unwrap()
                .expect("the connection ended");
            let frame: Value = serde_json::from_str(&line).unwrap();
            if frame["type"] == ty {
                return frame;
            }
        }
    }
}

#[tokio::test]
async fn json_over_tls_adds_the_connections_certificate() {
    let server = TlsServer::start().await;
    register_account(server.json, "certeve").await;
    let cert = ClientCert::new("certeve");
    let mut c = JsonTls::connect(&server, Some(&cert)).await;
    c.send(json!({"type": "login", "nickname": "certeve", "password": PASSWORD}))
        .await;
    c.send(json!({"type": "cert_add", "ref": "add"})).await;
    c.recv_type("welcome").await;
    let certs = c.recv_type("certs").await;
    assert_eq!(certs["fingerprints"], json!([cert.fingerprint]));
    assert_eq!(certs["current"], json!(cert.fingerprint));
    assert_eq!(certs["ref"], "add");
    // IRC now takes the same certificate.
    let mut c = server.irc(Some(&cert)).await;
    assert_eq!(commands(&external(&mut c, "+").await), ["900", "903"]);
    server.stop().await;
}

#[tokio::test]
async fn json_login_without_a_password_takes_a_certificate_the_account_lists() {
    let server = TlsServer::start().await;
    register_account(server.json, "certgus").await;
    register_account(server.json, "certhal").await;
    let (cert, other) = (ClientCert::new("certgus"), ClientCert::new("stranger"));
    let login = json!({"type": "login", "nickname": "certgus", "ref": "in"});
    // Not listed yet: the nickname needs its password.
    let mut c = JsonTls::connect(&server, Some(&cert)).await;
    c.send(login.clone()).await;
    assert_eq!(c.recv_type("error").await["code"], "account_required");
    let mut owner = logged_in(&server, "certgus").await;
    owner
        .send_json(json!({"type": "cert_add", "fingerprint": cert.fingerprint}))
        .await;
    owner.recv_type("certs").await;
    owner.send_json(json!({"type": "logout"})).await;
    while owner.try_recv().await.is_some() {}
    // Listed: it is certgus's, not certhal's; another certificate is
    // nobody's; without one, the password is needed.
    let mut hal = JsonTls::connect(&server, Some(&cert)).await;
    hal.send(json!({"type": "login", "nickname": "certhal"}))
        .await;
    assert_eq!(hal.recv_type("error").await["code"], "account_required");
    for stranger in [Some(&other), None] {
        let mut s = JsonTls::connect(&server, stranger).await;
        s.send(login.clone()).await;
        assert_eq!(s.recv_type("error").await["code"], "account_required");
    }
    // The first connection now logs in with it, into the account (the
    // nickname in another case is the same account's).
    c.send(json!({"type": "login", "nickname": "CertGus"}))
        .await;
    let welcome = c.recv_type("welcome").await;
    assert_eq!(welcome["nickname"], "CertGus");
    c.send(json!({"type": "cert_list", "ref": "list"})).await;
    let certs = c.recv_type("certs").await;
    assert_eq!(certs["fingerprints"], json!([cert.fingerprint]));
    assert_eq!(certs["current"], json!(cert.fingerprint));
    // A banned nickname stays banned, certificate or not.
    let mut op = Raw::login(server.json, "certmod").await;
    op.send_json(json!({"type": "oper", "name": "certop", "password": PASSWORD}))
        .await;
    op.recv_type("done").await;
    op.send_json(json!({"type": "ban", "nickname": "certgus", "reason": "test"}))
        .await;
    op.recv_type("done").await;
    drop(c);
    let mut again = JsonTls::connect(&server, Some(&cert)).await;
    again.send(login).await;
    assert_eq!(again.recv_type("error").await["code"], "banned");
    server.stop().await;
}

/// Where every login needs an account (`--require-account`), a listed
/// certificate is one: a JSON login without a password and IRC's SASL
/// EXTERNAL log in by it, while IRC registration without SASL still needs
/// an account. A nickname in full-width letters is the account's (nicknames
/// are width-mapped) and logs in by the same certificate.
#[tokio::test]
async fn a_certificate_is_an_account_where_every_login_needs_one() {
    let server = TlsServer::start_with(Config {
        require_account: true,
        ..test_config()
    })
    .await;
    register_account(server.json, "certivy").await;
    let cert = ClientCert::new("certivy");
    let mut owner = logged_in(&server, "certivy").await;
    owner
        .send_json(json!({"type": "cert_add", "fingerprint": cert.fingerprint}))
        .await;
    owner.recv_type("certs").await;
    owner.send_json(json!({"type": "logout"})).await;
    owner.until_closed().await;

    // IRC registration alone, certificate or not, needs an account.
    let mut bare = server.irc(Some(&cert)).await;
    bare.send("NICK certivy").await;
    bare.send("USER certivy 0 * :certivy").await;
    assert_eq!(bare.until("464").await.command, "464");

    // JSON: the certificate, no password, under a full-width nickname.
    let wide = "\u{ff43}\u{ff45}\u{ff52}\u{ff54}\u{ff49}\u{ff56}\u{ff59}";
    let mut c = JsonTls::connect(&server, Some(&cert)).await;
    c.send(json!({"type": "login", "nickname": wide})).await;
    assert_eq!(c.recv_type("welcome").await["nickname"], "certivy");
    c.send(json!({"type": "cert_list", "ref": "list"})).await;
    let certs = c.recv_type("certs").await;
    assert_eq!(certs["fingerprints"], json!([cert.fingerprint]));
    // Without the certificate, the same nickname needs the password.
    let mut stranger = JsonTls::connect(&server, None).await;
    stranger
        .send(json!({"type": "login", "nickname": wide}))
        .await;
    assert_eq!(
        stranger.recv_type("error").await["code"],
        "account_required"
    );
    c.send(json!({"type": "logout"})).await;
    c.until_closed().await;

    // IRC: SASL EXTERNAL, then registration.
    let mut irc = server.irc(Some(&cert)).await;
    assert_eq!(commands(&external(&mut irc, "+").await), ["900", "903"]);
    finish_registration(&mut irc, "certivy").await;
    server.stop().await;
}
