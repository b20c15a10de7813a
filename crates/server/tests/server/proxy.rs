//! Behind a reverse proxy: every browser's connection comes from the
//! proxy's address. From a trusted proxy the client's own address is taken
//! from `X-Forwarded-For`, and the per-address limit counts it; from any
//! other address the header is ignored.

use std::net::IpAddr;

use chatroom_server::Config;
use chatroom_testkit::{Raw, TestServer, WAIT, Ws, test_config};
use serde_json::json;
use tokio_tungstenite::tungstenite::Error;

/// One connection per address, and 127.0.0.1 (the tests' "proxy")
/// trusted or not.
fn config(trusted: bool) -> Config {
    Config {
        max_connections_per_ip: 1,
        trusted_proxies: if trusted {
            vec![IpAddr::from([127, 0, 0, 1])]
        } else {
            Vec::new()
        },
        ..test_config()
    }
}

/// A WebSocket from the "proxy" for the client at `client`.
async fn forwarded(server: &TestServer, client: &str) -> Result<Ws, Error> {
    Ws::connect_with_headers(server.http_addr, None, &[("x-forwarded-for", client)]).await
}

/// The status and body of a refused upgrade.
fn refusal(refused: Result<Ws, Error>) -> (u16, String) {
    match refused {
        Err(Error::Http(response)) => (
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned(),
        ),
        Err(e) => panic!("not an HTTP refusal: {e}"),
        Ok(_) => panic!("let in"),
    }
}

async fn logs_in(ws: &mut Ws, nick: &str) {
    ws.send_json(json!({"type": "login", "nickname": nick}))
        .await;
    ws.recv_type("welcome").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_limit() {
    let server = TestServer::start_with(config(true)).await;
    let mut first = forwarded(&server, "203.0.113.5").await.unwrap();
    logs_in(&mut first, "first").await;
    // Another person behind the same proxy: another address.
    let mut second = forwarded(&server, "198.51.100.7, 127.0.0.1").await.unwrap();
    logs_in(&mut second, "second").await;
    // The first one's address again: its limit is reached.
    let (status, body) = refusal(forwarded(&server, "203.0.113.5").await);
    assert_eq!(status, 503);
    assert_eq!(body, "too many connections from your address");
    // A client claiming an address in front of the proxy's entry gets
    // the address the proxy saw.
    let (status, _) = refusal(forwarded(&server, "192.0.2.1, 203.0.113.5").await);
    assert_eq!(status, 503);
    // Once the first leaves, its address has room again.
    drop(first);
    let retry = async {
        loop {
            match forwarded(&server, "203.0.113.5").await {
                Ok(ws) => break ws,
                Err(_) => tokio::task::yield_now().await,
            }
        }
    };
    let mut again = tokio::time::timeout(WAIT, retry)
        .await
        .expect("the address had room again in time");
    logs_in(&mut again, "again").await;
    second.send_json(json!({"type": "ping", "ref": 1})).await;
    assert_eq!(second.recv_type("pong").await["ref"], 1);
    server.stop().await;
}

#[tokio::test]
async fn from_an_untrusted_address_the_header_is_ignored() {
    let server = TestServer::start_with(config(false)).await;
    let mut first = forwarded(&server, "203.0.113.5").await.unwrap();
    logs_in(&mut first, "first").await;
    // It says it is someone else; it is still 127.0.0.1, which has its
    // one connection.
    let (status, body) = refusal(forwarded(&server, "198.51.100.7").await);
    assert_eq!(status, 503);
    assert_eq!(body, "too many connections from your address");
    // TCP clients from the same address are counted the same way.
    let mut tcp = Raw::connect(server.addr).await;
    tcp.expect_error("too_many_connections").await;
    server.stop().await;
}
