//! The built `netassist` binary used the way scripts use it: piped stdin,
//! `--quiet` output and exit codes, against loopback peers run by the test.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TIMEOUT;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, UdpSocket};

const BIN: &str = env!("CARGO_BIN_EXE_netassist");

/// Runs the binary with `stdin` piped in (then closed), off the async
/// runtime, bounded in time.
async fn run(args: Vec<String>, stdin: impl Into<Vec<u8>>) -> Output {
    let stdin: Vec<u8> = stdin.into();
    let task = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn netassist");
        let mut pipe = child.stdin.take().expect("stdin");
        // From its own thread: netassist may exit before reading all of it
        // (a broken pipe is then expected), and a large input must not
        // block reading its output.
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&stdin);
        });
        let out = child.wait_with_output().expect("wait");
        writer.join().expect("stdin writer");
        out
    });
    tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("netassist did not exit in time")
        .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn piped_stdin_client_prints_the_reply_and_exits() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut got = Vec::new();
        // Answer each line, and hang up once the client has sent both.
        while let Some(line) = lines.next_line().await.expect("read") {
            write
                .write_all(format!("you said {line}\n").as_bytes())
                .await
                .expect("write");
            got.push(line);
            if got.len() == 2 {
                break;
            }
        }
        got
    });
    let out = run(
        args(&["tcp-client", &addr, "--quiet", "--wait", "forever"]),
        "hello\n你好\n".as_bytes(),
    )
    .await;
    assert_eq!(server.await.expect("join"), vec!["hello", "你好"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "you said hello\nyou said 你好\n"
    );
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[tokio::test]
async fn exit_code_3_when_refused() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let out = run(args(&["tcp-client", &addr, "--quiet"]), b"").await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
}

#[tokio::test]
async fn exit_code_4_when_connecting_times_out() {
    // A listener with a backlog of one that never accepts: once its queue is
    // full, the kernel drops further SYNs and connecting hangs (loopback only).
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = TcpSocket::new_v4().expect("socket");
        match tokio::time::timeout(std::time::Duration::from_millis(300), s.connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            _ => break,
        }
    }
    let out = run(
        args(&[
            "tcp-client",
            &addr.to_string(),
            "--connect-timeout",
            "300ms",
        ]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("timed out"));
    drop(listener);
}

/// Runs the binary with stdin piped but left open and idle (like a terminal
/// nobody types into) until it exits by itself.
async fn run_with_idle_stdin(args: Vec<String>) -> Output {
    let task = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdin = child.stdin.take();
        let out = child.wait_with_output().expect("wait");
        drop(stdin);
        out
    });
    tokio::time::timeout(TIMEOUT, task)
        .await
        .expect("exit in time")
        .expect("join")
}

#[tokio::test]
async fn the_peer_closing_while_nothing_is_pending_is_a_normal_end() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        drop(stream);
    });
    // stdin stays open but nothing is typed: nothing was being sent.
    let out = run_with_idle_stdin(args(&["tcp-client", &addr])).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("closed the connection"));
}

#[tokio::test]
async fn exit_code_5_when_the_peer_closes_while_input_is_pending() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    // The server hangs up once input is flowing: after the first line.
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut lines = BufReader::new(stream).lines();
        let _ = lines.next_line().await;
    });
    // Far more input than the connection can take before the server hangs up.
    let input: Vec<u8> = (0..200_000)
        .flat_map(|n| format!("line {n}\n").into_bytes())
        .collect();
    let out = run(args(&["tcp-client", &addr, "--quiet"]), input).await;
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exit code 5"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_client_refused_by_max_clients_exits_3() {
    let server = common::harness(netassist::Options {
        max_clients: 1,
        ..netassist::Options::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(netassist::tcp_server::run(
        server.session.clone(),
        listener,
        netassist::session::Input::none(),
        std::future::pending(),
    ));
    let _first = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    common::expect(&server.err, "#1 ").await;
    let out = run_with_idle_stdin(args(&["tcp-client", &addr])).await;
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{out:?}"
    );
    common::expect(&server.err, "--max-clients").await;
}

#[tokio::test]
async fn usage_errors_exit_2_and_help_documents_exit_codes() {
    let out = run(args(&["tcp-client", "127.0.0.1:1", "--hex", "zz"]), b"").await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid character 'z'"));

    let out = run(args(&["udp"]), b"").await;
    assert_eq!(out.status.code(), Some(2));

    for mode in [vec!["--help"], vec!["tcp-server", "--help"]] {
        let out = run(mode.iter().map(|s| (*s).to_owned()).collect(), b"").await;
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("5  the peer closed"), "{help}");
    }
}

#[tokio::test]
async fn udp_piped_stdin_sends_datagrams_then_exits() {
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = peer.local_addr().expect("addr").to_string();
    let out = run(
        args(&["udp", "--to", &addr, "--quiet", "--eol", "crlf"]),
        b"one\ntwo\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut buf = [0u8; 64];
    for want in [&b"one\r\n"[..], b"two\r\n"] {
        let (n, _) = tokio::time::timeout(TIMEOUT, peer.recv_from(&mut buf))
            .await
            .expect("datagram in time")
            .expect("recv");
        assert_eq!(&buf[..n], want);
    }
}

#[tokio::test]
async fn log_flag_writes_the_transcript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("t.log");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut buf)
            .await
            .expect("read");
        buf
    });
    let out = run(
        args(&[
            "tcp-client",
            &addr,
            "--send",
            "你好",
            "--encoding",
            "gbk",
            "--log",
            log.to_str().expect("utf-8 path"),
        ]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(server.await.expect("join"), [0xc4, 0xe3, 0xba, 0xc3, b'\n']);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains(&format!("-- connected to {addr}")), "{text}");
    assert!(
        text.contains(&format!("TX [{addr}] 5 bytes \"你好\\n\" | c4 e3 ba c3 0a")),
        "{text}"
    );
}

/// Accepts connections on `listener` forever and reads whatever arrives, so a
/// client that gets through is neither refused nor blocked.
fn drain_everything(listener: TcpListener) {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut sink = Vec::new();
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut sink).await;
            });
        }
    });
}

#[tokio::test]
async fn a_zero_or_absurd_period_is_a_usage_error_in_every_mode() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp = listener.local_addr().expect("addr").to_string();
    drain_everything(listener);
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let udp = peer.local_addr().expect("addr").to_string();
    for period in ["0ms", "0", "0.0001ms", "5000000000000000h"] {
        for mode in [
            vec!["tcp-client", tcp.as_str()],
            vec!["udp", "--to", udp.as_str()],
            vec!["tcp-server", "127.0.0.1:0", "--wait", "0"],
        ] {
            let mut list = mode.clone();
            list.extend(["--send", "x", "--every", period]);
            let out = run(args(&list), b"").await;
            assert_eq!(out.status.code(), Some(2), "{list:?}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("--every"), "{list:?}: {stderr}");
        }
    }
    // An absurd --wait is refused the same way instead of overflowing a clock.
    let out = run(
        args(&["tcp-client", &tcp, "--wait", "5000000000000000h"]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[tokio::test]
async fn malformed_addresses_are_usage_errors() {
    for list in [
        vec!["tcp-client", "127.0.0.1"],
        vec!["tcp-client", "127.0.0.1:99999"],
        vec!["tcp-client", "127.0.0.1:"],
        vec!["tcp-client", ":8000"],
        vec!["tcp-client", "::1:8000"],
        vec!["tcp-client", "[::1]8000"],
        vec!["tcp-client", "127.0.0.1:0"],
        vec!["tcp-server", "99999"],
        vec!["tcp-server", "127.0.0.1:99999"],
        vec!["udp", "--to", "127.0.0.1:99999"],
        vec!["udp", "--bind", "127.0.0.1:x"],
    ] {
        let out = run(args(&list), b"").await;
        assert_eq!(out.status.code(), Some(2), "{list:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("HOST:PORT") || stderr.contains("port"),
            "{list:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn payloads_that_cannot_be_sent_are_refused_before_anything_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let tcp = listener.local_addr().expect("addr").to_string();
    drain_everything(listener);
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let udp = peer.local_addr().expect("addr").to_string();
    for list in [
        vec!["tcp-client", &tcp, "--send", "hi 😀", "-e", "gbk"],
        vec![
            "tcp-server",
            "127.0.0.1:0",
            "--send",
            "hi 😀",
            "-e",
            "gbk",
            "--wait",
            "0",
        ],
        vec!["udp", "--to", &udp, "--send", "hi 😀", "-e", "latin-1"],
        vec![
            "tcp-client",
            &tcp,
            "--reply",
            "ping=>😀",
            "-e",
            "gbk",
            "--wait",
            "0",
        ],
    ] {
        let out = run(args(&list), b"").await;
        assert_eq!(out.status.code(), Some(2), "{list:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("cannot be encoded"), "{list:?}: {stderr}");
    }
    // A datagram larger than UDP can carry.
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 70_000]).expect("write");
    let out = run(
        args(&[
            "udp",
            "--to",
            &udp,
            "--file",
            big.to_str().expect("utf-8 path"),
        ]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("65507"),
        "{out:?}"
    );
    let mut buf = [0u8; 16];
    assert!(
        peer.try_recv_from(&mut buf).is_err(),
        "nothing may have been sent"
    );
}

#[tokio::test]
async fn input_lines_that_cannot_be_sent_make_the_run_fail() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut got)
            .await
            .expect("read");
        got
    });
    let out = run(
        args(&["tcp-client", &addr, "-e", "gbk", "--quiet"]),
        "ok\nhi 😀\n/hex zz\nok2\n".as_bytes(),
    )
    .await;
    assert_eq!(server.await.expect("join"), b"ok\nok2\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be encoded"), "{stderr}");
    assert!(stderr.contains("invalid character 'z'"), "{stderr}");
    assert!(stderr.contains("2 messages could not be sent"), "{stderr}");

    // A line too long for one datagram is not sent; the next one is.
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let udp = peer.local_addr().expect("addr").to_string();
    let mut input = vec![b'x'; 70_000];
    input.extend_from_slice(b"\nsmall\n");
    let out = run(args(&["udp", "--to", &udp, "--quiet"]), input).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too long for one UDP datagram"), "{stderr}");
    let mut buf = vec![0u8; 65_536];
    let (n, _) = tokio::time::timeout(TIMEOUT, peer.recv_from(&mut buf))
        .await
        .expect("datagram in time")
        .expect("recv");
    assert_eq!(&buf[..n], b"small\n");
}

#[tokio::test]
async fn escapes_send_exact_bytes_and_bad_ones_are_usage_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut got)
            .await
            .expect("read");
        got
    });
    let out = run(
        args(&[
            "tcp-client",
            &addr,
            "--send",
            r"AT\r\n你\x00",
            "-E",
            "--eol",
            "none",
            "-e",
            "gbk",
        ]),
        b"",
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        server.await.expect("join"),
        [b'A', b'T', b'\r', b'\n', 0xc4, 0xe3, 0]
    );
    let out = run(args(&["tcp-client", &addr, "--send", r"\q", "-E"]), b"").await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad escape"));
}

#[tokio::test]
async fn raw_client_is_byte_exact_and_half_closes_at_the_end_of_input() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    // An echo server that stops at end-of-file: it can only finish if the
    // client half-closes, and the client can only finish once it has.
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let (mut rd, mut wr) = stream.into_split();
        let echoed = tokio::io::copy(&mut rd, &mut wr).await.expect("echo");
        drop(wr);
        echoed
    });
    let input = common::noise(100_000);
    let out = run(args(&["tcp-client", &addr, "--raw"]), input.clone()).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.await.expect("join"), 100_000);
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "the same 100,000 bytes came back");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
