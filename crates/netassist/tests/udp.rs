//! UDP mode on loopback, driven in-process through the library.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use netassist::address::HostPort;
use netassist::options::{Options, Payload, Schedule, View, Wait};
use netassist::rules::ReplyRule;
use netassist::session::Input;
use netassist::{Outcome, udp};
use tokio::net::UdpSocket;

/// 127.0.0.1 on a port the system picks.
fn loopback() -> HostPort {
    HostPort::parse_listen("127.0.0.1:0").expect("valid address")
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0u8; 65_536];
    let (n, from) = bounded(socket.recv_from(&mut buf)).await.expect("recv");
    buf.truncate(n);
    (buf, from)
}

#[tokio::test]
async fn udp_both_ways_with_sources_shown() {
    let node = harness(Options::default());
    let socket = udp::bind(Some(&loopback()), None).await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (lines, node_input) = input();
    let (stop, stop_signal) = shutdown();
    let task = tokio::spawn(udp::run(
        node.session.clone(),
        socket,
        None,
        node_input,
        stop_signal,
    ));

    // Before anyone has sent, there is nobody to answer.
    lines.send("too early".into()).await.expect("send");
    expect(&node.err, "no peer yet").await;

    let alice = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let bob = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let (alice_addr, bob_addr) = (
        alice.local_addr().expect("addr"),
        bob.local_addr().expect("addr"),
    );
    alice.send_to(b"hi from alice", addr).await.expect("send");
    expect(&node.out, &format!("RX #1 {alice_addr} hi from alice\n")).await;
    bob.send_to(b"hi from bob\n", addr).await.expect("send");
    expect(&node.out, &format!("RX #2 {bob_addr} hi from bob\n")).await;

    // Plain lines go to the peer that sent last...
    lines.send("to the last".into()).await.expect("send");
    assert_eq!(recv(&bob).await, (b"to the last\n".to_vec(), addr));
    // ...and /to picks one by id or by address.
    lines.send("/to 1 to alice".into()).await.expect("send");
    assert_eq!(recv(&alice).await.0, b"to alice\n");
    lines
        .send(format!("/to {bob_addr} /hex 01 02"))
        .await
        .expect("send");
    assert_eq!(recv(&bob).await.0, [1, 2]);
    expect(&node.out, &format!("TX #2 {bob_addr} \\x01\\x02\n")).await;

    lines.send("/list".into()).await.expect("send");
    expect(&node.err, &format!("#2 {bob_addr}  last seen")).await;
    assert!(
        node.err
            .text()
            .contains(&format!("#1 {alice_addr}  last seen"))
    );

    stop.send(()).expect("stop");
    assert_eq!(
        bounded(task).await.expect("join").expect("run"),
        Outcome::Stopped
    );
    let totals = node.session.totals.snapshot();
    assert_eq!(
        (
            totals.tx_bytes,
            totals.tx_packets,
            totals.rx_bytes,
            totals.rx_packets
        ),
        (23, 3, 25, 2)
    );
}

#[tokio::test]
async fn udp_client_to_echo_server_with_periodic_payload_and_hex_view() {
    let server = harness(Options {
        echo: true,
        view: View::Hex,
        ..Options::default()
    });
    let socket = udp::bind(Some(&loopback()), None).await.expect("bind");
    let server_addr = socket.local_addr().expect("addr");
    tokio::spawn(udp::run(
        server.session.clone(),
        socket,
        None,
        Input::none(),
        std::future::pending(),
    ));

    let client = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Text("ping {counter}".into()),
            every: Some(Duration::from_millis(20)),
            count: Some(3),
        }),
        wait: Some(Wait::Forever),
        ..Options::default()
    });
    let socket = udp::bind(None, Some(server_addr)).await.expect("bind");
    let (stop, stop_signal) = shutdown();
    let task = tokio::spawn(udp::run(
        client.session.clone(),
        socket,
        Some(server_addr),
        Input::none(),
        stop_signal,
    ));
    for n in 1..=3 {
        expect(&client.out, &format!("RX #1 {server_addr} ping {n}\n")).await;
    }
    // Each datagram is dumped from offset 0.
    expect(
        &server.out,
        "00000000  70 69 6e 67 20 33 0a                              |ping 3.|\n",
    )
    .await;
    stop.send(()).expect("stop");
    bounded(task).await.expect("join").expect("run");
    let totals = client.session.totals.snapshot();
    assert_eq!(
        (
            totals.tx_bytes,
            totals.tx_packets,
            totals.rx_bytes,
            totals.rx_packets
        ),
        (21, 3, 21, 3)
    );
}

#[tokio::test]
async fn udp_auto_reply() {
    let node = harness(Options {
        rules: vec![ReplyRule::parse("ping=>pong").expect("rule")],
        ..Options::default()
    });
    let socket = udp::bind(Some(&loopback()), None).await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(udp::run(
        node.session.clone(),
        socket,
        None,
        Input::none(),
        std::future::pending(),
    ));
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    peer.send_to(b"ping", addr).await.expect("send");
    assert_eq!(recv(&peer).await, (b"pong\n".to_vec(), addr));
}

#[tokio::test]
async fn udp_payload_without_destination_is_a_usage_error() {
    let node = harness(Options {
        schedule: Some(Schedule {
            payload: Payload::Bytes(vec![1]),
            every: None,
            count: Some(1),
        }),
        ..Options::default()
    });
    let socket = udp::bind(Some(&loopback()), None).await.expect("bind");
    let err = udp::run(
        node.session.clone(),
        socket,
        None,
        Input::none(),
        std::future::pending(),
    )
    .await
    .expect_err("needs --to");
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        udp::bind(None, None)
            .await
            .expect_err("needs an address")
            .exit_code(),
        2
    );
}

#[tokio::test]
async fn udp_over_ipv6_loopback() {
    let Ok(peer) = UdpSocket::bind("[::1]:0").await else {
        eprintln!("skipping: no IPv6 loopback on this machine");
        return;
    };
    let peer_addr = peer.local_addr().expect("addr");
    let node = harness(Options::default());
    let socket = udp::bind(None, Some(peer_addr)).await.expect("bind");
    let (lines, node_input) = input();
    let task = tokio::spawn(udp::run(
        node.session.clone(),
        socket,
        Some(peer_addr),
        node_input,
        std::future::pending(),
    ));
    lines.send("hello v6".into()).await.expect("send");
    let (data, from) = recv(&peer).await;
    assert_eq!(data, b"hello v6\n");
    peer.send_to(b"back", from).await.expect("send");
    expect(&node.out, &format!("RX #1 {peer_addr} back\n")).await;
    // With --to and input ended, the run ends by itself (default --wait 0).
    drop(lines);
    assert_eq!(
        bounded(task).await.expect("join").expect("run"),
        Outcome::Done
    );
}

#[tokio::test]
async fn raw_udp_sends_and_prints_datagrams_byte_for_byte() {
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let peer_addr = peer.local_addr().expect("addr");
    let node = harness(Options {
        raw: true,
        ..Options::default()
    });
    let socket = udp::bind(None, Some(peer_addr)).await.expect("bind");
    let (chunks, node_input) = tokio::sync::mpsc::channel(4);
    tokio::spawn(udp::run(
        node.session.clone(),
        socket,
        Some(peer_addr),
        Input::raw(node_input),
        std::future::pending(),
    ));
    chunks
        .send(bytes::Bytes::from_static(b"\x00\x01\xff raw\n"))
        .await
        .expect("send");
    let (data, from) = recv(&peer).await;
    assert_eq!(data, b"\x00\x01\xff raw\n");
    peer.send_to(b"\xffreply\x00", from).await.expect("send");
    expect_len(&node.out, 7).await;
    assert_eq!(node.out.bytes(), b"\xffreply\x00");
}
