//! `chatroom join --tls` against `chatroom serve --tls-listen`, with the
//! self-signed pair `chatroom cert` makes, and with a client certificate
//! that logs into an account.

use chatroom_server::Protocol;

use crate::support::{run, tls_server};

#[tokio::test]
async fn join_over_tls_with_the_certificate_chatroom_cert_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&["cert", "--out-dir", out], "").await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("cert.pem"), "{stdout}");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key is readable by its owner only");
    }
    let server = tls_server(dir.path(), &[]).await;
    let addr = server.listener(Protocol::Json, true).to_string();

    // Trusting the certificate: the scripted client logs in, talks, quits.
    let script = "login tlsuser\n/rooms\nsend over tls\n";
    let (code, stdout, stderr) = run(
        &[
            "join",
            "--server",
            &addr,
            "--tls",
            "--ca",
            cert.to_str().unwrap(),
        ],
        script,
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("* logged in as tlsuser"), "{stdout}");
    assert!(stdout.contains("] over tls"), "{stdout}");

    // --insecure also connects (encrypted, unauthenticated).
    let (code, stdout, _) = run(
        &["join", "--server", &addr, "--tls", "--insecure"],
        "login other\n",
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("* logged in as other"), "{stdout}");

    // Without trusting it, the handshake fails: a self-signed certificate is
    // not from a public authority.
    let (code, _, stderr) = run(&["join", "--server", &addr, "--tls"], "login nobody\n").await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");

    // Plaintext to a TLS port gets nowhere, and the server keeps serving.
    let (code, _, _) = run(&["join", "--server", &addr], "login plain\n").await;
    assert_ne!(code, 0);
    let (code, stdout, _) = run(
        &["join", "--server", &addr, "--tls", "--insecure"],
        "login still\n",
    )
    .await;
    assert_eq!(code, 0);
    assert!(stdout.contains("* logged in as still"), "{stdout}");
}

#[tokio::test]
async fn join_with_a_client_certificate_logs_into_the_account_that_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let (code, _, stderr) = run(&["cert", "--out-dir", out], "").await;
    assert_eq!(code, 0, "{stderr}");
    // The client's own certificate: another pair from `chatroom cert`.
    let mine = dir.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    let (code, _, stderr) = run(&["cert", "--out-dir", mine.to_str().unwrap()], "").await;
    assert_eq!(code, 0, "{stderr}");
    let server = tls_server(dir.path(), &[]).await;
    let addr = server.listener(Protocol::Json, true).to_string();
    let ca = dir.path().join("cert.pem");
    let (cert, key) = (mine.join("cert.pem"), mine.join("key.pem"));
    let tls = [
        "join",
        "--server",
        &addr,
        "--tls",
        "--ca",
        ca.to_str().unwrap(),
    ];
    let with_cert = [
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ];

    // Register, and list the certificate this connection presents.
    let args = [&tls[..], &with_cert[..]].concat();
    let (code, stdout, stderr) = run(
        &args,
        "login certuser\n/register a-long-password\n/cert add\n",
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("* logged in as certuser"), "{stdout}");

    // Without the certificate the nickname needs its password...
    let (code, stdout, stderr) = run(&tls, "login certuser\n").await;
    assert!(
        stderr.contains("account_required"),
        "{code} {stdout} {stderr}"
    );
    assert!(!stdout.contains("* logged in as certuser"), "{stdout}");

    // ... with it, none: --nick and the certificate are enough.
    let args = [&tls[..], &with_cert[..], &["--nick", "certuser"]].concat();
    let (code, stdout, stderr) = run(&args, "send signed in\n").await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("* logged in as certuser"), "{stdout}");
    assert!(stdout.contains("] signed in"), "{stdout}");

    // A key that is not a key is named.
    let args = [
        &tls[..],
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            ca.to_str().unwrap(),
        ],
    ]
    .concat();
    let (code, _, stderr) = run(&args, "login x\n").await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot use the client certificate"),
        "{stderr}"
    );

    // A certificate without TLS would never be presented: refused.
    let args = [&["join", "--server", &addr][..], &with_cert[..]].concat();
    let (code, _, stderr) = run(&args, "login x\n").await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("needs TLS"), "{stderr}");
}
