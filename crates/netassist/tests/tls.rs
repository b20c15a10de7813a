//! TLS client and server modes on loopback: a self-signed certificate made
//! on the spot, trusted with a CA file, refused without one, accepted with
//! `--insecure`; and the two binaries talking to each other.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::*;
use netassist::options::{Options, Tls, Wait};
use netassist::session::Input;
use netassist::tls::{TlsClient, TlsServer, Trust, self_signed_names};
use netassist::{Outcome, tcp_client, tcp_server};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A TLS echo server with a fresh self-signed certificate; returns its
/// address and the certificate's PEM file.
async fn tls_echo_server(dir: &Path) -> (std::net::SocketAddr, PathBuf, Harness) {
    let (tls, pem) = TlsServer::self_signed(self_signed_names("127.0.0.1")).expect("certificate");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).expect("write ca");
    let server = harness(Options {
        tls: Some(Tls::Server(tls)),
        echo: true,
        ..Options::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::none(),
        std::future::pending(),
    ));
    (addr, ca, server)
}

fn client_options(trust: Trust, name: &str) -> Options {
    Options {
        tls: Some(Tls::Client(
            TlsClient::new(trust, Some(name.to_owned())).expect("client config"),
        )),
        wait: Some(Wait::Forever),
        ..Options::default()
    }
}

#[tokio::test]
async fn tls_client_and_server_exchange_with_a_trusted_self_signed_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, ca, server) = tls_echo_server(dir.path()).await;
    expect(
        &server.err,
        "(TCP, TLS with a self-signed certificate for localhost, 127.0.0.1, ::1)",
    )
    .await;

    let client = harness(client_options(Trust::CaFile(ca), "127.0.0.1"));
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (lines, client_input) = input();
    let (stop, stop_signal) = shutdown();
    let task = tokio::spawn(tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        stop_signal,
    ));
    expect(&client.err, "-- TLS: TLSv1.3, TLS13_").await;
    lines.send("secret hello".into()).await.expect("send");
    expect(&client.out, &format!("RX [{addr}] secret hello\n")).await;
    expect(&server.err, " TLS: TLSv1.3").await;
    expect(&server.out, " secret hello\n").await;
    stop.send(()).expect("stop");
    assert_eq!(
        bounded(task).await.expect("join").expect("run"),
        Outcome::Stopped
    );

    // Plain TCP to the TLS server is no handshake: refused, and nothing of
    // it is shown as data.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain.write_all(b"hello in clear\n").await.expect("write");
    expect(&server.err, "TLS handshake failed").await;
    assert!(!server.out.text().contains("in clear"));
}

#[tokio::test]
async fn a_self_signed_server_needs_ca_or_insecure_and_the_right_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, ca, _server) = tls_echo_server(dir.path()).await;
    let attempt = |options: Options| async move {
        let client = harness(options);
        let stream = TcpStream::connect(addr).await.expect("connect");
        bounded(tcp_client::run(
            client.session.clone(),
            stream,
            Input::none(),
            std::future::pending(),
        ))
        .await
    };

    let err = attempt(client_options(Trust::Public, "127.0.0.1"))
        .await
        .expect_err("not a public certificate");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("--ca FILE or --insecure"), "{err}");

    let err = attempt(client_options(Trust::CaFile(ca.clone()), "other.example"))
        .await
        .expect_err("certificate is not for that name");
    assert!(err.to_string().contains("TLS handshake"), "{err}");

    for options in [
        client_options(Trust::Insecure, "127.0.0.1"),
        client_options(Trust::CaFile(ca), "localhost"),
    ] {
        let mut options = options;
        options.wait = Some(Wait::For(std::time::Duration::ZERO));
        assert_eq!(attempt(options).await.expect("handshake"), Outcome::Done);
    }
}

#[tokio::test]
async fn the_binaries_speak_tls_to_each_other() {
    const BIN: &str = env!("CARGO_BIN_EXE_netassist");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("server.pem");
    let mut server = tokio::process::Command::new(BIN)
        .args(["tcp-server", "127.0.0.1:0", "--tls", "--echo", "--cert-out"])
        .arg(&ca)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start server");
    let mut status = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = bounded(status.next_line())
            .await
            .expect("read")
            .expect("the server says where it listens");
        if let Some(rest) = line.strip_prefix("-- listening on ") {
            break rest.split(' ').next().expect("address").to_owned();
        }
    };

    let client = |extra: &'static [&'static str], ca: Option<PathBuf>| {
        let addr = addr.clone();
        async move {
            let mut command = tokio::process::Command::new(BIN);
            command
                .args(["tcp-client", &addr, "--tls", "--raw"])
                .args(extra);
            if let Some(ca) = ca {
                command.arg("--ca").arg(ca);
            }
            let mut child = command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start client");
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(b"hello over tls\n").await.expect("write");
            drop(stdin);
            bounded(child.wait_with_output())
                .await
                .expect("client output")
        }
    };
    let out = client(&[], Some(ca)).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"hello over tls\n");

    let out = client(&["--insecure"], None).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"hello over tls\n");

    let out = client(&[], None).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ca FILE or --insecure"));
    let _ = server.kill().await;
}
