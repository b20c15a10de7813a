//! The tutorial's own Python clients, unmodified, against `snackshop serve`:
//! section 5.1's client (sends GBK, decodes the answer as GBK) and section 6's
//! loop client (sends `cmd.encode()` with no line end, prints the bytes).
//!
//! They need python3. Without it the tests say so and pass, unless
//! `CHATROOM_E2E=require` (set by `scripts/test-all.sh`, hence CI) makes a
//! missing python3 a failure.

use std::path::Path;
use std::process::{Output, Stdio};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::time::timeout;

use crate::common::{Server, TIMEOUT};

const GREETING: &str = "目前商店还有:1.瓜子(4.5,剩 100),2.西瓜(2,剩 30),3.矿泉水(2.5,剩 50)。\
                        您的余额 100。请问您需要什么?";

/// Whether python3 can be run; fails instead when the end-to-end tests are required.
fn python_available() -> bool {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("CHATROOM_E2E").as_deref() != Ok("require"),
            "python3 is required (scripts/install-test-deps.sh installs it)"
        );
        eprintln!("skipping: python3 is not installed (scripts/install-test-deps.sh installs it)");
    }
    found
}

/// Runs a fixture script with `stdin` typed in; returns its output once it exits.
async fn python(args: &[&str], stdin: &str) -> Output {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut child = Command::new("python3")
        .arg("-u")
        .args(args)
        .current_dir(fixtures)
        // The tutorial prints Chinese; whatever the machine's locale, print UTF-8.
        .env("PYTHONIOENCODING", "utf-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start python3");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.as_bytes()).await.expect("type");
    drop(pipe);
    timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("the tutorial client finishes in time")
        .expect("output")
}

/// The bytes of a Python `bytes` repr as `print(data)` shows it: `b'...'` or `b"..."`.
fn python_bytes(repr: &str) -> Vec<u8> {
    let inner = repr
        .strip_prefix("b'")
        .and_then(|r| r.strip_suffix('\''))
        .or_else(|| repr.strip_prefix("b\"").and_then(|r| r.strip_suffix('"')))
        .unwrap_or_else(|| panic!("not a bytes repr: {repr}"));
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).expect("\\xNN"));
            }
            Some(other) => out.push(u8::try_from(other).expect("an ASCII escape")),
            None => panic!("a repr cannot end in a backslash: {repr}"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_gbk_client_shops_unmodified() {
    if !python_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&dir.path().join("shop.db")).await;
    let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    // Typed as its prompts ask: the server's ip, its port, the message.
    let out = python(
        &["tutorial_gbk_client.py"],
        &format!("{ip}\n{port}\n西瓜\n"),
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(!stderr.contains("Traceback"), "{stderr}");
    // It received once and decoded it as GBK: the greeting and the answer.
    assert!(
        stdout.contains(&format!(
            "接收到的数据为: {GREETING}\r\n购买成功,余额 98(西瓜 ×1,共 2)\r\n"
        )),
        "{stdout}"
    );
    assert!(server.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorials_loop_client_without_line_ends_shops_unmodified() {
    if !python_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&dir.path().join("shop.db")).await;
    let (ip, port) = (server.addr.ip().to_string(), server.addr.port().to_string());
    let out = python(
        &["run_tutorial_loop_client.py", &ip, &port],
        "西瓜\n2 西瓜\n余额\n拜拜\n",
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Each request, sent without a line end, got its answer in the one recv
    // that follows it (the first one with the greeting).
    let received: Vec<String> = stdout
        .lines()
        .filter_map(|line| {
            line.find("b'")
                .or_else(|| line.find("b\""))
                .map(|at| &line[at..])
        })
        .map(|repr| String::from_utf8(python_bytes(repr)).expect("UTF-8 answers"))
        .collect();
    assert_eq!(
        received,
        [
            format!("{GREETING}\r\n购买成功,余额 98(西瓜 ×1,共 2)\r\n"),
            "购买成功,余额 94(西瓜 ×2,共 4)\r\n".to_string(),
            "您的余额 94。\r\n".to_string(),
            "欢迎下次光临\r\n".to_string(),
        ],
        "stdout: {stdout}\nstderr: {stderr}"
    );
    // The tutorial's loop never ends by itself: when its input runs out,
    // input() raises EOFError. That is the only error there may be.
    assert!(stderr.contains("EOFError"), "{stderr}");
    assert!(!stderr.contains("ConnectionResetError"), "{stderr}");
    assert!(!stderr.contains("UnicodeDecodeError"), "{stderr}");
    assert!(server.terminate().await.success());
}

#[test]
fn python_bytes_reprs_are_read_back() {
    assert_eq!(python_bytes(r"b'a\r\n\xe8\x01'"), b"a\r\n\xe8\x01");
    assert_eq!(python_bytes(r#"b"it's""#), b"it's");
    assert_eq!(python_bytes(r"b'\\\''"), b"\\'");
}
