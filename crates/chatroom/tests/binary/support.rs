//! What the tests of the binary share: where it is, running it, and a
//! server that speaks only TLS.

use std::path::Path;
use std::process::Stdio;

use chatroom_testkit::{ServerProcess, WAIT};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};

/// The `chatroom` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_chatroom");

/// `chatroom ARGS...` with its input and output piped, killed if the test
/// drops it.
pub fn chatroom(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Waits for `child` to exit (closing its input); returns its exit code
/// (-1 when a signal ended it), what it printed and what it logged.
pub async fn finish(child: Child) -> (i32, String, String) {
    let out = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .expect("chatroom did not exit in time")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `chatroom ARGS...` to the end with `stdin` as its whole input; see
/// [`finish`].
pub async fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = chatroom(args).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    finish(child).await
}

/// A TLS-only server (`--listen off`) with JSON and IRC over TLS, using
/// the pair in `dir`.
pub async fn tls_server(dir: &Path, extra: &[&str]) -> ServerProcess {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let mut args = vec![
        "--listen",
        "off",
        "--tls-listen",
        "127.0.0.1:0",
        "--irc-tls-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--in-memory",
    ];
    args.extend_from_slice(extra);
    ServerProcess::start(BIN, &args).await
}
