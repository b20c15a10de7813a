//! netassist as the snack shop's customer (the README's example): the shop
//! ends its lines in CRLF, which netassist must show as plain line ends.

mod common;

use common::*;
use netassist::options::{Options, Wait};
use netassist::{Outcome, tcp_client};
use snackshop::{Shop, ShopConfig};

#[tokio::test]
async fn the_shops_crlf_lines_show_without_a_trailing_cr() {
    let shop = Shop::bind("127.0.0.1:0".parse().expect("addr"), ShopConfig::default())
        .await
        .expect("shop opens");
    let addr = shop.local_addr().expect("addr");
    tokio::spawn(shop.run(std::future::pending()));

    let client = harness(Options {
        wait: Some(Wait::Forever),
        ..Options::default()
    });
    let stream = tcp_client::connect(&addr.into(), TIMEOUT)
        .await
        .expect("connect");
    let (lines, client_input) = input();
    lines.send("西瓜".into()).await.expect("send");
    lines.send("拜拜".into()).await.expect("send");
    drop(lines);
    let outcome = bounded(tcp_client::run(
        client.session.clone(),
        stream,
        client_input,
        std::future::pending(),
    ))
    .await
    .expect("run");
    assert_eq!(outcome, Outcome::Done, "the shop closes after 拜拜");
    let shown = client.out.text();
    assert!(
        shown.contains("购买成功,余额 98(西瓜 ×1,共 2)\n"),
        "{shown}"
    );
    assert!(shown.contains(" 欢迎下次光临\n"), "{shown}");
    assert!(!shown.contains("\\r"), "no visible CR: {shown}");
}
