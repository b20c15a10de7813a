//! Many idle connections from one address must not lock other customers
//! out: a per-address limit, and a short wait for the first request.

use std::net::SocketAddr;
use std::time::Duration;

use snackshop::{Limits, ShopConfig};
use tokio::net::TcpSocket;

use crate::common::{Customer, TestShop};

/// A customer connecting from `source` (another loopback address).
async fn enter_from(source: &str, shop: SocketAddr) -> Customer {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("address"))
        .expect("bind a loopback source address");
    let stream = socket.connect(shop).await.expect("connect");
    let (rd, wr) = stream.into_split();
    Customer::from_halves(rd, Some(wr))
}

#[tokio::test]
async fn idle_connections_from_one_address_do_not_lock_others_out() {
    let shop = TestShop::start(ShopConfig {
        limits: Limits {
            max_customers: 10,
            max_per_address: 3,
            first_request_timeout: Duration::from_millis(500),
            ..Limits::default()
        },
        ..ShopConfig::default()
    })
    .await;
    // Ten connections from one address that never say anything.
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(Customer::connect(shop.addr).await);
    }
    let mut inside = 0;
    let mut refused = 0;
    for c in &mut idle {
        let first = c.line().await;
        if first.starts_with("目前商店还有") {
            inside += 1;
        } else {
            assert_eq!(first, "抱歉,同一地址的连接太多了,请关闭一些再来。");
            c.expect_closed().await;
            refused += 1;
        }
    }
    assert_eq!((inside, refused), (3, 7));

    // Someone else still gets in and shops.
    let mut other = enter_from("127.0.0.2", shop.addr).await;
    assert!(other.line().await.starts_with("目前商店还有"));
    assert!(other.ask("西瓜").await.starts_with("购买成功"));

    // The idle ones are shown out after the first-request timeout, which
    // makes room for the next customer from their address.
    for c in &mut idle {
        if let Some(line) = c.next_line().await {
            assert_eq!(line, "您很久没有说话了,欢迎下次光临");
            c.expect_closed().await;
        }
    }
    let (mut next, greeting) = Customer::enter(shop.addr).await;
    assert!(greeting.starts_with("目前商店还有"), "{greeting}");
    assert!(next.ask("瓜子").await.starts_with("购买成功"));
    // A customer who has asked something is held to the (longer) idle
    // timeout: waiting past the first-request timeout is the point here.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(next.ask("余额").await.starts_with("您的余额"));
    drop((idle, other, next));
    shop.stop().await;
}
