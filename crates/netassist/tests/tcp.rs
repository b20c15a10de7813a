//! TCP client and server modes on loopback, driven in-process through the library.

mod common;

use std::time::Duration;

use common::*;
use netassist::encoding::Encoding;
use netassist::options::{InputMode, Options, Payload, Schedule, View, Wait};
use netassist::rules::ReplyRule;
use netassist::session::Input;
use netassist::transcript::Transcript;
use netassist::{Outcome, tcp_client, tcp_server};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

async fn loopback_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind")
}

#[tokio::test]
async fn tcp_client_and_server_exchange() {
    let server = harness(Options::default());
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (server_lines, server_input) = input();
    let (stop, stop_signal) = shutdown();
    let server_task = tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        stop_signal,
    ));

    let client = harness(Options::default());
    let stream = tcp_client::connect(&addr.into(), TIMEOUT)
        .await
        .expect("connect");
    let (client_lines, client_input) = input();
    let client_task = tokio::spawn(tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        std::future::pending(),
    ));

    expect(&server.err, "#1 127.0.0.1:").await;
    expect(&server.err, " connected").await;
    client_lines
        .send("hello from the client".into())
        .await
        .expect("send");
    expect(&server.out, "RX #1 127.0.0.1:").await;
    expect(&server.out, " hello from the client\n").await;
    expect(&client.out, &format!("TX [{addr}] hello from the client\n")).await;

    server_lines
        .send("hello from the server".into())
        .await
        .expect("send");
    expect(&client.out, &format!("RX [{addr}] hello from the server\n")).await;

    // Ending the client's input ends its run (default --wait 0): not an error.
    drop(client_lines);
    let outcome = bounded(client_task)
        .await
        .expect("join")
        .expect("client run");
    assert_eq!(outcome, Outcome::Done);
    expect(&server.err, "disconnected").await;
    let totals = client.session.totals.snapshot();
    assert_eq!(
        (
            totals.tx_bytes,
            totals.tx_packets,
            totals.rx_bytes,
            totals.rx_packets
        ),
        (22, 1, 22, 1)
    );

    stop.send(()).expect("stop");
    let outcome = bounded(server_task)
        .await
        .expect("join")
        .expect("server run");
    assert_eq!(outcome, Outcome::Stopped);
}

#[tokio::test]
async fn server_with_three_clients_sends_to_all_to_one_and_kicks() {
    let server = harness(Options::default());
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    let server_task = tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));

    let mut clients = Vec::new();
    for id in 1..=3 {
        clients.push(TcpStream::connect(addr).await.expect("connect"));
        expect(&server.err, &format!("#{id} 127.0.0.1:")).await;
    }
    expect(&server.err, "#3 ").await;

    lines.send("hello all".into()).await.expect("send");
    for c in &mut clients {
        assert_eq!(read_exact(c, 10).await, b"hello all\n");
    }

    lines.send("/to 2 just you".into()).await.expect("send");
    lines.send("/to #2 /hex 00 ff".into()).await.expect("send");
    lines.send("again".into()).await.expect("send");
    assert_eq!(
        read_exact(&mut clients[1], 9 + 2 + 6).await,
        b"just you\n\x00\xffagain\n"
    );
    // The others got only the broadcast: nothing before "again".
    assert_eq!(read_exact(&mut clients[0], 6).await, b"again\n");
    assert_eq!(read_exact(&mut clients[2], 6).await, b"again\n");

    lines.send("/list".into()).await.expect("send");
    expect(&server.err, "#3 127.0.0.1:").await;
    expect(&server.err, "  TX ").await;
    let listing = server.err.text();
    assert_eq!(listing.matches("  connected ").count(), 3, "{listing}");
    assert!(listing.contains("RX 0 bytes in 0 packets"), "{listing}");

    lines.send("/kick 3".into()).await.expect("send");
    assert!(read_to_end(&mut clients[2]).await.is_empty());
    expect(&server.err, "kicked").await;

    lines.send("/to 3 anyone?".into()).await.expect("send");
    expect(&server.err, "no client #3").await;

    lines.send("/quit".into()).await.expect("send");
    let outcome = bounded(server_task).await.expect("join").expect("run");
    assert_eq!(outcome, Outcome::Done);
    // Quitting closes the remaining connections.
    assert!(read_to_end(&mut clients[0]).await.is_empty());
}

#[tokio::test]
async fn hex_in_and_out() {
    let server = harness(Options {
        view: View::Hex,
        input_mode: InputMode::Hex,
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));
    let mut peer = TcpStream::connect(addr).await.expect("connect");
    expect(&server.err, "#1 ").await;

    peer.write_all(b"\xde\xad\xbe\xefhi\x00")
        .await
        .expect("write");
    expect(&server.out, "7 bytes\n").await;
    expect(
        &server.out,
        "00000000  de ad be ef 68 69 00                              |....hi.|\n",
    )
    .await;

    // --input hex: typed lines are bytes; /text still sends text.
    lines.send("ca fe 0a".into()).await.expect("send");
    lines.send("/text ok".into()).await.expect("send");
    assert_eq!(read_exact(&mut peer, 3 + 3).await, b"\xca\xfe\nok\n");
    lines.send("not hex".into()).await.expect("send");
    expect(&server.err, "invalid character 'n'").await;

    // A client whose payload is --hex sends exactly those bytes.
    let sink = listener_pair().await;
    let client = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Bytes(vec![0xde, 0xad, 0xbe, 0xef]),
            every: None,
            count: Some(1),
        }),
        ..Options::default()
    });
    let stream = TcpStream::connect(sink.0).await.expect("connect");
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        std::future::pending(),
    );
    let (outcome, received) = tokio::join!(run, async {
        let (mut s, _) = sink.1.accept().await.expect("accept");
        read_to_end(&mut s).await
    });
    assert_eq!(outcome.expect("run"), Outcome::Done);
    assert_eq!(received, [0xde, 0xad, 0xbe, 0xef]);
}

async fn listener_pair() -> (std::net::SocketAddr, TcpListener) {
    let l = loopback_listener().await;
    (l.local_addr().expect("addr"), l)
}

#[tokio::test]
async fn gbk_round_trip_with_a_character_split_across_two_writes() {
    let server = harness(Options {
        encoding: Encoding::Gbk,
        view: View::Both,
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));
    let mut peer = TcpStream::connect(addr).await.expect("connect");
    peer.set_nodelay(true).expect("nodelay");
    expect(&server.err, "#1 ").await;

    // 你好 in GBK is c4 e3 ba c3. Send the first byte of 你 alone and wait
    // until the server has read it, so the character really is split.
    peer.write_all(&[0xc4]).await.expect("write");
    expect(&server.out, "|.|\n").await;
    peer.write_all(&[0xe3, 0xba, 0xc3, b'\n'])
        .await
        .expect("write");
    expect(&server.out, " 你好\n").await;
    let shown = server.out.text();
    assert!(
        !shown.contains('\u{fffd}'),
        "no replacement character: {shown}"
    );
    assert!(
        shown.contains("00000001  e3 ba c3 0a"),
        "stream offsets continue: {shown}"
    );

    // And back: the server encodes typed text as GBK.
    lines.send("你好".into()).await.expect("send");
    assert_eq!(
        read_exact(&mut peer, 5).await,
        [0xc4, 0xe3, 0xba, 0xc3, b'\n']
    );

    // The client side decodes GBK from a stream split mid-character as well.
    let (sink_addr, sink) = listener_pair().await;
    let client = harness(Options {
        encoding: Encoding::Gbk,
        wait: Some(Wait::Forever),
        ..Options::default()
    });
    let stream = TcpStream::connect(sink_addr).await.expect("connect");
    let client_task = tokio::spawn(tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        std::future::pending(),
    ));
    let (mut s, _) = sink.accept().await.expect("accept");
    s.set_nodelay(true).expect("nodelay");
    s.write_all(&[0xc4, 0xe3, 0xba]).await.expect("write");
    expect(&client.out, " 你\n").await;
    s.write_all(&[0xc3, b'\n']).await.expect("write");
    expect(&client.out, " 好\n").await;
    drop(s);
    assert_eq!(
        bounded(client_task).await.expect("join").expect("run"),
        Outcome::Done
    );
}

#[tokio::test]
async fn periodic_send_sends_count_messages_then_ends() {
    let (addr, sink) = listener_pair().await;
    let client = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Text("tick {counter}".into()),
            every: Some(Duration::from_millis(20)),
            count: Some(3),
        }),
        ..Options::default()
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        std::future::pending(),
    );
    let (outcome, received) = tokio::join!(run, async {
        let (mut s, _) = sink.accept().await.expect("accept");
        read_to_end(&mut s).await
    });
    assert_eq!(outcome.expect("run"), Outcome::Done);
    assert_eq!(received, b"tick 1\ntick 2\ntick 3\n");
    let totals = client.session.totals.snapshot();
    assert_eq!((totals.tx_bytes, totals.tx_packets), (21, 3));
}

#[tokio::test]
async fn server_payload_runs_once_per_client() {
    let server = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Text("welcome".into()),
            every: Some(Duration::from_millis(10)),
            count: Some(2),
        }),
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::none(),
        std::future::pending(),
    ));
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        assert_eq!(read_exact(&mut c, 16).await, b"welcome\nwelcome\n");
    }
}

#[tokio::test]
async fn auto_reply_rules_and_echo() {
    let server = harness(Options {
        rules: vec![
            ReplyRule::parse("ping=>pong").expect("rule"),
            ReplyRule::parse("你好=>再见 {counter}").expect("rule"),
        ],
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::none(),
        std::future::pending(),
    ));
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"ping\n").await.expect("write");
    assert_eq!(read_exact(&mut c, 5).await, b"pong\n");
    c.write_all("你好\r\n".as_bytes()).await.expect("write");
    assert_eq!(
        read_exact(&mut c, "再见 2\n".len()).await,
        "再见 2\n".as_bytes()
    );
    // No rule matches: no answer, so the next answer is for the next ping.
    c.write_all(b"something else\n").await.expect("write");
    c.write_all(b"ping\n").await.expect("write");
    assert_eq!(read_exact(&mut c, 5).await, b"pong\n");

    let echo = harness(Options {
        echo: true,
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(tcp_server::run(
        echo.session.clone(),
        listener,
        Input::none(),
        std::future::pending(),
    ));
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"\x00echo me\xff").await.expect("write");
    assert_eq!(read_exact(&mut c, 9).await, b"\x00echo me\xff");
}

#[tokio::test]
async fn log_file_records_both_directions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("session.log");
    let server = harness_with_log(
        Options {
            rules: vec![ReplyRule::parse("ping=>pong").expect("rule")],
            ..Options::default()
        },
        Some(Transcript::open(&path).expect("open log")),
    );
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (stop, stop_signal) = shutdown();
    let task = tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::none(),
        stop_signal,
    ));
    let mut c = TcpStream::connect(addr).await.expect("connect");
    let client_addr = c.local_addr().expect("addr");
    c.write_all(b"ping\n").await.expect("write");
    assert_eq!(read_exact(&mut c, 5).await, b"pong\n");
    drop(c);
    expect(&server.err, "disconnected").await;
    stop.send(()).expect("stop");
    bounded(task).await.expect("join").expect("run");

    let log = std::fs::read_to_string(&path).expect("read log");
    let events: Vec<&str> = log
        .lines()
        .map(|line| {
            // "YYYY-MM-DD HH:MM:SS.mmm " then the event.
            assert_eq!(line.as_bytes()[10], b' ', "{line}");
            assert_eq!(line.as_bytes()[19], b'.', "{line}");
            &line[24..]
        })
        .collect();
    let label = format!("#1 {client_addr}");
    assert_eq!(
        events,
        vec![
            format!("-- listening on {addr} (TCP)"),
            format!("-- {label} connected"),
            format!("RX {label} 5 bytes \"ping\\n\" | 70 69 6e 67 0a"),
            format!("TX {label} 5 bytes \"pong\\n\" | 70 6f 6e 67 0a"),
            format!("-- {label} disconnected"),
        ],
        "{log}"
    );
}

#[tokio::test]
async fn client_reports_peer_closed_only_when_input_was_pending() {
    // Input open but idle when the server hangs up: nothing was lost.
    let (addr, l) = listener_pair().await;
    let client = harness(Options::default());
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (lines, client_input) = input();
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        std::future::pending(),
    );
    let (outcome, ()) = tokio::join!(run, async {
        let (s, _) = l.accept().await.expect("accept");
        drop(s);
    });
    assert_eq!(outcome.expect("run"), Outcome::Done);
    drop(lines);

    // Lines still coming when the server hangs up: PeerClosed (exit code 5).
    let (addr, l) = listener_pair().await;
    let client = harness(Options {
        quiet: true,
        ..Options::default()
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (lines, client_input) = input();
    let feeder = tokio::spawn(async move {
        let mut n = 0u64;
        while lines.send(format!("line {n}")).await.is_ok() {
            n += 1;
        }
    });
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        std::future::pending(),
    );
    let (outcome, ()) = tokio::join!(run, async {
        let (s, _) = l.accept().await.expect("accept");
        drop(s);
    });
    assert_eq!(outcome.expect("run"), Outcome::PeerClosed);
    assert_eq!(Outcome::PeerClosed.exit_code(), 5);
    bounded(feeder)
        .await
        .expect("feeder ends once the run is over");

    // A finite schedule still running when the server hangs up: PeerClosed.
    let (addr, l) = listener_pair().await;
    let client = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Text("tick".into()),
            every: Some(Duration::from_millis(10)),
            count: Some(1_000_000),
        }),
        ..Options::default()
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        std::future::pending(),
    );
    let (outcome, ()) = tokio::join!(run, async {
        let (mut s, _) = l.accept().await.expect("accept");
        assert_eq!(read_exact(&mut s, 5).await, b"tick\n");
    });
    assert_eq!(outcome.expect("run"), Outcome::PeerClosed);

    // Input done and waiting for replies: the server closing is the normal end.
    let (addr, l) = listener_pair().await;
    let client = harness(Options {
        wait: Some(Wait::Forever),
        quiet: true,
        ..Options::default()
    });
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (lines, client_input) = input();
    lines.send("question".into()).await.expect("send");
    drop(lines);
    let run = tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        std::future::pending(),
    );
    let (outcome, ()) = tokio::join!(run, async {
        let (mut s, _) = l.accept().await.expect("accept");
        assert_eq!(read_exact(&mut s, 9).await, b"question\n");
        s.write_all(b"answer\n").await.expect("write");
    });
    assert_eq!(outcome.expect("run"), Outcome::Done);
    assert_eq!(client.out.text(), "answer\n");
    assert_eq!(client.err.text(), "", "quiet prints no status");
}

#[tokio::test]
async fn connect_errors_map_to_exit_codes() {
    let addr = {
        let l = loopback_listener().await;
        l.local_addr().expect("addr")
    };
    let err = tcp_client::connect(&addr.into(), TIMEOUT)
        .await
        .expect_err("nothing listens");
    assert_eq!(err.exit_code(), 3, "{err}");
}

#[tokio::test]
async fn ipv6_loopback_exchange() {
    let Ok(listener) = TcpListener::bind("[::1]:0").await else {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    };
    let addr = listener.local_addr().expect("addr");
    let server = harness(Options {
        echo: true,
        ..Options::default()
    });
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::none(),
        std::future::pending(),
    ));
    let client = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Text("over ipv6".into()),
            every: None,
            count: Some(1),
        }),
        wait: Some(Wait::Forever),
        ..Options::default()
    });
    let stream = tcp_client::connect(&addr.into(), TIMEOUT)
        .await
        .expect("connect");
    let (stop, stop_signal) = shutdown();
    let task = tokio::spawn(tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        stop_signal,
    ));
    expect(&client.out, &format!("RX [{addr}] over ipv6\n")).await;
    expect(&server.out, "RX #1 [::1]:").await;
    stop.send(()).expect("stop");
    assert_eq!(
        bounded(task).await.expect("join").expect("run"),
        Outcome::Stopped
    );
}

/// A schedule with no pause between sends: every mode must refuse it as a
/// usage error rather than panic inside a timer.
fn zero_period() -> Options {
    Options {
        schedule: Some(Schedule {
            payload: Payload::Text("x".into()),
            every: Some(Duration::ZERO),
            count: None,
        }),
        wait: Some(Wait::For(Duration::ZERO)),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_zero_period_is_a_usage_error_not_a_panic() {
    let (addr, sink) = listener_pair().await;
    let client = harness(zero_period());
    let stream = TcpStream::connect(addr).await.expect("connect");
    let _peer = sink.accept().await.expect("accept");
    let err = bounded(tcp_client::run(
        client.session.clone(),
        stream,
        Input::none(),
        std::future::pending(),
    ))
    .await
    .expect_err("a zero period is refused");
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("--every"), "{err}");

    let server = harness(zero_period());
    let err = bounded(tcp_server::run(
        server.session.clone(),
        loopback_listener().await,
        Input::none(),
        std::future::pending(),
    ))
    .await
    .expect_err("a zero period is refused");
    assert_eq!(err.exit_code(), 2, "{err}");
}

/// A loopback listener whose accepted connections have a small send buffer,
/// so a client that reads slowly pushes back after a few kilobytes.
fn small_buffer_listener() -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(4096).expect("SO_SNDBUF");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    socket.listen(16).expect("listen")
}

/// A client with a small receive buffer, for a client that stops reading:
/// the kernel cannot take much on its behalf. (A client that reads uses a
/// normal socket: with a tiny receive window on loopback, Linux holds back
/// window updates and the sender falls back to slow zero-window probes.)
async fn small_buffer_client(addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

/// The 64-byte line number `n` of a feed.
fn feed_line(n: usize) -> String {
    format!("{n:063}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_lines_wait_for_a_client_that_reads_slowly() {
    const LINES: usize = 20_000;
    let server = harness(Options::default());
    let listener = small_buffer_listener();
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    let task = tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));
    let mut client = TcpStream::connect(addr).await.expect("connect");
    expect(&server.err, "#1 ").await;
    let feeder = tokio::spawn(async move {
        for n in 0..LINES {
            lines.send(feed_line(n)).await.expect("send");
        }
        lines.send("/quit".into()).await.expect("send");
    });
    // The client is busy for a moment before it starts reading as fast as
    // it can: a slow reader, not a stalled one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let received = read_to_end(&mut client).await;
    bounded(feeder).await.expect("feeder");
    bounded(task).await.expect("join").expect("run");
    let want: String = (0..LINES).map(|n| feed_line(n) + "\n").collect();
    assert_eq!(
        received.len(),
        want.len(),
        "every line arrives; warnings: {}",
        server
            .err
            .text()
            .lines()
            .filter(|l| l.starts_with("!!"))
            .take(3)
            .collect::<Vec<_>>()
            .join(" | ")
    );
    assert!(received == want.as_bytes(), "in order and intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_skipped_and_the_others_go_on() {
    const LINES: usize = 5_000;
    let server = harness(Options {
        stall_timeout: Duration::from_millis(300),
        ..Options::default()
    });
    let listener = small_buffer_listener();
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));
    let mut stalled = small_buffer_client(addr).await;
    expect(&server.err, "#1 ").await;
    let mut reader = TcpStream::connect(addr).await.expect("connect");
    expect(&server.err, "#2 ").await;
    let reading = tokio::spawn(async move {
        read_exact(&mut reader, LINES * 64).await;
        reader
    });
    for n in 0..LINES {
        bounded(lines.send(feed_line(n))).await.expect("send");
    }
    let _reader = bounded(reading)
        .await
        .expect("the reading client got every line");
    expect(&server.err, "#1 has not read anything for 300ms").await;

    // Once it reads again, it is sent new lines again. Which line first
    // finds its queue half empty cannot be observed, so lines are sent until
    // one arrives (each wait is bounded).
    let catching_up = tokio::spawn(async move {
        let mut tail = Vec::new();
        let mut buf = vec![0u8; 65_536];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut stalled, &mut buf)
                .await
                .expect("read");
            assert!(n > 0, "the server closed the stalled client");
            tail.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&tail).contains("after the stall\n") {
                return;
            }
            let keep = tail.len().saturating_sub(64);
            tail.drain(..keep);
        }
    });
    tokio::pin!(catching_up);
    let mut arrived = false;
    for _ in 0..100 {
        lines.send("after the stall".into()).await.expect("send");
        if tokio::time::timeout(Duration::from_millis(200), &mut catching_up)
            .await
            .is_ok()
        {
            arrived = true;
            break;
        }
    }
    assert!(arrived, "a client that reads again gets lines again");
    expect(&server.err, "#1 is reading again; ").await;
}

#[tokio::test]
async fn settings_switch_while_running_and_counters_reset() {
    let server = harness(Options::default());
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (lines, server_input) = input();
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        server_input,
        std::future::pending(),
    ));
    let mut peer = TcpStream::connect(addr).await.expect("connect");
    expect(&server.err, "#1 ").await;

    // NetAssist's encoding drop-down: GBK from now on, both ways.
    lines.send("/encoding gbk".into()).await.expect("send");
    expect(&server.err, "settings: encoding gbk, view text").await;
    peer.write_all(&[0xc4, 0xe3, 0xba, 0xc3, b'\n'])
        .await
        .expect("write");
    expect(&server.out, " 你好\n").await;

    // Its "hex display" check box; TCP offsets carry on.
    lines.send("/view hex".into()).await.expect("send");
    expect(&server.err, "view hex").await;
    peer.write_all(b"hi").await.expect("write");
    expect(
        &server.out,
        "00000005  68 69                                             |hi|\n",
    )
    .await;

    // Its escape option, and no line ending.
    lines.send("/escapes on".into()).await.expect("send");
    lines.send("/eol none".into()).await.expect("send");
    lines.send(r"A\x00\r\n你".into()).await.expect("send");
    assert_eq!(
        read_exact(&mut peer, 6).await,
        [b'A', 0, b'\r', b'\n', 0xc4, 0xe3]
    );
    lines.send("/settings".into()).await.expect("send");
    expect(
        &server.err,
        "encoding gbk, view hex, input text, eol none, escapes on\n",
    )
    .await;
    lines.send(r"bad \q".into()).await.expect("send");
    expect(&server.err, r#"bad escape "\\q""#).await;

    // Its counter reset button.
    lines.send("/stats".into()).await.expect("send");
    expect(
        &server.err,
        "TX 6 bytes in 1 packets, RX 7 bytes in 2 packets",
    )
    .await;
    lines.send("/reset".into()).await.expect("send");
    expect(&server.err, "counters reset").await;
    lines.send("/stats".into()).await.expect("send");
    expect(
        &server.err,
        "1 clients connected; TX 0 bytes in 0 packets, RX 0 bytes in 0 packets",
    )
    .await;
    lines.send("/list".into()).await.expect("send");
    expect(
        &server.err,
        "TX 0 bytes in 0 packets, RX 0 bytes in 0 packets\n",
    )
    .await;
}

#[tokio::test]
async fn raw_server_passes_bytes_both_ways_and_half_closes_at_the_end_of_input() {
    let server = harness(Options {
        raw: true,
        ..Options::default()
    });
    let listener = loopback_listener().await;
    let addr = listener.local_addr().expect("addr");
    let (chunks, server_input) = tokio::sync::mpsc::channel(4);
    tokio::spawn(tcp_server::run(
        server.session.clone(),
        listener,
        Input::raw(server_input),
        std::future::pending(),
    ));
    let mut client = TcpStream::connect(addr).await.expect("connect");
    // What the client sends comes out exactly (which also shows that the
    // server has registered it: it reads only after that).
    let data = noise(100_000);
    client.write_all(&data).await.expect("write");
    expect_len(&server.out, data.len()).await;
    assert!(server.out.bytes() == data, "byte for byte");
    assert_eq!(server.err.text(), "", "raw shows no status");

    chunks
        .send(bytes::Bytes::from_static(b"\x00from stdin\xff"))
        .await
        .expect("send");
    assert_eq!(read_exact(&mut client, 12).await, b"\x00from stdin\xff");
    // End of input: the client reads end-of-file, and can still send.
    drop(chunks);
    assert!(read_to_end(&mut client).await.is_empty());
    client.write_all(b"still heard").await.expect("write");
    expect_len(&server.out, data.len() + 11).await;
}
